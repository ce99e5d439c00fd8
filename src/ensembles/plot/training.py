"""Figures 5, 6 and 7: training curves, sparseness/ensembles across checkpoints, sparsity vs accuracy sweep."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from ._style import GOODNESS_COLORS, new_figure, ordered, palette, require_columns

__all__ = ["history_frame", "training_curves", "checkpoint_trajectories", "sweep_scatter"]

_LAYER_RE = re.compile(r"(?:^|[^a-z])(?:layer|l)[_\s./-]?(\d+)(?![a-z])", re.IGNORECASE)


def _parse_key(key: str) -> tuple[int | None, str]:
    """Split a history key such as ``"layer2/pos_goodness"`` into ``(2, "pos_goodness")``."""
    m = _LAYER_RE.search(key)
    layer = int(m.group(1)) if m else None
    metric = _LAYER_RE.sub(" ", key) if m else key
    metric = re.sub(r"[\s./-]+", "_", metric).strip("_").lower()
    return layer, metric


def history_frame(history: Sequence[Mapping[str, Any]] | Mapping[str, Sequence[Mapping[str, Any]]], *,
                  model: str | None = None) -> pd.DataFrame:
    """Tidy table ``model, step, epoch, layer, metric, value`` from per-epoch history dicts.

    Accepts a list of dicts (one per epoch; nested ``{"layers": [{...}, ...]}`` or per-layer lists of numbers are
    unrolled with 1-based layer numbers; flat keys such as ``"layer2_pos_goodness"`` are parsed), or a mapping
    ``model -> list``.  ``step`` is the position in the history (greedy FF trains layers one after another, so
    its ``epoch`` restarts for every layer).
    """
    if isinstance(history, Mapping):
        frames = [history_frame(h, model=m) for m, h in history.items()]
        return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(
            columns=["model", "step", "epoch", "layer", "metric", "value"])
    rows = []
    for step, entry in enumerate(history):
        if not isinstance(entry, Mapping):
            continue
        epoch = entry.get("epoch", step)
        base_layer = entry.get("layer") if isinstance(entry.get("layer"), int | np.integer) else None
        for key, val in entry.items():
            if key in ("epoch", "layer"):
                continue
            if isinstance(val, Mapping):  # {"pos_goodness": {"1": .., "2": ..}} or {"layer1": {...}}
                for k2, v2 in val.items():
                    lay, met = _parse_key(f"{key}_{k2}") if not str(k2).isdigit() else (int(k2), _parse_key(key)[1])
                    if isinstance(v2, Mapping):
                        for k3, v3 in v2.items():
                            if isinstance(v3, int | float | np.number):
                                rows.append((model, step, epoch, lay, _parse_key(str(k3))[1], float(v3)))
                    elif isinstance(v2, int | float | np.number):
                        rows.append((model, step, epoch, lay, met, float(v2)))
            elif isinstance(val, list | tuple) and val and all(isinstance(v, Mapping) for v in val):
                for li, d in enumerate(val, start=1):
                    for k3, v3 in d.items():
                        if isinstance(v3, int | float | np.number) and k3 != "layer":
                            rows.append((model, step, epoch, int(d.get("layer", li)), _parse_key(str(k3))[1], float(v3)))
            elif isinstance(val, list | tuple) and val and all(isinstance(v, int | float | np.number) for v in val):
                met = _parse_key(key)[1]
                for li, v in enumerate(val, start=1):
                    rows.append((model, step, epoch, li, met, float(v)))
            elif isinstance(val, int | float | np.number) and not isinstance(val, bool):
                lay, met = _parse_key(key)
                rows.append((model, step, epoch, lay if lay is not None else base_layer, met, float(val)))
    df = pd.DataFrame(rows, columns=["model", "step", "epoch", "layer", "metric", "value"])
    df["layer"] = df["layer"].astype("Int64")
    return df


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
        Tidy history from :func:`history_frame` (columns ``model``, ``step``, ``layer``, ``metric``, ``value``).
        Goodness metrics are recognised by name (``pos``/``neg`` and ``good``), accuracies by ``acc``.
    """
    require_columns(history, ["model", "step", "layer", "metric", "value"], name="history")
    models = ordered(history["model"])
    fig, axes = new_figure(2, len(models), figsize=(4.0 * len(models) + 0.6, 6.4))
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
                lab = f"L{layer} {kind}" if layer is not pd.NA else f"{kind} (sum)"
                ax.plot(g["step"], g["value"], color=col, ls="-" if kind == "pos" else "--", lw=1.2, label=lab)
            ax.set_ylabel("mean goodness")
            ax.legend(fontsize=6, frameon=False, ncol=2)
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
            lab = metric if layer is pd.NA else f"L{layer} {metric}"
            ax.plot(g["step"], g["value"], lw=1.0, label=lab)
        ax.set_ylabel("loss")
        ax.set_xlabel("training step")
        if len(acc):
            ax2 = ax.twinx()
            for (layer, metric), g in acc.groupby(["layer", "metric"], dropna=False):
                lab = metric if layer is pd.NA else f"L{layer} {metric}"
                ax2.plot(g["step"], g["value"], lw=1.4, color="k", ls=":", label=lab)
            ax2.set_ylabel("accuracy")
            ax2.legend(fontsize=6, frameon=False, loc="lower right")
        if len(loss):
            ax.legend(fontsize=6, frameon=False, loc="upper right")
        ax.set_title(f"{m}: loss and accuracy", fontsize=9)
    fig.suptitle(title or "Training curves")
    return fig


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
            kw = dict(color=pal[m], ls=styles[li % len(styles)], marker="o", ms=3, lw=1.2, label=f"{m} L{layer}")
            axes[0, 0].plot(g["epoch"], g["hoyer"], **kw)
            axes[0, 1].plot(g["epoch"], g["median_size"], **kw)
    axes[0, 0].set_ylabel("population Hoyer sparseness")
    axes[0, 0].set_ylim(0, 1)
    axes[0, 1].set_ylabel("median ensemble size (neuroids)")
    for ax in axes[0]:
        ax.set_xlabel("epoch (per layer for FF)")
    axes[0, 1].legend(fontsize=6, frameon=False, ncol=2)
    fig.suptitle(title or "Sparseness and ensemble size across training")
    return fig


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
        ax.set_title(f"layer {layer}", fontsize=9)
        ax.set_xlabel("population Hoyer sparseness")
        ax.set_xlim(0, 1)
    axes[0, 0].set_ylabel("test accuracy")
    axes[0, -1].legend(fontsize=6, frameon=False)
    fig.suptitle(title or "Sparsity vs accuracy across the sweep (goodness l2 red, l1 blue)")
    return fig
