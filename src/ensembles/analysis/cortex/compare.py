"""Each reference row's recipe run on a recording, at the source's sample sizes, and set beside the source's value."""

from __future__ import annotations

import importlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from ensembles._validation import check_choice, describe
from ensembles.errors import InputTypeError, ParameterError

from .reference import (
    RECIPE_FUNCTIONS,
    REFERENCE_COLUMNS,
    check_row,
    count,
    load_cortex_reference,
    params_of,
    recipe_kind,
    recipe_text,
)

__all__ = ["compare_to_cortex", "COMPARISON_COLUMNS", "READER_COLUMNS"]

_SELECTIONS = ("default", "verified", "all")
#: datasets of the registry whose stimuli are photographs of natural scenes (a recording may also declare its class in
#: ``attrs["stimulus_class"]``)
NATURAL_IMAGE_DATASETS = ("cifar10",)
#: the columns of :func:`compare_to_cortex`'s table, in order
COMPARISON_COLUMNS = (
    "model", "dataset", "layer", "reference_id", "study", "system", "species", "area", "measure", "kind",
    "comparison", "recipe", "aggregate", "model_value", "model_low", "model_high", "model_sd", "model_n_stimuli",
    "model_n_neuroids", "n_draws", "reference_value", "reference_sd", "reference_low", "reference_high",
    "reference_n_stimuli", "reference_n_neuroids", "model_text", "reference_text", "matched", "what_is_matched",
    "result", "stimulus", "stimulus_kind", "response_variable", "criterion", "verification", "source_location",
    "citation", "default_comparison", "default_reason", "status", "caveats",
)  # fmt: skip
#: the columns a reader needs (the report's cortex table)
READER_COLUMNS = ("model", "layer", "study", "measure", "kind", "model_text", "reference_text", "matched",
                  "what_is_matched", "result")  # fmt: skip


# ------------------------------------------------------------------------------------------------------------------
# inputs
# ------------------------------------------------------------------------------------------------------------------
def _as_sources(rec: Any) -> list[tuple[str, xr.DataArray, dict]]:
    """(name, activity DataArray, attrs) for each recording given."""
    if isinstance(rec, pd.DataFrame):
        raise InputTypeError(
            "The 'rec' parameter must be a recording (xr.Dataset), its activity (xr.DataArray), or a mapping / "
            "sequence of them. Got a DataFrame: compare_to_cortex does not take the summarize() table, because each "
            "reference value has its own recipe (function, parameters, neuroids, aggregate, matched sample size) "
            "that is computed from the recording itself."
        )
    if isinstance(rec, (xr.Dataset, xr.DataArray)):
        items = [(None, rec)]
    elif isinstance(rec, Mapping):
        items = [(str(k), v) for k, v in rec.items()]
    elif isinstance(rec, Sequence) and not isinstance(rec, (str, bytes)):
        items = [(None, v) for v in rec]
    else:
        raise InputTypeError(
            "The 'rec' parameter must be a recording (xr.Dataset), its activity (xr.DataArray), or a mapping / "
            f"sequence of them. Got {describe(rec)} instead."
        )
    if not items:
        raise ParameterError("The 'rec' parameter holds no recording.")
    out = []
    for name, r in items:
        if isinstance(r, xr.Dataset):
            if "activity" not in r.data_vars:
                raise ParameterError(f"The recording {name or ''!r} has no 'activity' variable; got "
                                     f"{list(r.data_vars)}.")  # fmt: skip
            act, attrs = r["activity"], dict(r.attrs)
        elif isinstance(r, xr.DataArray):
            act, attrs = r, dict(r.attrs)
        else:
            raise InputTypeError(f"Each recording must be an xr.Dataset or xr.DataArray. Got {describe(r)} instead.")
        for d in ("presentation", "neuroid"):
            if d not in act.dims:
                raise ParameterError(f"The activity must have dims presentation and neuroid. Got {act.dims}.")
        out.append((name or str(attrs.get("model", "model")), act, attrs))
    return out


