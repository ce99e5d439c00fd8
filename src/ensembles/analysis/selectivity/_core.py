"""Shared machinery of the selectivity statistics: preparation of activity and labels, chunk-wise class sums and
moments, and the result container (the label-shuffle null is in :mod:`._shuffle`).  See
:mod:`ensembles.analysis.selectivity` for the conventions.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import xarray as xr

from ensembles import conventions as C
from ensembles._validation import describe
from ensembles.analysis import _xr
from ensembles.analysis._input import check_finite, check_nan_policy, class_names, resolve_labels, unwrap
from ensembles.errors import ParameterError

CLASS = C.CATEGORY  # the result dim of one entry per class (coord values: the class labels)


# --------------------------------------------------------------------------------------------------------------------
# preparation and chunk-wise sums
# --------------------------------------------------------------------------------------------------------------------


@dataclass
class _Ctx:
    lay: _xr.Layout
    data: Any  # (n_presentations, n_neuroids), numpy or dask
    classes: np.ndarray
    codes: np.ndarray
    counts: np.ndarray
    nan_policy: str
    names: np.ndarray | None = None  # class names (the recording's label_name), when known

    @property
    def k(self) -> int:
        return len(self.classes)

    @property
    def n(self) -> int:
        return int(self.codes.shape[0])

    @property
    def omit(self) -> bool:
        return self.nan_policy == "omit"


def _prepare(x: Any, labels: Any, dim: str, nan_policy: str, *, min_classes: int = 2) -> _Ctx:
    check_nan_policy(nan_policy)
    lay = _xr.to_last(x, dim)
    x = unwrap(x)
    if lay.data.ndim != 2:
        raise ParameterError(
            f"The 'x' parameter must be 2-D ({dim!r} x neuroids); select a checkpoint/run first. "
            f"Got {describe(x)} instead."
        )
    y = resolve_labels(x, labels, lay.n, dim=dim, min_classes=min_classes)
    classes, codes = np.unique(y, return_inverse=True)
    codes = codes.reshape(-1)
    counts = np.bincount(codes, minlength=len(classes))
    data, _ = check_finite(lay.data.T, nan_policy=nan_policy)
    names = class_names(lay.template.transpose(dim, ...) if lay.template is not None else None, y, classes, dim)
    return _Ctx(lay, data, classes, codes, counts, nan_policy, names)


def _onehot(codes: np.ndarray, k: int, dtype=np.float64) -> np.ndarray:
    m = np.zeros((k, codes.shape[0]), dtype=dtype)
    m[codes, np.arange(codes.shape[0])] = 1
    return m


def _pilot(ctx: _Ctx) -> np.ndarray:
    """A per-neuroid shift (the first presentation) subtracted before accumulating moments (avoids cancellation)."""
    (p,) = _xr.compute(ctx.data[0])
    p = np.asarray(p, dtype=np.float64)
    return np.where(np.isfinite(p), p, 0.0)


def _moments(ctx: _Ctx, shift: np.ndarray):
    """Per class sums S1, S2 of (x - shift), shape (k, n_neuroids), a per-neuroid NaN flag and the per-class counts.

    Counts: ``ctx.counts[:, None]`` (k, 1); under ``nan_policy="omit"`` the valid entries per class and neuroid
    (k, n_neuroids), NaN entries left out of the sums, and the flag all False.
    """
    codes, k = ctx.codes, ctx.k

    def f(block, rows, cols):
        # one float64 copy of the block, changed in place (the memory traffic bounds this reduction)
        b = np.array(block, dtype=np.float64)
        b -= shift[None, cols]
        bad = ~np.isfinite(b)
        any_bad = bool(bad.any())
        if any_bad:
            b[bad] = 0.0
        oh = _onehot(codes[rows], k)
        s1 = oh @ b
        np.multiply(b, b, out=b)
        nbad = bad.sum(0, keepdims=True).astype(np.float64) if any_bad else np.zeros((1, b.shape[1]))
        parts = [s1, oh @ b, nbad]
        if ctx.omit:
            parts.append(oh @ (~bad).astype(np.float64))
        return np.concatenate(parts, axis=0)

    res = _xr.reduce_rows(f, ctx.data, with_cols=True)
    if ctx.omit:
        return res[:k], res[k : 2 * k], np.zeros(res.shape[1], dtype=bool), res[2 * k + 1 :]
    return res[:k], res[k : 2 * k], res[2 * k] > 0, ctx.counts[:, None]


def _dataset(ctx: _Ctx, variables: dict, attrs: dict) -> xr.Dataset:
    """An ``xr.Dataset`` with a ``category`` dim for (class, neuroid) variables and, for labelled input, the neuroid
    coords of the input (the public functions' :func:`~ensembles.analysis._contract.keeps_labels` turns it into a
    :class:`~ensembles.analysis.Result` for numpy input)."""
    labelled = ctx.lay.template is not None
    kept = ctx.lay.kept_dims if labelled else (C.NEUROID,)
    out = {}
    for name, val in variables.items():
        val = np.asarray(val)
        out[name] = ((CLASS,) + tuple(kept), val) if val.ndim == 2 else (tuple(kept), val)
    coords: dict = {}
    if labelled:
        coords = dict(_xr.wrap_reduced(np.zeros(ctx.data.shape[1]), ctx.lay).coords)
        coords[CLASS] = ctx.classes
        if ctx.names is not None:
            coords[C.CLASS_NAME] = (CLASS, ctx.names)
    base = {"n_presentations": ctx.n, "n_classes": ctx.k, "classes": [str(c) for c in ctx.classes]}
    base.update(attrs)
    return xr.Dataset(out, coords=coords, attrs=base)
