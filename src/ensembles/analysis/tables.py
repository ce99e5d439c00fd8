"""The tidy tables of an analysis: one function per table family, each taking a recording (or a selection of it).

This is the one producer of the tables that ``ensembles analyze``, ``ensembles demo`` and the sweep reports write
(``ensembles.workflows`` only composes these functions; it computes nothing itself).  Every function chooses
presentations with :func:`ensembles.record.select_presentations` (the last checkpoint, correctly classified
presentations, every presentation of a held-out class: docs/methods.md §A3.1 and §A3.6), so the same recording gives the
same numbers in every table, in :func:`ensembles.analysis.summary.summarize` and in a sweep's combined summary.

Tables (one row per ...; the columns are documented in ``docs/architecture.md``):

=====================  ==========================================================  ============================
table                  rows                                                        function
=====================  ==========================================================  ============================
accuracy               model × class (and "all": the seen classes)                 :func:`accuracy_rows`
sparseness_by_layer    model × layer: mean population Hoyer with a bootstrap CI    :func:`recording_tables`
sparseness_by_class    model × layer × class                                       :func:`recording_tables`
sparseness_values      model × layer × presentation/neuroid (violin data)          :func:`recording_tables`
ensemble_sizes         model × layer × class: authors' rule, shuffled-label null   :func:`recording_tables`
ensemble_overlap       model × layer × class pair: hypergeometric p, BH q          :func:`recording_tables`
selectivity            model × layer × neuroid: CSI and driven classes             :func:`recording_tables`
checkpoints            model × checkpoint × layer                                  :func:`checkpoint_rows`
sweep                  run × layer: Hoyer and accuracy                             :func:`sweep_rows`
zero_shot              model × layer × class × condition                           :func:`zero_shot_rows`
weights, currents      model × layer (× class × member)                            :func:`weight_rows`,
                                                                                   :func:`current_rows`
headline               model × layer                                               :func:`headline_table`
=====================  ==========================================================  ============================

Random numbers (bootstrap resamples, label shuffles, weight samples) come from one ``numpy.random.Generator``
passed in, consumed in a fixed order, so an analysis is reproducible from its seed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from ensembles import conventions as C
from ensembles.analysis.ensembles import category_ensembles, ensemble_overlap
from ensembles.analysis.inhibition import currents_by_ensemble, input_currents, weight_statistics
from ensembles.analysis.selectivity import class_selectivity_index, n_driven_classes
from ensembles.analysis.sparsity import lifetime_sparseness, population_sparseness
from ensembles.errors import DataFileError, ParameterError
from ensembles.record import select_presentations

__all__ = [
    "bootstrap_mean_ci", "class_names", "layers_of", "layer_activity", "accuracy_rows", "recording_tables",
    "checkpoint_rows", "sweep_rows", "zero_shot_rows", "weight_rows", "current_rows", "headline_table",
    "across_seeds",
]


# ------------------------------------------------------------------------------------------------ helpers
def bootstrap_mean_ci(values: Any, *, n_bootstrap: int = 1000, ci: float = 95.0,
                      rng: np.random.Generator) -> tuple[float, float, float, int]:
    """Mean of the finite values and its percentile bootstrap CI (Efron & Tibshirani 1993), resampling values.

    Returns ``(mean, low, high, n)`` with ``n`` the number of finite values (NaN and 0 when there are none).
    """
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    if v.size == 0:
        return np.nan, np.nan, np.nan, 0
    if v.size == 1:
        return float(v[0]), float(v[0]), float(v[0]), 1
    idx = rng.integers(0, v.size, size=(n_bootstrap, v.size))
    means = v[idx].mean(axis=1)
    lo, hi = np.percentile(means, [(100 - ci) / 2, 100 - (100 - ci) / 2])
    return float(v.mean()), float(lo), float(hi), int(v.size)


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
    if correct_only and "correct" in rec.coords:
        if keep_held_out and "held_out" in rec.coords:
            return (f"correctly classified {split}presentations (all presentations of held-out classes), "
                    f"n={k} of {n}")
        return f"correctly classified {split}presentations, n={k} of {n}"
    why = "" if correct_only else " (correct_only=False)"
    if correct_only and "correct" not in rec.coords:
        why = " (the recording has no 'correct' coord)"
    return f"all {split}presentations{why}, n={n}"


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
                     n_shuffles: int = 5, negative: str = "clip") -> tuple[dict[str, list[dict]], dict, list[str]]:
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
        mean, lo, hi, n = bootstrap_mean_ci(pop, n_bootstrap=n_bootstrap, rng=rng)
        tables["sparseness_by_layer"].append({
            "model": name, "layer": layer, "measure": "hoyer", "mean": mean, "ci_low": lo, "ci_high": hi, "n": n,
            "fraction_silent_presentations": float(np.mean(~(xv.sum(axis=1) > 0))),
            "fraction_silent_neuroids": float(np.mean(~(xv.sum(axis=0) > 0))),
            "mean_all_presentations": _nanmean(pop_all), "lifetime_mean": _nanmean(life),
            "fraction_active": float(np.mean(xv > 0)), "max_activation": float(xv.max()), "n_neuroids": h})
        for c in classes:
            mean, lo, hi, n = bootstrap_mean_ci(pop[y == c], n_bootstrap=n_bootstrap, rng=rng)
            tables["sparseness_by_class"].append({"model": name, "layer": layer, "class": names[int(c)],
                                                  "label": int(c), "measure": "hoyer", "mean": mean, "ci_low": lo,
                                                  "ci_high": hi, "n": n})
        tables["sparseness_values"] += [{"model": name, "layer": layer, "kind": "population", "value": v}
                                        for v in pop[np.isfinite(pop)]]
        tables["sparseness_values"] += [{"model": name, "layer": layer, "kind": "lifetime", "value": v}
                                        for v in life[np.isfinite(life)]]
        memb = _membership(x, y, tau)
        null = np.zeros(len(classes))
        for _ in range(n_shuffles):
            null += _membership(x, rng.permutation(y), tau).sum(axis=1)
        null /= max(n_shuffles, 1)
        for k, c in enumerate(classes):
            tables["ensemble_sizes"].append({
                "model": name, "layer": layer, "class": names[int(c)], "label": int(c), "size": int(memb[k].sum()),
                "fraction": float(memb[k].mean()), "null_size": float(null[k]) if n_shuffles else np.nan,
                "null_fraction": float(null[k] / h) if n_shuffles else np.nan, "held_out": int(c) in held,
                "n_presentations": int((y == c).sum()), "n_neuroids": h, "tau": tau})
        tables["ensemble_overlap"] += _overlap_rows(memb, classes, names, name, layer)
        try:
            csi = np.asarray(class_selectivity_index(x, "label", n_shuffles=0)["csi"].values, float).ravel()
            nd = np.asarray(n_driven_classes(x, "label", alpha=alpha)["n_driven"].values, float).ravel()
        except ValueError as err:  # e.g. a class with < 2 correct presentations
            notes.append(f"selectivity: {name} layer {layer} skipped ({_first_line(err)})")
        else:
            tables["selectivity"] += [{"model": name, "layer": layer, "unit": int(i), "csi": float(csi[i]),
                                       "n_driven": float(nd[i])} for i in range(h)]
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


def checkpoint_rows(rec: xr.Dataset, name: str, *, correct_only: bool = True, keep_held_out: bool = True,
                    tau: float = 1.0, negative: str = "clip") -> list[dict]:
    """Mean population Hoyer and median ensemble size at every recorded checkpoint (figure 6); ``[]`` for a
    recording with fewer than two checkpoints.  A layer with no activity at a checkpoint (not trained yet: greedy
    FF) or a checkpoint without two classes among the selected presentations gives NaN."""
    if C.CHECKPOINT not in rec[C.ACTIVITY].dims or rec.sizes[C.CHECKPOINT] < 2:
        return []
    rows = []
    for k, ep in enumerate(np.asarray(rec["epoch"].values)):
        try:
            sel = select_presentations(rec, correct_only=correct_only, checkpoint=k, keep_held_out=keep_held_out)
        except ValueError:  # no correctly classified presentation at this checkpoint
            sel = select_presentations(rec, correct_only=False, checkpoint=k).isel({C.PRESENTATION: []})
        y = np.asarray(sel["label"].values)
        for layer in layers_of(rec):
            x = _nonneg(layer_activity(sel, layer), negative)
            if np.unique(y).size < 2 or not bool((x > 0).any()):
                hoy, med = np.nan, np.nan
            else:
                hoy = _nanmean(_hoyer(x, "population", negative))
                med = float(np.median(_membership(x, y, tau).sum(axis=1)))
            rows.append({"model": name, "epoch": int(ep), "layer": layer, "hoyer": hoy, "median_size": med,
                         "n_used": int(y.size)})
    return rows


def stability_rows(rec: xr.Dataset, name: str, config: Mapping[str, Any], *, correct_only: bool = True,
                   keep_held_out: bool = True, n_bootstrap: int = 1000, random_state: Any = 0) -> list[dict]:
    """Has each layer's Hoyer and median ensemble size stopped changing? One row per layer and statistic from
    :func:`ensembles.analysis.checkpoint_stability` on the two checkpoints that judge that layer
    (:func:`ensembles.analysis.stability_checkpoints`); ``[]`` with fewer than two checkpoints."""
    from ensembles.analysis.stability import checkpoint_stability, stability_checkpoints

    if C.CHECKPOINT not in rec[C.ACTIVITY].dims or rec.sizes[C.CHECKPOINT] < 2:
        return []
    epochs = [int(e) for e in np.asarray(rec["epoch"].values)]
    rows = []
    for layer in layers_of(rec):
        k_prev, k_last = stability_checkpoints(epochs, dict(config), layer)
        try:
            pair = [select_presentations(rec, correct_only=correct_only, checkpoint=k, keep_held_out=keep_held_out)
                    for k in (k_prev, k_last)]
        except ValueError:  # no correctly classified presentation at one of the two checkpoints
            continue
        prev, last = (p["activity"].isel({C.NEUROID: np.flatnonzero(np.asarray(p["layer"].values) == layer)})
                      for p in pair)
        t = checkpoint_stability(prev.load(), last.load(), n_bootstrap=n_bootstrap, random_state=random_state)
        for r in t.to_dict("records"):
            rows.append({"model": name, "layer": layer, "statistic": r["statistic"],
                         "epoch_previous": epochs[k_prev], "epoch_last": epochs[k_last], "previous": r["previous"],
                         "last": r["last"], "change": r["change"], "half_width": r["half_width"],
                         "stable": r["stable"]})
    return rows


def sweep_rows(rec: xr.Dataset, run: str, name: str, config: Mapping[str, Any], *, correct_only: bool = True,
               keep_held_out: bool = True, negative: str = "clip") -> list[dict]:
    """One row per layer of a sweep run: mean population Hoyer (selected presentations) and the accuracy on every
    presentation (figure 7), with the run's goodness, learning rate and epochs from its config."""
    sel = select_presentations(rec, correct_only=correct_only, keep_held_out=keep_held_out)
    acc = np.nan
    if "correct" in rec.coords:
        acc = float(np.asarray(select_presentations(rec, correct_only=False)["correct"].values, dtype=bool).mean())
    good = str((config.get("ff", {}) or {}).get("goodness", "?"))
    good = {"l2_norm": "l2", "l1_norm": "l1", "l1": "l1", "l2": "l2"}.get(good, good)
    train = config.get("train", {}) or {}
    return [{"run": run, "model": name, "layer": layer,
             "hoyer": _nanmean(_hoyer(_nonneg(layer_activity(sel, layer), negative), "population", negative)),
             "accuracy": acc, "goodness": good, "lr": float(train.get("lr", np.nan)), "epochs": train.get("epochs")}
            for layer in layers_of(rec)]