def _prepare(act: xr.DataArray, correct_only: bool, keep_held_out: bool) -> xr.DataArray:
    """The last checkpoint's presentations chosen by :func:`ensembles.record.select_presentations`, repeats of a
    ``stimulus_id`` averaged (trial-averaged responses, as the sources use)."""
    from ensembles.record import select_presentations

    act = select_presentations(act, correct_only=correct_only, keep_held_out=keep_held_out)
    extra = [d for d in act.dims if d not in ("presentation", "neuroid")]
    if extra:
        raise ParameterError(f"The activity has unsupported dims {extra}; expected presentation, neuroid "
                             "(and optionally checkpoint, of which the last is used).")  # fmt: skip
    act = act.transpose("presentation", "neuroid")
    if "stimulus_id" in act.coords:
        sid = np.asarray(act["stimulus_id"].values).astype(str)
        if np.unique(sid).size < sid.size:
            from ensembles.analysis.sparsity import condition_means

            act = condition_means(act, "stimulus_id").rename(stimulus="presentation")
            act = act.transpose("presentation", "neuroid")
    return act


def _layers(act: xr.DataArray, layers: Any) -> list[tuple[Any, np.ndarray]]:
    if "layer" not in act.coords:
        return [("all", np.ones(act.sizes["neuroid"], dtype=bool))]
    lay = np.asarray(act["layer"].values)
    keys = [v.item() if isinstance(v, np.generic) else v for v in np.unique(lay)]
    if layers is not None:
        wanted = list(layers) if isinstance(layers, (list, tuple, set, np.ndarray)) else [layers]
        unknown = [w for w in wanted if w not in keys]
        if unknown:
            raise ParameterError(f"The 'layers' parameter names layer(s) {unknown} the recording lacks; it has {keys}.")
        keys = [k for k in keys if k in wanted]
    return [(k, lay == k) for k in keys]


@dataclass(frozen=True)
class _Recording:
    """What the recipes need to know about one recording."""

    name: str
    dataset: str
    neural: bool
    rate_hz: bool
    response_variable: str
    stimulus_class: str

    @classmethod
    def of(cls, name: str, attrs: Mapping) -> _Recording:
        dataset = str(attrs.get("dataset", "") or "?")
        neural = str(attrs.get("model", "")).startswith("neural:")
        rv = str(attrs.get("response_variable", "") or "")
        if not rv:
            rv = "recorded responses" if neural else f"unit activations (site '{attrs.get('site', '?')}')"
        declared = str(attrs.get("stimulus_class", "") or "")
        klass = declared or ("natural images" if dataset.lower() in NATURAL_IMAGE_DATASETS else "")
        return cls(name, dataset, neural, "spikes/s" in rv, rv, klass)


# ------------------------------------------------------------------------------------------------------------------
# one recipe
# ------------------------------------------------------------------------------------------------------------------
def _aggregate(values: Any, agg: str) -> float:
    if agg == "value":
        return float(getattr(values, "alpha", values))
    v = np.asarray(values, dtype=np.float64).ravel()
    v = v[np.isfinite(v)]
    if v.size == 0:
        return float("nan")
    if agg == "mean":
        return float(v.mean())
    if agg == "median":
        return float(np.median(v))
    op, thr = agg.split(":", 1)
    return float(np.mean(v < float(thr)) if op == "fraction_below" else np.mean(v > float(thr)))


def _run_recipe(fn: str, params: dict, x: np.ndarray, agg: str) -> float:
    """One recipe on a (stimuli x neuroids) matrix, aggregated to one number."""
    module, name = RECIPE_FUNCTIONS[fn]
    func = getattr(importlib.import_module(module), name)
    if fn in ("eigenspectrum_alpha", "participation_ratio"):
        return _aggregate(func(x, **params), "value")
    if fn == "lifetime_sparseness":
        out = func(x, **{"dim": "presentation", **params})
    elif fn == "population_sparseness":
        out = func(x, **{"dim": "neuroid", **params})
    else:
        out = func(x, **params)
    return _aggregate(out, agg)


def _depends_on_n_stimuli(fn: str, params: Mapping, kind: str) -> bool:
    """Whether the recipe's expected value changes with the number of stimuli (a unit's maximum, a lifetime
    measure, a spectrum do; a per-stimulus measure with a fixed threshold does not)."""
    if fn == "population_sparseness":
        return False
    if fn == "fraction_active" and kind == "population":
        return params.get("mode", ">0") == "fraction_of_max"
    return True


