"""Figures 5, 6 and 7: training curves, sparseness/ensembles across checkpoints, sparsity vs accuracy sweep."""

from __future__ import annotations

import pandas as pd

from ensembles.history import history_frame

from ._style import (
    GOODNESS_COLORS,
    PAGE_WIDTH,
    layer_label,
    metric_label,
    new_figure,
    ordered,
    palette,
    require_columns,
    titled,
)

__all__ = ["history_frame", "training_curves", "checkpoint_trajectories", "sweep_scatter"]

def _is_goodness(metric: str) -> str | None:
    m = metric.lower()
    if "good" not in m and not m.startswith("g_"):  # "pos_goodness", "goodness_neg", "g_pos" (trainers' history)
        return None
    if "pos" in m:
        return "pos"
    if "neg" in m:
        return "neg"
    return None


def training_curves(history: pd.DataFrame, *, title: str | None = None):
    """Figure 5: positive vs negative goodness per layer (top row), loss and accuracy (bottom row), per model.

    Parameters
    ----------
    history : DataFrame
        Tidy history from :func:`ensembles.history.history_frame` (columns ``model``, ``step``, ``layer``,
        ``metric``, ``value``; the schema of ``history.json`` is documented in :mod:`ensembles.history`).
        Goodness metrics are recognised by name (``pos``/``neg`` and ``good``), accuracies by ``acc``.
    """
    require_columns(history, ["model", "step", "layer", "metric", "value"], name="history")
    models = ordered(history["model"])
    fig, axes = new_figure(2, len(models), figsize=(min(3.4 * len(models) + 0.6, PAGE_WIDTH), 6.4))
    layer_colors = {}
    cmap = ["#08519c", "#3182bd", "#6baed6", "#9ecae1", "#c6dbef"]
    for c, m in enumerate(models):
        sub = history[history["model"] == m]
        ax = axes[0, c]
        good = sub[sub["metric"].map(_is_goodness).notna()]
        if len(good):
            for (layer, metric), g in good.groupby(["layer", "metric"], dropna=False):
                kind = _is_goodness(metric)
                col = layer_colors.setdefault(layer, cmap[len(layer_colors) % len(cmap)])
                lab = f"{layer_label(layer)} {kind}" if layer_label(layer) else f"{kind} (sum)"
                ax.plot(g["step"], g["value"], color=col, ls="-" if kind == "pos" else "--", lw=1.2, label=lab)
            ax.set_ylabel("mean goodness")
            ax.legend(fontsize=7, frameon=False, ncol=2)
        else:
            ax.text(0.5, 0.5, "no goodness in history\n(not an FF-objective model)", ha="center", va="center",
                    transform=ax.transAxes, fontsize=8, color="0.4")
        ax.set_title(f"{m}: goodness (solid pos, dashed neg)", fontsize=9)
        ax.set_xlabel("training step (epoch; FF: layer after layer)")
        ax = axes[1, c]
        other = sub[sub["metric"].map(_is_goodness).isna()]
        acc = other[other["metric"].str.contains("acc")]
        loss = other[other["metric"].str.contains("loss")]
        for (layer, metric), g in loss.groupby(["layer", "metric"], dropna=False):
            lab = " ".join(p for p in (layer_label(layer), metric_label(metric)) if p)
            ax.plot(g["step"], g["value"], lw=1.0, label=lab)
        ax.set_ylabel("loss")
        ax.set_xlabel("training step")
        if len(acc):
            ax2 = ax.twinx()
            for (layer, metric), g in acc.groupby(["layer", "metric"], dropna=False):
                lab = " ".join(p for p in (layer_label(layer), metric_label(metric)) if p)
                ax2.plot(g["step"], g["value"], lw=1.4, color="k", ls=":", label=lab)
            ax2.set_ylabel("accuracy")
        # one legend for loss and accuracy, drawn on the top axes so that no curve runs through it
        handles = [h for a in ([ax, ax2] if len(acc) else [ax]) for h in a.get_legend_handles_labels()[0]]
        if handles:
            (ax2 if len(acc) else ax).legend(handles=handles, fontsize=7, frameon=True, framealpha=0.85,
                                             edgecolor="none", loc="center right")
        ax.set_title(f"{m}: loss and accuracy", fontsize=9)
    return titled(fig, title, "Training curves")


