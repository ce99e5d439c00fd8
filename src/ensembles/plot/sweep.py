"""Across-seed error bars of a sweep (``ensembles report SWEEP_DIR``).

:func:`sweep_error_bars` draws the table written by :func:`ensembles.analysis.tables.across_seeds` (one row per
condition with ``mean``, ``sd``, ``sem``, ``ci_low``, ``ci_high``, ``n_seeds``): bars at the across-seed mean with
error bars (95% t-interval by default, or ± SD / ± SEM), optionally with the value of every run overlaid as dots.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from ensembles._validation import describe
from ensembles.conventions import MODEL_NAMES
from ensembles.errors import ParameterError
from ensembles.plot._style import new_figure, ordered, palette, require_columns

__all__ = ["sweep_error_bars"]

_ERRORS = ("ci", "sd", "sem")


def _label(v) -> str:
    if isinstance(v, float) and v.is_integer():
        v = int(v)
    return MODEL_NAMES.get(str(v), str(v))


def _levels(values: pd.Series) -> list:
    uniq = list(dict.fromkeys(values.tolist()))
    try:
        if all(isinstance(u, int | float | np.integer | np.floating) for u in uniq):
            return sorted(uniq)
    except TypeError:  # pragma: no cover - mixed types: keep order of appearance
        pass
    labels = ordered([_label(u) for u in uniq])
    by_label = {_label(u): u for u in uniq}
    return [by_label[lab] for lab in labels]


def _errors(rows: pd.DataFrame, error: str) -> np.ndarray:
    mean = rows["mean"].to_numpy(float)
    if error == "ci":
        lo = mean - rows["ci_low"].to_numpy(float)
        hi = rows["ci_high"].to_numpy(float) - mean
    else:
        lo = hi = rows[error].to_numpy(float)
    err = np.vstack([lo, hi])
    return np.where(np.isfinite(err), err, 0.0)  # one seed: no interval, drawn without a bar


def sweep_error_bars(table: pd.DataFrame, *, x: str, hue: str | None = None, panel: str | None = None,
                     error: str = "ci", values: pd.DataFrame | None = None, value_col: str = "value",
                     ylabel: str | None = None, title: str | None = None, ncols: int = 3,
                     panel_titles: dict | None = None, sharey: bool = False):
    """Bars of across-seed means with error bars, one group of bars per ``x`` level and one bar per ``hue`` level.

    Parameters
    ----------
    table : pandas.DataFrame
        Across-seed table: columns ``x`` (and ``hue``, ``panel`` when given), ``mean``, ``n_seeds`` and the error
        columns (``ci_low``/``ci_high`` for ``error="ci"``, else ``sd`` or ``sem``), one row per bar.
    x, hue, panel : str
        Column for the bar groups, for the bars within a group (coloured; model names get the models' colours) and
        for one subplot per level.
    error : {"ci", "sd", "sem"}
        ``"ci"``: the interval ``[ci_low, ci_high]`` from the table (95% Student-t interval of the mean across
        seeds in :func:`ensembles.analysis.tables.across_seeds`); ``"sd"``/``"sem"``: ± that column.  Rows with a
        single seed have no interval and are drawn without an error bar.
    values : pandas.DataFrame, optional
        Per-run values (same ``x``/``hue``/``panel`` columns plus ``value_col``), drawn as dots over the bars.
    ylabel, title : str, optional
    ncols : int
        Subplots per row when ``panel`` is given.
    panel_titles : dict, optional
        Display title of each panel level.
    sharey : bool

    Returns
    -------
    matplotlib.figure.Figure
    """
    if error not in _ERRORS:
        raise ParameterError(f"The 'error' parameter must be one of {list(_ERRORS)}. Got {error!r} instead.")
    cols = [x, "mean", "n_seeds"] + [c for c in (hue, panel) if c] + (
        ["ci_low", "ci_high"] if error == "ci" else [error])
    require_columns(table, cols, name="table")
    if values is not None:
        require_columns(values, [x, value_col] + [c for c in (hue, panel) if c], name="values")
    if not isinstance(ncols, int) or isinstance(ncols, bool) or ncols < 1:
        raise ParameterError(f"The 'ncols' parameter must be a positive integer. Got {describe(ncols)} instead.")
    panels: Sequence = _levels(table[panel]) if panel else [None]
    ncol = min(ncols, len(panels))
    nrow = int(np.ceil(len(panels) / ncol))
    x_levels_all = _levels(table[x])
    fig, axes = new_figure(nrow, ncol, figsize=(max(3.8, 0.9 * len(x_levels_all) + 2.2) * ncol, 3.2 * nrow + 0.6),
                           sharey=sharey)
    hue_levels = _levels(table[hue]) if hue else [None]
    colors = palette([_label(h) for h in hue_levels]) if hue else None
    width = 0.8 / len(hue_levels)
    rng = np.random.default_rng(0)  # jitter of the per-run dots only
    for i, pv in enumerate(panels):
        ax = axes[i // ncol][i % ncol]
        sub = table if panel is None else table[table[panel] == pv]
        vsub = None if values is None else (values if panel is None else values[values[panel] == pv])
        x_levels = [v for v in x_levels_all if v in set(sub[x].tolist())]
        for j, hv in enumerate(hue_levels):
            rows = sub if hue is None else sub[sub[hue] == hv]
            if not len(rows):
                continue
            pos_of = {v: k for k, v in enumerate(x_levels)}
            rows = rows[rows[x].isin(x_levels)]
            pos = np.array([pos_of[v] for v in rows[x]], dtype=float) - 0.4 + width * (j + 0.5)
            color = colors[_label(hv)] if hue else (
                [palette([_label(v) for v in x_levels])[_label(v)] for v in rows[x]])
            ax.bar(pos, rows["mean"].to_numpy(float), width=width * 0.92, color=color, alpha=0.85,
                   label=_label(hv) if hue else None, yerr=_errors(rows, error), capsize=3,
                   error_kw={"elinewidth": 1.0, "ecolor": "#222"})
            if vsub is not None:
                vrows = vsub if hue is None else vsub[vsub[hue] == hv]
                vrows = vrows[vrows[x].isin(x_levels)]
                vpos = np.array([pos_of[v] for v in vrows[x]], dtype=float) - 0.4 + width * (j + 0.5)
                ax.scatter(vpos + rng.uniform(-0.15, 0.15, len(vpos)) * width, vrows[value_col].to_numpy(float),
                           s=10, color="#111", zorder=3, linewidths=0)
        ax.set_xticks(range(len(x_levels)))
        ax.set_xticklabels([_label(v) for v in x_levels], rotation=30 if len(x_levels) > 4 else 0,
                           ha="right" if len(x_levels) > 4 else "center")
        ax.set_xlabel(x)
        if i % ncol == 0 or not sharey:
            ax.set_ylabel(ylabel or "mean across seeds")
        if panel is not None:
            ax.set_title((panel_titles or {}).get(pv, f"{panel} = {_label(pv)}"), fontsize=10)
        ax.grid(axis="y", alpha=0.3)
    for k in range(len(panels), nrow * ncol):
        axes[k // ncol][k % ncol].set_visible(False)
    if hue:
        axes[0][0].legend(fontsize=8, frameon=False)
    n = table["n_seeds"]
    what = {"ci": "± 95% CI", "sd": "± SD", "sem": "± SEM"}[error]
    fig.suptitle((title + "\n" if title else "") + f"mean {what} across seeds, n = {int(n.min())}"
                 + (f"–{int(n.max())}" if n.max() != n.min() else "")
                 + ("; dots: runs" if values is not None else ""), fontsize=9)
    return fig