def _depends_on_n_neuroids(fn: str) -> bool:
    """Whether the expected value changes with the number of units (a mean of per-unit indicators does not)."""
    return fn in ("population_sparseness", "eigenspectrum_alpha", "participation_ratio")


def _draws(x: np.ndarray, ref_s: float, ref_n: float, responsive: bool, zscore: bool, n_draws: int, rng, run):
    """Run ``run(matrix)`` on draws of the source's numbers of stimuli (then of responsive units) without
    replacement; returns (values, units kept before the neuroid draw, units used)."""
    n_total, n_units = x.shape
    k_s = int(ref_s) if np.isfinite(ref_s) and ref_s < n_total else n_total
    repeat = k_s < n_total or (np.isfinite(ref_n) and ref_n < n_units)
    values, kept, used = [], [], []
    for _ in range(n_draws if repeat else 1):
        xd = x[np.sort(rng.choice(n_total, k_s, replace=False))] if k_s < n_total else x
        if responsive:  # units silent (or constant) over the drawn stimuli have no response to compare: excluded
            mx, mn = np.nanmax(xd, axis=0), np.nanmin(xd, axis=0)
            cols = np.flatnonzero((mx > 0) & (mx > mn))
        else:
            cols = np.arange(n_units)
        kept.append(cols.size)
        if np.isfinite(ref_n) and ref_n < cols.size:
            cols = np.sort(rng.choice(cols, int(ref_n), replace=False))
        used.append(cols.size)
        xd = xd[:, cols]
        if xd.shape[0] < 2 or xd.shape[1] < 1:
            values.append(np.nan)
            continue
        if zscore:  # each unit to zero mean and unit SD across the drawn stimuli (a constant unit becomes 0)
            sd = xd.std(axis=0)
            xd = (xd - xd.mean(axis=0)) / np.where(sd > 0, sd, 1.0)
        values.append(run(xd))
    return np.asarray(values, dtype=np.float64), np.asarray(kept), np.asarray(used), k_s


def _fmt(v: float) -> str:
    return f"{v:.3g}" if np.isfinite(v) else "?"


def _reference_text(r) -> str:
    v, sd, lo, hi = (float(r[c]) for c in ("value", "value_sd", "value_low", "value_high"))
    comp = str(r["comparison"] or "value")
    if comp == "upper bound":
        return f"< {_fmt(hi if np.isfinite(hi) else v)} (upper bound)"
    if comp == "lower bound":
        return f"> {_fmt(lo if np.isfinite(lo) else v)} (lower bound)"
    if np.isfinite(v) and np.isfinite(sd):
        return f"{_fmt(v)} ± {_fmt(sd)} (SD)"
    if np.isfinite(lo) and np.isfinite(hi):
        return f"{_fmt(v) + ' ' if np.isfinite(v) else ''}range [{_fmt(lo)}, {_fmt(hi)}]"
    return f"{_fmt(v)} (no spread stated)"


def _result(m: float, r) -> str:
    """Where the model value lies against the source's value, spread or bound, in words."""
    if not np.isfinite(m):
        return "no model value"
    v, sd, lo, hi = (float(r[c]) for c in ("value", "value_sd", "value_low", "value_high"))
    comp = str(r["comparison"] or "value")
    if comp == "upper bound":
        b = hi if np.isfinite(hi) else v
        return f"model {_fmt(m)} {'respects' if m < b else 'exceeds'} the source's bound < {_fmt(b)}"
    if comp == "lower bound":
        b = lo if np.isfinite(lo) else v
        return f"model {_fmt(m)} {'respects' if m > b else 'falls short of'} the source's bound > {_fmt(b)}"
    if np.isfinite(v) and np.isfinite(sd):
        lo, hi, what = v - sd, v + sd, f"the source's {_fmt(v)} ± {_fmt(sd)} SD"
    elif np.isfinite(lo) and np.isfinite(hi):
        what = f"the source's range [{_fmt(lo)}, {_fmt(hi)}]"
    else:
        return f"model {_fmt(m)} is {m / v:.2g}x the source's {_fmt(v)} (no spread stated)" if v else "source value 0"
    where = "within" if lo <= m <= hi else ("below" if m < lo else "above")
    return f"model {_fmt(m)} lies {where} {what}"


