"""The report's first paragraph: the findings of an analysis in words, generated from its numbers.

:func:`findings` reads the manifest's headline and the tables of a finished results directory and returns sentences
that state what was found, with the uncertainty of each number and its controls: sparse or dense (population Hoyer
sparseness with its 95 % bootstrap interval), test accuracy, silent units (the ``units`` table when the analysis
wrote one, else the silent fractions of ``sparseness_by_layer``), category-ensemble size against the shuffled-label
null (the ``ensemble_null`` table when present, else the null sizes of ``ensemble_sizes``), significant overlaps and
whether training had settled.  A sentence whose data are absent is left out.  Nothing is computed here beyond
counting and taking medians of table rows.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ensembles.layout import ResultsLayout
from ensembles.report._html import read_table

__all__ = ["SPARSE_HOYER", "failures", "findings", "is_model_source", "layer_name"]

# population Hoyer sparseness from which a representation is called sparse: 0 = every unit equally active,
# 1 = one unit active; the paper's sparse FF layers lie at 0.5-0.96, its dense BP layers at 0.2-0.45
SPARSE_HOYER = 0.5


def failures(man: dict) -> list[str]:
    """The notes of an analysis that record a computation that failed (as opposed to one that does not apply)."""
    return [str(n) for n in man.get("notes", []) if " failed" in str(n)]


def is_model_source(info: dict) -> bool:
    """True for a network's recording (a training run, a seed, an accuracy), False for imported neural data."""
    seed = info.get("seed")
    return bool(info.get("run_dir")) or info.get("accuracy") is not None or (
        isinstance(seed, int | np.integer) and not isinstance(seed, bool) and seed >= 0)


def layer_name(man: dict, source: str, layer: Any) -> str:
    """"layer 2", or the group name of a recording whose units were grouped (e.g. "VISp")."""
    grouping = (man.get("unit_groups") or {}).get(str(source))
    try:
        key = str(int(float(layer)))
    except (TypeError, ValueError):
        return str(layer)
    if grouping:
        return str(grouping.get("names", {}).get(key, key))
    return f"layer {key}"


def _num(v: Any, fmt: str = ".2f") -> str:
    return format(float(v), fmt) if v is not None and np.isfinite(float(v)) else "n/a"


def _count(v: float) -> str:
    """A number of units: an integer when whole, else one decimal (a median or a mean over shuffles)."""
    return f"{v:.0f}" if float(v).is_integer() else f"{v:.1f}"


def _join(items: list[str]) -> str:
    items = [i for i in items if i]
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def _col(df: pd.DataFrame, *names: str) -> str | None:
    return next((n for n in names if n in df.columns), None)


def _source_col(df: pd.DataFrame) -> str | None:
    return _col(df, "model", "source", "name")


def _sparseness(man: dict, head: pd.DataFrame) -> list[str]:
    out = []
    first = head.sort_values("layer").groupby("model", sort=False).head(1)
    models = [m for m in dict.fromkeys(head["model"])]
    sparse, dense = [], []
    for m in models:
        r = first[first["model"] == m]
        if not len(r) or not np.isfinite(float(r["hoyer"].iloc[0])):
            continue
        r = r.iloc[0]
        item = (m, f"{_num(r['hoyer'], '.3f')} {r['hoyer_ci']}".strip(), layer_name(man, m, r["layer"]))
        (sparse if float(r["hoyer"]) >= SPARSE_HOYER else dense).append(item)
    grouped = bool(man.get("unit_groups"))

    def phrase(items, word, first):
        if not items:
            return ""
        names = _join([i[0] for i in items])
        verb = "is" if len(items) == 1 else "are"
        vals = ", ".join(i[1] for i in items)
        return f"{names} {verb} {word} ({'population Hoyer sparseness ' if first else ''}{vals})"

    if len(models) > 1 or not grouped:
        where = _join(sorted({i[2] for i in sparse + dense}))
        parts = [phrase(sparse, "sparse", True), phrase(dense, "dense", not sparse)]
        if any(parts):
            out.append(f"In {where}, " + " and ".join(p for p in parts if p))
    if grouped or len(head) > len(models):
        per = []
        for m in models:
            g = head[head["model"] == m].sort_values("layer")
            vals = [f"{layer_name(man, m, r['layer'])} {_num(r['hoyer'], '.3f')} {r['hoyer_ci']}"
                    + (f" ({'sparse' if float(r['hoyer']) >= SPARSE_HOYER else 'dense'})" if grouped else "")
                    for _, r in g.iterrows() if np.isfinite(float(r["hoyer"]))]
            if vals and (len(g) > 1 or grouped):
                per.append((f"{m}: " if len(models) > 1 else "") + ", ".join(vals))
        if per:
            groups = man.get("unit_groups") or {}
            bys = sorted({str(v.get("by", "group")).replace("_", " ") for v in groups.values()})
            what = f"{'/'.join(bys)}" if grouped else "layer"
            lead = (f"Population Hoyer sparseness by {what}" + (f" in {models[0]}" if len(models) == 1 else ""))
            out.append(f"{lead}: {'; '.join(per)}")
    if out:
        out[0] += (f" (mean over presentations, 95 % bootstrap interval; Hoyer sparseness runs from 0, every unit "
                   f"equally active, to 1, one unit active; {SPARSE_HOYER:g} or more is called sparse here)")
    return [s + "." for s in out]