def zero_shot_rows(held: xr.Dataset, ref: xr.Dataset, model: str, *, correct_only: bool = True, tau: float = 1.0,
                   held_out_mode: str = "?", negative: str = "clip") -> tuple[list[dict], list[str]]:
    """Ensembles of classes held out of training (figure 8): in the held-out run (conditions "held out" and
    "seen") and, for the held-out classes, in a run of the same model trained on all classes ("all-classes run").

    Both runs use the same selection: correctly classified presentations plus every presentation of the held-out
    classes (in the reference run those classes are marked held out for the selection, so like is compared with
    like).  Returns the rows and a description of the presentations used in each run.
    """
    if "held_out" not in held.coords:
        raise ParameterError("The 'held' parameter must be a recording with a 'held_out' coord (a run trained without "
                         "some classes).")
    y_held = np.asarray(held["label"].values)
    held_classes = sorted({int(c) for c in np.unique(y_held[np.asarray(held["held_out"].values, dtype=bool)])})
    names = class_names(held)
    ref = ref.assign_coords(held_out=(C.PRESENTATION, np.isin(np.asarray(ref["label"].values), held_classes)))
    rows, used = [], []
    for rec, is_ref in ((held, False), (ref, True)):
        sel = select_presentations(rec, correct_only=correct_only, keep_held_out=True)
        used.append(_describe_selection(rec, sel, correct_only, True))
        y = np.asarray(sel["label"].values)
        for layer in layers_of(rec):
            x = _nonneg(layer_activity(sel, layer), negative)
            memb = _membership(x, y, tau)
            pop = _hoyer(x, "population", negative)
            for k, c in enumerate(np.unique(y)):
                c = int(c)
                if is_ref and c not in held_classes:
                    continue
                cond = "all-classes run" if is_ref else ("held out" if c in held_classes else "seen")
                rows.append({"model": model, "layer": layer, "class": names.get(c, str(c)), "label": c,
                             "condition": cond, "size": int(memb[k].sum()), "fraction": float(memb[k].mean()),
                             "hoyer": _nanmean(pop[y == c]), "n_presentations": int((y == c).sum()),
                             "held_out_mode": held_out_mode})
    return rows, used


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
        e, i = input_currents(p["weight"], x_in, normalize=p["input_norm"])
        act = np.asarray(layer_activity(sel, layer).values)
        err = float(np.max(np.abs(np.maximum(e + i + b, 0) - act)) / max(float(np.max(np.abs(act))), 1e-12))
        memb = _membership(layer_activity(sel, layer).clip(min=0), y, tau)
        # currents_by_ensemble returns columns (a Result) on numpy input; one row per record here
        for r in pd.DataFrame(dict(currents_by_ensemble(e, i, b, y, memb, classes=classes))).to_dict("records"):
            r["class"] = names[int(r["class"])]
            rows.append({"model": name, "layer": layer, "reconstruction_error": err, **r})
    return rows


