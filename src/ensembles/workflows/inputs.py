"""What the inhibition analysis needs besides a recording: a run's layer weights and each layer's input.

Weights come from ``weights.npz`` beside the recording (:mod:`ensembles.layerweights`); runs trained before that
file existed fall back to the torch checkpoint (``checkpoints/model.pt``), read here and nowhere in the analysis
layer.  A layer's input on the recorded presentations is rebuilt without re-running the network: layer 1 sees the
test image with the recorded ``embedded_label`` written into it, layer k sees layer k-1's recorded activity.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from ensembles.errors import EnsemblesError
from ensembles.layerweights import LayerWeights, read_layer_weights
from ensembles.workflows.sources import Source

__all__ = ["layer_weights", "recorded_layer_inputs"]


class Unavailable(Exception):
    """A figure's inputs are missing; the message is the reason shown in the report."""


def _first_line(err: BaseException) -> str:
    s = str(err)
    return s.splitlines()[0] if s else type(err).__name__


def layer_weights(src: Source) -> LayerWeights:
    """The trained layers of ``src``'s run: ``weights.npz``, else the torch checkpoint.  Raises Unavailable."""
    if not src.run_dir:
        raise Unavailable("no training run directory (weights) for this recording")
    try:
        weights = read_layer_weights(src.run_dir)
        if weights is None:  # a run trained before weights.npz existed: read its torch checkpoint
            from ensembles.train import load_model

            model, _ = load_model(src.run_dir)
            weights = LayerWeights.from_model(model)
    except (OSError, EnsemblesError, ImportError) as err:  # missing/damaged files (DataFileError), no torch
        raise Unavailable(f"could not load the model weights ({type(err).__name__}: {_first_line(err)})") from None
    sizes = [int((np.asarray(src.rec["layer"].values) == lay).sum())
             for lay in sorted(set(src.rec["layer"].values.tolist()))]
    if weights.widths != sizes:
        raise Unavailable(f"weights (widths {weights.widths}) do not match the recording {sizes}")
    return weights


def recorded_layer_inputs(src: Source, sel: xr.Dataset, weights: LayerWeights) -> list[np.ndarray]:
    """Each layer's input on the presentations of ``sel`` (a selection of ``src.rec``), before its normalisation.

    Raises Unavailable when the test images cannot be loaded or the recorded stimuli are not in the test set.
    """
    from ensembles.data import load_dataset

    data = src.config.get("data", {}) or {}
    try:
        ds = load_dataset(data.get("dataset", src.rec.attrs.get("dataset")), "test", root=data.get("root"),
                          normalize=data.get("normalize", "paper"), download=False)
    except (OSError, EnsemblesError) as err:  # not on disk (FileNotFoundError), damaged, or an unknown dataset
        raise Unavailable(f"test images unavailable ({_first_line(err)})") from None
    index = {sid: i for i, sid in enumerate(np.asarray(ds.stimulus_ids))}
    sids = np.asarray(sel["stimulus_id"].values)
    if not all(sid in index for sid in sids):
        raise Unavailable("recorded stimulus ids not in the test set")
    images = np.asarray(ds.x)[[index[s] for s in sids]]
    if "embedded_label" in sel.coords:
        emb = np.asarray(sel["embedded_label"].values)
    elif src.model in ("ff", "bp_ff"):
        emb = np.asarray(sel["label"].values)
    else:
        emb = np.full(sids.size, -1)
    inputs = [weights.embed(images, emb)]
    act = sel["activity"].transpose("presentation", "neuroid")
    layer_of = np.asarray(sel["layer"].values)
    for lay in sorted(set(layer_of.tolist()))[:-1]:
        inputs.append(np.asarray(act.isel(neuroid=np.flatnonzero(layer_of == lay)).values, dtype=np.float32))
    return inputs
