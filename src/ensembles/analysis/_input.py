"""The one input path of the analysis layer: validation and conversion of what the public functions are given (no torch).

Every public function of :mod:`ensembles.analysis` that takes activity goes through :func:`unwrap` (recording ->
its ``activity``; type checks), then :func:`matrix` (functions that need the whole ``(n_presentations,
n_neuroids)`` matrix in memory) or :func:`ensembles.analysis._xr.to_last` (reductions along one dim, dask-aware),
and :func:`check_finite` (NaN and +-inf, one pass).  Labels go through :func:`resolve_labels`.  What comes back, and
in which kind, is :mod:`ensembles.analysis._contract`'s business (the result container and the decorator).
The same mistake therefore raises the same error everywhere:

=========================================================  ===================================================
mistake                                                    error
=========================================================  ===================================================
not an array (None, str, dict, ...), non-numeric dtype     :class:`~ensembles.errors.InputTypeError` (TypeError)
``labels`` missing or a coord name for a plain array       :class:`~ensembles.errors.InputTypeError` (TypeError)
a Dataset without ``activity``; wrong ndim or dims;        :class:`~ensembles.errors.ParameterError`
empty; a ``checkpoint`` dim where one matrix is needed;    (ValueError)
NaN/+-inf where not accepted; labels of the wrong length
=========================================================  ===================================================

The contract itself is written in ``docs/architecture.md`` ("The analysis contract") and checked over every public
function by ``tests/analysis/test_analysis_contract.py``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import xarray as xr

from ensembles import conventions as C
from ensembles._validation import describe
from ensembles.errors import InputTypeError, ParameterError

from ._contract import is_dask

__all__ = [
    "Matrix",
    "check_count",
    "check_finite",
    "check_nan_policy",
    "matrix",
    "resolve_labels",
    "unwrap",
]


# ---------------------------------------------------------------------------------------------------------------------
# type tests and unwrapping
# ---------------------------------------------------------------------------------------------------------------------
def _check_numeric(arr: Any, name: str) -> None:
    dtype = getattr(arr, "dtype", None)
    if dtype is None or not (np.issubdtype(dtype, np.number) or dtype.kind == "b"):
        raise InputTypeError(
            f"The {name!r} parameter must be a numeric array of shape (n_presentations, n_neuroids). "
            f"Got {describe(arr)} instead."
        )


def unwrap(x: Any, *, name: str = "x", ndim: int | None = 2) -> Any:
    """Return ``x`` as a DataArray (a recording gives its ``activity``), a dask array or a numpy array.

    Checks the type (numeric), that it is not empty and, for plain arrays, that it has ``ndim`` dims (None: any).
    DataArrays may have any dims; the functions check the dims they use.
    """
    if isinstance(x, xr.Dataset):
        if C.ACTIVITY not in x.data_vars:
            raise ParameterError(
                f"The {name!r} parameter must be a recording (an xr.Dataset with an {C.ACTIVITY!r} variable), a "
                f"DataArray or an array. Got a Dataset with variables {tuple(x.data_vars)} instead."
            )
        x = x[C.ACTIVITY]
    if isinstance(x, xr.DataArray):
        _check_numeric(x, name)
        if x.size == 0:
            raise ParameterError(f"The {name!r} parameter must not be empty. Got {describe(x)} instead.")
        return x
    if x is None or isinstance(x, (str, bytes, dict, set, Mapping)):
        raise InputTypeError(
            f"The {name!r} parameter must be array-like of shape (n_presentations, n_neuroids), a DataArray or a "
            f"recording. Got {describe(x)} instead."
        )
    if is_dask(x):
        arr = x
    else:
        try:
            arr = np.asarray(x)
        except (ValueError, TypeError) as err:  # ragged sequences, objects numpy cannot convert
            raise InputTypeError(
                f"The {name!r} parameter must be array-like of shape (n_presentations, n_neuroids). "
                f"Got {describe(x)} instead."
            ) from err
    _check_numeric(arr, name)
    if ndim is not None and arr.ndim != ndim:
        shape = "(n_presentations, n_neuroids)" if ndim == 2 else f"with {ndim} dims"
        raise ParameterError(
            f"The {name!r} parameter must be a {ndim}-D array of shape {shape}. Got {describe(arr)} instead."
        )
    if arr.size == 0:
        raise ParameterError(f"The {name!r} parameter must not be empty. Got {describe(arr)} instead.")
    return arr


def check_count(name: str, value: Any, minimum: int = 0) -> int:
    """An int >= ``minimum`` (``n_shuffles``, ``n_bootstrap``, ...): ParameterError otherwise (bools refused)."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ParameterError(f"The {name!r} parameter must be an int >= {minimum}. Got {describe(value)} instead.")
    return int(value)


