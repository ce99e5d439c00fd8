"""Tables across training: the statistics at every checkpoint (figure 6), their stability, sweep runs (figure 7) and
the ensembles of classes held out of training (figure 8)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import xarray as xr

from ensembles import conventions as C
from ensembles.errors import ParameterError
from ensembles.record import select_presentations

from ._common import (
    _describe_selection,
    _hoyer,
    _membership,
    _nanmean,
    _nonneg,
    class_names,
    layer_activity,
    layers_of,
)
from .controls import _silent_counts

__all__ = ["checkpoint_rows", "stability_rows", "sweep_rows", "zero_shot_rows"]


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
                         "n_used": int(y.size), **_silent_counts(x), "n_neuroids": x.sizes[C.NEUROID]})
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
    rows = []
    for layer in layers_of(rec):
        x = _nonneg(layer_activity(sel, layer), negative)
        rows.append({"run": run, "model": name, "layer": layer, "hoyer": _nanmean(_hoyer(x, "population", negative)),
                     "accuracy": acc, "goodness": good, "lr": float(train.get("lr", np.nan)),
                     "epochs": train.get("epochs"), **_silent_counts(x)})
    return rows


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
