"""Trained layer weights as plain arrays (``weights.npz`` of a run directory): no deep-learning framework to read.

Written by the trainer next to the recording (:func:`write_layer_weights`), read by the analysis workflows for the
inhibition analysis (:func:`read_layer_weights`).  Format (``numpy.savez``)::

    weight_<k>, bias_<k>   float32 (n_out, n_in) and (n_out,) of hidden layer k = 1..L (torch.nn.Linear layout)
    input_norm             str (L,): each layer's input normalisation before its weights ("l2", "rms", "none")
    activation             str (L,): each layer's non-linearity ("relu", "sigmoid")
    label_value            float: the value written into the label pixel (NaN: no label embedding, BP)
    label_pixels           int (n_channels, n_classes): flat indices of the label pixels (empty for BP)

A layer computes ``act(W x̂ + b)`` with ``x̂`` its input after ``input_norm``; layer 1's input is the image with
the label embedded (label pixels zeroed, then pixel ``label_pixels[:, y]`` set to ``label_value``), layer k's is
layer k-1's output.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ensembles._io import atomic_write
from ensembles.errors import DataFileError
from ensembles.layout import RunLayout

__all__ = ["LayerWeights", "read_layer_weights", "write_layer_weights"]


@dataclass
class LayerWeights:
    """The hidden layers of a trained network as numpy arrays (see the module docstring)."""

    weights: list[np.ndarray]
    biases: list[np.ndarray]
    input_norms: list[str]
    activations: list[str]
    label_value: float | None = None
    label_pixels: np.ndarray | None = None

    @property
    def widths(self) -> list[int]:
        return [int(w.shape[0]) for w in self.weights]

    def layer(self, k: int) -> dict[str, Any]:
        """Layer ``k`` (0-based) as ``{"weight", "bias", "input_norm", "activation"}``."""
        return {"weight": self.weights[k], "bias": self.biases[k], "input_norm": self.input_norms[k],
                "activation": self.activations[k]}

    def embed(self, images: np.ndarray, labels: np.ndarray) -> np.ndarray:
        """A copy of ``images`` (flattened, ``(n, D)``) with ``labels`` embedded (-1 = label pixels zeroed only)."""
        x = np.array(images, dtype=np.float32, copy=True)
        if self.label_pixels is None:
            return x
        pix = np.asarray(self.label_pixels)
        x[:, pix.reshape(-1)] = 0.0
        labels = np.asarray(labels)
        rows = np.flatnonzero(labels >= 0)
        if rows.size:
            cols = pix[:, labels[rows]]  # (C, n)
            x[np.broadcast_to(rows, cols.shape), cols] = np.float32(self.label_value)
        return x

    @classmethod
    def from_model(cls, model: Any) -> LayerWeights:
        """From a trained :class:`~ensembles.models.FFNet` or :class:`~ensembles.models.BPNet` (duck-typed: no torch
        import here)."""
        layers = list(model.layers)
        pixels = getattr(model, "pixel_index", None)
        value = getattr(model, "label_value", None)
        return cls(
            weights=[lay.weight.detach().cpu().numpy().astype(np.float32) for lay in layers],
            biases=[(lay.bias.detach().cpu().numpy() if lay.bias is not None
                     else np.zeros(lay.out_features)).astype(np.float32) for lay in layers],
            input_norms=[str(lay.input_norm) for lay in layers],
            activations=[str(getattr(lay, "activation", "relu")) for lay in layers],
            label_value=None if value is None or pixels is None else float(value),
            label_pixels=None if pixels is None else pixels.detach().cpu().numpy().astype(np.int64))


def write_layer_weights(run_dir: str | os.PathLike, weights: LayerWeights) -> Path:
    """Write ``RUN_DIR/weights.npz`` atomically."""
    arrays: dict[str, np.ndarray] = {}
    for k, (w, b) in enumerate(zip(weights.weights, weights.biases, strict=True), start=1):
        arrays[f"weight_{k}"], arrays[f"bias_{k}"] = np.asarray(w, np.float32), np.asarray(b, np.float32)
    arrays["input_norm"] = np.array(weights.input_norms, dtype=str)
    arrays["activation"] = np.array(weights.activations, dtype=str)
    arrays["label_value"] = np.array(np.nan if weights.label_value is None else weights.label_value, np.float64)
    arrays["label_pixels"] = (np.zeros((0, 0), np.int64) if weights.label_pixels is None
                              else np.asarray(weights.label_pixels, np.int64))

    def write(tmp: Path) -> None:
        with open(tmp, "wb") as fh:
            np.savez(fh, **arrays)

    return atomic_write(RunLayout(run_dir).weights, write)


def read_layer_weights(run_dir: str | os.PathLike) -> LayerWeights | None:
    """The weights of ``RUN_DIR/weights.npz``; None when the run has no such file (runs trained before it existed).

    Raises :class:`~ensembles.errors.DataFileError` for a file that is not in the format of the module docstring.
    """
    path = RunLayout(run_dir).weights
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as z:
            n = sum(1 for key in z.files if key.startswith("weight_"))
            pixels = z["label_pixels"]
            value = float(z["label_value"])
            return LayerWeights(weights=[z[f"weight_{k}"] for k in range(1, n + 1)],
                                biases=[z[f"bias_{k}"] for k in range(1, n + 1)],
                                input_norms=[str(v) for v in z["input_norm"]],
                                activations=[str(v) for v in z["activation"]],
                                label_value=None if not np.isfinite(value) else value,
                                label_pixels=pixels if pixels.size else None)
    except (OSError, ValueError, KeyError) as err:
        raise DataFileError(f"{str(path)!r} is not a layer-weights file ({type(err).__name__}: {err}).") from None