# ---------------------------------------------------------------------------------------------------------------------
# non-finite values
# ---------------------------------------------------------------------------------------------------------------------
def check_nan_policy(nan_policy: Any, *, supported: tuple[str, ...] = C.NAN_POLICIES) -> str:
    """Validate ``nan_policy``: one of :data:`ensembles.conventions.NAN_POLICIES`, and among ``supported``."""
    if nan_policy not in C.NAN_POLICIES or nan_policy not in supported:
        raise ParameterError(
            f"The 'nan_policy' parameter must be one of {', '.join(repr(p) for p in supported)}. "
            f"Got {nan_policy!r} instead."
        )
    return nan_policy


def _counts(a: Any) -> tuple[int, int, int]:
    """(n_nan, n_+inf, n_-inf) of a numpy or dask array (dask: one pass)."""
    parts = (np.isnan(a).sum(), np.isposinf(a).sum(), np.isneginf(a).sum())
    if is_dask(a):
        import dask

        parts = dask.compute(*parts)
    return tuple(int(p) for p in parts)  # type: ignore[return-value]


def check_finite(
    a: Any,
    *,
    nan_policy: str = "propagate",
    allow_nan: bool = True,
    name: str = "x",
    extra: tuple = (),
) -> tuple[Any, tuple]:
    """Apply the contract's rule for NaN and +-inf to the numeric array ``a`` (numpy or dask).

    * +inf and -inf are treated alike: an error (naming ``name`` and the counts) unless ``nan_policy="omit"``, which
      turns both into NaN so that they are skipped like NaN.
    * NaN: an error under ``nan_policy="raise"`` or when the function cannot handle NaN (``allow_nan=False``);
      otherwise left for the function's ``nan_policy`` (``"propagate"``: a statistic touching a NaN is NaN;
      ``"omit"``: skipped).

    ``extra`` holds further lazy (dask) checks to evaluate in the same pass over the data; their values are returned.
    Returns ``(a, extra_values)``.
    """
    ok = np.isfinite(a).all()
    if is_dask(a) or any(is_dask(e) for e in extra):
        import dask

        ok, *vals = dask.compute(ok, *extra)
    else:
        vals = [np.asarray(e) for e in extra]
    if bool(ok):
        return a, tuple(vals)
    n_nan, n_pos, n_neg = _counts(a)
    n_inf = n_pos + n_neg
    if not allow_nan and (n_inf or n_nan) and nan_policy != "omit":
        raise ParameterError(
            f"The {name!r} parameter must contain only finite values; it contains {n_nan + n_inf} non-finite "
            f"value(s): {n_nan} NaN, {n_pos} +inf, {n_neg} -inf."
        )
    if n_inf and nan_policy != "omit":
        raise ParameterError(
            f"The {name!r} parameter must contain only finite values; it contains {n_inf} infinite value(s) "
            f"(+inf: {n_pos}, -inf: {n_neg}) and {n_nan} NaN. +inf and -inf are errors under nan_policy="
            f"{nan_policy!r}; pass nan_policy='omit' to skip them like NaN, or remove them first."
        )
    if n_nan and (nan_policy == "raise" or not allow_nan):
        why = "under nan_policy='raise'" if nan_policy == "raise" else "here"
        raise ParameterError(
            f"The {name!r} parameter must contain only finite values {why}; it contains {n_nan} NaN "
            f"(and {n_inf} infinite value(s))."
            + (" Use nan_policy='omit' or 'propagate' to keep going." if nan_policy == "raise" else "")
        )
    if n_inf:  # nan_policy == "omit": +-inf are skipped like NaN
        a = np.where(np.isinf(a), np.nan, a) if not is_dask(a) else a.map_blocks(
            lambda b: np.where(np.isinf(b), np.nan, b), dtype=a.dtype)
    return a, tuple(vals)


# ---------------------------------------------------------------------------------------------------------------------
# whole matrices
# ---------------------------------------------------------------------------------------------------------------------
@dataclass
class Matrix:
    """An activity matrix in memory, ``values`` of shape (n_presentations, n_neuroids), and its labelled view."""

    values: np.ndarray
    da: xr.DataArray | None  # transposed to (presentation, neuroid); None for plain-array input

    @property
    def labelled(self) -> bool:
        return self.da is not None


