"""Figures 3 and 8: ensemble sizes, the overlap heatmap with significance marks, zero-shot ensembles."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from ensembles.errors import ParameterError

from ._style import class_order, layer_label, layer_rows, new_figure, ordered, require_columns, titled
from .statistics import bar_table

__all__ = ["ensemble_sizes", "overlap_axes", "overlap_heatmaps", "zero_shot"]


def ensemble_sizes(table: pd.DataFrame, *, value: str = "size", log: bool = False, title: str | None = None):
    """Figure 3a: ensemble size per class, one panel per layer, bars per model.

    Parameters
    ----------
    table : DataFrame
        Columns ``model``, ``layer``, ``class``, ``size`` (number of member neuroids) and ``fraction``
        (size / layer width); optional ``null_size`` (mean size under shuffled labels), drawn as a black tick.
    value : {"size", "fraction"}
    log : bool
        Log y-axis (the authors' commented-out option).
    """
    require_columns(table, ["model", "layer", "class", value])
    layers = sorted(table["layer"].unique())
    models = ordered(table["model"])
    classes = class_order(table)
    fig, axes = layer_rows(len(layers), len(classes) * len(models))
    for ax, layer in zip(axes, layers, strict=True):
        sub = table[table["layer"] == layer].rename(columns={value: "_v"})
        bar_table(ax, sub, x="class", hue="model", value="_v", x_order=classes, hue_order=models)
        null_col = "null_size" if value == "size" else "null_fraction"
        if null_col in sub:
            width = 0.8 / len(models)
            for j, m in enumerate(models):
                s = sub[sub["model"] == m].set_index("class").reindex(classes)[null_col].to_numpy(float)
                xs = np.arange(len(classes)) - 0.4 + width * (j + 0.5)
                ax.scatter(xs, s, marker="_", color="k", s=40, zorder=3,
                           label="shuffled-label null" if j == 0 else None)
        if log:
            ax.set_yscale("symlog", linthresh=1)
        ax.set_title(layer_label(layer), fontsize=10)
        ax.set_ylabel("size (neuroids)" if value == "size" else "size (fraction of layer)", fontsize=9)
    axes[0].legend(fontsize=8, frameon=False, ncol=len(models) + 1, loc="upper right")
    axes[-1].set_xlabel("class", fontsize=9)
    return titled(fig, title, "Category ensemble size")


def overlap_axes(ax, overlap: Any, *, class_names: Sequence[str], qvalues: Any = None, alpha: float = 0.05,
                 cmap: str = "Blues", title: str | None = None):
    """One overlap heatmap (paper's F4): counts annotated where > 0, ``*`` where the overlap exceeds chance
    (hypergeometric test, ``qvalues`` < ``alpha``). The diagonal is blanked, as the authors set it to 0."""
    o = np.array(overlap, dtype=float)
    k = len(class_names)
    if o.shape != (k, k):
        raise ParameterError(f"The 'overlap' parameter must have shape ({k}, {k}). Got shape {o.shape} instead.")
    shown = o.copy()
    np.fill_diagonal(shown, np.nan)
    vmax = np.nanmax(shown) if np.isfinite(shown).any() and np.nanmax(shown) > 0 else 1.0
    ax.imshow(np.ma.masked_invalid(shown), cmap=cmap, vmin=0, vmax=vmax)
    q = None if qvalues is None else np.asarray(qvalues, dtype=float)
    for i in range(k):
        for j in range(k):
            if i == j or not np.isfinite(shown[i, j]):
                continue
            sig = q is not None and np.isfinite(q[i, j]) and q[i, j] < alpha
            if shown[i, j] > 0 or sig:
                txt = f"{shown[i, j]:.0f}" if float(shown[i, j]).is_integer() else f"{shown[i, j]:.2f}"
                ax.text(j, i, txt + ("*" if sig else ""), ha="center", va="center", fontsize=6,
                        color="white" if shown[i, j] > 0.6 * vmax else "black",
                        fontweight="bold" if sig else "normal")
    ax.set_xticks(range(k))
    ax.set_yticks(range(k))
    ax.set_xticklabels(class_names, rotation=90, fontsize=6)
    ax.set_yticklabels(class_names, fontsize=6)
    if title:
        ax.set_title(title, fontsize=9)
    return ax


def overlap_heatmaps(table: pd.DataFrame, *, value: str = "overlap", alpha: float = 0.05, title: str | None = None):
    """Figure 3b: ensemble-overlap heatmaps, models (rows) × layers (columns), significance marked.

    Parameters
    ----------
    table : DataFrame
        Long format, one row per ordered class pair: ``model``, ``layer``, ``class_a``, ``class_b``, ``overlap``
        (shared neuroids), optional ``q`` (FDR-adjusted hypergeometric p-value), optional ``label_a``.
    """
    require_columns(table, ["model", "layer", "class_a", "class_b", value])
    models = ordered(table["model"])
    layers = sorted(table["layer"].unique())
    if "label_a" in table:
        classes = list(dict.fromkeys(table.sort_values("label_a")["class_a"]))
    else:
        classes = list(dict.fromkeys(table["class_a"]))
    fig, axes = new_figure(len(models), len(layers), figsize=(3.3 * len(layers) + 0.6, 3.3 * len(models) + 0.8))
    for r, m in enumerate(models):
        for c, layer in enumerate(layers):
            sub = table[(table["model"] == m) & (table["layer"] == layer)]
            mat = sub.pivot(index="class_a", columns="class_b", values=value).reindex(index=classes, columns=classes)
            q = None
            if "q" in sub:
                q = sub.pivot(index="class_a", columns="class_b", values="q").reindex(index=classes, columns=classes)
            overlap_axes(axes[r, c], mat.to_numpy(float), class_names=classes,
                         qvalues=None if q is None else q.to_numpy(float), alpha=alpha, title=f"{m} · {layer_label(layer)}")
    return titled(fig, title, f"Ensemble overlap (shared neuroids; * = above chance, FDR q < {alpha})")


def zero_shot(table: pd.DataFrame, *, title: str | None = None):
    """Figure 8: ensembles of held-out classes vs the same classes in a model trained on all classes.

    Parameters
    ----------
    table : DataFrame
        One row per (model, layer, class, condition): ``model``, ``layer``, ``class``, ``condition`` (e.g.
        ``"held out"`` for the held-out class in the held-out run, ``"seen"`` for the other classes of that run,
        ``"all-classes run"`` for the same class in a model trained on every class), ``size`` and ``hoyer``.
    """
    require_columns(table, ["model", "layer", "class", "condition", "size", "hoyer"])
    conds = ordered(table["condition"], ("held out", "seen", "all-classes run"))
    colors = dict(zip(conds, ["#d62728", "#7f7f7f", "#1f77b4", "#2ca02c", "#9467bd"], strict=False))
    models = ordered(table["model"])
    layers = sorted(table["layer"].unique())
    fig, axes = new_figure(len(models), 2, figsize=(8.5, 3.2 * len(models) + 0.6))
    for r, m in enumerate(models):
        sub = table[table["model"] == m]
        for c, col in enumerate(["size", "hoyer"]):
            ax = axes[r, c]
            width = 0.8 / len(conds)
            for j, cond in enumerate(conds):
                for li, layer in enumerate(layers):
                    v = sub[(sub["condition"] == cond) & (sub["layer"] == layer)][col].to_numpy(float)
                    v = v[np.isfinite(v)]
                    if not v.size:
                        continue
                    xpos = li - 0.4 + width * (j + 0.5)
                    ax.bar(xpos, v.mean(), width=width * 0.95, color=colors[cond], alpha=0.55,
                           label=cond if li == 0 else None)
                    ax.scatter(np.full(v.size, xpos), v, color=colors[cond], s=10, zorder=3)
            ax.set_xticks(range(len(layers)))
            ax.set_xticklabels([layer_label(v) for v in layers])
            ax.set_ylabel("ensemble size (neuroids)" if col == "size" else "population Hoyer sparseness")
            ax.set_title(f"{m}: {'ensemble size' if col == 'size' else 'sparseness'}", fontsize=9)
            if col == "hoyer":
                ax.set_ylim(0, 1)
        axes[r, 0].legend(fontsize=7, frameon=False)
    return titled(fig, title, "Zero-shot: ensembles of held-out classes")
