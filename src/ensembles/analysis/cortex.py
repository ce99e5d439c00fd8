"""Published cortical reference values, each with the recipe that computes the matching model statistic.

The table ``ensembles/data/cortex_reference.csv`` (shipped with the package; :func:`load_cortex_reference`) holds
one row per published value or qualitative finding: species, area, study, the stimulus set and its kind, the
measure, lifetime or population, the value as the source states it (a value ± SD, or only a range), the numbers of
neurons and stimuli it rests on, the response variable and criterion, the citation, **where the value was read**
(``source_location``) and its ``verification``:

``verified``
    the value (or finding) was read in the primary source at ``source_location`` (an abstract, a figure legend);
``partly verified``
    the value was read, part of its definition was not (e.g. whether an index is a or 1 − a);
``unverified``
    secondary knowledge; kept as context, never in the default comparison.

Each row with a numeric value carries its **recipe**: the toolkit function (``recipe_function``: one of
:data:`RECIPE_FUNCTIONS`) and its parameters (``recipe_params``, JSON), which neuroids it runs on
(``recipe_neuroids``: ``all``, or ``responsive`` = units that respond to at least one stimulus, since recorded
neurons are selected for responding), what the recording must hold (``recipe_requires``: ``rate_hz`` for a
threshold in spikes/s) and the ``aggregate`` the source reports (``mean`` or ``median`` over neurons for a lifetime
measure, over stimuli for a population measure; ``value`` for a single number; ``fraction_below:t`` /
``fraction_above:t`` for the fraction of neurons whose value is below/above t).  ``default_comparison`` marks the
rows that are verified *and* like for like with a network's units (single units, a convention a ReLU unit shares).

:func:`compare_to_cortex` runs every selected recipe on each layer of each recording -- on stimulus means (repeats
of a ``stimulus_id`` averaged, as the sources do), with the reference's number of stimuli (lifetime) or neurons
(population) matched by repeated random subsampling -- and returns one row per (recording, layer, reference) with
the recipe written out and the caveats that remain (rate vs activation, stimulus set, sample size, verification).
No torch, no matplotlib here: the figure is :func:`ensembles.plot.cortex.plot_cortex_comparison`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from importlib import resources
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from ensembles._validation import check_choice, describe
from ensembles.errors import DataFileError, InputTypeError, ParameterError

__all__ = [
    "REFERENCE_COLUMNS",
    "RECIPE_FUNCTIONS",
    "VERIFICATION_LEVELS",
    "load_cortex_reference",
    "compare_to_cortex",
    "recipe_text",
]

REFERENCE_COLUMNS = (
    "id", "system", "species", "area", "study", "stimulus", "stimulus_kind", "measure", "kind", "value", "value_sd",
    "value_low", "value_high", "n_neuroids", "n_stimuli", "response_variable", "criterion", "citation",
    "source_location", "verification", "default_comparison", "recipe_function", "recipe_params", "recipe_neuroids",
    "recipe_requires", "aggregate", "note",
)  # fmt: skip
VERIFICATION_LEVELS = ("verified", "partly verified", "unverified")
#: recipe_function name -> (module, function); only these can be named by a reference row
RECIPE_FUNCTIONS = {
    "lifetime_sparseness": ("ensembles.analysis.sparsity", "lifetime_sparseness"),
    "population_sparseness": ("ensembles.analysis.sparsity", "population_sparseness"),
    "fraction_active": ("ensembles.analysis.sparsity", "fraction_active"),
    "eigenspectrum_alpha": ("ensembles.analysis.geometry", "eigenspectrum_alpha"),
    "participation_ratio": ("ensembles.analysis.geometry", "participation_ratio"),
}
_NUMERIC = ("value", "value_sd", "value_low", "value_high", "n_neuroids", "n_stimuli")
_AGGREGATES = ("mean", "median", "value")
_SELECTIONS = ("default", "verified", "all")


def load_cortex_reference() -> pd.DataFrame:
    """The published reference values as a DataFrame with :data:`REFERENCE_COLUMNS`.

    Numeric columns are floats (NaN where the source gives none); ``default_comparison`` is a bool;
    ``recipe_params`` stays the JSON text of the row (parsed by :func:`compare_to_cortex`).
    """
    with resources.files("ensembles.data").joinpath("cortex_reference.csv").open("r", encoding="utf-8") as f:
        df = pd.read_csv(f, dtype={c: str for c in REFERENCE_COLUMNS if c not in _NUMERIC}, keep_default_na=False,
                         na_values={c: [""] for c in _NUMERIC})  # fmt: skip
    missing = [c for c in REFERENCE_COLUMNS if c not in df.columns]
    if missing:  # pragma: no cover - guards edits of the shipped file
        raise DataFileError(f"cortex_reference.csv lacks columns {missing}")
    for c in _NUMERIC:
        df[c] = pd.to_numeric(df[c], errors="coerce").astype(float)
    df["default_comparison"] = df["default_comparison"].str.strip().str.lower().eq("yes")
    return df[list(REFERENCE_COLUMNS)]


# ------------------------------------------------------------------------------------------------------------------
# recipes
# ------------------------------------------------------------------------------------------------------------------
def _params(ref: Mapping) -> dict:
    text = str(ref.get("recipe_params", "") or "").strip()
    if not text:
        return {}
    try:
        out = json.loads(text)
    except json.JSONDecodeError as err:
        raise DataFileError(f"reference {ref.get('id')!r}: recipe_params is not JSON: {text!r} ({err})") from err
    if not isinstance(out, dict):
        raise DataFileError(f"reference {ref.get('id')!r}: recipe_params must be a JSON object. Got {text!r}.")
    return out


def recipe_text(ref: Mapping) -> str:
    """The recipe of a reference row in words, e.g. ``fraction_active(mode='fraction_of_max', threshold=0.5,
    dim='neuroid') on responsive neuroids of stimulus means -> mean over stimuli``; ``""`` without a recipe."""
    fn = str(ref.get("recipe_function", "") or "")
    if not fn:
        return ""
    params = _params(ref)
    kind = _recipe_kind(fn, params)
    args = ", ".join(f"{k}={v!r}" for k, v in sorted(params.items()))
    who = "responsive neuroids" if ref.get("recipe_neuroids") == "responsive" else "all neuroids"
    agg = str(ref.get("aggregate", "") or "")
    over = {"lifetime": "neuroids", "population": "stimuli"}.get(kind, "")
    if agg in ("mean", "median"):
        tail = f"{agg} over {over}"
    elif agg.startswith(("fraction_below:", "fraction_above:")):
        op = "<" if agg.startswith("fraction_below") else ">"
        tail = f"fraction of {over} with value {op} {agg.split(':', 1)[1]}"
    else:
        tail = "one value per layer"
    return f"{fn}({args}) on {who} of stimulus means -> {tail}"


def _recipe_kind(fn: str, params: Mapping) -> str:
    if fn == "lifetime_sparseness":
        return "lifetime"
    if fn == "fraction_active":
        return "lifetime" if params.get("dim") == "presentation" else "population"
    return "population"


def _function(fn: str):
    import importlib

    if fn not in RECIPE_FUNCTIONS:
        raise DataFileError(f"recipe_function {fn!r} is not one of {sorted(RECIPE_FUNCTIONS)}")
    module, name = RECIPE_FUNCTIONS[fn]
    return getattr(importlib.import_module(module), name)


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


def _check_aggregate(ref: Mapping) -> str:
    agg = str(ref.get("aggregate", "") or "")
    if agg in _AGGREGATES:
        return agg
    if agg.startswith(("fraction_below:", "fraction_above:")):
        try:
            float(agg.split(":", 1)[1])
            return agg
        except ValueError:
            pass
    raise DataFileError(f"reference {ref.get('id')!r}: aggregate {agg!r} is not one of {_AGGREGATES} or "
                        "fraction_below:<t> / fraction_above:<t>")  # fmt: skip


def _run_recipe(fn: str, params: dict, x: np.ndarray, agg: str) -> float:
    """One recipe on a (stimuli x neuroids) matrix, aggregated to one number."""
    func = _function(fn)
    if fn in ("eigenspectrum_alpha", "participation_ratio"):
        return _aggregate(func(x, **params), "value")
    if fn == "lifetime_sparseness":
        out = func(x, **{"dim": "presentation", **params})
    elif fn == "population_sparseness":
        out = func(x, **{"dim": "neuroid", **params})
    else:
        out = func(x, **params)
    return _aggregate(out, agg)


# ------------------------------------------------------------------------------------------------------------------
# inputs
# ------------------------------------------------------------------------------------------------------------------
def _as_sources(rec: Any) -> list[tuple[str, xr.DataArray, dict]]:
    """(name, activity DataArray (presentation, neuroid), attrs) for each recording given."""
    if isinstance(rec, pd.DataFrame):
        raise InputTypeError(
            "The 'rec' parameter must be a recording (xr.Dataset), its activity (xr.DataArray), or a mapping / "
            "sequence of them. Got a DataFrame: compare_to_cortex no longer takes the summarize() table, because each "
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


def _prepare(act: xr.DataArray, correct_only: bool) -> xr.DataArray:
    if "checkpoint" in act.dims:
        act = act.isel(checkpoint=-1)
        if "correct" in act.coords and "checkpoint" in act["correct"].dims:
            act = act.assign_coords(correct=act["correct"])
    extra = [d for d in act.dims if d not in ("presentation", "neuroid")]
    if extra:
        raise ParameterError(f"The activity has unsupported dims {extra}; expected presentation, neuroid "
                             "(and optionally checkpoint, of which the last is used).")  # fmt: skip
    if correct_only and "correct" in act.coords:
        act = act.isel(presentation=np.asarray(act["correct"].values, dtype=bool))
    act = act.transpose("presentation", "neuroid")
    if "stimulus_id" in act.coords:
        sid = np.asarray(act["stimulus_id"].values).astype(str)
        if np.unique(sid).size < sid.size:  # repeats: average them (trial-averaged responses, as the sources)
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


# ------------------------------------------------------------------------------------------------------------------
# comparison
# ------------------------------------------------------------------------------------------------------------------
def _n(v: Any) -> float:
    try:
        v = float(v)
    except (TypeError, ValueError):
        return float("nan")
    return v if np.isfinite(v) and v > 0 else float("nan")


def _fmt(v: float) -> str:
    return f"{v:g}" if np.isfinite(v) else "?"


def compare_to_cortex(
    rec: Any,
    *,
    references: str = "default",
    reference: pd.DataFrame | None = None,
    correct_only: bool = False,
    layers: Any = None,
    n_draws: int = 20,
    random_state: Any = 0,
    include_unmatched: bool = False,
) -> pd.DataFrame:
    """Compute each reference value's model statistic by its own recipe and place the two side by side.

    Parameters
    ----------
    rec : xr.Dataset, xr.DataArray, or a mapping name -> recording / a sequence of recordings
        Recordings (presentation × neuroid; with a ``checkpoint`` dim the last checkpoint is used).  Neuroids are
        grouped by their ``layer`` coord; repeats of a ``stimulus_id`` are averaged first.
    references : {"default", "verified", "all"}
        Which reference rows: ``"default"`` = the rows marked ``default_comparison`` (verified and like for like
        with network units); ``"verified"`` = every verified row with a recipe; ``"all"`` = every row with a recipe,
        unverified ones included (their caveats say so).
    reference : pandas.DataFrame, optional
        A reference table with :data:`REFERENCE_COLUMNS` (default :func:`load_cortex_reference`).
    correct_only : bool
        Use only correctly classified presentations (``correct`` coord).  Default False: cortical values are over
        every stimulus shown.
    layers : int or sequence, optional
        Layers to compare (default: all).
    n_draws : int
        Random subsamples used to match the reference's number of stimuli (lifetime recipes) or neurons
        (population recipes) when the model has more; the model value is their mean and ``model_sd`` their SD.
    random_state : int or numpy Generator
        Seed of the subsampling.
    include_unmatched : bool
        Also return selected rows that could not be computed (no recipe, a recipe needing firing rates on model
        activations, a recipe that failed), with ``model_value`` NaN and the reason in ``status``.

    Returns
    -------
    pandas.DataFrame
        One row per (recording, layer, reference): ``model``, ``dataset``, ``layer``, ``reference_id``, ``study``,
        ``system``, ``species``, ``area``, ``measure``, ``kind``, ``recipe`` (the function, parameters, neuroids,
        aggregate and matched sample size in words), ``aggregate``, ``model_value``, ``model_sd``,
        ``model_n_stimuli``, ``model_n_neuroids``, ``n_draws``, ``reference_value``, ``reference_sd``,
        ``reference_low``, ``reference_high``, ``reference_n_stimuli``, ``reference_n_neuroids``, ``stimulus``,
        ``stimulus_kind``, ``response_variable``, ``criterion``, ``verification``, ``source_location``,
        ``citation``, ``default_comparison``, ``status`` (``"compared"`` or why not) and ``caveats``
        ("; "-separated: rate vs activation, stimulus set, sample size, excluded units, verification, the source's
        own notes).

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
        act = _prepare(raw_act, correct_only)
        neural = str(attrs.get("model", "")).startswith("neural:")
        rate_hz = "spikes/s" in str(attrs.get("response_variable", ""))
        values = np.asarray(act.values, dtype=np.float64)
        for layer, mask in _layers(act, layers):
            x_layer = values[:, mask]
            mx, mn = np.nanmax(x_layer, axis=0), np.nanmin(x_layer, axis=0)
            responsive = (mx > 0) & (mx > mn)
            for _, r in sel.iterrows():
                rows.append(_one(r, name, attrs, layer, x_layer, responsive, neural, rate_hz, n_draws, rng))
    cols = [
        "model", "dataset", "layer", "reference_id", "study", "system", "species", "area", "measure", "kind",
        "recipe", "aggregate", "model_value", "model_sd", "model_n_stimuli", "model_n_neuroids", "n_draws",
        "reference_value", "reference_sd", "reference_low", "reference_high", "reference_n_stimuli",
        "reference_n_neuroids", "stimulus", "stimulus_kind", "response_variable", "criterion", "verification",
        "source_location", "citation", "default_comparison", "status", "caveats",
    ]  # fmt: skip
    out = pd.DataFrame(rows, columns=cols)
    if not include_unmatched:
        out = out[out["status"] == "compared"].reset_index(drop=True)
    return out


