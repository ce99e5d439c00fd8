"""The control tables of one recording at its last checkpoint: silent and responsive neuroids per layer (``units``),
and category ensembles against their shuffled-label null over a range of τ (``ensemble_null``,
``ensemble_null_classes``).

``units`` (one row per model × layer): n_neuroids, n_silent, frac_silent (neuroids never active on the selected
presentations), n_presentations, n_all_zero_presentations, frac_all_zero_presentations (presentations on which no
neuroid of the layer is active), n_responsive, frac_responsive, criterion (:func:`ensembles.analysis.
responsive_neuroids`), and population and lifetime Hoyer sparseness over all neuroids and over the responsive ones,
side by side (``*_responsive``; a presentation on which every responsive neuroid is silent has no population value and
is counted in ``n_all_zero_presentations_responsive``).

``ensemble_null`` (one row per model × layer × τ): size_mean (the real ensemble size, mean over classes),
null_size_mean, null_lo, null_hi (the same under shuffled labels: mean over shuffles and classes, and the mean over
classes of the per-class percentile interval), n_shuffles, frac_classes_above_null (classes whose real size exceeds
the upper end of its null interval), specificity_jaccard (mean pairwise Jaccard index between the real class
ensembles: 0 = disjoint, 1 = identical), null_specificity_jaccard, frac_members_significant (members whose own
Monte-Carlo p-value is < 0.05, uncorrected), n_neuroids, n_classes.  ``ensemble_null_classes``: the same per class.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import xarray as xr

from ensembles import conventions as C
from ensembles.analysis.ensembles.null import ENSEMBLE_TAUS, ensemble_null
from ensembles.analysis.responsiveness import responsive_neuroids, silent_units
from ensembles.record import select_presentations

from ._common import _hoyer, _nanmean, _nonneg, class_names, layer_activity, layers_of

__all__ = ["unit_rows", "ensemble_null_rows", "RESPONSIVE_DEFAULTS"]

# the responsiveness criterion of the tables (model recordings: active on >= 25 % of the preferred class's
# presentations); neural data with spontaneous responses: {"criterion": "allen", "baseline": <coord>}
RESPONSIVE_DEFAULTS: dict[str, Any] = {"criterion": "active", "threshold": 0.0, "min_fraction": 0.25}


def _silent_counts(x: xr.DataArray) -> dict[str, Any]:
    """Silent neuroids and all-zero presentations of one layer's selected activity (:func:`silent_units`); with no
    presentation selected every neuroid counts as silent."""
    if x.sizes[C.PRESENTATION] == 0:
        h = x.sizes[C.NEUROID]
        return {"n_silent_neuroids": h, "frac_silent_neuroids": 1.0 if h else np.nan, "n_all_zero_presentations": 0}
    su = silent_units(np.asarray(x.values))
    return {"n_silent_neuroids": su.attrs["n_silent"], "frac_silent_neuroids": su.attrs["frac_silent"],
            "n_all_zero_presentations": su.attrs["n_all_zero"]}


def _units(x: xr.DataArray, labels: np.ndarray, responsive: dict | None) -> tuple[np.ndarray, np.ndarray, np.ndarray,
                                                                                   str]:
    """(silent neuroids, all-zero presentations, responsive neuroids, criterion) of one layer's activity."""
    su = silent_units(np.asarray(x.values))
    kw = {**RESPONSIVE_DEFAULTS, **(responsive or {})}
    baseline = kw.pop("baseline", None)
    r = responsive_neuroids(x if isinstance(baseline, str) else np.asarray(x.values), labels, baseline=baseline, **kw)
    return (np.asarray(su["silent"], bool), np.asarray(su["all_zero"], bool), np.asarray(r["responsive"], bool),
            str(r.attrs["criterion"]))


