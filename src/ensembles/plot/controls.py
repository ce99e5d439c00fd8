"""Controls: category-ensemble size against τ, real and under shuffled labels (the ``ensemble_null`` table)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ._style import new_figure, ordered, palette, require_columns, titled

__all__ = ["ensemble_null_curves"]


def ensemble_null_curves(table: pd.DataFrame, *, value: str = "size", title: str | None = None):
    """Ensemble size vs τ, one panel per layer, one colour per model: the real size (mean over classes, solid line)
    and the size under shuffled labels (dashed line: mean over shuffles and classes; band: the null interval).

    Parameters
    ----------
    table : DataFrame
        The ``ensemble_null`` table: columns ``source`` (or ``model``), ``layer``, ``tau``, ``size_mean``,
        ``null_size_mean``, ``null_lo``, ``null_hi`` (and ``n_neuroids`` for ``value="fraction"``).
    value : {"size", "fraction"}
        Plot the number of member neuroids, or that number divided by the layer width.
    """
    who = "source" if "source" in table.columns else "model"
    cols = [who, "layer", "tau", "size_mean", "null_size_mean", "null_lo", "null_hi"]
    require_columns(table, cols + (["n_neuroids"] if value == "fraction" else []))
    layers = sorted(table["layer"].unique())
    models = ordered(table[who])
    colors = palette(models)
    fig, axes = new_figure(1, len(layers), sharey=value == "fraction", figsize=(3.4 * len(layers) + 0.6, 3.4))
    for ax, layer in zip(axes[0], layers, strict=True):
        sub = table[table["layer"] == layer]
        for m in models:
            s = sub[sub[who] == m].sort_values("tau")
            if not len(s):
                continue
            scale = s["n_neuroids"].to_numpy(float) if value == "fraction" else np.ones(len(s))
            t = s["tau"].to_numpy(float)
            ax.plot(t, s["size_mean"].to_numpy(float) / scale, "o-", color=colors[m], label=f"{m}")
            ax.plot(t, s["null_size_mean"].to_numpy(float) / scale, "--", color=colors[m],
                    label=f"{m}, shuffled labels")
            ax.fill_between(t, s["null_lo"].to_numpy(float) / scale, s["null_hi"].to_numpy(float) / scale,
                            color=colors[m], alpha=0.15, linewidth=0)
        ax.set_xscale("log")
        ticks = np.unique(sub["tau"].to_numpy(float))
        ax.set_xticks(ticks, [f"{t:g}" for t in ticks])
        ax.minorticks_off()
        ax.set_xlabel("τ (leave-one-out contrast)")
        ax.set_title(f"layer {layer}")
    axes[0, 0].set_ylabel("ensemble size (neuroids, mean over classes)" if value == "size"
                          else "ensemble size (fraction of layer)")
    axes[0, -1].legend(fontsize=7, frameon=False)
    return titled(fig, title, "Ensemble size vs τ, real and under shuffled labels")
