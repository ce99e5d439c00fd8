"""Figures 2 and 4: sparseness per layer × model × class with bootstrap CIs; lifetime vs population
sparseness distributions; selectivity distributions (CSI, number of significantly driven classes)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import seaborn as sns

from ensembles.errors import ParameterError

from ._style import (
    class_order,
    layer_label,
    layer_rows,
    new_figure,
    ordered,
    palette,
    require_columns,
    titled,
)

__all__ = ["sparseness_bars", "sparseness_violins", "selectivity_distributions", "bar_table"]


def bar_table(ax, df: pd.DataFrame, *, x: str, hue: str, value: str = "mean", low: str = "ci_low",
              high: str = "ci_high", x_order=None, hue_order=None, colors=None):
    """Grouped bars with asymmetric error bars read from columns (no re-computation). Returns ``ax``."""
    x_order = list(x_order if x_order is not None else dict.fromkeys(df[x]))
    hue_order = list(hue_order if hue_order is not None else dict.fromkeys(df[hue]))
    colors = colors or palette(hue_order)
    width = 0.8 / max(len(hue_order), 1)
    pos = np.arange(len(x_order))
    for j, h in enumerate(hue_order):
        sub = df[df[hue] == h].set_index(x).reindex(x_order)
        xs = pos - 0.4 + width * (j + 0.5)
        vals = sub[value].to_numpy(float)
        err = None
        if low in sub and high in sub:
            lo, hi = sub[low].to_numpy(float), sub[high].to_numpy(float)
            err = np.vstack([np.clip(vals - lo, 0, None), np.clip(hi - vals, 0, None)])
            err = np.nan_to_num(err)
        ax.bar(xs, vals, width=width * 0.95, color=colors.get(h), label=str(h), yerr=err,
               error_kw={"elinewidth": 0.7, "capsize": 1.5})
    ax.set_xticks(pos)
    long = max((len(str(v)) for v in x_order), default=0) > 3
    ax.set_xticklabels([str(v) for v in x_order], rotation=45 if long else 0, ha="right" if long else "center",
                       fontsize=8)
    return ax


def sparseness_bars(table: pd.DataFrame, *, measure: str | None = None, title: str | None = None):
    """Figure 2a (the paper's F3): population sparseness per class, one panel per layer, bars per model.

    Parameters
    ----------
    table : DataFrame
        Columns ``model``, ``layer``, ``class``, ``mean``, ``ci_low``, ``ci_high`` (bootstrap CI over
        presentations, computed by the pipeline), optionally ``label`` (class order) and ``measure``.
    measure : str, optional
        Keep only rows whose ``measure`` column equals this (e.g. ``"hoyer"``).
    """
    require_columns(table, ["model", "layer", "class", "mean", "ci_low", "ci_high"])
    df = table if measure is None or "measure" not in table else table[table["measure"] == measure]
    if len(df) == 0:
        raise ParameterError(f"The 'measure' parameter selects no rows. Got {measure!r}.")
    layers = sorted(df["layer"].unique())
    models = ordered(df["model"])
    classes = class_order(df)
    fig, axes = layer_rows(len(layers), len(classes) * len(models))
    for ax, layer in zip(axes, layers, strict=True):
        bar_table(ax, df[df["layer"] == layer], x="class", hue="model", x_order=classes, hue_order=models)
        ax.set_title(layer_label(layer), fontsize=10)
        ax.set_ylim(0, 1.0)
        ax.set_ylabel(f"{measure or 'population'} sparseness", fontsize=9)
    axes[0].legend(fontsize=8, frameon=False, ncol=len(models), loc="upper right")
    axes[-1].set_xlabel("class (bars: mean with 95 % bootstrap CI over presentations)", fontsize=9)
    return titled(fig, title, "Population sparseness per class")


def sparseness_violins(values: pd.DataFrame, *, title: str | None = None):
    """Figure 2b: distributions of lifetime (per neuroid) and population (per presentation) sparseness.

    Parameters
    ----------
    values : DataFrame
        Columns ``model``, ``layer``, ``kind`` (``"lifetime"`` or ``"population"``) and ``value``.
    """
    require_columns(values, ["model", "layer", "kind", "value"], name="values")
    df = values[np.isfinite(values["value"].to_numpy(float))]
    layers = sorted(df["layer"].unique())
    models = ordered(df["model"])
    kinds = [k for k in ("lifetime", "population") if k in set(df["kind"])] or list(dict.fromkeys(df["kind"]))
    fig, axes = new_figure(len(kinds), len(layers), sharey=True, figsize=(3.4 * len(layers) + 0.6, 2.9 * len(kinds) + 0.6))
    for r, kind in enumerate(kinds):
        for c, layer in enumerate(layers):
            ax = axes[r, c]
            sub = df[(df["kind"] == kind) & (df["layer"] == layer)]
            if len(sub):
                sns.violinplot(data=sub, x="model", y="value", hue="model", order=models, hue_order=models,
                               palette=palette(models), cut=0, density_norm="width", inner="quartile",
                               linewidth=0.7, ax=ax, legend=False)
            ax.set_title(f"{kind} · {layer_label(layer)}", fontsize=9)
            ax.set_xlabel("")
            ax.set_ylabel("sparseness" if c == 0 else "")
            ax.set_ylim(-0.02, 1.02)
    return titled(fig, title, "Lifetime (per neuroid) vs population (per presentation) sparseness")


def selectivity_distributions(table: pd.DataFrame, *, max_classes: int | None = None, title: str | None = None):
    """Figure 4: distributions of the class selectivity index and of the number of significantly driven classes.

    Parameters
    ----------
    table : DataFrame
        One row per neuroid: ``model``, ``layer``, ``csi`` (Morcos et al. 2018, NaN for silent neuroids) and
        ``n_driven`` (number of classes that drive the neuroid significantly).
    """
    require_columns(table, ["model", "layer", "csi", "n_driven"])
    layers = sorted(table["layer"].unique())
    models = ordered(table["model"])
    pal = palette(models)
    fig, axes = new_figure(2, len(layers), figsize=(3.6 * len(layers) + 0.6, 6.2))
    kmax = int(max_classes if max_classes is not None else np.nanmax(table["n_driven"].to_numpy(float)))
    bins = np.linspace(0, 1, 26)
    for c, layer in enumerate(layers):
        sub = table[table["layer"] == layer]
        ax = axes[0, c]
        for m in models:
            v = sub.loc[sub["model"] == m, "csi"].to_numpy(float)
            v = v[np.isfinite(v)]
            if v.size:
                ax.hist(v, bins=bins, density=True, histtype="step", lw=1.4, color=pal[m],
                        label=f"{m} (n={v.size})")
        ax.set_title(layer_label(layer), fontsize=9)
        ax.set_xlabel("class selectivity index")
        ax.set_ylabel("density" if c == 0 else "")
        ax.legend(fontsize=6, frameon=False)
        ax = axes[1, c]
        ks = np.arange(0, kmax + 1)
        width = 0.8 / max(len(models), 1)
        for j, m in enumerate(models):
            v = sub.loc[sub["model"] == m, "n_driven"].to_numpy(float)
            v = v[np.isfinite(v)].astype(int)
            if v.size:
                frac = np.bincount(v, minlength=kmax + 1)[: kmax + 1] / v.size
                ax.bar(ks - 0.4 + width * (j + 0.5), frac, width=width * 0.95, color=pal[m], label=m)
        ax.set_xticks(ks)
        ax.set_xlabel("number of significantly driven classes")
        ax.set_ylabel("fraction of neuroids" if c == 0 else "")
    return titled(fig, title, "Selectivity: CSI and mixed selectivity")
