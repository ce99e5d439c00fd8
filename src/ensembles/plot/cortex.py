"""The comparison with cortex as one compact page: one panel per measure family, model layers against the bands of
the published values (the table of :func:`ensembles.analysis.cortex.compare_to_cortex`): a value ± SD or a range as a
band, a bound as a band from 0 to the bound; the model value with the central 95 % of its draws at the source's
sample sizes; open points where the comparison is not matched."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ._style import MODEL_COLORS, new_figure, require_columns

__all__ = ["plot_cortex_comparison", "FAMILY_TITLES"]

#: (measure, kind) -> panel title
FAMILY_TITLES = {
    ("fraction_active_half_max", "lifetime"): "Fraction of stimuli > ½ of the unit's max\n(lifetime)",
    ("fraction_active_half_max", "population"): "Fraction of units > ½ of their own max\n(population, per stimulus)",
    ("treves_rolls_a", "lifetime"): "Treves–Rolls a, lifetime\n(small = sparse)",
    ("treves_rolls_a", "population"): "Treves–Rolls a, population\n(small = sparse)",
    ("fraction_active", "population"): "Fraction of units > 0\n(population, per stimulus)",
    ("eigenspectrum_alpha", "population"): "Eigenspectrum power law α\n(variance of PC n ∝ n^−α)",
    ("vinje_gallant_s", "lifetime"): "Vinje–Gallant S, lifetime\n(1 = sparse)",
    ("hoyer", "population"): "Hoyer sparseness, population\n(1 = sparse)",
    ("fraction_active_rate_threshold", "population"): "Fraction of neurons > 20 spikes/s\n(population)",
}
_REF_COLORS = ("#4d4d4d", "#b2182b", "#2166ac", "#1b7837", "#762a83", "#e08214")
_MARKERS = ("o", "s", "^", "D", "v", "P")
_FALLBACK = ("#1b9e77", "#d95f02", "#7570b3", "#e7298a", "#66a61e", "#e6ab02")


def _short(r) -> str:
    study = str(r["study"])
    extra = f" ({r['area']})" if r.get("system") == "ANN" and r.get("area") else ""
    if str(r.get("comparison", "value")).endswith("bound"):
        extra += f" ({r['comparison']})"
    rv = str(r.get("response_variable", "") or "")
    for tag in ("SUA", "MUA", "LFP"):
        if rv.startswith(tag):
            extra = f" {tag}"
    return study + extra + ("" if r["verification"] == "verified" else f" ({r['verification']})")


def _interval(s: pd.DataFrame, ys: np.ndarray):
    """Asymmetric error bars from model_low / model_high (None where the table has no interval)."""
    if not {"model_low", "model_high"} <= set(s.columns):
        return None
    lo, hi = s["model_low"].to_numpy(dtype=float), s["model_high"].to_numpy(dtype=float)
    if not (np.isfinite(lo) & np.isfinite(hi)).any():
        return None
    below = np.where(np.isfinite(lo), ys - lo, 0.0)
    above = np.where(np.isfinite(hi), hi - ys, 0.0)
    return np.clip(np.vstack([below, above]), 0.0, None)  # a mean equal to its draws can sit an ulp outside them


def plot_cortex_comparison(table: pd.DataFrame, *, ncols: int = 3, figsize: tuple[float, float] | None = None):
    """One panel per measure family (measure × lifetime/population): published values as horizontal bands
    (value ± SD, the source's range, or 0 to the bound of an upper bound; hatched = not verified), each model's
    layers as points joined by a line (error bars: the central 95 % of the draws at the source's sample sizes;
    open points: ``matched`` is "not matched").  Returns a Figure built without pyplot.

    Parameters
    ----------
    table : pandas.DataFrame
        The output of :func:`ensembles.analysis.cortex.compare_to_cortex` (rows with ``status`` other than
        ``"compared"`` are ignored).
    ncols : int
        Panels per row.
    """
    cols = ("model", "layer", "reference_id", "measure", "kind", "model_value", "reference_value",
                            "reference_sd", "reference_low", "reference_high", "study", "verification")
    if not (isinstance(table, pd.DataFrame) and len(table) == 0 and all(c in table.columns for c in cols)):
        require_columns(table, cols, name="table")
    if "status" in table.columns:
        table = table[table["status"] == "compared"]
    families = list(dict.fromkeys(zip(table["measure"], table["kind"], strict=True)))
    if not families:
        fig, axes = new_figure(1, 1, figsize=figsize or (6, 1.6))
        axes[0, 0].text(0.5, 0.5, "no model statistic was compared with a published value", ha="center", va="center")
        axes[0, 0].set_axis_off()
        return fig
    ncols = max(1, min(int(ncols), len(families)))
    nrows = int(np.ceil(len(families) / ncols))
    fig, axes = new_figure(nrows, ncols, figsize=figsize or (3.7 * ncols, 2.7 * nrows + 0.6))
    models = list(dict.fromkeys(table["model"].astype(str)))
    colors = {m: MODEL_COLORS.get(m, MODEL_COLORS.get(m.upper(), _FALLBACK[i % len(_FALLBACK)]))
              for i, m in enumerate(models)}  # fmt: skip
    layers = list(dict.fromkeys(table["layer"].tolist()))
    xpos = {la: i for i, la in enumerate(layers)}
    for ax, fam in zip(axes.ravel(), families, strict=False):
        sub = table[(table["measure"] == fam[0]) & (table["kind"] == fam[1])]
        refs = sub.drop_duplicates("reference_id")
        values = []
        handles = []
        for j, (_, r) in enumerate(refs.iterrows()):
            col = _REF_COLORS[j % len(_REF_COLORS)]
            v, sd, lo, hi = (float(r[c]) for c in ("reference_value", "reference_sd", "reference_low",
                                                     "reference_high"))  # fmt: skip
            if not (np.isfinite(lo) or np.isfinite(hi)) and np.isfinite(sd) and np.isfinite(v):
                lo, hi = v - sd, v + sd
            if np.isfinite(hi) and not np.isfinite(lo):  # "below x": band from 0
                lo = 0.0 if not np.isfinite(v) else min(v, hi)
            hatch = None if r["verification"] == "verified" else "///"
            if np.isfinite(lo) and np.isfinite(hi) and hi > lo:
                band = ax.axhspan(lo, hi, color=col, alpha=0.15, hatch=hatch, lw=0)
                values += [lo, hi]
            else:
                band = None
            if np.isfinite(v):
                ax.axhline(v, color=col, ls="--", lw=1.2)
                values.append(v)
            from matplotlib.lines import Line2D

            handles.append(Line2D([], [], color=col, ls="--", marker=_MARKERS[j % len(_MARKERS)], mfc="white",
                                  label=_short(r)) if band is None or np.isfinite(v) else band)  # fmt: skip
            if band is not None and not np.isfinite(v):
                band.set_label(_short(r))
            for m in models:
                s = sub[(sub["reference_id"] == r["reference_id"]) & (sub["model"].astype(str) == m)]
                if not len(s):
                    continue
                xs = np.array([xpos[la] for la in s["layer"]], dtype=float) + (j - (len(refs) - 1) / 2) * 0.08
                ys = s["model_value"].to_numpy(dtype=float)
                err = _interval(s, ys)
                ax.errorbar(xs, ys, yerr=err, color=colors[m], marker="none", lw=1.2, capsize=2)
                matched = (s["matched"] == "matched").to_numpy() if "matched" in s else np.ones(len(s), bool)
                for sel, face in ((matched, colors[m]), (~matched, "white")):
                    ax.plot(xs[sel], ys[sel], ls="none", marker=_MARKERS[j % len(_MARKERS)], ms=5.5, color=colors[m],
                            mfc=face)  # fmt: skip
                values += [y for y in ys if np.isfinite(y)]
        ax.set_title(FAMILY_TITLES.get(fam, f"{fam[0].replace('_', ' ')}\n({fam[1]})"), fontsize=9)
        ax.set_xticks(range(len(layers)))
        ax.set_xticklabels([f"L{la}" if str(la).isdigit() else str(la) for la in layers], fontsize=8)
        ax.set_xlim(-0.5, len(layers) - 0.5)
        ax.tick_params(axis="y", labelsize=8)
        pos = np.asarray([v for v in values if np.isfinite(v) and v > 0])
        if fam[0].startswith("fraction") and pos.size and pos.max() / pos.min() > 20:
            from matplotlib.ticker import FuncFormatter, NullFormatter

            ax.set_yscale("log")
            ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
            ax.yaxis.set_minor_formatter(NullFormatter())
        ax.grid(axis="y", alpha=0.3)
        ax.legend(handles=handles, fontsize=6.5, loc="best", frameon=False)
    for ax in axes.ravel()[len(families):]:
        ax.set_axis_off()
    from matplotlib.lines import Line2D

    fig.legend(handles=[Line2D([], [], color=colors[m], marker="o", label=m) for m in models], loc="outside lower center",
               ncols=min(len(models), 6), fontsize=8, frameon=False,
               title="models (points: layers, bars: central 95 % of the draws, open: not matched; dashed line and "
                     "band: published value ± SD, range or bound; hatched: not verified)", title_fontsize=7.5)  # fmt: skip
    return fig
