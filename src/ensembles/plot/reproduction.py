"""Figures of the reproduction: sparsity against accuracy over the learning-rate grid (all three rules)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ensembles.plot._style import new_figure, palette, require_columns, titled

__all__ = ["accuracy_trajectories", "overlap_panels", "sparsity_vs_accuracy"]

_NAMES = {"ff": "FF", "bp_ff": "BP/FF", "bp": "BP"}


def sparsity_vs_accuracy(summary: pd.DataFrame, *, layers=(1, 2, 3), title: str | None = None):
    """One panel per layer: mean layer Hoyer (x) against mean test accuracy (y), one point per rule x learning rate,
    error bars = the across-seed intervals given in ``summary``.

    ``summary``: columns ``model, lr, condition, layer, statistic, mean, low, high`` with statistics ``hoyer``
    (per layer) and ``accuracy`` (layer 0), e.g. :func:`ensembles.analysis.runs.seed_summary` of the reproduction's
    statistics table grouped by ``condition, model, lr, layer, statistic``.
    """
    require_columns(summary, ["model", "lr", "condition", "layer", "statistic", "mean", "low", "high"],
                    name="summary")
    fig, axes = new_figure(1, len(layers), figsize=(4.2 * len(layers), 3.8))
    models = [m for m in ("ff", "bp_ff", "bp") if m in set(summary["model"])]
    colors = palette(models)
    acc = summary[summary["statistic"] == "accuracy"].set_index(["condition", "model", "lr"])
    for ax, layer in zip(axes[0], layers, strict=True):
        h = summary[(summary["statistic"] == "hoyer") & (summary["layer"] == layer)]
        for model in models:
            for cond, marker in (("lr_grid", "o"), ("baseline", "*")):
                pts = h[(h["model"] == model) & (h["condition"] == cond)].sort_values("lr")
                if pts.empty:
                    continue
                keys = [(cond, model, lr) for lr in pts["lr"]]
                keys = [k for k in keys if k in acc.index]
                if not keys:
                    continue
                pts = pts.set_index("lr").loc[[k[2] for k in keys]]
                a = acc.loc[keys]
                xerr = np.vstack([pts["mean"] - pts["low"], pts["high"] - pts["mean"]])
                yerr = np.vstack([a["mean"].to_numpy() - a["low"].to_numpy(), a["high"].to_numpy() - a["mean"].to_numpy()])
                ax.errorbar(pts["mean"], a["mean"], xerr=np.nan_to_num(xerr), yerr=np.nan_to_num(yerr),
                            fmt=marker + ("-" if cond == "lr_grid" else ""), color=colors[model], ms=7 if marker == "o" else 12,
                            capsize=2, lw=1, label=f"{_NAMES[model]} ({'lr grid' if cond == 'lr_grid' else 'baseline'})")
                if cond == "lr_grid":
                    for x, y, lr in zip(pts["mean"], a["mean"], pts.index, strict=True):
                        ax.annotate(f"{lr:g}", (x, y), textcoords="offset points", xytext=(4, 4), fontsize=7)
        ax.set_xlabel(f"layer {layer} Hoyer sparseness")
        ax.set_ylabel("test accuracy")
        ax.set_xlim(0, 1)
        ax.grid(alpha=0.3)
    axes[0][0].legend(fontsize=7, loc="lower left")
    # the figure's constrained layout already fits the panels (tight_layout would replace it, with a warning)
    return titled(fig, title, "Sparsity vs accuracy (mean and 95 % interval over seeds; labels = learning rate)")


def overlap_panels(overlaps, class_names, *, title: str | None = None):
    """One overlap heatmap per seed: ``overlaps`` = [(seed, counts (K, K), q-values (K, K)), ...]."""
    from ensembles.plot.ensembles import overlap_axes

    fig, axes = new_figure(1, len(overlaps), figsize=(max(3.6 * len(overlaps), 7.0), 3.9))
    for ax, (seed, counts, q) in zip(axes[0], overlaps, strict=True):
        overlap_axes(ax, counts, class_names=class_names, qvalues=q, title=f"seed {seed}")
    if title:
        titled(fig, title, title)
    return fig


def accuracy_trajectories(trajectories: pd.DataFrame, *, statistic: str = "hoyer_responsive", layers=(1, 2, 3),
                          target: float | None = None, title: str | None = None):
    """One panel per layer: a statistic (x) against test accuracy (y) along training, one curve per run (checkpoint
    order), coloured by model; ``target`` (e.g. FF's final accuracy, the matched-accuracy point) as a dashed line.

    ``trajectories``: columns ``model, seed, checkpoint, accuracy, layer, statistic, value`` (the reproduction's
    trajectory table).
    """
    require_columns(trajectories, ["model", "seed", "checkpoint", "accuracy", "layer", "statistic", "value"],
                    name="trajectories")
    t = trajectories[trajectories["statistic"] == statistic]
    fig, axes = new_figure(1, len(layers), figsize=(4.2 * len(layers), 3.8))
    models = [m for m in ("ff", "bp_ff", "bp") if m in set(t["model"])]
    colors = palette(models)
    for ax, layer in zip(axes[0], layers, strict=True):
        for model in models:
            for i, (_, run) in enumerate(t[(t["layer"] == layer) & (t["model"] == model)].groupby("seed")):
                run = run.sort_values("checkpoint")
                ax.plot(run["value"], run["accuracy"], "-o", ms=3, lw=1, color=colors[model],
                        label=_NAMES[model] if i == 0 else None)
                ax.plot(run["value"].iloc[-1:], run["accuracy"].iloc[-1:], "*", ms=10, color=colors[model])
        if target is not None:
            ax.axhline(target, ls="--", lw=1, color="0.4")
        ax.set_xlabel(f"layer {layer} {statistic.replace('_', ' ')}")
        ax.set_ylabel("test accuracy")
        ax.set_xlim(0, 1)
        ax.grid(alpha=0.3)
    axes[0][0].legend(fontsize=8, loc="lower left")
    fig.suptitle(title or f"{statistic.replace('_', ' ')} against accuracy along training (one curve per run; "
                          "* = last checkpoint)")
    fig.tight_layout()
    return fig
