"""Datasets: the image sets the networks are trained and recorded on (numpy only, no torch).

``load_dataset(name, split="train", root=None, *, normalize="paper") -> Dataset`` and
``list_datasets() -> list[DatasetInfo]``; see :mod:`ensembles.data.datasets` for the resolution order,
checksums and normalisation, and ``data/README.md`` for the on-disk layout and provenance.
"""

from ensembles.data.datasets import (
    DATASETS,
    ChecksumError,
    CorruptDatasetError,
    Dataset,
    DatasetInfo,
    DatasetNotFoundError,
    list_datasets,
    load_dataset,
)

__all__ = [
    "DATASETS",
    "ChecksumError",
    "CorruptDatasetError",
    "Dataset",
    "DatasetInfo",
    "DatasetNotFoundError",
    "list_datasets",
    "load_dataset",
]
