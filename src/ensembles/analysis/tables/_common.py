"""Helpers of the table producers: the layers, class names and activity of a selected recording, the data the ensemble
rule sees."""

from __future__ import annotations

import numpy as np
import xarray as xr

from ensembles import conventions as C
from ensembles.analysis.ensembles import category_ensembles
from ensembles.analysis.sparsity import lifetime_sparseness, population_sparseness

__all__ = ["class_names", "layers_of", "layer_activity"]


def layers_of(rec: xr.Dataset | xr.DataArray) -> list[int]:
    """The layer numbers of a recording, in order."""
    return [int(v) for v in np.unique(rec["layer"].values)]


def class_names(rec: xr.Dataset | xr.DataArray) -> dict[int, str]:
    """``{label: label_name}`` (the label itself as text when the recording has no ``label_name``)."""
    labels = np.asarray(rec["label"].values)
    if "label_name" in rec.coords:
        names = np.asarray(rec["label_name"].values)
        return {int(c): str(names[labels == c][0]) for c in np.unique(labels)}
    return {int(c): str(c) for c in np.unique(labels)}


def layer_activity(sel: xr.Dataset, layer: int) -> xr.DataArray:
    """One layer of a selected (single-checkpoint) recording as float64 ``(presentation, neuroid)`` activity, in
    memory and C-ordered (reductions then sum in the same order whatever the file's layout)."""
    act = sel[C.ACTIVITY].transpose(C.PRESENTATION, C.NEUROID)
    cols = np.flatnonzero(np.asarray(sel["layer"].values) == layer)
    x = act.isel({C.NEUROID: cols})
    return x.copy(data=np.ascontiguousarray(np.asarray(x.values, dtype=np.float64)))


def _nonneg(x: xr.DataArray, negative: str) -> xr.DataArray:
    """The data the ensemble rule and selectivity see: the rule assumes responses >= 0, so under ``negative='clip'``
    they see the clipped responses, as the sparseness measures do (``negative=`` of ensembles.analysis.sparsity)."""
    return x.clip(min=0) if negative == "clip" else x


def _membership(x: xr.DataArray, labels: np.ndarray, tau: float) -> np.ndarray:
    """Boolean (n_classes, n_neuroids) ensembles by the authors' leave-one-out rule (docs/methods.md §A3.4), rows in
    sorted class order."""
    m = category_ensembles(x.assign_coords(label=(C.PRESENTATION, np.asarray(labels))), "label", rule="paper",
                           tau=tau, by_layer=False)
    return np.asarray(m.transpose(m.dims[0], C.NEUROID).values, dtype=bool)


def _hoyer(x: xr.DataArray, kind: str, negative: str) -> np.ndarray:
    fn = population_sparseness if kind == "population" else lifetime_sparseness
    return np.asarray(fn(x, "hoyer", negative=negative).values, dtype=float)


def _nanmean(v: np.ndarray) -> float:
    return float(np.nanmean(v)) if np.isfinite(v).any() else np.nan


def _describe_selection(rec: xr.Dataset, sel: xr.Dataset, correct_only: bool, keep_held_out: bool) -> str:
    n, k = rec.sizes[C.PRESENTATION], sel.sizes[C.PRESENTATION]
    split = ""
    if "split" in rec.coords:
        split = "/".join(str(v) for v in np.unique(np.asarray(rec["split"].values))) + " "
        if split == "all ":  # imported recordings mark every presentation's split "all"
            split = ""
    if correct_only and "correct" in rec.coords:
        if keep_held_out and "held_out" in rec.coords:
            return (f"correctly classified {split}presentations (all presentations of held-out classes), "
                    f"n={k} of {n}")
        return f"correctly classified {split}presentations, n={k} of {n}"
    why = "" if correct_only else " (correct_only=False)"
    if correct_only and "correct" not in rec.coords:
        why = " (the recording has no 'correct' coord)"
    return f"all {split}presentations{why}, n={n}"


def _first_line(err: BaseException) -> str:
    s = str(err)
    return s.splitlines()[0] if s else type(err).__name__