def headline_table(by_layer: pd.DataFrame, sizes: pd.DataFrame, overlap: pd.DataFrame,
                   accuracy: Mapping[str, float | None], *, alpha: float = 0.05) -> pd.DataFrame:
    """One row per model × layer: accuracy, mean Hoyer with its CI, median ensemble size (and % of the layer), mean
    off-diagonal overlap, number of overlapping and significantly overlapping class pairs (q < ``alpha``)."""
    rows = []
    if not len(by_layer):
        return pd.DataFrame()
    for _, r in by_layer.iterrows():
        m, layer = r["model"], r["layer"]
        s = sizes[(sizes["model"] == m) & (sizes["layer"] == layer)] if len(sizes) else sizes
        o = overlap[(overlap["model"] == m) & (overlap["layer"] == layer)] if len(overlap) else overlap
        upper = o[o["label_a"] < o["label_b"]] if len(o) else o
        sig = upper[(upper["q"] < alpha) & (upper["overlap"] > 0)] if len(upper) else upper
        acc = accuracy.get(m)
        rows.append({
            "model": m, "layer": int(layer), "accuracy": np.nan if acc is None else acc, "hoyer": r["mean"],
            "hoyer_ci": f"[{r['ci_low']:.3f}, {r['ci_high']:.3f}]",
            "median_ensemble_size": float(s["size"].median()) if len(s) else np.nan,
            "median_ensemble_pct": 100 * float(s["fraction"].median()) if len(s) else np.nan,
            "mean_overlap": float(upper["overlap"].mean()) if len(upper) else np.nan,
            "pairs_overlapping": int((upper["overlap"] > 0).sum()) if len(upper) else 0,
            "pairs_significant": int(len(sig)), "pairs_total": int(len(upper)),
            "significant_pairs": ", ".join(f"{a}–{b} ({int(v)})" for a, b, v in
                                           zip(sig["class_a"], sig["class_b"], sig["overlap"], strict=True))
            if len(sig) else "",
        })
    return pd.DataFrame(rows)