def matrix(
    x: Any,
    *,
    name: str = "x",
    float64: bool = False,
    allow_nan: bool = False,
    nan_policy: str = "propagate",
) -> Matrix:
    """Convert ``x`` (array-like, DataArray, dask-backed DataArray or recording) to an in-memory matrix.

    A DataArray must have exactly the dims ``("presentation", "neuroid")`` in any order (a ``checkpoint`` dim must be
    selected first).  Integer and boolean data become float64; float32 stays float32 unless ``float64``.
    Non-finite values follow :func:`check_finite` (by default any NaN or +-inf is an error).
    """
    x = unwrap(x, name=name)
    da = None
    if isinstance(x, xr.DataArray):
        if C.CHECKPOINT in x.dims:
            raise ParameterError(
                f"The {name!r} parameter has a {C.CHECKPOINT!r} dim ({x.sizes[C.CHECKPOINT]} checkpoints); select "
                f"one first, e.g. x.isel(checkpoint=-1)."
            )
        missing = [d for d in (C.PRESENTATION, C.NEUROID) if d not in x.dims]
        if missing or x.ndim != 2:
            raise ParameterError(
                f"The {name!r} parameter must have dims ('presentation', 'neuroid'). Got {describe(x)} instead."
            )
        da = x.transpose(C.PRESENTATION, C.NEUROID)
        arr = np.asarray(da.data)
    else:
        arr = np.asarray(x)
    if arr.dtype.kind == "b" or not np.issubdtype(arr.dtype, np.floating) or float64:
        arr = arr.astype(np.float64)
    arr, _ = check_finite(arr, nan_policy=nan_policy, allow_nan=allow_nan, name=name)
    return Matrix(arr, da)


# ---------------------------------------------------------------------------------------------------------------------
# labels
# ---------------------------------------------------------------------------------------------------------------------
def resolve_labels(
    x: Any,
    labels: Any,
    n: int | None = None,
    *,
    dim: str = C.PRESENTATION,
    default: str | None = "label",
    name: str = "labels",
    min_classes: int = 1,
) -> np.ndarray:
    """Class labels, one per presentation: an array-like, or (labelled ``x``) the name of a coord along ``dim``.

    ``labels=None`` uses the coord ``default`` of a labelled input.  For a plain-array ``x``, a missing label array
    (None, or a coord name) is an :class:`InputTypeError`.  Checks length ``n``, NaN and ``min_classes``.
    """
    if isinstance(x, xr.Dataset):
        x = unwrap(x)
    if labels is None or isinstance(labels, str):
        coord = default if labels is None else labels
        if not isinstance(x, xr.DataArray) or coord is None:
            raise InputTypeError(
                f"The {name!r} parameter must be an array of one class label per presentation for a plain array "
                f"input (a coord name such as 'label' needs a DataArray or recording). Got {describe(labels)} "
                "instead."
            )
        if coord not in x.coords:
            avail = [c for c in x.coords if x.coords[c].dims == (dim,)]
            raise ParameterError(
                f"The {name!r} parameter names the presentation coordinate {coord!r}, which the input lacks (coord "
                f"{coord!r} not found along {dim!r}). Available presentation coordinates: {avail}."
            )
        c = x.coords[coord]
        if c.dims != (dim,):
            raise ParameterError(
                f"The {name!r} parameter names coord {coord!r} with dims {c.dims}; expected a coord along ({dim!r},)"
            )
        arr = np.asarray(c.values)
    else:
        arr = np.asarray(labels.values if isinstance(labels, xr.DataArray) else labels)
    if arr.ndim != 1:
        raise ParameterError(f"The {name!r} parameter must be 1-D. Got {describe(arr)} instead.")
    if n is not None and arr.shape[0] != n:
        raise ParameterError(
            f"The {name!r} parameter must have one entry per presentation ({n}). Got length {arr.shape[0]} instead."
        )
    if arr.dtype.kind == "f" and np.any(np.isnan(arr)):
        raise ParameterError(f"The {name!r} parameter must not contain NaN.")
    if min_classes > 1:
        k = len(np.unique(arr))
        if k < min_classes:
            raise ParameterError(
                f"The {name!r} parameter must contain at least {min_classes} distinct classes. Got {k} instead."
            )
    return arr


def class_names(da: xr.DataArray | None, labels: np.ndarray, classes: np.ndarray, dim: str = C.PRESENTATION):
    """Name of each class (the ``label_name`` coord of a recording at the first presentation of the class)."""
    if da is None or "label_name" not in da.coords or da.coords["label_name"].dims != (dim,):
        return None
    names = np.asarray(da.coords["label_name"].values)
    if names.shape[0] != labels.shape[0]:
        return None
    first = [int(np.flatnonzero(labels == c)[0]) for c in classes]
    return names[first].astype(str)