def _one(r, rec: _Recording, layer, x_layer: np.ndarray, n_draws: int, rng) -> dict:
    fn = str(r["recipe_function"] or "")
    base = {
        "model": rec.name, "dataset": rec.dataset, "layer": layer, "reference_id": r["id"], "study": r["study"],
        "system": r["system"], "species": r["species"], "area": r["area"], "measure": r["measure"],
        "kind": r["kind"], "comparison": r["comparison"] or "value", "recipe": recipe_text(r),
        "aggregate": r["aggregate"], "model_value": np.nan, "model_low": np.nan, "model_high": np.nan,
        "model_sd": np.nan, "model_n_stimuli": x_layer.shape[0], "model_n_neuroids": np.nan, "n_draws": 0,
        "reference_value": float(r["value"]), "reference_sd": float(r["value_sd"]),
        "reference_low": float(r["value_low"]), "reference_high": float(r["value_high"]),
        "reference_n_stimuli": float(r["n_stimuli"]), "reference_n_neuroids": float(r["n_neuroids"]),
        "model_text": "", "reference_text": _reference_text(r), "matched": "not matched", "what_is_matched": "",
        "result": "", "stimulus": r["stimulus"], "stimulus_kind": r["stimulus_kind"],
        "response_variable": r["response_variable"], "criterion": r["criterion"], "verification": r["verification"],
        "source_location": r["source_location"], "citation": r["citation"],
        "default_comparison": bool(r["default_comparison"]), "default_reason": r["default_reason"],
    }  # fmt: skip
    notes = [f"reference {r['verification']}: {r['source_location']}"] if r["verification"] != "verified" else []

    def skipped(status: str) -> dict:
        return {**base, "status": status, "caveats": "; ".join(notes)}

    if not fn:
        return skipped("no recipe: no toolkit statistic matches this value")
    agg = check_row(r)
    requires, want = str(r["recipe_requires"] or ""), str(r["recipe_stimulus_class"] or "")
    if requires == "rate_hz" and not rec.rate_hz:
        return skipped(f"not applicable: the recipe needs firing rates in spikes/s; the recording holds "
                       f"{rec.response_variable}")  # fmt: skip
    if requires == "no_spontaneous" and rec.neural:
        return skipped("not applicable: the recipe takes a unit's zero as its spontaneous rate (network units "
                       f"have no spontaneous firing); the recording holds {rec.response_variable}")  # fmt: skip
    if want and rec.stimulus_class != want:
        return skipped(f"not applicable: the source's value holds for {want}; the recording's stimuli are "
                       f"{rec.stimulus_class or rec.dataset} (a recording of {want} declares "
                       f"attrs['stimulus_class'] = {want!r})")  # fmt: skip
    params = params_of(r)
    kind = recipe_kind(fn, params)
    responsive = r["recipe_neuroids"] == "responsive"
    ref_s, ref_n = count(r["n_stimuli"]), count(r["n_neuroids"])
    n_total, n_units = x_layer.shape
    try:
        vals, kept, used, k_s = _draws(x_layer, ref_s, ref_n, responsive, r["recipe_preprocessing"] == "zscore",
                                       n_draws, rng, lambda xd: _run_recipe(fn, params, xd, agg))  # fmt: skip
    except (ValueError, TypeError) as err:  # a recipe refusing this matrix (too few components, negative values)
        return skipped(f"failed: {err}")
    ok = vals[np.isfinite(vals)]
    if ok.size == 0:
        return skipped(f"not computed: no draw left stimuli and units to compute on ({n_total} x {n_units})")
    m = float(ok.mean())
    lo_m, hi_m = (np.percentile(ok, [2.5, 97.5]) if ok.size > 1 else (np.nan, np.nan))
    base.update(model_value=m, model_low=float(lo_m), model_high=float(hi_m), n_draws=int(vals.size),
                model_sd=float(ok.std(ddof=1)) if ok.size > 1 else np.nan, model_n_stimuli=int(k_s),
                model_n_neuroids=float(np.round(used.mean(), 1)))  # fmt: skip
    base["model_text"] = (f"{_fmt(m)} [{_fmt(lo_m)}, {_fmt(hi_m)}] (central 95 % of {ok.size} draws)"
                          if ok.size > 1 else f"{_fmt(m)} (all stimuli and units, no draw)")  # fmt: skip
    base["result"] = _result(m, r)

    # what the recipe reproduces, and what it cannot
    matched, unmatched = [f"the source's criterion: {r['criterion']}"], []
    if not bool(r["default_comparison"]):  # the row's own reason: a convention or a fact the recipe cannot reproduce
        unmatched.append(str(r["default_reason"] or "out of the default comparison").removeprefix("out: "))
    if responsive:
        avg = " on average" if vals.size > 1 else ""
        matched.append(f"units silent over the stimuli used excluded (kept {kept.mean():.0f} of {n_units}{avg})")
    else:
        matched.append("all units, silent ones included")
    if r["recipe_preprocessing"] == "zscore":
        matched.append("units z-scored as in the source's pipeline")
    if want:
        matched.append(f"stimulus class ({want})")
    s_dep, n_dep = _depends_on_n_stimuli(fn, params, kind), _depends_on_n_neuroids(fn)
    if np.isfinite(ref_s) and n_total >= ref_s:
        matched.append(f"{k_s} stimuli per draw ({base['n_draws']} draws from {n_total})")
    elif np.isfinite(ref_s):
        (unmatched if s_dep else matched).append(f"stimuli: the model has {n_total}, the source {ref_s:g}")
    elif s_dep:
        unmatched.append(f"stimuli: the source's number is not stated; all {n_total} used")
    n_note = "" if n_dep else " (a mean over units does not depend on their number; its spread does)"
    if np.isfinite(ref_n) and used.min() >= ref_n:
        matched.append(f"{ref_n:g} units per draw")
    elif np.isfinite(ref_n):
        (unmatched if n_dep else matched).append(f"units: {used.mean():.0f} available, the source {ref_n:g}"
                                                 + n_note)  # fmt: skip
    elif n_dep:
        unmatched.append(f"units: the source's number is not stated; {used.mean():.0f} used")
    remaining = [f"the model's {rec.response_variable} vs the source's {r['response_variable']}"
                 if r["system"] != "ANN" else "the source is an artificial network, not cortex"]  # fmt: skip
    if not want:
        remaining.append(f"stimuli: {n_total} {rec.dataset} stimuli vs the source's {r['stimulus']}")
    base["matched"] = "matched" if not unmatched else "not matched"
    base["what_is_matched"] = (f"Matched: {'; '.join(matched)}. Not matched: "
                               f"{'; '.join(unmatched) if unmatched else 'nothing the recipe controls'}. "
                               f"Remaining differences: {'; '.join(remaining)}.")  # fmt: skip
    if responsive and kept.mean() < n_units:
        notes.append(f"{n_units - kept.mean():.0f} of {n_units} units{' on average' if vals.size > 1 else ''} are "
                     "silent over the stimuli used and left out (recorded neurons are selected for responding)")
    if r["measure"] == "treves_rolls_a":
        notes.append("direction: small Treves-Rolls a = sparse")
    if r["note"]:
        notes.append(f"source: {r['note']}")
    return {**base, "status": "compared", "caveats": "; ".join([*remaining, *notes])}


