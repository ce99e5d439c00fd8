"""Helpers shared by the ensemble modules: activity and membership conversion, layer groups, class means."""

from __future__ import annotations

from typing import Any

import numpy as np
import xarray as xr

from ... import conventions as C
from ..._validation import describe
from ...errors import ParameterError
from .._contract import Result
from .._input import matrix
from .._xr import is_dataarray, lazy_matrix, reduce_rows

CATEGORY = C.CATEGORY
OTHER = C.OTHER_CATEGORY
ENSEMBLE = C.ENSEMBLE


class _Streamed:
    """A dask-backed activity matrix (n_presentations, n_neuroids), checked but not loaded: kernels that can read it
    in blocks of presentations do so (:func:`_class_sums`); the others call :meth:`load`."""

    def __init__(self, data: Any):
        self.data = data

    @property
    def shape(self) -> tuple[int, int]:
        return tuple(int(v) for v in self.data.shape)

    @property
    def dtype(self) -> np.dtype:
        return self.data.dtype

    def load(self) -> np.ndarray:
        return np.asarray(self.data)


def _activity(x: Any, name: str = "x", *, stream: bool = False) -> tuple[Any, xr.DataArray | None]:
    """(n_presentations, n_neuroids) float array without NaN or +-inf, plus the DataArray (transposed) when given one
    (:func:`ensembles.analysis._input.matrix`, the one conversion path).  ``stream``: a dask-backed input is returned
    as a :class:`_Streamed` matrix (the same checks and dtype, in one pass, nothing loaded)."""
    lazy = lazy_matrix(x, name=name) if stream else None
    if lazy is not None:
        return _Streamed(lazy[0]), lazy[1]
    m = matrix(x, name=name)
    return m.values, m.da


def _class_sums(X: _Streamed, codes: np.ndarray, n_classes: int, transform=None) -> np.ndarray:
    """float64 class sums (n_codes * n_classes, n_neuroids) of a streamed matrix for each row of ``codes``
    (n_codes, n_presentations): per block of presentations, one float32 (float64 for float64 data) product of the
    stacked one-hot label matrices with the block (``transform(block)`` if given), accumulated in float64."""
    codes = np.atleast_2d(codes)
    n_codes = codes.shape[0]

    def f(block, rows):
        b = np.asarray(block) if transform is None else transform(np.asarray(block))
        c = codes[:, rows]
        oh = np.zeros((n_codes * n_classes, c.shape[1]), dtype=np.result_type(b.dtype, np.float32))
        oh[(np.arange(n_codes)[:, None] * n_classes + c).ravel(), np.tile(np.arange(c.shape[1]), n_codes)] = 1.0
        return np.asarray(oh @ b, dtype=np.float64)

    return reduce_rows(f, X.data)


def _neuroid_coords(da: xr.DataArray | None) -> dict:
    if da is None:
        return {}
    return {k: v.variable for k, v in da.coords.items() if v.dims == (C.NEUROID,)}


def _layer_groups(da: xr.DataArray | None, n: int, by_layer: bool | None) -> list[np.ndarray]:
    has_layer = da is not None and "layer" in da.coords and da.coords["layer"].dims == (C.NEUROID,)
    if by_layer is None:
        by_layer = has_layer
    if by_layer and not has_layer:
        raise ParameterError("by_layer=True needs a 'layer' coord along 'neuroid'; none was found.")
    if not by_layer:
        return [np.arange(n)]
    layer = np.asarray(da.coords["layer"].values)
    return [np.flatnonzero(layer == v) for v in np.unique(layer)]


def _class_means(X: np.ndarray, lab_idx: np.ndarray, n_classes: int) -> tuple[np.ndarray, np.ndarray]:
    counts = np.bincount(lab_idx, minlength=n_classes).astype(float)
    if isinstance(X, _Streamed):
        with np.errstate(invalid="ignore", divide="ignore"):
            return _class_sums(X, lab_idx, n_classes) / counts[:, None], counts
    onehot = np.zeros((X.shape[0], n_classes), dtype=np.result_type(X.dtype, np.float32))
    onehot[np.arange(X.shape[0]), lab_idx] = 1.0
    sums = onehot.T @ X
    with np.errstate(invalid="ignore", divide="ignore"):
        return sums / counts[:, None], counts


def _as_membership(m: Any, name: str = "membership") -> xr.DataArray:
    if isinstance(m, (xr.Dataset, Result)):
        if "members" not in m:
            raise ParameterError(f"The {name!r} parameter is a Dataset without a 'members' variable.")
        m = m["members"]
    if is_dataarray(m):
        if m.ndim != 2 or C.NEUROID not in m.dims:
            raise ParameterError(f"The {name!r} parameter must be 2-D with a 'neuroid' dim. Got {describe(m)} instead.")
        first = next(d for d in m.dims if d != C.NEUROID)
        return m.transpose(first, C.NEUROID).astype(bool)
    arr = np.asarray(m)
    if arr.ndim != 2:
        raise ParameterError(f"The {name!r} parameter must be 2-D (category, neuroid). Got {describe(arr)} instead.")
    if arr.dtype != bool:
        if not np.isin(arr, (0, 1)).all():
            raise ParameterError(f"The {name!r} parameter must be boolean (or 0/1). Got {describe(arr)} instead.")
        arr = arr.astype(bool)
    return xr.DataArray(arr, dims=(CATEGORY, C.NEUROID), coords={CATEGORY: np.arange(arr.shape[0])})
