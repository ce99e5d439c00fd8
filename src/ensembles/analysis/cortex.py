"""Published cortical reference values, and a model's statistics placed next to them with the caveats that matter.

The table ``ensembles/data/cortex_reference.csv`` (shipped with the package) holds every published value of
neuro-methods.md §2.1 -- species, area, stimulus, measure, lifetime/population, value (± SD or a range), the number of
stimuli and neuroids it rests on, the response variable, the criterion, the citation and the tag: ``[verified]``
against the primary source, or ``[to verify]`` (secondary knowledge; do not quote without checking).  Qualitative
findings are rows with an empty ``value`` and the finding in ``note``.

:func:`compare_to_cortex` takes the tidy table of :func:`ensembles.analysis.summary.summarize` (optionally with the
rows of :func:`ensembles.analysis.geometry.summarize_geometry`) and returns one row per (model statistic, matching
reference value) with the caveats of neuro-methods.md §2.2: matched numbers of stimuli/neuroids, rate vs
activation, lifetime vs population, criterion differences and unverified values.  :func:`plot_cortex_comparison`
draws it.  No torch here.
"""

from __future__ import annotations

from importlib import resources
from typing import Any

import numpy as np
import pandas as pd

from ensembles._validation import param_error

__all__ = [
    "REFERENCE_COLUMNS",
    "MODEL_TO_REFERENCE",
    "load_cortex_reference",
    "compare_to_cortex",
    "plot_cortex_comparison",
]

REFERENCE_COLUMNS = (
    "system", "species", "area", "study", "stimulus", "measure", "kind", "value", "value_sd", "value_low",
    "value_high", "n", "n_neuroids", "n_stimuli", "response_variable", "criterion", "citation", "tag", "note",
)  # fmt: skip

#: model statistic (``summarize``'s ``statistic``, normalised: lower case, "-" -> "_") -> reference measures
MODEL_TO_REFERENCE: dict[str, tuple[str, ...]] = {
    "lifetime_vinje_gallant": ("vinje_gallant_s",),
    "lifetime_treves_rolls": ("treves_rolls_a",),
    "population_hoyer": ("hoyer",),
    "hoyer": ("hoyer",),
    "population_vinje_gallant": ("vinje_gallant_s",),
    "fraction_active": (
        "fraction_active",
        "fraction_active_half_max",
        "fraction_active_concept",
        "fraction_active_max",
        "fraction_active_environment",
    ),
    "eigenspectrum_alpha": ("eigenspectrum_alpha",),
    "participation_ratio": ("intrinsic_dimensionality",),
}
_KIND = {
    "lifetime_vinje_gallant": "lifetime",
    "lifetime_treves_rolls": "lifetime",
    "population_hoyer": "population",
    "hoyer": "population",
    "population_vinje_gallant": "population",
    "fraction_active": "population",
    "eigenspectrum_alpha": "population",
    "participation_ratio": "population",
}
_NUMERIC = ("value", "value_sd", "value_low", "value_high", "n", "n_neuroids", "n_stimuli")
_ID_COLUMNS = ("model", "dataset", "seed", "site", "run", "checkpoint", "epoch", "layer", "subset")


def load_cortex_reference() -> pd.DataFrame:
    """The published reference values (neuro-methods.md §2.1) as a DataFrame with :data:`REFERENCE_COLUMNS`.

    Numeric columns (``value``, ``value_sd``, ``value_low``, ``value_high``, ``n``, ``n_neuroids``, ``n_stimuli``)
    are floats with NaN where the source gives none; ``tag`` is ``"[verified]"`` or ``"[to verify]"``.
    """
    with resources.files("ensembles.data").joinpath("cortex_reference.csv").open("r", encoding="utf-8") as f:
        df = pd.read_csv(f, dtype={c: str for c in REFERENCE_COLUMNS if c not in _NUMERIC}, keep_default_na=False,
                         na_values={c: [""] for c in _NUMERIC})  # fmt: skip
    missing = [c for c in REFERENCE_COLUMNS if c not in df.columns]
    if missing:  # pragma: no cover - guards edits of the shipped file
        raise ValueError(f"cortex_reference.csv lacks columns {missing}")
    for c in _NUMERIC:
        df[c] = pd.to_numeric(df[c], errors="coerce").astype(float)
    return df[list(REFERENCE_COLUMNS)]


def _norm(stat: Any) -> str:
    return str(stat).strip().lower().replace("-", "_").replace(" ", "_")


