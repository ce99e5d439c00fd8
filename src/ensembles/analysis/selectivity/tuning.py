"""Class tuning of single neuroids: class means, preferred class, the preference order of Figure 1 and the sparseness
of the class tuning curve (docs/methods.md §A2)."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import xarray as xr

from ensembles import conventions as C
from ensembles.analysis import _xr
from ensembles.analysis._contract import keeps_labels
from ensembles.analysis._input import class_names, matrix, resolve_labels, unwrap
from ensembles.analysis.sparsity import _engine as _sp
from ensembles.analysis.sparsity import condition_means

from ._core import CLASS, _dataset, _moments, _pilot, _prepare
from ._shuffle import _check_shuffles, _permutations, _pvalues, _shuffle_attrs, _shuffle_null

__all__ = ["class_means", "preferred_class", "preference_order", "tuning_sparseness"]


# --------------------------------------------------------------------------------------------------------------------
# class means, preferred class
# --------------------------------------------------------------------------------------------------------------------


@keeps_labels("x")
def class_means(x: Any, labels: Any = None, *, dim: str = C.PRESENTATION, nan_policy: str = "propagate") -> Any:
    """Class-conditional mean response of every neuroid.

    Parameters
    ----------
    x : array-like of shape (n_presentations, n_neuroids), 2-D xr.DataArray or recording
    labels : array-like of length n_presentations, or the name of a coord along ``dim`` (default ``"label"``)
    dim : str
    nan_policy : {"propagate", "omit", "raise"}

    Returns
    -------
    numpy.ndarray of shape (n_classes, n_neuroids) (classes in sorted order) or xr.DataArray with dims
    (``"category"``, neuroid dim), a ``category`` coord (the class labels), ``class_name`` when the input has
    ``label_name``, and an ``n_presentations`` coord per class.
    """
    x = unwrap(x)
    y = resolve_labels(x, labels, x.sizes[dim] if _xr.is_dataarray(x) and dim in x.dims else None, dim=dim)
    out = condition_means(x, y, dim=dim, new_dim=CLASS, nan_policy=nan_policy)
    if _xr.is_dataarray(out):
        out.name = "class_mean"
        out.attrs = {"statistic": "class_mean", "dim": dim, "nan_policy": nan_policy}
        names = class_names(x, y, out[CLASS].values, dim)
        if names is not None:
            out = out.assign_coords({C.CLASS_NAME: (CLASS, names)})
    return out


@keeps_labels("x")
def preferred_class(x: Any, labels: Any = None, *, dim: str = C.PRESENTATION) -> Any:
    """The class with the highest mean response per neuroid (ties: the first in sorted order), as a class label."""
    ctx = _prepare(x, labels, dim, "propagate", min_classes=1)
    shift = _pilot(ctx)
    s1, _, _, cnt = _moments(ctx, shift)
    means = s1 / cnt + shift
    pref = ctx.classes[np.argmax(means, axis=0)]
    return _xr.wrap_reduced(pref, ctx.lay, name="preferred_class", attrs={"statistic": "preferred_class"})


@keeps_labels("x")
def preference_order(x: Any, labels: Any = None) -> Any:
    """Neuroid order that groups neuroids by preferred class, so that category ensembles form blocks (Figure 1).

    Neuroids are sorted by preferred class (argmax of the NaN-skipping class means; classes in sorted order), within
    a class by decreasing contrast (preferred-class mean minus the mean of the other class means), and silent
    neuroids (all zero) go last.

    Parameters
    ----------
    x : array-like of shape (n_presentations, n_neuroids), DataArray (presentation, neuroid) or recording
    labels : array-like of length n_presentations, or the name of a presentation coord (default ``"label"``)

    Returns
    -------
    numpy.ndarray of int (a permutation of ``range(n_neuroids)``), or, for labelled input, a DataArray of those
    indices along ``neuroid`` carrying the neuroid coords in the new order.
    """
    m = matrix(x, allow_nan=True)
    a = m.values
    y = resolve_labels(m.da if m.da is not None else a, labels, a.shape[0])
    classes = np.unique(y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a class with a NaN-only neuroid: NaN mean, never preferred
        means = np.stack([np.nanmean(a[y == c], axis=0) for c in classes])  # (n_classes, n_neuroids)
    pref = np.nanargmax(np.where(np.isnan(means), -np.inf, means), axis=0)
    k = len(classes)
    rest = (np.nansum(means, axis=0) - means[pref, np.arange(a.shape[1])]) / max(k - 1, 1)
    contrast = means[pref, np.arange(a.shape[1])] - rest
    silent = ~(np.abs(np.nan_to_num(a)).sum(axis=0) > 0)
    order = np.lexsort((-contrast, pref, silent))  # lexsort: the last key is primary
    if m.da is None:
        return order
    da = m.da.isel({C.NEUROID: order})
    coords = {n: c.variable for n, c in da.coords.items() if c.dims == (C.NEUROID,)}
    return xr.DataArray(order, dims=(C.NEUROID,), coords=coords, name="preference_order",
                        attrs={"statistic": "preference_order"})


# --------------------------------------------------------------------------------------------------------------------
# tuning sparseness
# --------------------------------------------------------------------------------------------------------------------


def _transform_negative(a: np.ndarray, negative: str) -> np.ndarray:
    if negative == "clip":
        return np.maximum(a, 0.0)
    if negative == "abs":
        return np.abs(a)
    if negative == "shift":
        return a - np.nanmin(a, axis=-1, keepdims=True)
    return a


@keeps_labels("x")
def tuning_sparseness(
    x: Any,
    labels: Any = None,
    *,
    measure: str = "vinje-gallant",
    negative: str = "raise",
    n_shuffles: int = 1000,
    random_state: Any = None,
    dim: str = C.PRESENTATION,
    nan_policy: str = "propagate",
) -> xr.Dataset:
    """Sparseness of each neuroid's class tuning curve: a :mod:`~ensembles.analysis.sparsity` measure applied to the
    k class means (lifetime sparseness across classes; Vinje & Gallant 2000 by default).

    Returns
    -------
    xr.Dataset with ``tuning_sparseness``, ``p`` (label shuffles; for ``"treves-rolls"``, where small is sparse, the
    test is on 1 - a), ``q``.  Silent neuroids give NaN (``n_silent``).
    """
    m = _sp._canonical(measure)
    n_shuffles = _check_shuffles(n_shuffles)
    ctx = _prepare(x, labels, dim, nan_policy)
    shift = _pilot(ctx)
    s1, _, bad, cnt = _moments(ctx, shift)
    means = (s1 / cnt + shift).T  # (n_neuroids, k)
    means = np.where(bad[:, None], np.nan, means)
    a = _sp._apply_policies(means, negative=negative, nan_policy="propagate", measure=m, name="x (class means)")

    def stat(arr):
        v, n, vmax, vmin = _sp._compute_measure(arr, m, "propagate")
        return _sp._edge_cases(v, n, vmax, vmin, m)

    value, silent, _ = stat(a)
    null = None
    if n_shuffles:
        perm = _permutations(ctx, n_shuffles, random_state)

        def null_stat(ps1, _, pcnt, c):
            pm = np.swapaxes(ps1 / pcnt + shift[c], -1, -2)  # (n_shuffles, n_neuroids, k)
            if negative == "raise" and np.any(pm < 0):
                pm = np.maximum(pm, 0.0)  # only reachable through round-off when the observed means are >= 0
            return stat(_transform_negative(pm, negative))[0]

        null = _shuffle_null(ctx, perm, shift, null_stat, squares=False)
    sign = -1.0 if m == "treves-rolls" else 1.0
    p, q = _pvalues(sign * value, None if null is None else sign * null)
    attrs = {
        "statistic": "tuning_sparseness",
        "measure": m,
        "definition": _sp.DEFINITIONS[m] + " -- applied to the class means",
        "negative": negative,
        "n_silent": int(silent.sum()),
        **_shuffle_attrs(n_shuffles, random_state),
    }
    return _dataset(ctx, {"tuning_sparseness": value, "p": p, "q": q}, attrs)
