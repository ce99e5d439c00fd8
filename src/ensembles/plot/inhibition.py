"""Figure 9: inhibition mechanisms (docs/methods.md §A3.7): weight and bias distributions, excitatory vs inhibitory
input currents of neuroids inside vs outside a class's ensemble, fraction silenced by inhibition, FF vs BP."""

from __future__ import annotations

import numpy as np
import pandas as pd
import seaborn as sns

from ._style import PAGE_WIDTH, layer_label, new_figure, ordered, palette, require_columns, titled

__all__ = ["inhibition"]

_MEMBER_COLORS = {True: "#2ca02c", False: "#7f7f7f"}


def inhibition(weights: pd.DataFrame, weight_stats: pd.DataFrame, currents: pd.DataFrame | None = None, *,
               title: str | None = None):
    """Figure 9 (draws the tables it is given; computes nothing).

    Parameters
    ----------
    weights : DataFrame
        Columns ``model``, ``layer``, ``kind`` (``"weight"`` or ``"bias"``) and ``value`` (a sample of the
        layer's weights and all its biases): the violins.
    weight_stats : DataFrame
        Columns ``model``, ``layer``, ``fraction_negative`` (over all of the layer's weights,
        :func:`ensembles.analysis.inhibition.weight_statistics`): the bars of inhibitory synapses.
    currents : DataFrame, optional
        One row per ``model``, ``layer`` and ``member`` (bool) with ``excitatory``, ``inhibitory`` and
        ``fraction_silenced`` averaged over classes (:func:`ensembles.analysis.inhibition.currents_summary`). When
        None, only the weight row is drawn.
    """
    require_columns(weights, ["model", "layer", "kind", "value"], name="weights")
    require_columns(weight_stats, ["model", "layer", "fraction_negative"], name="weight_stats")
    models = ordered(weights["model"])
    pal = palette(models)
    nrows = 1 if currents is None else 2
    fig, axes = new_figure(nrows, 3, figsize=(PAGE_WIDTH, 3.2 * nrows + 0.6))
    for c, kind in enumerate(("weight", "bias")):
        ax = axes[0, c]
        sub = weights[weights["kind"] == kind]
        if len(sub):
            sns.violinplot(data=sub, x="layer", y="value", hue="model", hue_order=models, palette=pal, cut=0,
                           density_norm="width", inner="quartile", linewidth=0.6, ax=ax)
            ax.axhline(0, color="k", lw=0.5)
            ax.legend(fontsize=6, frameon=False)
        ax.set_title(f"{kind} distribution", fontsize=9)
        ax.set_ylabel(kind)
    ax = axes[0, 2]
    layers = sorted(weight_stats["layer"].unique())
    width = 0.8 / max(len(models), 1)
    frac = weight_stats.set_index(["model", "layer"])["fraction_negative"]
    for j, m in enumerate(models):
        fr = [float(frac.get((m, lay), np.nan)) for lay in layers]
        ax.bar(np.arange(len(layers)) - 0.4 + width * (j + 0.5), fr, width=width * 0.95, color=pal[m], label=m)
    ax.set_xticks(range(len(layers)))
    ax.set_xticklabels([layer_label(v) for v in layers])
    ax.set_ylabel("fraction of negative weights")
    ax.set_ylim(0, 1)
    ax.axhline(0.5, color="k", lw=0.5, ls=":")
    ax.legend(fontsize=6, frameon=False)
    ax.set_title("inhibitory (negative) synapses", fontsize=9)
    if currents is not None:
        require_columns(currents, ["model", "layer", "member", "excitatory", "inhibitory", "fraction_silenced"],
                        name="currents")
        if currents.duplicated(["model", "layer", "member"]).any():
            raise ValueError("The 'currents' table must have one row per model, layer and member (averaged over "
                             "classes: ensembles.analysis.inhibition.currents_summary).")
        grp = currents
        groups = [(m, lay) for m in ordered(grp["model"]) for lay in sorted(grp["layer"].unique())
                  if len(grp[(grp["model"] == m) & (grp["layer"] == lay)])]
        for c, col in enumerate(("excitatory", "inhibitory", "fraction_silenced")):
            ax = axes[1, c]
            for j, member in enumerate((True, False)):
                vals = []
                for m, lay in groups:
                    s = grp[(grp["model"] == m) & (grp["layer"] == lay) & (grp["member"] == member)][col]
                    vals.append(float(s.iloc[0]) if len(s) else np.nan)
                ax.bar(np.arange(len(groups)) - 0.2 + 0.4 * j, vals, width=0.38, color=_MEMBER_COLORS[member],
                       label="in the class's ensemble" if member else "outside the ensemble")
            ax.set_xticks(range(len(groups)))
            ax.set_xticklabels([f"{m}\nL{lay}" for m, lay in groups], fontsize=7)
            ax.axhline(0, color="k", lw=0.5)
            ax.set_title({"excitatory": "mean excitatory current E", "inhibitory": "mean inhibitory current I",
                          "fraction_silenced": "fraction silenced by inhibition (E+b>0≥E+I+b)"}[col], fontsize=9)
            if col == "fraction_silenced":
                ax.set_ylim(0, 1)
        axes[1, 0].legend(fontsize=6, frameon=False)
    return titled(fig, title, "Inhibition: weights, biases and input currents (on the class's own presentations)")
