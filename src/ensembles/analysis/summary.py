"""``summarize(rec)``: every sparseness and selectivity statistic of a recording as one tidy table (pandas).

One row per model × run × checkpoint × layer × class × statistic × aggregate, ready for seaborn
(``sns.barplot(data=df.query("statistic == 'hoyer'"), x="layer", y="value", hue="model")``).  By default only
correctly classified presentations (and every presentation of a held-out class) are used, Tosato et al. 2023's
protocol, chosen by :func:`ensembles.record.select_presentations`; neural data without a ``correct`` coord use every
presentation (column ``subset`` says which).

Every layer also gets (measure group ``units``) the rows that say which neuroids carry its statistics: ``silent_neuroids`` (never active on
the selected presentations), ``all_zero_presentations`` (no neuroid of the layer active; they have no population
value and are left out of the population means) and ``responsive_neuroids`` (the criterion of
:func:`ensembles.analysis.responsive_neuroids`), each as ``count`` and ``fraction``; and every statistic is computed
a second time over the responsive neuroids only, under the same name with the suffix ``_responsive``
(``population_hoyer`` beside ``population_hoyer_responsive``, ``lifetime_vinje-gallant`` beside
``lifetime_vinje-gallant_responsive``, ...).  The rows over all neuroids are unchanged by this.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from ensembles import conventions as C
from ensembles._validation import check_choice, describe
from ensembles.analysis import ensembles as ens
from ensembles.analysis import selectivity as sel
from ensembles.analysis import sparsity as sp
from ensembles.analysis.responsiveness import RESPONSIVE_CRITERIA, responsive_neuroids, silent_units
from ensembles.errors import InputTypeError, ParameterError
from ensembles.record import select_presentations

__all__ = ["MEASURE_GROUPS", "summarize"]

MEASURE_GROUPS = (
    "population",  # population sparseness per presentation (hoyer, vinje-gallant, gini), per class and overall
    "fraction_active",  # fraction of neuroids > 0 per presentation
    "lifetime",  # lifetime sparseness per neuroid (vinje-gallant, treves-rolls, kurtosis)
    "csi",
    "dprime",
    "anova",
    "mi",
    "tuning",
    "n_driven",
    "ensembles",  # category ensembles by the authors' leave-one-out rule (tau = 1): size and fraction per class
    "units",  # silent neuroids, all-zero presentations and responsive neuroids: count and fraction per layer
)
COLUMNS = [
    "model", "dataset", "seed", "site", "run", "checkpoint", "epoch", "layer", "subset", "class", "statistic",
    "aggregate", "value", "n", "n_nan",
]  # fmt: skip


def _agg_rows(values: np.ndarray, base: dict, statistic: str, cls: Any = "all", aggregates=("mean", "median")):
    v = np.asarray(values, dtype=np.float64)
    ok = v[np.isfinite(v)]
    rows = []
    for agg in aggregates:
        if agg == "mean":
            val = float(ok.mean()) if ok.size else np.nan
        elif agg == "median":
            val = float(np.median(ok)) if ok.size else np.nan
        else:  # pragma: no cover
            raise AssertionError(agg)
        rows.append({**base, "class": cls, "statistic": statistic, "aggregate": agg, "value": val,
                     "n": int(v.size), "n_nan": int(v.size - ok.size)})  # fmt: skip
    return rows


def _row(base, statistic, aggregate, value, n, cls="all", n_nan=0):
    return {**base, "class": cls, "statistic": statistic, "aggregate": aggregate, "value": float(value), "n": int(n),
            "n_nan": int(n_nan)}  # fmt: skip


_RESPONSIVE_POPULATION = ("population", "fraction_active", "ensembles")  # recomputed over the responsive neuroids


def _unit_rows(x: xr.DataArray, labels: np.ndarray | None, base: dict, opts) -> tuple[list[dict], np.ndarray | None]:
    """Silent, all-zero and responsive rows of one layer, and the responsive mask (None when not asked for)."""
    su = silent_units(np.asarray(x.values))
    rows = [] if "units" not in opts["groups"] else [_row(base, "silent_neuroids", "count", su.attrs["n_silent"], su.attrs["n_neuroids"]),
            _row(base, "silent_neuroids", "fraction", su.attrs["frac_silent"], su.attrs["n_neuroids"]),
            _row(base, "all_zero_presentations", "count", su.attrs["n_all_zero"], su.attrs["n_presentations"]),
            _row(base, "all_zero_presentations", "fraction", su.attrs["frac_all_zero"], su.attrs["n_presentations"])]
    if opts["responsive"] is None:
        return rows, None
    kw = dict(opts["responsive"])
    baseline = kw.get("baseline")
    r = responsive_neuroids(x if isinstance(baseline, str) else np.asarray(x.values), labels, **kw)
    resp = np.asarray(r["responsive"], dtype=bool)
    if "units" in opts["groups"]:
        rows += [_row(base, "responsive_neuroids", "count", resp.sum(), resp.size),
                 _row(base, "responsive_neuroids", "fraction", resp.mean(), resp.size)]
    return rows, resp


def _responsive_rows(x: xr.DataArray, labels, base: dict, groups, opts, resp: np.ndarray,
                     per_neuroid: dict[str, np.ndarray]) -> list[dict]:
    """The statistics of one layer over its responsive neuroids (statistic names with the suffix ``_responsive``):
    population statistics and ensembles recomputed on the responsive neuroids alone, per-neuroid statistics
    re-aggregated from their values on all neuroids (a neuroid's own value does not depend on the others)."""
    if resp.sum() < 2:  # sparseness and the leave-one-out rule need two neuroids
        return []
    sub = x.isel({C.NEUROID: np.flatnonzero(resp)})
    rows = _layer_rows(sub, labels, base, [g for g in groups if g in _RESPONSIVE_POPULATION], opts)
    for r in rows:
        r["statistic"] = f"{r['statistic']}_responsive"
    for name, v in per_neuroid.items():
        rows += _agg_rows(v[resp], base, f"{name}_responsive")
    return rows


def _layer_rows(act: xr.DataArray, labels: np.ndarray | None, base: dict, groups, opts, *,
                _per_neuroid: dict | None = None) -> list[dict]:
    rows: list[dict] = []
    x = act.transpose(C.PRESENTATION, C.NEUROID)
    neg = opts["negative"]
    classes = np.unique(labels) if labels is not None else None
    per_neuroid = _per_neuroid if _per_neuroid is not None else {}
    if "population" in groups or "fraction_active" in groups:
        pop = {}
        if "population" in groups:
            for m in ("hoyer", "vinje-gallant", "gini"):
                pop[m] = np.asarray(sp.population_sparseness(x, m, negative=neg, nan_policy="propagate").values)
        if "fraction_active" in groups:
            pop["fraction_active"] = np.asarray(sp.fraction_active(x, nan_policy="propagate").values)
        for m, v in pop.items():
            name = m if m == "fraction_active" else f"population_{m}"
            rows += _agg_rows(v, base, name)
            if classes is not None:
                for c in classes:
                    rows += _agg_rows(v[labels == c], base, name, cls=c)
    if "lifetime" in groups:
        for m in ("vinje-gallant", "treves-rolls", "kurtosis"):
            v = sp.lifetime_sparseness(x, m, negative=neg)
            per_neuroid[f"lifetime_{m}"] = np.asarray(v.values)
            rows += _agg_rows(v.values, base, f"lifetime_{m}")
            rows.append(_row(base, f"lifetime_{m}", "n_silent", v.attrs["n_silent"], v.sizes[C.NEUROID]))
    if labels is None or classes is None or len(classes) < 2:
        return rows
    kw = {"n_shuffles": opts["n_shuffles"], "random_state": opts["random_state"]}
    alpha = opts["alpha"]

    def significant(ds, name):
        q = ds["q"].values
        fin = np.isfinite(q)
        rows.append(_row(base, name, "fraction_significant", (q[fin] < alpha).mean() if fin.any() else np.nan,
                         q.size, n_nan=int((~fin).sum())))  # fmt: skip

    if "csi" in groups:
        ds = sel.class_selectivity_index(x, labels, **kw)
        csi, pref = ds["csi"].values, ds["preferred"].values
        per_neuroid["csi"] = np.asarray(csi)
        rows += _agg_rows(csi, base, "csi")
        if opts["n_shuffles"]:
            significant(ds, "csi")
        for c in classes:
            mask = pref == c
            rows.append(_row(base, "n_preferring", "count", mask.sum(), mask.size, cls=c))
            rows += _agg_rows(csi[mask], base, "csi", cls=c)
    if "dprime" in groups:
        ds = sel.dprime(x, labels, **kw)
        per_neuroid["dprime"] = np.where(np.isinf(ds["dprime"].values), np.nan, ds["dprime"].values)
        rows += _agg_rows(per_neuroid["dprime"], base, "dprime")
        if opts["n_shuffles"]:
            significant(ds, "dprime")
    if "anova" in groups:
        ds = sel.anova(x, labels)
        for v in ("eta2", "omega2"):
            per_neuroid[v] = np.asarray(ds[v].values)
            rows += _agg_rows(ds[v].values, base, v)
        significant(ds, "anova_F")
    if "mi" in groups:
        ds = sel.mutual_information(x, labels, n_bins=opts["n_bins"], **kw)
        per_neuroid["mi"] = np.asarray(ds["mi"].values)
        rows += _agg_rows(ds["mi"].values, base, "mi")
        if opts["n_shuffles"]:
            significant(ds, "mi")
    if "tuning" in groups:
        ds = sel.tuning_sparseness(x, labels, negative=neg, **kw)
        per_neuroid["tuning_sparseness"] = np.asarray(ds["tuning_sparseness"].values)
        rows += _agg_rows(ds["tuning_sparseness"].values, base, "tuning_sparseness")
    if "n_driven" in groups:
        ds = sel.n_driven_classes(x, labels, alpha=alpha)
        nd = ds["n_driven"].values
        per_neuroid["n_driven"] = np.asarray(nd, dtype=float)
        rows += _agg_rows(nd, base, "n_driven")
        rows.append(_row(base, "mixed_selective", "fraction", (nd >= 2).mean(), nd.size))
        cat = next(d for d in ds["driven"].dims if d != C.NEUROID)  # "class" (today) or "category" (the contract)
        drv = ds["driven"].transpose(cat, C.NEUROID).values
        for i, c in enumerate(ds[cat].values):
            rows.append(_row(base, "n_driven_neuroids", "count", drv[i].sum(), drv.shape[1], cls=c))
    if "ensembles" in groups:
        # Tosato et al.'s rule (docs/methods.md §A3.4): mu_i^c > (1 + tau) * mean_{j != i} mu_j^c, within this layer
        member = ens.category_ensembles(x, labels, rule="paper", tau=1.0, by_layer=False)
        size = np.asarray(member.sum(C.NEUROID).values, dtype=np.float64)
        n_units = member.sizes[C.NEUROID]
        for c, sz in zip(member["category"].values, size, strict=True):
            rows.append(_row(base, "ensemble_size", "count", sz, n_units, cls=c))
            rows.append(_row(base, "ensemble_fraction", "fraction", sz / n_units, n_units, cls=c))
        rows += _agg_rows(size, base, "ensemble_size")
        rows += _agg_rows(size / n_units, base, "ensemble_fraction")
    return rows


def summarize(
    rec: Any,
    *,
    correct_only: bool = True,
    keep_held_out: bool = True,
    measures: Any = None,
    checkpoint: Any = -1,
    layers: Any = None,
    n_shuffles: int = 200,
    n_bins: int = 8,
    alpha: float = 0.05,
    negative: str = "raise",
    random_state: Any = 0,
    responsive: Any = "active",
) -> pd.DataFrame:
    """Tidy table of sparseness and selectivity statistics per model × run × checkpoint × layer × class.

    Parameters
    ----------
    rec : xr.Dataset (a recording, docs/architecture.md) or xr.DataArray (its ``activity``)
        Dims ``presentation`` × ``neuroid``, optionally ``checkpoint`` (coord ``epoch``) and ``run`` (recordings
        combined along ``run``).  Neuroids are grouped by the ``layer`` coord (one group ``"all"`` without it);
        classes come from the ``label`` presentation coord (without it only sparseness is computed).
    correct_only : bool
        Use only presentations with ``correct == True`` when the coord exists (the paper's protocol); otherwise all.
        The selection is :func:`ensembles.record.select_presentations`, the one used by every table of the package.
    keep_held_out : bool
        With ``correct_only``, also keep every presentation of a class held out of training (``held_out`` coord;
        such a class is never predicted correctly, docs/methods.md §A3.6).  Default True, as everywhere in the package;
        the rows then have ``subset = "correct+held_out"``.
    measures : sequence of str, optional
        Subset of :data:`MEASURE_GROUPS` (default: all).
    checkpoint : int, "all"
        Index along ``checkpoint`` (default -1, the last) or ``"all"``.
    layers : sequence of int, optional
        Layers to include (default: all).
    n_shuffles, n_bins, alpha, random_state
        Passed to the selectivity statistics (label shuffles, MI bins, significance level).
    negative : str
        Negative-value policy of the sparseness measures (docs/methods.md §A1.4).
    responsive : str, dict or None
        The responsiveness criterion of the ``responsive_neuroids`` rows and of the ``*_responsive`` statistics: a
        criterion name of :func:`ensembles.analysis.responsive_neuroids` (default ``"active"``: active on at least
        25 % of the presentations of the neuroid's preferred class), or a dict of its keyword arguments (neural data
        with spontaneous responses: ``{"criterion": "allen", "baseline": "blank"}``, the Allen Brain Observatory's
        criterion, de Vries et al. 2020).  None: no responsive-unit rows (the silent and all-zero rows remain).

    Returns
    -------
    pandas.DataFrame with columns ``model, dataset, seed, site, run, checkpoint, epoch, layer, subset, class,
    statistic, aggregate, value, n, n_nan``.  ``aggregate`` is ``mean``/``median`` over neuroids (or presentations
    for population measures), ``fraction_significant`` (q < alpha, BH-FDR), ``count``, ``fraction`` or
    ``n_silent``; ``n`` is the number of values aggregated and ``n_nan`` how many were NaN and skipped.  The
    statistics ``silent_neuroids``, ``all_zero_presentations`` and ``responsive_neuroids`` (aggregates ``count`` and
    ``fraction``) and the ``*_responsive`` statistics are described in the module docstring.
    """
    if isinstance(rec, xr.Dataset):
        if C.ACTIVITY not in rec.data_vars:
            raise ParameterError(f"The 'rec' parameter must be a recording with an {C.ACTIVITY!r} variable. "
                             f"Got variables {tuple(rec.data_vars)} instead.")  # fmt: skip
        act, attrs = rec[C.ACTIVITY], dict(rec.attrs)
    elif isinstance(rec, xr.DataArray):
        act, attrs = rec, dict(rec.attrs)
    else:
        raise InputTypeError(f"The 'rec' parameter must be an xr.Dataset recording or an xr.DataArray. Got {describe(rec)}.")
    for d in (C.PRESENTATION, C.NEUROID):
        if d not in act.dims:
            raise ParameterError(f"dim={d!r} not found in rec dims {tuple(act.dims)}")
    extra = [d for d in act.dims if d not in (C.PRESENTATION, C.NEUROID, C.CHECKPOINT, "run")]
    if extra:
        raise ParameterError(f"The 'rec' parameter has unsupported dims {extra}; expected presentation, neuroid and "
                         "optionally checkpoint, run")  # fmt: skip
    groups = MEASURE_GROUPS if measures is None else tuple(measures)
    for g in groups:
        check_choice("measures", g, MEASURE_GROUPS)
    if responsive is None:
        resp_kw = None
    elif isinstance(responsive, str):
        resp_kw = {"criterion": check_choice("responsive", responsive, RESPONSIVE_CRITERIA)}
    elif isinstance(responsive, dict):
        resp_kw = dict(responsive)
    else:
        raise InputTypeError(f"The 'responsive' parameter must be a criterion name, a dict of responsive_neuroids "
                             f"keyword arguments or None. Got {describe(responsive)}.")  # fmt: skip
    opts = {"n_shuffles": n_shuffles, "n_bins": n_bins, "alpha": alpha, "negative": negative,
            "random_state": random_state, "responsive": resp_kw, "groups": groups}  # fmt: skip

    runs = [(None, act)] if "run" not in act.dims else [(act["run"].values[i], act.isel(run=i))
                                                          for i in range(act.sizes["run"])]  # fmt: skip
    rows: list[dict] = []
    for run_val, a_run in runs:
        if C.CHECKPOINT in a_run.dims:
            n_ck = a_run.sizes[C.CHECKPOINT]
            if isinstance(checkpoint, str) and checkpoint == "all":
                idxs = list(range(n_ck))
            elif isinstance(checkpoint, (int, np.integer)) and -n_ck <= checkpoint < n_ck:
                idxs = [int(checkpoint) % n_ck]
            else:
                raise ParameterError(f"The 'checkpoint' parameter must be an index in [-{n_ck}, {n_ck}) or 'all'. "
                                 f"Got {checkpoint!r} instead.")  # fmt: skip
            cks = [(i, a_run.isel({C.CHECKPOINT: i})) for i in idxs]
        else:
            cks = [(None, a_run)]
        for ck, a in cks:
            rows += _summarize_one(a, attrs, run_val, ck, correct_only, keep_held_out, layers, groups, opts)
    return pd.DataFrame(rows, columns=COLUMNS)


def _scalar(a: xr.DataArray, name: str, default: Any) -> Any:
    if name in a.coords and a.coords[name].ndim == 0:
        return a.coords[name].item()
    return default


def _summarize_one(a, attrs, run_val, ck, correct_only, keep_held_out, layers, groups, opts) -> list[dict]:
    subset = "all"
    if correct_only and "correct" in a.coords:
        if a.coords["correct"].ndim != 1:
            raise ParameterError(f"coord 'correct' must be 1-D along presentation; got dims {a.coords['correct'].dims}")
        a = select_presentations(a, correct_only=True, keep_held_out=keep_held_out)
        subset = "correct"
        if keep_held_out and "held_out" in a.coords and bool(np.asarray(a.coords["held_out"].values).any()):
            subset = "correct+held_out"
    labels = np.asarray(a.coords["label"].values) if "label" in a.coords else None
    epoch = _scalar(a, "epoch", None)
    base = {
        "model": str(_scalar(a, "model", attrs.get("model", ""))),
        "dataset": str(_scalar(a, "dataset", attrs.get("dataset", ""))),
        "seed": _scalar(a, "seed", attrs.get("seed", -1)),
        "site": str(attrs.get("site", "")),
        "run": run_val,
        "checkpoint": ck,
        "epoch": epoch,
        "subset": subset,
    }
    if "layer" in a.coords:
        lay = np.asarray(a.coords["layer"].values)
        chosen = np.unique(lay) if layers is None else np.asarray(list(layers))
        missing = [v for v in chosen if v not in set(lay.tolist())]
        if missing:
            raise ParameterError(f"The 'layers' parameter must name layers of the recording {np.unique(lay).tolist()}. "
                             f"Got {missing} instead.")  # fmt: skip
        parts = [(int(v), a.isel({C.NEUROID: np.flatnonzero(lay == v)})) for v in chosen]
    else:
        parts = [("all", a)]
    rows: list[dict] = []
    for lv, part in parts:
        b = {**base, "layer": lv}
        per_neuroid: dict[str, np.ndarray] = {}
        rows += _layer_rows(part, labels, b, groups, opts, _per_neuroid=per_neuroid)
        x = part.transpose(C.PRESENTATION, C.NEUROID)
        if opts["negative"] == "clip":  # the criterion sees what the sparseness measures see
            x = x.clip(min=0)
        units, resp = _unit_rows(x, labels, b, opts)
        rows += units
        if resp is not None:
            rows += _responsive_rows(part, labels, b, groups, opts, resp, per_neuroid)
    return rows