def _accuracy(man: dict, head: pd.DataFrame) -> list[str]:
    acc = head.groupby("model", sort=False)["accuracy"].first()
    acc = acc[[a is not None and np.isfinite(float(a)) for a in acc]] if len(acc) else acc
    if not len(acc):
        return []
    seeds = {s.get("seed") for s in man.get("sources", [])}
    single = " (one seed each)" if len(seeds) == 1 else ""
    return [f"Test accuracy: {', '.join(f'{m} {float(a):.3f}' for m, a in acc.items())}{single}."]


def _silent(man: dict, results: ResultsLayout) -> list[str]:
    tabs = man.get("tables", {}) if isinstance(man.get("tables"), dict) else {}
    units = read_table(results, tabs.get("units"))
    rows = []  # (source, layer, n_silent, n, n_all_zero_presentations or None)
    if units is not None and len(units) and _source_col(units) and {"layer", "n_neuroids", "n_silent"} <= set(units):
        src = _source_col(units)
        zero = _col(units, "n_all_zero_presentations")
        for _, r in units.iterrows():
            rows.append((r[src], r["layer"], int(r["n_silent"]), int(r["n_neuroids"]),
                         None if zero is None else int(r[zero])))
    else:
        sp = read_table(results, tabs.get("sparseness_by_layer"))
        if sp is None or not {"fraction_silent_neuroids", "n_neuroids", "model", "layer"} <= set(sp):
            return []
        if "measure" in sp:
            sp = sp[sp["measure"] == "hoyer"] if (sp["measure"] == "hoyer").any() else sp
        for _, r in sp.drop_duplicates(["model", "layer"]).iterrows():
            n = int(r["n_neuroids"])
            rows.append((r["model"], r["layer"], int(round(float(r["fraction_silent_neuroids"]) * n)), n, None))
    if not rows:
        return []
    per = {}
    for m, layer, k, n, _z in rows:
        per.setdefault(m, []).append((layer, k, n))
    parts = []
    for m, items in per.items():
        with_silent = [(layer, k, n) for layer, k, n in items if k > 0]
        if not with_silent:
            parts.append(f"none in {m}")
        else:
            parts.append(f"{m} " + ", ".join(f"{layer_name(man, m, layer)} {k} of {n} ({100 * k / n:.1f} %)"
                                             for layer, k, n in with_silent))
    out = [f"Silent units (never active on the analysed presentations, excluded from lifetime statistics): "
           f"{'; '.join(parts)}."]
    zeros = [(m, layer, z) for m, layer, _k, _n, z in rows if z]
    if zeros:
        out.append("Presentations to which a whole layer gave no response: " +
                   "; ".join(f"{m} {layer_name(man, m, layer)} {z}" for m, layer, z in zeros) + ".")
    return out


