"""Figure 1: activation "walls" (docs/methods.md §A3.3), presentations grouped by class × neuroids."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ensembles._validation import as_activity, as_labels, describe
from ensembles.analysis import preference_order
from ensembles.errors import ParameterError

from ._style import layer_label, new_figure, ordered, titled

__all__ = ["wall_axes", "activation_walls", "order_neuroids_by_preference", "recording_layer"]


def order_neuroids_by_preference(x: Any, labels: Any) -> np.ndarray:
    """Column order that groups neuroids by preferred class so ensembles form blocks.

    Computed by :func:`ensembles.analysis.preference_order` (figures draw, analysis computes); kept here under its
    old name for the figure code.

    Returns
    -------
    ndarray of int, a permutation of ``range(n_neuroids)``.
    """
    return np.asarray(preference_order(as_activity(x), labels))


def wall_axes(
    ax,
    x: Any,
    labels: Any,
    *,
    class_names: Sequence[str] | None = None,
    order: str = "preferred",
    max_rows: int = 2000,
    vmax: float | str = "p99",
    cmap: str = "Blues",
    interpolation: str = "nearest",
    colorbar: bool = False,
):
    """Draw one activation wall into ``ax`` and return ``ax``.

    Rows are presentations sorted by class (every k-th row kept so that at most ``max_rows`` remain, as the
    authors kept every 5th), columns are neuroids (``order="preferred"`` groups them by preferred class,
    ``"natural"`` keeps index order).  Y ticks sit at the centre of each class band, computed from the class
    boundaries of the rows actually drawn (fixes the authors' hard-coded ticks, docs/methods.md §X17).

    Parameters
    ----------
    x : array-like of shape (n_presentations, n_neuroids)
    labels : array-like of shape (n_presentations,)
    class_names : sequence of str, optional
        Name of each class value in sorted order of the unique labels.
    vmax : float or "p99"
        Upper colour limit; ``"p99"`` uses the 99th percentile of the positive values drawn.
    """
    a = as_activity(x)
    y = as_labels(labels, a.shape[0], min_classes=1)
    if order not in ("preferred", "natural"):
        raise ParameterError(f"The 'order' parameter must be one of 'preferred', 'natural'. Got {order!r} instead.")
    if not isinstance(max_rows, int | np.integer) or max_rows < 1:
        raise ParameterError(f"The 'max_rows' parameter must be an int >= 1. Got {describe(max_rows)} instead.")
    classes = np.unique(y)
    if class_names is not None and len(class_names) != len(classes):
        raise ParameterError(
            f"The 'class_names' parameter must name the {len(classes)} classes present. Got {len(class_names)} names."
        )
    cols = order_neuroids_by_preference(a, y) if order == "preferred" else np.arange(a.shape[1])
    rows = np.argsort(y, kind="stable")
    step = max(1, int(np.ceil(len(rows) / max_rows)))
    rows = rows[::step]
    img = a[np.ix_(rows, cols)]
    ys = y[rows]
    if vmax == "p99":
        pos = img[img > 0]
        vmax_v = float(np.percentile(pos, 99)) if pos.size else 1.0
    else:
        vmax_v = float(vmax)
    im = ax.imshow(img, aspect="auto", cmap=cmap, vmin=0, vmax=vmax_v, interpolation=interpolation)
    bounds = np.flatnonzero(np.diff(ys)) + 1  # first row of each new class band
    starts = np.concatenate([[0], bounds])
    ends = np.concatenate([bounds, [len(ys)]])
    for b in bounds:
        ax.axhline(b - 0.5, color="0.5", lw=0.4)
    names = [str(c) for c in classes] if class_names is None else list(class_names)
    present = {c: i for i, c in enumerate(classes)}
    ax.set_yticks((starts + ends - 1) / 2.0)
    ax.set_yticklabels([names[present[c]] for c in ys[starts]], fontsize=7)
    ax.set_xlabel("neuroid" + (" (ordered by preferred class)" if order == "preferred" else ""))
    if step > 1:
        ax.set_ylabel(f"presentations (1 in {step})")
    else:
        ax.set_ylabel("presentations")
    if colorbar:
        ax.figure.colorbar(im, ax=ax, shrink=0.6, label="activity")
    return ax


def recording_layer(rec: Any, layer: int, *, correct_only: bool = True, checkpoint: int = -1):
    """``(x, labels, class_names, n_used)`` of one layer of a recording (xr.Dataset or DataArray).

    The presentations are those of :func:`ensembles.record.select_presentations` (the last checkpoint by default
    and, when a ``correct`` coord exists and ``correct_only``, the correctly classified presentations plus every
    presentation of a class held out of training: the paper's protocol, docs/methods.md §A3.1).
    """
    from ensembles.record.selection import select_presentations

    da = rec["activity"] if hasattr(rec, "data_vars") else rec
    da = select_presentations(da, correct_only=correct_only, checkpoint=checkpoint)
    if "layer" not in da.coords:
        raise ParameterError("The recording must have a 'layer' coord on the 'neuroid' dim.")
    da = da.isel(neuroid=np.flatnonzero(np.asarray(da["layer"].values) == layer))
    if da.sizes["neuroid"] == 0:
        raise ParameterError(f"The 'layer' parameter must be one of the recording's layers. Got {layer!r} instead.")
    labels = np.asarray(da["label"].values)
    names = None
    if "label_name" in da.coords:
        ln = np.asarray(da["label_name"].values)
        names = [str(ln[labels == c][0]) for c in np.unique(labels)]
    return np.asarray(da.transpose("presentation", "neuroid").values), labels, names, int(da.sizes["presentation"])


def activation_walls(
    recordings: Mapping[str, Any] | Any,
    *,
    layers: Sequence[int] | None = None,
    order: str = "preferred",
    correct_only: bool = True,
    max_rows: int = 1000,
    max_neuroids: int | None = None,
    interpolation: str = "nearest",
    layer_names: Mapping[int, str] | None = None,
    title: str | None = None,
):
    """Figure 1: one activation wall per model (rows) and layer (columns).

    Parameters
    ----------
    recordings : mapping of name -> recording (``xr.Dataset`` with ``activity``, or the DataArray), or one recording
    layers : sequence of int, optional
        Layers to draw (default: every layer of the first recording).
    order : {"preferred", "natural"}
    correct_only : bool
        Keep only correctly classified presentations when a ``correct`` coord exists.
    max_rows : int
        At most this many presentation rows per panel (every k-th row kept).
    max_neuroids : int, optional
        Draw only the first ``max_neuroids`` columns after ordering (None: all).
    layer_names : mapping, optional
        Panel titles for the ``layer`` values (e.g. brain areas of a neural recording whose units were grouped).
    title : str, optional

    Returns
    -------
    matplotlib.figure.Figure
    """
    if not isinstance(recordings, Mapping):
        recordings = {str(getattr(recordings, "attrs", {}).get("model", "recording")): recordings}
    if not recordings:
        raise ParameterError("The 'recordings' parameter must hold at least one recording.")
    names = ordered(recordings.keys())
    first = recordings[names[0]]
    first = first["activity"] if hasattr(first, "data_vars") else first
    if layers is None:
        layers = [int(v) for v in np.unique(first["layer"].values)]
    fig, axes = new_figure(len(names), len(layers), figsize=(3.4 * len(layers) + 0.8, 3.6 * len(names) + 0.6))
    for r, name in enumerate(names):
        for c, layer in enumerate(layers):
            x, y, cls, n = recording_layer(recordings[name], layer, correct_only=correct_only)
            ax = axes[r, c]
            if order == "preferred" or max_neuroids is not None:
                cols = order_neuroids_by_preference(x, y) if order == "preferred" else np.arange(x.shape[1])
                if max_neuroids is not None:
                    cols = cols[:max_neuroids]
                x = x[:, cols]
            wall_axes(ax, x, y, class_names=cls, order="natural", max_rows=max_rows, interpolation=interpolation)
            if order == "preferred":
                ax.set_xlabel("neuroid (ordered by preferred class)")
            lname = (layer_names or {}).get(layer) or layer_label(layer)
            ax.set_title(f"{name} · {lname} (n={n})" if len(names) > 1 else f"{lname} (n={n})", fontsize=9)
            if c:
                ax.set_ylabel("")
    return titled(fig, title, "Activation walls: presentations grouped by class × neuroids")