def unit_rows(rec: xr.Dataset, name: str, *, correct_only: bool = True, keep_held_out: bool = True,
              responsive: dict | None = None, negative: str = "clip") -> list[dict]:
    """The ``units`` table of one recording (module docstring): silent, all-zero and responsive counts per layer, and
    Hoyer sparseness over all and over responsive neuroids.

    ``responsive``: keyword arguments of :func:`ensembles.analysis.responsive_neuroids` (default
    :data:`RESPONSIVE_DEFAULTS`); ``negative``: the sparseness measures' negative-value policy (``"clip"``, as in the
    other tables, also clips what the criterion sees).
    """
    sel = select_presentations(rec, correct_only=correct_only, keep_held_out=keep_held_out)
    y = np.asarray(sel["label"].values) if "label" in sel.coords else None
    rows = []
    for layer in layers_of(rec):
        x = _nonneg(layer_activity(sel, layer), negative)
        silent, zero, resp, crit = _units(x, y, responsive)
        xr_ = x.isel({C.NEUROID: np.flatnonzero(resp)})
        n_p, h = x.sizes[C.PRESENTATION], x.sizes[C.NEUROID]
        row = {"source": name, "layer": layer, "n_neuroids": h, "n_silent": int(silent.sum()),
               "frac_silent": float(silent.mean()), "n_presentations": n_p, "n_all_zero_presentations": int(zero.sum()),
               "frac_all_zero_presentations": float(zero.mean()), "n_responsive": int(resp.sum()),
               "criterion": crit, "frac_responsive": float(resp.mean()),
               "population_hoyer": _nanmean(_hoyer(x, "population", negative)),
               "lifetime_hoyer": _nanmean(_hoyer(x, "lifetime", negative))}  # fmt: skip
        if resp.sum() >= 2:
            pop_r = _hoyer(xr_, "population", negative)
            row.update(population_hoyer_responsive=_nanmean(pop_r),
                       lifetime_hoyer_responsive=_nanmean(_hoyer(xr_, "lifetime", negative)),
                       n_all_zero_presentations_responsive=int((~(np.asarray(xr_.values) > 0).any(axis=1)).sum()))
        else:  # Hoyer needs two neuroids
            row.update(population_hoyer_responsive=np.nan, lifetime_hoyer_responsive=np.nan,
                       n_all_zero_presentations_responsive=n_p)
        rows.append(row)
    return rows


def ensemble_null_rows(rec: xr.Dataset, name: str, *, rng: np.random.Generator, taus: Sequence[float] = ENSEMBLE_TAUS,
                       n_shuffles: int = 20, ci: float = 0.95, correct_only: bool = True, keep_held_out: bool = True,
                       negative: str = "clip") -> tuple[list[dict], list[dict]]:
    """The ``ensemble_null`` and ``ensemble_null_classes`` tables of one recording (module docstring).

    The rule is the authors' leave-one-out rule within each layer, on the selected presentations (the same data as
    the ``ensemble_sizes`` table, so its sizes at the analysis τ are the sizes there); ``rng`` draws the label
    permutations, layer by layer.
    """
    sel = select_presentations(rec, correct_only=correct_only, keep_held_out=keep_held_out)
    y = np.asarray(sel["label"].values)
    names = class_names(rec)
    rows, class_rows = [], []
    for layer in layers_of(rec):
        x = _nonneg(layer_activity(sel, layer), negative)
        res = ensemble_null(np.asarray(x.values), y, taus=taus, n_shuffles=n_shuffles, ci=ci, random_state=rng)
        classes = np.unique(y)
        h = x.sizes[C.NEUROID]
        for k, tau in enumerate(np.asarray(list(taus), float)):
            size, lo, hi = res["size"][k].astype(float), res["null_lo"][k], res["null_hi"][k]
            members = res["size"][k]
            n_sig = res["n_significant_members"][k]
            rows.append({"source": name, "layer": layer, "tau": float(tau), "size_mean": float(size.mean()),
                         "null_size_mean": float(res["null_mean"][k].mean()), "null_lo": float(lo.mean()),
                         "null_hi": float(hi.mean()), "n_shuffles": int(n_shuffles),
                         "frac_classes_above_null": float(np.mean(size > hi)),
                         "specificity_jaccard": float(res["specificity_jaccard"][k]),
                         "null_specificity_jaccard": float(res["null_specificity_jaccard"][k]),
                         "frac_members_significant": float(n_sig.sum() / members.sum()) if members.sum() else np.nan,
                         "n_neuroids": h, "n_classes": int(classes.size)})  # fmt: skip
            for c_i, c in enumerate(classes):
                class_rows.append({"source": name, "layer": layer, "tau": float(tau), "class": names[int(c)],
                                   "label": int(c), "size": int(members[c_i]),
                                   "null_size_mean": float(res["null_mean"][k][c_i]), "null_lo": float(lo[c_i]),
                                   "null_hi": float(hi[c_i]), "size_p": float(res["size_p"][k][c_i]),
                                   "n_significant_members": int(n_sig[c_i]), "n_shuffles": int(n_shuffles),
                                   "n_neuroids": h})  # fmt: skip
    return rows, class_rows