# ------------------------------------------------------------------------------------------------------------------
# the comparison
# ------------------------------------------------------------------------------------------------------------------
def compare_to_cortex(
    rec: Any,
    *,
    references: str = "default",
    reference: pd.DataFrame | None = None,
    correct_only: bool = False,
    keep_held_out: bool = True,
    layers: Any = None,
    n_draws: int = 20,
    random_state: Any = 0,
    include_unmatched: bool = False,
) -> pd.DataFrame:
    """Compute each reference value's model statistic by its own recipe, at the source's sample sizes, and set the
    two side by side with what is matched and what is not.

    Each row's recipe (docs/methods.md §A5.8) draws the source's number of stimuli (without replacement, ``n_draws``
    times) from the layer's stimulus means; keeps the units the source kept (``responsive``: units silent over the
    drawn stimuli are excluded, since a recorded neuron is one that responds; ``all``: every unit); draws the
    source's number of units; z-scores units where the source did; runs the toolkit function with the row's
    parameters and aggregates as the source did.  A row whose value holds for one stimulus class (the eigenspectrum
    exponent: natural images) is computed only for recordings of that class.

    Parameters
    ----------
    rec : xr.Dataset, xr.DataArray, or a mapping name -> recording / a sequence of recordings
        Recordings (presentation × neuroid; with a ``checkpoint`` dim the last checkpoint is used).  Neuroids are
        grouped by their ``layer`` coord; repeats of a ``stimulus_id`` are averaged first.  ``attrs["stimulus_class"]``
        declares the stimulus class (``"natural images"``); CIFAR-10 recordings are natural images.
    references : {"default", "verified", "all"}
        ``"default"`` = the rows marked ``default_comparison`` (verified, single units, and a recipe that reproduces
        the source's procedure; every other row says why not in ``default_reason``); ``"verified"`` = every verified
        row with a number; ``"all"`` = every row with a number.
    reference : pandas.DataFrame, optional
        A reference table with :data:`~ensembles.analysis.cortex.REFERENCE_COLUMNS` (default
        :func:`~ensembles.analysis.cortex.load_cortex_reference`).
    correct_only, keep_held_out : bool
        The presentations used, as :func:`ensembles.record.select_presentations` chooses them.  Default: every
        presentation (cortical values are over every stimulus shown).
    layers : int or sequence, optional
        Layers to compare (default: all).
    n_draws : int
        Random draws of the source's numbers of stimuli and units; the model value is their mean, ``model_low`` /
        ``model_high`` the central 95 % of the draws (the spread of one experiment of the source's size).
    random_state : int or numpy Generator
        Seed of the draws.
    include_unmatched : bool
        Also return selected rows that could not be computed (no recipe, a recipe needing firing rates, another
        stimulus class, a recipe that failed), with ``model_value`` NaN and the reason in ``status``.

    Returns
    -------
    pandas.DataFrame
        One row per (recording, layer, reference) with :data:`COMPARISON_COLUMNS`: the recipe in words, the model
        value with its subsampling interval (``model_value``, ``model_low``, ``model_high``, ``model_text``), the
        source's value with its spread or bound (``reference_*``, ``reference_text``), ``matched`` (``"matched"``
        when the recipe reproduces the source's procedure at the source's sample sizes, else ``"not matched"``),
        ``what_is_matched`` (a sentence: matched, not matched, remaining differences), ``result`` (the model value
        against the source's spread or bound, in words), ``status`` (``"compared"`` or why not) and ``caveats``.
        :data:`READER_COLUMNS` are the columns a report shows.

    Raises
    ------
    InputTypeError
        ``rec`` is not a recording (a DataFrame such as the summarize() table is refused with an explanation).
    ParameterError
        Bad ``references``, ``layers`` or ``n_draws``.
    """
    check_choice("references", references, _SELECTIONS)
    if isinstance(n_draws, bool) or not isinstance(n_draws, (int, np.integer)) or n_draws < 1:
        raise ParameterError(f"The 'n_draws' parameter must be a positive int. Got {describe(n_draws)} instead.")
    sources = _as_sources(rec)
    ref = load_cortex_reference() if reference is None else reference
    missing = [c for c in REFERENCE_COLUMNS if c not in ref.columns]
    if missing:
        raise ParameterError(f"The 'reference' table lacks the column(s) {missing}; expected {list(REFERENCE_COLUMNS)}.")
    has_number = np.isfinite(ref["value"].astype(float)) | (
        np.isfinite(ref["value_low"].astype(float)) | np.isfinite(ref["value_high"].astype(float))
    )
    sel = ref[has_number]
    if references == "default":
        sel = sel[sel["default_comparison"].astype(bool)]
    elif references == "verified":
        sel = sel[sel["verification"] == "verified"]
    rng = random_state if isinstance(random_state, np.random.Generator) else np.random.default_rng(random_state)
    rows = []
    for name, raw_act, attrs in sources:
        act = _prepare(raw_act, correct_only, keep_held_out)
        info = _Recording.of(name, attrs)
        values = np.asarray(act.values)
        for layer, mask in _layers(act, layers):
            x_layer = np.asarray(values[:, mask], dtype=np.float64)  # one layer at a time in float64
            for _, r in sel.iterrows():
                rows.append(_one(r, info, layer, x_layer, int(n_draws), rng))
    out = pd.DataFrame(rows, columns=list(COMPARISON_COLUMNS))
    if not include_unmatched:
        out = out[out["status"] == "compared"].reset_index(drop=True)
    return out
