"""Shared plotting helpers: model colours, figure creation without pyplot state, table checks."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from ensembles._validation import describe
from ensembles.errors import InputTypeError, ParameterError

MODEL_ORDER = ("FF", "BP/FF", "BP")
MODEL_COLORS = {"FF": "#1f77b4", "BP/FF": "#9467bd", "BP": "#ff7f0e"}
GOODNESS_COLORS = {"l2": "#d62728", "l1": "#1f77b4"}  # the authors' colours (docs/methods.md §A3.8)
# the widest figure, in inches: reports show figures at their natural size up to about 1150 px (110 dpi), so text
# drawn at 7 pt or more stays legible at the page width
PAGE_WIDTH = 10.5


def new_figure(nrows: int = 1, ncols: int = 1, *, figsize=None, squeeze: bool = False, **kw):
    """A Figure with an Agg canvas that is not registered with pyplot (no global state, no ``show``)."""
    if figsize is None:
        figsize = (3.2 * ncols + 0.6, 3.0 * nrows + 0.6)
    figsize = (min(float(figsize[0]), PAGE_WIDTH), float(figsize[1]))  # never wider than the report's page
    fig = Figure(figsize=figsize, layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=squeeze, **kw)
    return fig, axes


def layer_rows(n_layers: int, n_bars: int, *, sharey: bool = True):
    """One full-width panel per layer, stacked (grouped bars per class stay legible at the page width whatever the
    number of layers); returns ``(fig, axes)`` with ``axes`` of shape ``(n_layers,)``."""
    width = min(PAGE_WIDTH, max(6.0, 0.12 * n_bars + 1.5))
    fig, axes = new_figure(n_layers, 1, figsize=(width, 2.3 * n_layers + 0.8), sharey=sharey)
    return fig, axes[:, 0]


def titled(fig: Figure, title: str | None, default: str) -> Figure:
    """``fig`` with its title: ``title`` when given, else the figure's ``default``, wrapped to the figure's width
    (a title longer than the figure is broken into lines instead of being clipped at both edges)."""
    import textwrap

    text = title or default
    # about 11 characters of a 12-pt title per inch of figure width
    width = max(20, int(fig.get_figwidth() * 11))
    fig.suptitle("\n".join(textwrap.wrap(text, width)) if len(text) > width else text)
    return fig


def layer_label(layer) -> str:
    """``"layer 2"`` for a layer number (``2``, ``2.0``); a group name as it is (``"VISp"``: recordings whose
    units are grouped by brain area or another unit property); ``""`` for a metric of the whole network (NaN/None)."""
    if layer is None or layer is pd.NA or (isinstance(layer, float) and np.isnan(layer)):
        return ""
    if isinstance(layer, str):
        return layer
    f = float(layer)
    return f"layer {int(f)}" if f.is_integer() else f"layer {layer}"


def metric_label(metric: str) -> str:
    """A history metric name in words: ``"test_accuracy"`` -> ``"test accuracy"``."""
    return str(metric).replace("_", " ")


def require_columns(df, columns: Iterable[str], *, name: str = "table") -> pd.DataFrame:
    """Check that ``df`` is a non-empty DataFrame with ``columns``; raise a ValueError naming what is missing."""
    if not isinstance(df, pd.DataFrame):
        raise InputTypeError(f"The {name!r} parameter must be a pandas DataFrame. Got {describe(df)} instead.")
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise ParameterError(
            f"The {name!r} parameter must have columns {list(columns)}; missing {missing} (it has {list(df.columns)})."
        )
    if len(df) == 0:
        raise ParameterError(f"The {name!r} parameter must not be empty.")
    return df


def ordered(values: Iterable, preferred: Sequence = MODEL_ORDER) -> list:
    """Unique values, ``preferred`` ones first in that order, then the rest in order of appearance."""
    seen = list(dict.fromkeys(values))
    return [v for v in preferred if v in seen] + [v for v in seen if v not in preferred]


def palette(models: Sequence) -> dict:
    extra = iter(["#2ca02c", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf", "#d62728"])
    return {m: MODEL_COLORS.get(m) or next(extra, "#333333") for m in models}


def class_order(df: pd.DataFrame, col: str = "class") -> list:
    """Class names in label order when a ``label`` column exists, else in order of appearance."""
    if "label" in df.columns:
        sub = df[[col, "label"]].drop_duplicates().sort_values("label")
        return list(dict.fromkeys(sub[col]))
    return list(dict.fromkeys(df[col]))


def finite(x) -> np.ndarray:
    a = np.asarray(x, dtype=float)
    return a[np.isfinite(a)]