def across_seeds(df: pd.DataFrame, by: list[str], *, value: str = "value", seed: str = "seed",
                 confidence: float = 0.95) -> pd.DataFrame:
    """Aggregate ``df[value]`` across seeds within each group of ``by``.

    Returns the ``by`` columns, then ``n_seeds`` (finite values in the group; one per run), ``seeds``
    (";"-separated), ``mean``, ``sd`` (sample SD, ddof = 1), ``sem`` (SD/√n), ``ci_low``, ``ci_high`` (mean ∓
    t_{(1+confidence)/2, n−1} · SEM; Cumming, Fidler & Vaux 2007, J Cell Biol 177:7), ``min``, ``max`` and
    ``epochs`` (the final epochs of the runs, when ``df`` has an ``epoch`` column).  SD, SEM and the CI are NaN when
    n_seeds < 2: with the 2-10 seeds of a typical sweep a t-interval is used rather than a bootstrap.
    """
    from scipy import stats

    if not 0 < confidence < 1:
        raise ParameterError(f"The 'confidence' parameter must be in (0, 1). Got {confidence!r} instead.")
    missing = [c for c in [*by, value] if c not in df.columns]
    if missing:
        raise ParameterError(f"The 'df' parameter must have columns {[*by, value]}; missing {missing}")
    rows = []
    for key, g in df.groupby(by, sort=False, dropna=False) if by else [((), df)]:
        key = key if isinstance(key, tuple) else (key,)
        v = pd.to_numeric(g[value], errors="coerce").to_numpy(float)
        fin = np.isfinite(v)
        ok = v[fin]
        n = int(ok.size)
        mean = float(ok.mean()) if n else np.nan
        sd = float(ok.std(ddof=1)) if n > 1 else np.nan
        sem = sd / np.sqrt(n) if n > 1 else np.nan
        half = float(stats.t.ppf((1 + confidence) / 2, n - 1)) * sem if n > 1 else np.nan
        row = dict(zip(by, key, strict=True))
        seeds = g[seed][fin].tolist() if seed in g.columns else []
        row.update({"n_seeds": n, "seeds": ";".join(_fmt(s) for s in seeds), "mean": mean, "sd": sd, "sem": sem,
                    "ci_low": mean - half, "ci_high": mean + half,
                    "min": float(ok.min()) if n else np.nan, "max": float(ok.max()) if n else np.nan})
        if "epoch" in g.columns:
            row["epochs"] = ";".join(_fmt(e) for e in dict.fromkeys(g["epoch"].tolist()))
        rows.append(row)
    return pd.DataFrame(rows)


def _fmt(v: Any) -> str:
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v)


def _first_line(err: BaseException) -> str:
    s = str(err)
    return s.splitlines()[0] if s else type(err).__name__