def checkpoint_trajectories(table: pd.DataFrame, *, title: str | None = None):
    """Figure 6: sparseness and median ensemble size across training checkpoints (how ensembles emerge).

    Parameters
    ----------
    table : DataFrame
        Columns ``model``, ``epoch``, ``layer``, ``hoyer`` (mean population Hoyer) and ``median_size``
        (median ensemble size over classes).
    """
    require_columns(table, ["model", "epoch", "layer", "hoyer", "median_size"])
    models = ordered(table["model"])
    pal = palette(models)
    styles = ["-", "--", ":", "-."]
    layers = sorted(table["layer"].unique())
    fig, axes = new_figure(1, 2, figsize=(9.5, 3.6))
    for m in models:
        for li, layer in enumerate(layers):
            g = table[(table["model"] == m) & (table["layer"] == layer)].sort_values("epoch")
            if not len(g):
                continue
            kw = dict(color=pal[m], ls=styles[li % len(styles)], marker="o", ms=3, lw=1.2,
                      label=f"{m} {layer_label(layer)}".strip())
            axes[0, 0].plot(g["epoch"], g["hoyer"], **kw)
            axes[0, 1].plot(g["epoch"], g["median_size"], **kw)
    axes[0, 0].set_ylabel("population Hoyer sparseness")
    axes[0, 0].set_ylim(0, 1)
    axes[0, 1].set_ylabel("median ensemble size (neuroids)")
    for ax in axes[0]:
        ax.set_xlabel("epoch (per layer for FF)")
    axes[0, 1].legend(fontsize=7, frameon=False, ncol=2)
    return titled(fig, title, "Sparseness and ensemble size across training")


def sweep_scatter(table: pd.DataFrame, *, min_accuracy: float | None = None, title: str | None = None):
    """Figure 7: layer sparseness (x) vs test accuracy (y) across a hyper-parameter sweep, L1 vs L2 goodness.

    Parameters
    ----------
    table : DataFrame
        One row per (run, layer): ``run``, ``layer``, ``hoyer``, ``accuracy``, ``goodness`` (e.g. ``"l1"``,
        ``"l2"``), optional ``lr`` (marker shape).
    min_accuracy : float, optional
        Drop runs below this accuracy (the authors showed runs with accuracy ≥ 0.8).
    """
    require_columns(table, ["run", "layer", "hoyer", "accuracy", "goodness"])
    df = table if min_accuracy is None else table[table["accuracy"] >= min_accuracy]
    layers = sorted(df["layer"].unique()) or sorted(table["layer"].unique())
    fig, axes = new_figure(1, len(layers), sharey=True)
    markers = ["o", "s", "^", "D", "v", "P", "X"]
    lrs = list(dict.fromkeys(df["lr"])) if "lr" in df else [None]
    for ax, layer in zip(axes[0], layers, strict=True):
        sub = df[df["layer"] == layer]
        for g in ordered(sub["goodness"], ("l2", "l1")):
            for k, lr in enumerate(lrs):
                s = sub[(sub["goodness"] == g) & ((sub["lr"] == lr) if lr is not None else True)]
                if len(s):
                    ax.scatter(s["hoyer"], s["accuracy"], color=GOODNESS_COLORS.get(g, "0.3"),
                               marker=markers[k % len(markers)], s=36, edgecolor="k", lw=0.4,
                               label=f"{g}" + (f", lr={lr:g}" if lr is not None else ""))
        ax.set_title(layer_label(layer), fontsize=9)
        ax.set_xlabel("population Hoyer sparseness")
        ax.set_xlim(0, 1)
    axes[0, 0].set_ylabel("test accuracy")
    axes[0, -1].legend(fontsize=7, frameon=False)
    return titled(fig, title, "Sparsity vs accuracy across the sweep (goodness l2 red, l1 blue)")