def _layer_sizes(summary: pd.DataFrame) -> dict:
    """Neuroids per (model id..., layer) from the ``n_silent`` rows of lifetime statistics (their n = layer size)."""
    if "aggregate" not in summary.columns:
        return {}
    rows = summary[
        (summary["aggregate"] == "n_silent") | (summary["statistic"].isin(["participation_ratio"]))
    ]
    keys = [c for c in _ID_COLUMNS if c in summary.columns]
    out = {}
    for _, r in rows.iterrows():
        out[tuple(str(r[c]) for c in keys)] = r["n"]
    return out


def _fmt(v: Any) -> str:
    try:
        v = float(v)
    except (TypeError, ValueError):
        return str(v)
    if not np.isfinite(v):
        return "?"
    return f"{v:g}"


def _caveats(stat: str, model: str, site: str, layer_size: Any, ref: pd.Series) -> str:
    out = []
    neural = model.startswith("neural:")
    if ref["tag"].strip() == "[to verify]":
        out.append("reference value marked [to verify]: check the primary source before quoting it")
    if ref["system"] == "ANN":
        out.append("reference is an artificial network, not cortex")
    elif not neural:
        out.append(
            f"rate vs activation: model values are unit activations (site '{site or '?'}'), the reference uses "
            f"{ref['response_variable'] or 'recorded responses'}"
        )
    kind = _KIND.get(stat, "")
    if kind == "lifetime":
        if np.isfinite(ref["n_stimuli"]):
            out.append(
                f"matched n: lifetime values depend on the number of stimuli; the reference used "
                f"{_fmt(ref['n_stimuli'])} - recompute the model's over as many conditions "
                "(ensembles.analysis.sparsity.subsample_sparseness) before comparing"
            )
        else:
            out.append("matched n: the reference's number of stimuli is not recorded here")
    elif kind == "population":
        nn = ref["n_neuroids"]
        out.append(
            f"matched n: population values depend on the number of neuroids; model layer has {_fmt(layer_size)}, "
            f"the reference {_fmt(nn) if np.isfinite(nn) else 'an unrecorded number of'} - subsample units to match"
        )
    if ref["kind"] and kind and ref["kind"] != kind:
        out.append(f"lifetime vs population: model statistic is {kind}, the reference is {ref['kind']}")
    if stat == "fraction_active" and ref["measure"] != "fraction_active":
        out.append(
            f"criterion differs: model counts units with activation > 0; reference: {ref['criterion']}"
        )
    if stat == "participation_ratio":
        out.append("different estimators: participation ratio vs the reference's intrinsic dimensionality")
    if ref["measure"] == "treves_rolls_a":
        out.append("direction: small Treves-Rolls a = sparse (Vinje-Gallant S = (1 - a)/(1 - 1/n))")
    if ref["note"]:
        out.append(f"note: {ref['note']}")
    return "; ".join(out)


