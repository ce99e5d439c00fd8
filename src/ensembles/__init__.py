"""ensembles: neuroscience-style analysis of the representations that emerge in neural networks.

Recordings (presentations x neuroids, HDF5/xarray), trainers for Forward-Forward, BP/FF and BP, and an
analysis layer (sparseness, selectivity, ensembles, representational comparison) that runs identically on
model recordings and on real neural data.

The top-level namespace re-exports the main public functions lazily, so that ``import ensembles`` stays cheap
and ``ensembles.analysis`` never pulls in torch.
"""

from __future__ import annotations

import importlib
from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("ensembles-toolkit")
except PackageNotFoundError:  # pragma: no cover - running from a source tree without install
    __version__ = "0.0.0+unknown"

# public name -> module that defines it
_EXPORTS = {
    "load_dataset": "ensembles.data",
    "list_datasets": "ensembles.data",
    "save_recording": "ensembles.record",
    "load_recording": "ensembles.record",
    "validate_recording": "ensembles.record",
    "make_recording": "ensembles.record",
    "RecordingWriter": "ensembles.record",
    "combine_recordings": "ensembles.record",
    "select_layer": "ensembles.record",
    "select_presentations": "ensembles.record",
    "RecordingError": "ensembles.record",
    "RecordingIncompleteError": "ensembles.record",
    "SCHEMA_VERSION": "ensembles.record",
    "recording_info": "ensembles.record",
    "MODEL_NAMES": "ensembles.conventions",
    # training and reading runs (import torch when first used)
    "make_config": "ensembles.train",
    "train_run": "ensembles.train",
    "load_model": "ensembles.train",
    "record_model": "ensembles.train",
    "read_metrics": "ensembles.train",
    "read_history": "ensembles.history",
    "layer_inputs": "ensembles.train",
    "layer_parameters": "ensembles.train",
    # synthetic populations with planted ground truth
    "category_population": "ensembles.data.synthetic",
    "planted_ensembles": "ensembles.data.synthetic",
    # the notebooks' shared set-up
    "NotebookSetting": "ensembles.workflows.notebook",
    "notebook_setting": "ensembles.workflows.notebook",
    "demo_runs": "ensembles.workflows.notebook",
    "DemoActivity": "ensembles.workflows.notebook",
    "demo_activity": "ensembles.workflows.notebook",
}

__all__ = ["__version__", *_EXPORTS]


def __getattr__(name: str):
    if name in _EXPORTS:
        module = importlib.import_module(_EXPORTS[name])
        return getattr(module, name)
    raise AttributeError(f"module 'ensembles' has no attribute {name!r}")


def __dir__():
    return sorted(__all__)