def _null(man: dict, results: ResultsLayout) -> list[str]:
    tabs = man.get("tables", {}) if isinstance(man.get("tables"), dict) else {}
    tau = (man.get("parameters") or {}).get("tau")
    tau_s = f"τ = {tau:g}" if isinstance(tau, int | float) else "the analysis' τ"
    null = read_table(results, tabs.get("ensemble_null"))
    items = []  # (source, layer, real, null mean, low, high)
    over = "mean size over classes"  # the ensemble_null table's size_mean; the fallback below takes medians
    if null is not None and len(null) and _source_col(null) and "layer" in null:
        real = _col(null, "size_mean")  # the ensemble_null table (ensembles.analysis.tables.controls)
        mean = _col(null, "null_size_mean")
        lo, hi = _col(null, "null_lo"), _col(null, "null_hi")
        if real and mean:
            if "tau" in null and isinstance(tau, int | float) and np.isclose(null["tau"].astype(float), tau).any():
                null = null[np.isclose(null["tau"].astype(float), tau)]
            keys = [_source_col(null), "layer"]
            for (m, layer), g in null.groupby(keys, sort=False):
                items.append((m, layer, float(g[real].median()), float(g[mean].median()),
                              float(g[lo].median()) if lo else np.nan, float(g[hi].median()) if hi else np.nan))
    if not items:
        sizes = read_table(results, tabs.get("ensemble_sizes"))
        if sizes is None or not {"model", "layer", "size", "null_size"} <= set(sizes):
            return []
        if "held_out" in sizes:
            sizes = sizes[~sizes["held_out"].astype(bool)]
        over = "median size over classes"
        for (m, layer), g in sizes.groupby(["model", "layer"], sort=False):
            items.append((m, layer, float(g["size"].median()), float(g["null_size"].median()), np.nan, np.nan))
    first = {}
    for it in items:
        first.setdefault(it[0], it)  # each source's first layer (the paper's layer of interest)
    parts = []
    for m, layer, real, mean, lo, hi in first.values():
        if not np.isfinite(mean):
            continue
        has_iv = np.isfinite(lo) and np.isfinite(hi)
        ref_lo, ref_hi = (lo, hi) if has_iv else (mean, mean)
        rel = ("smaller than" if real < ref_lo else "larger than" if real > ref_hi else
               "within" if has_iv else "equal to")
        iv = f" [{_count(lo)}, {_count(hi)}]" if has_iv else ""
        parts.append(f"{m} {layer_name(man, m, layer)}: {_count(real)} units, {rel} the null's {_count(mean)}{iv}")
    if not parts:
        return []
    n_sh = (man.get("parameters") or {}).get("n_shuffles")
    how = ("95 % interval over label shuffles" if any(np.isfinite(i[4]) for i in first.values())
           else f"mean over {n_sh} label shuffles" if n_sh else "mean over label shuffles")
    return [f"Category ensembles ({tau_s}; {over}) against the shuffled-label null ({how}): "
            f"{'; '.join(parts)}."]


def _overlap(man: dict, head: pd.DataFrame) -> list[str]:
    if "pairs_significant" not in head or not len(head):
        return []
    first = head.sort_values("layer").groupby("model", sort=False).head(1)
    parts = [f"{r['model']} {int(r['pairs_significant'])} of {int(r['pairs_total'])}" for _, r in first.iterrows()
             if pd.notna(r.get("pairs_total")) and int(r["pairs_total"]) > 0]
    if not parts:
        return []
    alpha = (man.get("parameters") or {}).get("alpha", 0.05)
    return [f"Class pairs whose first-{'group' if man.get('unit_groups') else 'layer'} ensembles share more units "
            f"than chance (hypergeometric test, BH-FDR q < {alpha:g}): {'; '.join(parts)}."]


def _stability(man: dict, results: ResultsLayout) -> list[str]:
    tabs = man.get("tables", {}) if isinstance(man.get("tables"), dict) else {}
    stab = read_table(results, tabs.get("stability"))
    if stab is None or not len(stab) or "stable" not in stab:
        return []
    n_unstable = int((~stab["stable"].astype(bool)).sum())
    if n_unstable == 0:
        return ["Every statistic had settled: it changed less than its bootstrap half-width between the last two "
                "checkpoints."]
    return [f"{n_unstable} of {len(stab)} statistics were still changing between the last two checkpoints (more "
            "than their bootstrap half-width): training was shortened, so their absolute values are not final."]


def findings(results: ResultsLayout, man: dict) -> list[str]:
    """The sentences of the report's first paragraph (empty when the manifest has no headline)."""
    head = pd.DataFrame(man.get("headline", []))
    if not len(head) or not {"model", "layer", "hoyer"} <= set(head.columns):
        return []
    if "hoyer_ci" not in head:
        head["hoyer_ci"] = ""
    return (_sparseness(man, head) + _accuracy(man, head) + _silent(man, results) + _null(man, results)
            + _overlap(man, head) + _stability(man, results))
