"""The tables of one recording at its last checkpoint: accuracy, sparseness, ensembles and their overlaps, selectivity
(figures 1-4), weight statistics and input currents (figure 9)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from ensembles import conventions as C
from ensembles.analysis.ensembles import ensemble_overlap
from ensembles.analysis.inhibition import currents_by_ensemble, input_currents, weight_statistics
from ensembles.analysis.resampling import bootstrap_mean_ci
from ensembles.analysis.selectivity import class_selectivity_index, n_driven_classes
from ensembles.errors import DataFileError
from ensembles.record import select_presentations

from ._common import (
    _describe_selection,
    _first_line,
    _hoyer,
    _membership,
    _nanmean,
    _nonneg,
    class_names,
    layer_activity,
    layers_of,
)
from .controls import _units

__all__ = ["accuracy_rows", "recording_tables", "weight_rows", "current_rows"]


# ------------------------------------------------------------------------------------------------ tables
def accuracy_rows(rec: xr.Dataset, name: str) -> tuple[list[dict], float | None]:
    """Test accuracy on every presentation at the last checkpoint: overall on the seen classes ("all", label -1)
    and per class.  Returns the rows and the overall accuracy (None without a ``correct`` coord)."""
    if "correct" not in rec.coords:
        return [], None
    last = select_presentations(rec, correct_only=False)
    corr = np.asarray(last["correct"].values, dtype=bool)
    y = np.asarray(rec["label"].values)
    seen = ~np.asarray(rec["held_out"].values, dtype=bool) if "held_out" in rec.coords else np.ones_like(corr)
    names = class_names(rec)
    acc = float(corr[seen].mean())
    rows = [{"model": name, "class": "all", "label": -1, "accuracy": acc, "n": int(seen.sum())}]
    for c in np.unique(y):
        rows.append({"model": name, "class": names[int(c)], "label": int(c), "accuracy": float(corr[y == c].mean()),
                     "n": int((y == c).sum())})
    return rows, acc


def recording_tables(rec: xr.Dataset, name: str, *, rng: np.random.Generator, correct_only: bool = True,
                     keep_held_out: bool = True, tau: float = 1.0, alpha: float = 0.05, n_bootstrap: int = 1000,
                     n_shuffles: int = 5, negative: str = "clip", responsive: dict | None = None,
                     ) -> tuple[dict[str, list[dict]], dict, list[str]]:
    """Sparseness, ensembles, overlaps and selectivity of one recording, per layer (the analysis of figures 1-4).

    Parameters
    ----------
    rec : xr.Dataset
        A recording (its last checkpoint is used).
    name : str
        The ``model`` column of the rows (the display name of the recording).
    rng : numpy.random.Generator
        Bootstrap resamples and label shuffles, consumed layer by layer.
    correct_only, keep_held_out
        Passed to :func:`ensembles.record.select_presentations`.
    tau, alpha
        The ensemble rule's contrast (docs/methods.md §A3.4) and the significance level of the driven-class test.
    n_bootstrap, n_shuffles
        Bootstrap resamples of the sparseness CIs; label shuffles of the ensemble-size null (0 = none).
    negative
        Negative-value policy of the sparseness measures (:mod:`ensembles.analysis.sparsity`); ``"clip"`` (the
        default) also clips what the ensemble rule and the selectivity see.
    responsive
        Keyword arguments of :func:`ensembles.analysis.responsive_neuroids` (default
        :data:`~ensembles.analysis.tables.controls.RESPONSIVE_DEFAULTS`).  Every table also reports, per layer, the
        silent neuroids, the all-zero presentations and the responsive neuroids, and the sparseness and ensemble
        sizes over the responsive neuroids beside those over all (columns ``*_responsive``).

    Returns
    -------
    tables, info, notes
        ``{table: rows}`` (``sparseness_by_layer``, ``sparseness_by_class``, ``sparseness_values``,
        ``ensemble_sizes``, ``ensemble_overlap``, ``selectivity``), a description of the data used (``n_used``,
        ``data_used``, ``negative_policy``) and notes on what was skipped.
    """
    sel = select_presentations(rec, correct_only=correct_only, keep_held_out=keep_held_out)
    final = select_presentations(rec, correct_only=False)
    used = _describe_selection(rec, sel, correct_only, keep_held_out)
    names = class_names(rec)
    y = np.asarray(sel["label"].values)
    classes = np.unique(y)
    if y.size < 2 or classes.size < 2:
        raise DataFileError(f"recording {name!r}: need at least 2 presentations of 2 classes for the analysis; {used}")
    if not bool((sel[C.ACTIVITY] != 0).any()):
        raise DataFileError(f"recording {name!r}: every activity value is zero on the {used}; there is nothing to "
                            "analyse (was the recording written after training, at the right site?)")
    held = set()
    if "held_out" in rec.coords:
        held = {int(c) for c in np.unique(np.asarray(rec["label"].values)[np.asarray(rec["held_out"].values, bool)])}
    tables: dict[str, list[dict]] = {k: [] for k in ("sparseness_by_layer", "sparseness_by_class", "sparseness_values",
                                                     "ensemble_sizes", "ensemble_overlap", "selectivity")}
    notes: list[str] = []
    info = {"n_used": int(y.size), "data_used": used, "negative_policy": "none"}
    for layer in layers_of(rec):
        raw = layer_activity(sel, layer)
        if bool((raw < 0).any()):
            info["negative_policy"] = negative
        x = _nonneg(raw, negative)
        h = x.sizes[C.NEUROID]
        xv = np.asarray(x.values)
        pop, life = _hoyer(x, "population", negative), _hoyer(x, "lifetime", negative)
        pop_all = _hoyer(layer_activity(final, layer), "population", "clip")
        silent, zero, resp, _crit = _units(x, y, responsive)
        x_resp = x.isel({C.NEUROID: np.flatnonzero(resp)})
        units = {"n_silent_neuroids": int(silent.sum()), "n_all_zero_presentations": int(zero.sum()),
                 "n_responsive": int(resp.sum())}
        two = resp.sum() >= 2  # Hoyer and the leave-one-out rule need two neuroids
        ci = bootstrap_mean_ci(pop, n_bootstrap=n_bootstrap, random_state=rng)
        mean, lo, hi, n = ci.mean, ci.ci_low, ci.ci_high, ci.n
        tables["sparseness_by_layer"].append({
            "model": name, "layer": layer, "measure": "hoyer", "mean": mean, "ci_low": lo, "ci_high": hi, "n": n,
            "fraction_silent_presentations": float(np.mean(~(xv.sum(axis=1) > 0))),
            "fraction_silent_neuroids": float(np.mean(~(xv.sum(axis=0) > 0))),
            "mean_all_presentations": _nanmean(pop_all), "lifetime_mean": _nanmean(life),
            "fraction_active": float(np.mean(xv > 0)), "max_activation": float(xv.max()), "n_neuroids": h, **units,
            "mean_responsive": _nanmean(_hoyer(x_resp, "population", negative)) if two else np.nan,
            "lifetime_mean_responsive": _nanmean(_hoyer(x_resp, "lifetime", negative)) if two else np.nan})
        for c in classes:
            ci = bootstrap_mean_ci(pop[y == c], n_bootstrap=n_bootstrap, random_state=rng)
            mean, lo, hi, n = ci.mean, ci.ci_low, ci.ci_high, ci.n
            tables["sparseness_by_class"].append({"model": name, "layer": layer, "class": names[int(c)],
                                                  "label": int(c), "measure": "hoyer", "mean": mean, "ci_low": lo,
                                                  "ci_high": hi, "n": n,
                                                  "n_silent_neuroids": units["n_silent_neuroids"],
                                                  "n_all_zero_presentations": int(zero[y == c].sum())})
        tables["sparseness_values"] += [{"model": name, "layer": layer, "kind": "population", "value": v}
                                        for v in pop[np.isfinite(pop)]]
        tables["sparseness_values"] += [{"model": name, "layer": layer, "kind": "lifetime", "value": v}
                                        for v in life[np.isfinite(life)]]
        memb = _membership(x, y, tau)
        memb_resp = _membership(x_resp, y, tau) if two else np.zeros((len(classes), 0), bool)
        null = np.zeros(len(classes))
        for _ in range(n_shuffles):
            null += _membership(x, rng.permutation(y), tau).sum(axis=1)
        null /= max(n_shuffles, 1)
        for k, c in enumerate(classes):
            tables["ensemble_sizes"].append({
                "model": name, "layer": layer, "class": names[int(c)], "label": int(c), "size": int(memb[k].sum()),
                "fraction": float(memb[k].mean()), "null_size": float(null[k]) if n_shuffles else np.nan,
                "null_fraction": float(null[k] / h) if n_shuffles else np.nan, "held_out": int(c) in held,
                "n_presentations": int((y == c).sum()), "n_neuroids": h, "tau": tau, **units,
                "size_responsive": int(memb_resp[k].sum()) if two else np.nan,
                "fraction_responsive": float(memb_resp[k].mean()) if two else np.nan})
        tables["ensemble_overlap"] += [{**r, **units} for r in _overlap_rows(memb, classes, names, name, layer)]
        try:
            csi = np.asarray(class_selectivity_index(x, "label", n_shuffles=0)["csi"].values, float).ravel()
            nd = np.asarray(n_driven_classes(x, "label", alpha=alpha)["n_driven"].values, float).ravel()
        except ValueError as err:  # e.g. a class with < 2 correct presentations
            notes.append(f"selectivity: {name} layer {layer} skipped ({_first_line(err)})")
        else:
            tables["selectivity"] += [{"model": name, "layer": layer, "unit": int(i), "csi": float(csi[i]),
                                       "n_driven": float(nd[i]), "silent": bool(silent[i]),
                                       "responsive": bool(resp[i])} for i in range(h)]
    return tables, info, notes


def _overlap_rows(memb: np.ndarray, classes: np.ndarray, names: Mapping[int, str], name: str, layer: int) -> list[dict]:
    labelled = xr.DataArray(np.asarray(memb, dtype=bool), dims=("category", C.NEUROID), coords={"category": classes})
    res = ensemble_overlap(labelled, metric="count", by_layer=False)
    ov, exp, p, q = (np.asarray(res[v].values, float) for v in ("overlap", "expected", "p", "q"))
    rows = []
    for a, ca in enumerate(classes):
        for b, cb in enumerate(classes):
            off = a != b
            rows.append({"model": name, "layer": layer, "class_a": names[int(ca)], "class_b": names[int(cb)],
                         "label_a": int(ca), "label_b": int(cb),
                         "overlap": float(ov[a, b]) if off else np.nan, "expected": float(exp[a, b]) if off else np.nan,
                         "p": float(p[a, b]) if off else np.nan, "q": float(q[a, b]) if off else np.nan,
                         "jaccard": float(ov[a, b] / max(memb[a].sum() + memb[b].sum() - ov[a, b], 1))
                         if off else np.nan})
    return rows


def weight_rows(params: Sequence[Mapping[str, np.ndarray]], name: str, layers: Sequence[int], *,
                rng: np.random.Generator, sample: int = 4000) -> tuple[list[dict], list[dict]]:
    """Weight and bias statistics per layer (:func:`~ensembles.analysis.inhibition.weight_statistics`) and a sample
    of at most ``sample`` weights plus every bias (figure 9's violins).  ``params``: per layer ``weight``
    ``(n_out, n_in)`` and ``bias``."""
    stats, values = [], []
    for layer, p in zip(layers, params, strict=True):
        w, b = np.asarray(p["weight"], np.float64), np.asarray(p["bias"], np.float64)
        stats.append({"model": name, "layer": layer, **weight_statistics(w, b)})
        flat = w.ravel()
        picked = flat if flat.size <= sample else rng.choice(flat, sample, replace=False)
        values += [{"model": name, "layer": layer, "kind": "weight", "value": float(v)} for v in picked]
        values += [{"model": name, "layer": layer, "kind": "bias", "value": float(v)} for v in b]
    return stats, values


def current_rows(sel: xr.Dataset, params: Sequence[Mapping[str, Any]], inputs: Sequence[np.ndarray], name: str, *,
                 tau: float = 1.0) -> list[dict]:
    """Excitatory and inhibitory input currents of neuroids inside vs outside each class's ensemble (figure 9).

    Parameters
    ----------
    sel : xr.Dataset
        The selected presentations of a recording (:func:`ensembles.record.select_presentations`).
    params : per layer ``weight``, ``bias`` and ``input_norm`` (``"l2"`` or ``"none"``)
    inputs : per layer, the layer's input on the presentations of ``sel`` (the image with its embedded label for
        layer 1, the previous layer's recorded activity after it), before the layer's input normalisation.

    ``reconstruction_error`` checks the split: ``max |relu(E + I + b) - recorded activity|`` relative to the largest
    recorded activity of the layer.
    """
    y = np.asarray(sel["label"].values)
    classes = np.unique(y)
    names = class_names(sel)
    rows = []
    for layer, p, x_in in zip(layers_of(sel), params, inputs, strict=True):
        b = np.asarray(p["bias"], np.float64)
        cur = input_currents(p["weight"], x_in, normalize=p["input_norm"])
        e, i = cur.excitatory, cur.inhibitory
        act = np.asarray(layer_activity(sel, layer).values)
        err = float(np.max(np.abs(np.maximum(e + i + b, 0) - act)) / max(float(np.max(np.abs(act))), 1e-12))
        memb = _membership(layer_activity(sel, layer).clip(min=0), y, tau)
        # currents_by_ensemble returns columns (a Result) on numpy input; one row per record here
        for r in pd.DataFrame(dict(currents_by_ensemble(e, i, b, y, memb, classes=classes))).to_dict("records"):
            r["class"] = names[int(r["class"])]
            rows.append({"model": name, "layer": layer, "reconstruction_error": err, **r})
    return rows
