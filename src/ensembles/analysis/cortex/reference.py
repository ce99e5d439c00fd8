"""The table of published reference values and the recipe each row names (function, parameters, population,
sample sizes, stimulus class, preprocessing), read and written out in words."""

from __future__ import annotations

import json
from collections.abc import Mapping
from importlib import resources
from typing import Any

import numpy as np
import pandas as pd

from ensembles.errors import DataFileError

__all__ = [
    "REFERENCE_COLUMNS",
    "RECIPE_FUNCTIONS",
    "VERIFICATION_LEVELS",
    "COMPARISON_KINDS",
    "load_cortex_reference",
    "recipe_text",
]

REFERENCE_COLUMNS = (
    "id", "system", "species", "area", "study", "stimulus", "stimulus_kind", "measure", "kind", "value", "value_sd",
    "value_low", "value_high", "n_neuroids", "n_stimuli", "response_variable", "criterion", "citation",
    "source_location", "verification", "default_comparison", "default_reason", "comparison", "recipe_function",
    "recipe_params", "recipe_neuroids", "recipe_requires", "recipe_stimulus_class", "recipe_preprocessing",
    "aggregate", "note",
)  # fmt: skip
VERIFICATION_LEVELS = ("verified", "partly verified", "unverified")
#: how a row's number is compared: a value (± its spread), or a bound the model value must stay under / above
COMPARISON_KINDS = ("value", "upper bound", "lower bound")
#: recipe_function name -> (module, function); only these can be named by a reference row
RECIPE_FUNCTIONS = {
    "lifetime_sparseness": ("ensembles.analysis.sparsity", "lifetime_sparseness"),
    "population_sparseness": ("ensembles.analysis.sparsity", "population_sparseness"),
    "fraction_active": ("ensembles.analysis.sparsity", "fraction_active"),
    "eigenspectrum_alpha": ("ensembles.analysis.geometry", "eigenspectrum_alpha"),
    "participation_ratio": ("ensembles.analysis.geometry", "participation_ratio"),
}
#: what a row's ``recipe_requires`` can ask of a recording
REQUIREMENTS = ("", "rate_hz", "no_spontaneous")
PREPROCESSING = ("", "zscore")
NEUROID_SELECTIONS = ("all", "responsive")
_NUMERIC = ("value", "value_sd", "value_low", "value_high", "n_neuroids", "n_stimuli")
_AGGREGATES = ("mean", "median", "value")


def load_cortex_reference() -> pd.DataFrame:
    """The published reference values as a DataFrame with :data:`REFERENCE_COLUMNS`.

    Numeric columns are floats (NaN where the source gives none); ``default_comparison`` is a bool;
    ``recipe_params`` stays the JSON text of the row (parsed by :func:`~ensembles.analysis.cortex.compare_to_cortex`).
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


def params_of(ref: Mapping) -> dict:
    """The parsed ``recipe_params`` of a row (``{}`` when empty)."""
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


def recipe_kind(fn: str, params: Mapping) -> str:
    """``"lifetime"`` (one value per unit, across stimuli) or ``"population"`` (per stimulus, or one per layer)."""
    if fn == "lifetime_sparseness":
        return "lifetime"
    if fn == "fraction_active":
        return "lifetime" if params.get("dim") == "presentation" else "population"
    return "population"


def count(v: Any) -> float:
    """A positive finite count, or NaN."""
    try:
        v = float(v)
    except (TypeError, ValueError):
        return float("nan")
    return v if np.isfinite(v) and v > 0 else float("nan")


def check_row(ref: Mapping) -> str:
    """Validate the recipe columns of a row with a recipe; returns its aggregate."""
    rid = ref.get("id")
    fn = str(ref.get("recipe_function", "") or "")
    if fn not in RECIPE_FUNCTIONS:
        raise DataFileError(f"reference {rid!r}: recipe_function {fn!r} is not one of {sorted(RECIPE_FUNCTIONS)}")
    for col, allowed in (("recipe_neuroids", NEUROID_SELECTIONS), ("recipe_requires", REQUIREMENTS),
                         ("recipe_preprocessing", PREPROCESSING), ("comparison", COMPARISON_KINDS)):  # fmt: skip
        v = str(ref.get(col, "") or "")
        if v not in allowed:
            raise DataFileError(f"reference {rid!r}: {col} {v!r} is not one of {list(allowed)}")
    agg = str(ref.get("aggregate", "") or "")
    if agg in _AGGREGATES:
        return agg
    if agg.startswith(("fraction_below:", "fraction_above:")):
        try:
            float(agg.split(":", 1)[1])
            return agg
        except ValueError:
            pass
    raise DataFileError(f"reference {rid!r}: aggregate {agg!r} is not one of {_AGGREGATES} or "
                        "fraction_below:<t> / fraction_above:<t>")  # fmt: skip


def recipe_text(ref: Mapping) -> str:
    """The recipe of a reference row in words, e.g. ``fraction_active(dim='presentation', mode='fraction_of_max',
    threshold=0.5) on responsive neuroids of stimulus means -> mean over neuroids; 77 stimuli per draw``;
    ``""`` without a recipe."""
    fn = str(ref.get("recipe_function", "") or "")
    if not fn:
        return ""
    params = params_of(ref)
    kind = recipe_kind(fn, params)
    args = ", ".join(f"{k}={v!r}" for k, v in sorted(params.items()))
    if ref.get("recipe_neuroids") == "responsive":
        who = "responsive neuroids (silent in the draw excluded)"
    else:
        who = "all neuroids"
    pre = "z-scored " if ref.get("recipe_preprocessing") == "zscore" else ""
    agg = str(ref.get("aggregate", "") or "")
    over = {"lifetime": "neuroids", "population": "stimuli"}.get(kind, "")
    if agg in ("mean", "median"):
        tail = f"{agg} over {over}"
    elif agg.startswith(("fraction_below:", "fraction_above:")):
        op = "<" if agg.startswith("fraction_below") else ">"
        tail = f"fraction of {over} with value {op} {agg.split(':', 1)[1]}"
    else:
        tail = "one value per layer"
    sizes = []
    for col, what in (("n_stimuli", "stimuli"), ("n_neuroids", "neuroids")):
        n = count(ref.get(col))
        if np.isfinite(n):
            sizes.append(f"{n:g} {what}")
    size = f"; {' x '.join(sizes)} per draw" if sizes else ""
    return f"{fn}({args}) on {who} of {pre}stimulus means -> {tail}{size}"
