"""numpy / xarray / dask plumbing shared by the analysis modules (no torch).

One pattern for all analysis functions (docs/methods.md §D5): a private numpy kernel that works on the *last* axis,
and a public wrapper that accepts either a numpy array of shape ``(n_presentations, n_neuroids)`` or an ``xr.DataArray``
(in memory or dask-backed), reduces a named dim and returns the kind it was given, keeping the other coords.

Stable helpers (also used by :mod:`ensembles.analysis.ensembles`):

- :func:`is_dataarray`, :func:`is_dask` -- type tests.
- :func:`numpy_axis` -- the axis a dim name stands for on a numpy ``(n_presentations, n_neuroids)`` array.
- :func:`to_last` -- move the reduced dim to the last axis; returns a :class:`Layout` (data + what is needed to wrap).
- :func:`wrap_reduced` -- turn the kernel's output (the reduced dim gone) into numpy or a DataArray with coords.
- :func:`compute` -- evaluate any dask arrays among the arguments in one pass; numpy passes through.
- :func:`apply_last` -- apply a numpy function over the last axis of a numpy or dask array (dask: rechunked so that
  the last axis is one chunk, then block by block).
- :func:`lazy_matrix` -- a dask-backed input as a validated ``(n_presentations, n_neuroids)`` dask array, not loaded.
- :func:`reduce_rows` -- chunk-wise sum over presentations of a per-block statistic (``func(block, rows)``), the
  way to compute class sums, moments and shuffle nulls of a dask-backed recording in one pass.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import xarray as xr

from ensembles import conventions as C
from ensembles._validation import describe
from ensembles.analysis._contract import is_dask
from ensembles.analysis._input import check_finite, matrix, unwrap
from ensembles.errors import InputTypeError, ParameterError

__all__ = [
    "Layout",
    "apply_last",
    "compute",
    "is_dask",
    "is_dataarray",
    "lazy_matrix",
    "numpy_axis",
    "reduce_rows",
    "to_last",
    "wrap_reduced",
]

_NUMPY_DIMS = (C.PRESENTATION, C.NEUROID)


def is_dataarray(x: Any) -> bool:
    """True for an ``xr.DataArray`` (in memory or dask-backed)."""
    return isinstance(x, xr.DataArray)


def numpy_axis(dim: str, *, name: str = "dim") -> int:
    """Axis of a numpy ``(n_presentations, n_neuroids)`` array that ``dim`` names (0 or 1)."""
    if not isinstance(dim, str):
        raise InputTypeError(f"The {name!r} parameter must be a dim name (str). Got {describe(dim)} instead.")
    if dim not in _NUMPY_DIMS:
        raise ParameterError(
            f"{name}={dim!r} not found in the dims of a numpy input {_NUMPY_DIMS} "
            f"(numpy arrays are read as (n_presentations, n_neuroids)); pass an xr.DataArray to use other dim names"
        )
    return _NUMPY_DIMS.index(dim)


@dataclass
class Layout:
    """A numeric array with the reduced dim last, plus what :func:`wrap_reduced` needs to rebuild the output."""

    data: Any  # numpy or dask array, reduced dim last
    dim: str
    template: xr.DataArray | None = None  # DataArray input transposed to (..., dim); None for numpy input
    kept_dims: tuple[str, ...] = ()
    extra: dict = field(default_factory=dict)

    @property
    def n(self) -> int:
        return int(self.data.shape[-1])


def to_last(x: Any, dim: str, *, name: str = "x") -> Layout:
    """Validate ``x`` (through :func:`ensembles.analysis._input.unwrap`: a recording gives its ``activity``) and
    move ``dim`` last.

    numpy/array-like input must be 2-D ``(n_presentations, n_neuroids)``; ``dim`` must then be ``"presentation"`` or
    ``"neuroid"``.  DataArray input may have any number of dims; ``dim`` must be one of them.  Boolean and integer
    data are converted to float64 (float32 stays float32; kernels accumulate in float64).
    """
    x = unwrap(x, name=name)
    if is_dataarray(x):
        if not isinstance(dim, str):
            raise InputTypeError(f"The 'dim' parameter must be a dim name (str). Got {describe(dim)} instead.")
        if dim not in x.dims:
            raise ParameterError(f"dim={dim!r} not found in {name} dims {tuple(x.dims)}")
        xt = x.transpose(..., dim)
        data = xt.data
        if data.dtype.kind == "b" or not np.issubdtype(data.dtype, np.floating):
            data = data.astype(np.float64)
        return Layout(data=data, dim=dim, template=xt, kept_dims=tuple(d for d in xt.dims if d != dim))
    axis = numpy_axis(dim)
    arr = x
    if arr.dtype.kind == "b" or not np.issubdtype(arr.dtype, np.floating):
        arr = arr.astype(np.float64)
    data = arr.T if axis == 0 else arr
    return Layout(data=data, dim=dim, template=None, kept_dims=("neuroid",) if axis == 0 else ("presentation",))


def wrap_reduced(
    values: np.ndarray,
    layout: Layout,
    *,
    name: str | None = None,
    attrs: dict | None = None,
    new_dims: Sequence[str] = (),
    new_coords: dict | None = None,
) -> Any:
    """Wrap ``values`` (shape = kept dims + ``new_dims``) like the input: numpy stays numpy, a DataArray gets the
    coords of the kept dims (coords that depend on the reduced dim are dropped) and ``attrs``."""
    values = np.asarray(values)
    if layout.template is None:
        return values
    t = layout.template
    kept = layout.kept_dims
    coords = {}
    for cname, c in t.coords.items():
        if layout.dim in c.dims:
            continue
        if all(d in kept for d in c.dims):
            coords[cname] = c.variable.copy(deep=False)
            if is_dask(c.variable):
                coords[cname] = c.variable.compute()
    if new_coords:
        coords.update(new_coords)
    return xr.DataArray(values, dims=tuple(kept) + tuple(new_dims), coords=coords, name=name, attrs=dict(attrs or {}))


def compute(*arrays: Any) -> tuple:
    """Evaluate dask arrays among ``arrays`` together (one pass over shared inputs); numpy arrays pass through."""
    if any(is_dask(a) for a in arrays):
        import dask

        return tuple(np.asarray(r) for r in dask.compute(*arrays))
    return tuple(np.asarray(a) if a is not None else None for a in arrays)


def apply_last(func: Callable[[np.ndarray], np.ndarray], a: Any, *, dtype=float, new_axis_size: int | None = None):
    """Apply a numpy function that reduces the last axis (optionally replacing it by an axis of ``new_axis_size``).

    For a dask array the last axis is rechunked into one chunk (memory: one chunk of the other axes times the full
    last axis) and ``func`` runs block by block; the result stays lazy.
    """
    if not is_dask(a):
        return func(np.asarray(a))
    last = a.ndim - 1
    a = a.rechunk({last: -1})
    if new_axis_size is None:
        return a.map_blocks(func, drop_axis=last, dtype=dtype)
    return a.map_blocks(func, chunks=a.chunks[:-1] + ((new_axis_size,),), dtype=dtype)


def lazy_matrix(x: Any, *, name: str = "x", float64: bool = False) -> tuple[Any, xr.DataArray | None] | None:
    """A dask-backed ``x`` as the dask array ``(n_presentations, n_neuroids)`` that
    :func:`ensembles.analysis._input.matrix` would load, and its labelled view; None when ``x`` is not dask-backed.

    The same checks as ``matrix`` (dims and type on the first presentation, any NaN or +-inf an error, in one pass
    over the data), the same dtype rule (integer and boolean data become float64, float32 stays float32 unless
    ``float64``); nothing is kept in memory.
    """
    xu = unwrap(x, name=name)
    if not is_dask(xu):
        return None
    first = xu.isel({C.PRESENTATION: slice(0, 1)}) if is_dataarray(xu) and C.PRESENTATION in xu.dims else xu[:1]
    da = matrix(first, name=name).da
    if da is not None:
        da = xu.transpose(C.PRESENTATION, C.NEUROID)
    arr = da.data if da is not None else xu
    if arr.dtype.kind == "b" or not np.issubdtype(arr.dtype, np.floating) or float64:
        arr = arr.astype(np.float64)
    check_finite(arr, allow_nan=False, name=name)
    return arr, da


def _add_to(acc: np.ndarray, part: np.ndarray, first: bool) -> np.ndarray:
    """``acc + part``; in place unless ``acc`` is a block's own result (``first``), which is left untouched."""
    if first:
        return acc + part
    acc += part
    return acc