def _one(r, name, attrs, layer, x_layer, responsive, neural, rate_hz, n_draws, rng) -> dict:
    fn = str(r["recipe_function"] or "")
    base = {
        "model": name, "dataset": str(attrs.get("dataset", "")), "layer": layer, "reference_id": r["id"],
        "study": r["study"], "system": r["system"], "species": r["species"], "area": r["area"],
        "measure": r["measure"], "kind": r["kind"], "recipe": recipe_text(r), "aggregate": r["aggregate"],
        "model_value": np.nan, "model_sd": np.nan, "model_n_stimuli": x_layer.shape[0], "model_n_neuroids": np.nan,
        "n_draws": 0, "reference_value": float(r["value"]), "reference_sd": float(r["value_sd"]),
        "reference_low": float(r["value_low"]), "reference_high": float(r["value_high"]),
        "reference_n_stimuli": float(r["n_stimuli"]), "reference_n_neuroids": float(r["n_neuroids"]),
        "stimulus": r["stimulus"], "stimulus_kind": r["stimulus_kind"], "response_variable": r["response_variable"],
        "criterion": r["criterion"], "verification": r["verification"], "source_location": r["source_location"],
        "citation": r["citation"], "default_comparison": bool(r["default_comparison"]),
    }  # fmt: skip
    caveats = []
    if r["verification"] != "verified":
        caveats.append(f"reference {r['verification']}: {r['source_location']}")
    if not fn:
        return {**base, "status": "no recipe: no toolkit statistic matches this value", "caveats": "; ".join(caveats)}
    if str(r["recipe_requires"] or "") == "rate_hz" and not rate_hz:
        return {**base, "status": "not applicable: the recipe needs firing rates in spikes/s; the recording holds "
                f"{attrs.get('response_variable') or 'unit activations'}", "caveats": "; ".join(caveats)}  # fmt: skip
    params = _params(r)
    agg = _check_aggregate(r)
    kind = _recipe_kind(fn, params)
    x = x_layer[:, responsive] if r["recipe_neuroids"] == "responsive" else x_layer
    n_stim, n_neur = x.shape
    base["model_n_neuroids"] = n_neur
    if r["recipe_neuroids"] == "responsive" and (~responsive).sum():
        caveats.append(
            f"{int((~responsive).sum())} of {responsive.size} units never respond to these stimuli and are left out "
            "(recorded neurons are selected for responding)"
        )
    # matched sample size
    ref_n = _n(r["n_stimuli"]) if kind == "lifetime" else _n(r["n_neuroids"])
    have = n_stim if kind == "lifetime" else n_neur
    what = "stimuli" if kind == "lifetime" else "neurons"
    draws = 1
    if np.isfinite(ref_n) and ref_n < have:
        draws, k = int(n_draws), int(ref_n)
        base["recipe"] += f"; mean of {draws} random draws of {k} of the {have} {what}"
        caveats.append(f"sample size matched: {k} {what} as in the reference (model has {have})")
    elif np.isfinite(ref_n):
        k = have
        caveats.append(f"sample size: the model has {have} {what}, the reference {_fmt(ref_n)} (not matched)")
    else:
        k = have
        caveats.append(f"sample size: the reference's number of {what} is not stated; all {have} model {what} used")
    if n_stim < 2 or n_neur < 1:
        return {**base, "status": f"not computed: {n_stim} stimuli x {n_neur} neuroids after selection",
                "caveats": "; ".join(caveats)}  # fmt: skip
    vals = []
    try:
        for _ in range(draws):
            if draws > 1:
                idx = np.sort(rng.choice(have, size=k, replace=False))
                xd = x[idx] if kind == "lifetime" else x[:, idx]
            else:
                xd = x
            vals.append(_run_recipe(fn, params, xd, agg))
    except (ValueError, TypeError) as err:
        return {**base, "status": f"failed: {err}", "caveats": "; ".join(caveats)}
    vals = np.asarray(vals)
    base.update(model_value=float(np.nanmean(vals)) if np.isfinite(vals).any() else np.nan,
                model_sd=float(np.nanstd(vals, ddof=1)) if draws > 1 else np.nan, n_draws=draws)  # fmt: skip
    if base["model_n_stimuli"] != n_stim:  # pragma: no cover - defensive
        base["model_n_stimuli"] = n_stim
    # the remaining differences, in the order a reader checks them
    if r["system"] == "ANN":
        caveats.insert(0, "reference is an artificial network, not cortex")
    elif neural:
        caveats.insert(0, f"response variable: the recording holds {attrs.get('response_variable') or '?'}; the "
                          f"reference {r['response_variable']}")  # fmt: skip
    else:
        caveats.insert(0, f"rate vs activation: model values are unit activations (site "
                          f"'{attrs.get('site', '?')}'); the reference uses {r['response_variable']}")  # fmt: skip
    dataset = attrs.get("dataset", "?")
    caveats.append(f"stimulus set: the model saw {n_stim} {dataset} stimuli; the reference "
                   f"{r['stimulus']} ({r['stimulus_kind']})")  # fmt: skip
    if r["measure"] == "treves_rolls_a":
        caveats.append("direction: small Treves-Rolls a = sparse")
    if r["note"]:
        caveats.append(f"source: {r['note']}")
    return {**base, "status": "compared", "caveats": "; ".join(caveats)}