def compare_to_cortex(
    summary: pd.DataFrame,
    *,
    aggregate: str = "median",
    reference: pd.DataFrame | None = None,
    include_unmatched: bool = False,
    match_kind: bool = True,
) -> pd.DataFrame:
    """Place a model's statistics next to the published cortical values, with caveats.

    Parameters
    ----------
    summary : pandas.DataFrame
        Tidy statistics with at least ``statistic`` and ``value`` columns -- the output of
        :func:`ensembles.analysis.summary.summarize` (optionally concatenated with
        :func:`ensembles.analysis.geometry.summarize_geometry`).  Identifying columns (``model``, ``dataset``,
        ``seed``, ``run``, ``checkpoint``, ``epoch``, ``layer``, ``subset``) are carried over when present; rows of a
        single class (``class`` other than ``"all"``) are ignored; statistic names are matched case-insensitively
        with ``-`` and ``_`` equivalent (:data:`MODEL_TO_REFERENCE`).
    aggregate : str
        Which ``aggregate`` rows to use (``"median"`` over neuroids, as the Allen analyses do, or ``"mean"``); rows
        with aggregate ``"value"`` (single numbers such as ``eigenspectrum_alpha``) are always used.
    reference : pandas.DataFrame, optional
        Reference table (default :func:`load_cortex_reference`); rows without a numeric ``value`` are skipped.
    include_unmatched : bool
        Also list numeric reference values no model statistic matched (model columns empty).
    match_kind : bool
        Pair a lifetime statistic only with lifetime references and a population statistic only with population
        references (default; the two are different quantities, neuro-methods.md §1.4).  ``False`` also pairs across
        kinds, with a "lifetime vs population" caveat.

    Returns
    -------
    pandas.DataFrame
        One row per (model statistic row, reference value): the identifying columns, ``statistic``,
        ``model_value``, ``model_n``, ``layer_size``, ``measure``, ``kind``, ``reference_value``, ``reference_sd``,
        ``reference_low``, ``reference_high``, ``reference_n_stimuli``, ``reference_n_neuroids``, ``system``,
        ``species``, ``area``, ``study``, ``stimulus``, ``response_variable``, ``criterion``, ``tag``, ``citation``,
        ``caveats`` (one string, "; "-separated).

    Raises
    ------
    ValueError
        ``summary`` is not a DataFrame with ``statistic`` and ``value`` columns.
    """
    if not isinstance(summary, pd.DataFrame):
        raise param_error(
            "summary", "a pandas DataFrame (the output of summarize(rec))", summary, exc=TypeError
        )
    missing = [c for c in ("statistic", "value") if c not in summary.columns]
    if missing:
        raise ValueError(
            f"The 'summary' parameter lacks the column(s) {missing}; expected the tidy table of "
            f"ensembles.analysis.summary.summarize (columns include statistic, value). Got columns {list(summary.columns)}."
        )
    ref = load_cortex_reference() if reference is None else reference
    ref = ref[np.isfinite(pd.to_numeric(ref["value"], errors="coerce").astype(float))]
    df = summary.copy()
    if "class" in df.columns:
        df = df[df["class"].astype(str) == "all"]
    if "aggregate" in df.columns:
        df = df[df["aggregate"].isin([aggregate, "value"])]
    df = df.assign(_stat=df["statistic"].map(_norm))
    df = df[df["_stat"].isin(list(MODEL_TO_REFERENCE))]
    sizes = _layer_sizes(summary)
    keys = [c for c in _ID_COLUMNS if c in summary.columns]
    rows = []
    matched = set()
    for _, r in df.iterrows():
        stat = r["_stat"]
        model = str(r.get("model", "") or "")
        site = str(r.get("site", "") or "")
        layer_size = sizes.get(tuple(str(r[c]) for c in keys), np.nan)
        cand = ref[ref["measure"].isin(MODEL_TO_REFERENCE[stat])]
        if match_kind:
            cand = cand[cand["kind"] == _KIND[stat]]
        for idx, ref_row in cand.iterrows():
            matched.add(idx)
            rows.append(
                {
                    **{c: r[c] for c in keys},
                    "statistic": r["statistic"],
                    "aggregate": r.get("aggregate", None),
                    "model_value": float(r["value"]),
                    "model_n": r.get("n", np.nan),
                    "layer_size": layer_size,
                    **_ref_fields(ref_row),
                    "caveats": _caveats(stat, model, site, layer_size, ref_row),
                }
            )
    if include_unmatched:
        for idx, ref_row in ref.iterrows():
            if idx not in matched:
                rows.append({"statistic": None, "model_value": np.nan, **_ref_fields(ref_row),
                             "caveats": "no model statistic computed for this measure"})  # fmt: skip
    cols = [*keys, "statistic", "aggregate", "model_value", "model_n", "layer_size", *_REF_OUT, "caveats"]
    return pd.DataFrame(rows, columns=cols)


_REF_OUT = (
    "measure", "kind", "reference_value", "reference_sd", "reference_low", "reference_high", "reference_n_stimuli",
    "reference_n_neuroids", "system", "species", "area", "study", "stimulus", "response_variable", "criterion",
    "tag", "citation",
)  # fmt: skip


def _ref_fields(ref_row: pd.Series) -> dict:
    return {
        "measure": ref_row["measure"],
        "kind": ref_row["kind"],
        "reference_value": float(ref_row["value"]),
        "reference_sd": float(ref_row["value_sd"]),
        "reference_low": float(ref_row["value_low"]),
        "reference_high": float(ref_row["value_high"]),
        "reference_n_stimuli": float(ref_row["n_stimuli"]),
        "reference_n_neuroids": float(ref_row["n_neuroids"]),
        **{
            k: ref_row[k]
            for k in (
                "system",
                "species",
                "area",
                "study",
                "stimulus",
                "response_variable",
                "criterion",
                "tag",
                "citation",
            )
        },  # fmt: skip
    }