def reduce_rows(func: Callable[..., np.ndarray], a: Any, *, with_cols: bool = False) -> np.ndarray:
    """Sum ``func(block, rows)`` over presentation blocks of a 2-D ``(n_presentations, n_neuroids)`` array.

    ``func`` receives a numpy block (a range of presentations x a range of neuroids) and the ``slice`` of presentation
    indices it covers, and returns an array whose **last** axis has one entry per neuroid of the block.  Results are
    summed over presentation blocks and concatenated over neuroid blocks.  For a dask array each block is read once
    and only the partial sums are kept in memory, so a recording larger than memory is reduced in one pass.
    With ``with_cols=True`` the function is called as ``func(block, rows, cols)`` with the neuroid ``slice`` too.
    """
    if not is_dask(a):
        arr = np.asarray(a)
        if with_cols:
            return np.asarray(func(arr, slice(0, arr.shape[0]), slice(0, arr.shape[1])))
        return np.asarray(func(arr, slice(0, arr.shape[0])))
    import dask

    row_edges = np.concatenate([[0], np.cumsum(a.chunks[0])]).astype(int)
    col_edges = np.concatenate([[0], np.cumsum(a.chunks[1])]).astype(int)
    blocks = a.to_delayed()

    def call(block, lo, hi, c0, c1):
        if with_cols:
            return np.asarray(func(np.asarray(block), slice(lo, hi), slice(c0, c1)))
        return np.asarray(func(np.asarray(block), slice(lo, hi)))

    f = dask.delayed(call, pure=True)
    add = dask.delayed(_add_to, pure=True)
    columns = []
    for j in range(blocks.shape[1]):
        c0, c1 = int(col_edges[j]), int(col_edges[j + 1])
        parts = [f(blocks[i, j], int(row_edges[i]), int(row_edges[i + 1]), c0, c1) for i in range(blocks.shape[0])]
        # a tree of groups of 8, each group summed left to right as a chain of pairwise additions: every partial
        # sum is released as soon as it is added (at most a few per worker are held, whatever their size)
        while len(parts) > 1:
            groups = []
            for k in range(0, len(parts), 8):
                acc = parts[k]
                for i, part in enumerate(parts[k + 1 : k + 8]):
                    acc = add(acc, part, i == 0)
                groups.append(acc)
            parts = groups
        columns.append(parts[0])
    results = dask.compute(*columns)
    return np.concatenate([np.asarray(r) for r in results], axis=-1)
