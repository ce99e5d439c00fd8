"""The analysis contract in one place (no torch): the one result container and the one decorator that applies
"numpy in, numpy out; labelled in, labelled out" to every public analysis function.

Result shapes (``docs/architecture.md``, "The analysis contract"):

===========================================  ============================  =========================================
what the function computes                   numpy input                   labelled input (DataArray, recording)
===========================================  ============================  =========================================
one value per neuroid, class, pair, ...      ``numpy.ndarray``             ``xr.DataArray`` with the kept coords
one number                                   ``float`` (a numpy scalar)    0-d ``xr.DataArray`` with attrs
several named outputs                        :class:`Result`               ``xr.Dataset`` (same names and attrs)
a table by nature (one row per layer, ...)   ``pandas.DataFrame``          ``pandas.DataFrame``
===========================================  ============================  =========================================

A function computes its output once, labelled (``xr.DataArray``/``xr.Dataset``) or as a :class:`Result`, and
:func:`keeps_labels` converts it to the kind its input had (:func:`match_input`).  The reductions of results to a
few plain numbers (seed intervals, pair enrichment, zero-shot tests, ...) return a :class:`Result` of plain values
whatever they are given.  Inputs go through :mod:`ensembles.analysis._input` (validation) and
:mod:`ensembles.analysis._xr` (reductions along one dim, dask-aware).
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import numpy as np
import xarray as xr

__all__ = ["Result", "is_dask", "is_labelled", "keeps_labels", "match_input", "named_result"]

F = TypeVar("F", bound=Callable[..., Any])


def is_dask(a: Any) -> bool:
    """True for a dask array, or a DataArray backed by one."""
    if isinstance(a, xr.DataArray):
        a = a.data
    return type(a).__module__.split(".")[0] == "dask"


def is_labelled(x: Any) -> bool:
    """True for input whose results come back labelled: an ``xr.DataArray`` or a recording (``xr.Dataset``)."""
    return isinstance(x, (xr.DataArray, xr.Dataset))


class Result(dict):
    """Several named outputs of one analysis function, as plain numbers and numpy arrays.

    The same function called on a DataArray or a recording returns an ``xr.Dataset`` with the same variable names
    and attrs.  A ``dict`` (so ``pandas.DataFrame(res)``, ``{**res}`` and ``res["csi"]`` work) with attribute access
    (``res.csi``); ``res.attrs`` holds the metadata (counts, definitions, parameters), ``res.dims`` the dim names
    of each array, :meth:`row` the numbers and strings without the arrays (a table row) and :meth:`to_dataset`
    the labelled form.

    >>> r = Result({"value": 0.5, "draws": np.zeros(3)}, attrs={"statistic": "demo"}, dims={"draws": ("bootstrap",)})
    >>> r.value, r.row()
    (0.5, {'value': 0.5})
    >>> r.to_dataset()["draws"].dims
    ('bootstrap',)
    """

    __slots__ = ("attrs", "dims")

    def __init__(self, data: Mapping[str, Any], attrs: Mapping | None = None, dims: Mapping | None = None):
        super().__init__(data)
        self.attrs = dict(attrs or {})
        self.dims = {k: tuple(v) for k, v in (dims or {}).items()}

    def __getattr__(self, key: str) -> Any:
        try:
            return self[key]
        except KeyError:
            raise AttributeError(f"{type(self).__name__} has no field {key!r}; fields: {list(self)}") from None

    def __dir__(self):
        return sorted(set(super().__dir__()) | set(self))

    def __reduce__(self):
        return (type(self), (dict(self), self.attrs, self.dims))

    def __repr__(self) -> str:
        def short(v):
            if isinstance(v, str):
                return repr(v)
            a = np.asarray(v)
            return repr(a.item()) if a.ndim == 0 else f"array(shape={a.shape}, dtype={a.dtype})"

        body = ", ".join(f"{k}={short(v)}" for k, v in self.items())
        return f"Result({body})"

    def row(self) -> dict:
        """The fields that are one number or one string (a table row): the arrays left out."""
        return {k: v for k, v in self.items() if isinstance(v, str) or np.ndim(v) == 0}

    def to_dataset(self) -> xr.Dataset:
        """The result as an ``xr.Dataset``: arrays and numbers as variables along :attr:`dims` (coords without
        values), strings into the attrs."""
        data, attrs = {}, dict(self.attrs)
        for k, v in self.items():
            if isinstance(v, str):
                attrs.setdefault(k, v)
                continue
            a = np.asarray(v)
            data[k] = (self.dims.get(k, tuple(f"{k}_dim_{i}" for i in range(a.ndim))), a)
        return xr.Dataset(data, attrs=attrs)


def named_result(fields: tuple[str, ...], *values: Any) -> Result:
    """A :class:`Result` of plain values from the field names and the values in that order (the reductions of
    results to a few numbers: seed intervals, zero-shot tests, ...)."""
    return Result(dict(zip(fields, values, strict=True)))


def _plain(v: Any) -> Any:
    """A numpy array, or a numpy scalar for 0-d values (so that tables built from results hold numbers)."""
    a = np.asarray(v)
    return a[()] if a.ndim == 0 else a


def match_input(out: Any, labelled: bool) -> Any:
    """``out`` in the kind of the input: labelled input keeps DataArrays and Datasets (a :class:`Result` becomes
    its Dataset); numpy input gets numpy (a DataArray its values, a 0-d one a numpy scalar, a Dataset a
    :class:`Result` with the same names, dims and attrs, coords dropped).  Anything else passes through."""
    if labelled:
        return out.to_dataset() if isinstance(out, Result) else out
    if isinstance(out, xr.DataArray):
        return _plain(out.values)
    if isinstance(out, xr.Dataset):
        return Result({k: _plain(v.values) for k, v in out.data_vars.items()}, out.attrs,
                      {k: tuple(v.dims) for k, v in out.data_vars.items()})  # fmt: skip
    return out


def _any_labelled(value: Any) -> bool:
    if isinstance(value, (list, tuple)):
        return any(is_labelled(v) for v in value)
    return is_labelled(value)


def keeps_labels(*params: str) -> Callable[[F], F]:
    """Apply the contract to a public analysis function: its output is labelled when any of ``params`` (the names
    of its data parameters; a list or tuple counts when one of its items is labelled) is an ``xr.DataArray`` or a
    recording, and numpy otherwise (:func:`match_input`).  The function itself computes one form only.

    >>> @keeps_labels("x")
    ... def total(x):
    ...     return xr.DataArray(float(np.sum(x)), name="total")
    >>> total(np.ones((2, 2))), float(total(xr.DataArray(np.ones((2, 2)))))
    (np.float64(4.0), 4.0)
    """
    if not params:
        raise TypeError("keeps_labels needs the names of the parameters whose kind the output follows")

    def decorate(func: F) -> F:
        sig = inspect.signature(func)
        unknown = [p for p in params if p not in sig.parameters]
        if unknown:
            raise TypeError(f"keeps_labels: {func.__qualname__} has no parameter(s) {unknown}")

        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            try:
                bound = sig.bind_partial(*args, **kwargs).arguments
            except TypeError:  # a wrong call: let the function raise its own error
                bound = {}
            labelled = any(_any_labelled(bound.get(p)) for p in params)
            return match_input(func(*args, **kwargs), labelled)

        wrapper.labelled_by = params  # type: ignore[attr-defined]
        return wrapper  # type: ignore[return-value]

    return decorate