def plot_cortex_comparison(table: pd.DataFrame, *, figsize: tuple[float, float] | None = None):
    """Figure of :func:`compare_to_cortex`'s table: one panel per reference measure.

    In each panel the published values are black (filled = ``[verified]``, open = ``[to verify]``) with their SD or
    range as a bar; the model values are coloured points, one row per model × layer (× statistic).  Fraction
    measures spanning more than a decade use a log axis.  Returns a :class:`matplotlib.figure.Figure` built without
    pyplot (nothing is shown or kept in pyplot's state).
    """
    from matplotlib.figure import Figure

    if not isinstance(table, pd.DataFrame):
        raise param_error("table", "the DataFrame returned by compare_to_cortex", table, exc=TypeError)
    needed = ("measure", "reference_value", "model_value", "study", "tag")
    missing = [c for c in needed if c not in table.columns]
    if missing:
        raise ValueError(
            f"The 'table' parameter lacks the column(s) {missing}; pass the output of compare_to_cortex."
        )
    measures = list(dict.fromkeys(table["measure"].dropna()))
    if not measures:
        fig = Figure(figsize=figsize or (6, 2))
        ax = fig.add_subplot()
        ax.text(0.5, 0.5, "no model statistic matches a published reference value", ha="center", va="center")
        ax.set_axis_off()
        return fig
    heights = []
    for m in measures:
        sub = table[table["measure"] == m]
        n_ref = sub[["study", "area", "reference_value", "response_variable"]].drop_duplicates().shape[0]
        n_mod = sub.dropna(subset=["model_value"]).shape[0] and _model_rows(sub).shape[0]
        heights.append(max(2, n_ref + n_mod))
    fig = Figure(figsize=figsize or (8, 0.35 * sum(heights) + 1.2 * len(measures)), layout="constrained")
    axes = fig.subplots(len(measures), 1, gridspec_kw={"height_ratios": heights}, squeeze=False)[:, 0]
    palette = ["#1b9e77", "#d95f02", "#7570b3", "#e7298a", "#66a61e", "#e6ab02", "#a6761d", "#666666"]
    models = list(dict.fromkeys(table["model"].dropna().astype(str))) if "model" in table.columns else []
    for ax, m in zip(axes, measures, strict=True):
        sub = table[table["measure"] == m]
        refs = sub.drop_duplicates(subset=["study", "area", "reference_value", "response_variable"])
        labels, y = [], 0
        values = []
        for _, r in refs.iterrows():
            lo, hi = r.get("reference_low", np.nan), r.get("reference_high", np.nan)
            sd = r.get("reference_sd", np.nan)
            if np.isfinite(lo) and np.isfinite(hi):
                ax.plot([lo, hi], [y, y], color="black", lw=1.5)
                values += [lo, hi]
            elif np.isfinite(sd):
                ax.plot([r["reference_value"] - sd, r["reference_value"] + sd], [y, y], color="black", lw=1.5)
            verified = str(r["tag"]).strip() == "[verified]"
            ax.plot(r["reference_value"], y, "o", color="black", mfc="black" if verified else "white", ms=6)
            values.append(r["reference_value"])
            resp = str(r.get("response_variable") or "")
            resp = resp if len(resp) <= 28 else resp[:27] + "…"
            labels.append(f"{r['study']}" + (f" - {r['area']}" if r.get("area") else "")
                          + (f" ({resp})" if resp else "") + ("" if verified else " [to verify]"))  # fmt: skip
            y += 1
        mrows = _model_rows(sub)
        for _, r in mrows.iterrows():
            name = str(r.get("model", "model"))
            color = palette[models.index(name) % len(palette)] if name in models else palette[0]
            ax.plot(r["model_value"], y, "D", color=color, ms=6)
            values.append(r["model_value"])
            layer = r.get("layer", None)
            labels.append(f"{name}" + (f" layer {layer}" if layer is not None and str(layer) != "nan" else "")
                          + f" ({r['statistic']})")  # fmt: skip
            y += 1
        ax.set_yticks(range(len(labels)))
        ax.set_yticklabels(labels, fontsize=8)
        ax.invert_yaxis()
        ax.set_title(m.replace("_", " "), fontsize=10, loc="left")
        pos = np.asarray([v for v in values if np.isfinite(v) and v > 0])
        if m.startswith("fraction") and pos.size and pos.max() / pos.min() > 10:
            from matplotlib.ticker import NullFormatter

            ax.set_xscale("log")
            ax.xaxis.set_minor_formatter(NullFormatter())
        ax.grid(axis="x", alpha=0.3)
    axes[-1].set_xlabel("value (model: diamonds; published: circles, open = to verify)")
    return fig


def _model_rows(sub: pd.DataFrame) -> pd.DataFrame:
    cols = [
        c
        for c in ("model", "dataset", "seed", "run", "checkpoint", "epoch", "layer", "statistic")
        if c in sub
    ]
    return sub.dropna(subset=["model_value"]).drop_duplicates(subset=[*cols, "model_value"])
