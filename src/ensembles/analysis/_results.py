"""The result containers of the analysis layer (no torch): :class:`Result` (several named numpy outputs),
:class:`ResultFields` / :class:`ScalarResultFields` (frozen dataclass results), and the constructors that give labelled
input labelled output (:func:`make_result`, :func:`scalar_result`, :func:`unlabel`).  Re-exported by
:mod:`ensembles.analysis._input`, the one input-conversion path.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import asdict, field, fields
from typing import Any

import numpy as np
import xarray as xr

__all__ = [
    "Result",
    "ResultFields",
    "ScalarResultFields",
    "array_field",
    "make_result",
    "scalar_result",
    "unlabel",
]


class Result(dict):
    """Several named numpy outputs of one analysis function called on numpy input.

    The same function called on a DataArray or a recording returns an ``xr.Dataset`` with the same variable names
    and attrs.  A ``dict`` (so ``pandas.DataFrame(res)``, ``{**res}`` and ``res["csi"]`` work) with attribute access
    (``res.csi``); ``res.attrs`` holds the metadata (counts, definitions, parameters), ``res.dims`` the dim names
    of each variable, and :meth:`to_dataset` labels it.
    """

    __slots__ = ("attrs", "dims")

    def __init__(self, data: Mapping[str, Any], attrs: Mapping | None = None, dims: Mapping | None = None):
        super().__init__(data)
        self.attrs = dict(attrs or {})
        self.dims = dict(dims or {})

    def __getattr__(self, key: str) -> Any:
        try:
            return self[key]
        except KeyError:
            raise AttributeError(f"{type(self).__name__} has no field {key!r}; fields: {list(self)}") from None

    def __dir__(self):
        return sorted(set(super().__dir__()) | set(self))

    def __repr__(self) -> str:
        def short(v):
            a = np.asarray(v)
            return repr(a.item()) if a.ndim == 0 else f"array(shape={a.shape}, dtype={a.dtype})"

        body = ", ".join(f"{k}={short(v)}" for k, v in self.items())
        return f"Result({body})"

    def to_dataset(self) -> xr.Dataset:
        """The result as an ``xr.Dataset`` (dims as recorded, coords without values)."""
        return xr.Dataset(
            {k: (self.dims.get(k, tuple(f"dim_{i}" for i in range(np.ndim(v)))), np.asarray(v))
             for k, v in self.items()},  # fmt: skip
            attrs=self.attrs,
        )


class ResultFields(Mapping):
    """Mixin for the frozen dataclass results (``DecodingResult``, ``RDMComparison``, ...): the same access as
    :class:`Result` (keys, attributes) and :meth:`to_dataset`.  ``_dims`` maps array fields to their dims."""

    _dims: dict = {}

    def __getitem__(self, key: str) -> Any:
        if key not in self._field_names():
            raise KeyError(key)
        return getattr(self, key)

    def __iter__(self) -> Iterator[str]:
        return iter(self._field_names())

    def __len__(self) -> int:
        return len(self._field_names())

    @classmethod
    def _field_names(cls) -> list[str]:
        return [f.name for f in fields(cls)]  # type: ignore[arg-type]

    @property
    def attrs(self) -> dict:
        """The string-valued fields (method names, ...), as they go into the attrs of :meth:`to_dataset`."""
        return {k: getattr(self, k) for k in self._field_names() if isinstance(getattr(self, k), str)}

    def to_dataset(self, coords: Mapping | None = None, attrs: Mapping | None = None) -> xr.Dataset:
        """Numbers become 0-d variables, arrays variables along ``_dims``, strings attrs."""
        data = {}
        for k in self._field_names():
            v = getattr(self, k)
            if isinstance(v, str):
                continue
            data[k] = (self._dims.get(k, ()), np.asarray(v))
        return xr.Dataset(data, coords=dict(coords or {}), attrs={**self.attrs, **dict(attrs or {})})


def array_field(*dims: str) -> Any:
    """The dataclass field of an array of a :class:`ScalarResultFields` result (bootstrap values, fold accuracies,
    eigenvalues, ...) along ``dims``: left out of repr, comparison and :meth:`ScalarResultFields.as_dict`."""
    return field(repr=False, compare=False, metadata={"dims": tuple(dims)})


class ScalarResultFields(ResultFields):
    """:class:`ResultFields` whose array fields are declared with :func:`array_field` (``_dims`` is read from them),
    with :meth:`as_dict`: the fields as a table row, without the arrays."""

    @property
    def _dims(self) -> dict:  # type: ignore[override]
        return {f.name: f.metadata["dims"] for f in fields(self) if "dims" in f.metadata}

    def as_dict(self) -> dict:
        d = asdict(self)
        for k in self._dims:
            d.pop(k)
        return d


def make_result(
    labelled: bool,
    variables: Mapping[str, tuple[tuple[str, ...], Any]],
    *,
    coords: Mapping | None = None,
    attrs: Mapping | None = None,
) -> xr.Dataset | Result:
    """Several outputs: an ``xr.Dataset`` (``coords`` attached) when the input was labelled, else a :class:`Result`
    of the numpy values (same names, same attrs)."""
    attrs = dict(attrs or {})
    if labelled:
        return xr.Dataset(dict(variables), coords=dict(coords or {}), attrs=attrs)
    return Result({k: _plain(v) for k, (_, v) in variables.items()}, attrs,
                  {k: tuple(d) for k, (d, _) in variables.items()})  # fmt: skip


def _plain(v: Any) -> Any:
    """A numpy array, or a numpy scalar for 0-d values (so that tables built from results hold numbers)."""
    a = np.asarray(v)
    return a[()] if a.ndim == 0 else a


def unlabel(obj: Any, labelled: bool) -> Any:
    """Return ``obj`` for labelled input; otherwise strip the labels: a DataArray becomes its numpy values, a Dataset
    a :class:`Result` (data variables, attrs and dims; coords dropped)."""
    if labelled:
        return obj
    if isinstance(obj, xr.DataArray):
        return np.asarray(obj.values)
    if isinstance(obj, xr.Dataset):
        return Result({k: _plain(v.values) for k, v in obj.data_vars.items()}, obj.attrs,
                      {k: tuple(v.dims) for k, v in obj.data_vars.items()})  # fmt: skip
    return obj


def scalar_result(value: float, labelled: bool, *, name: str, attrs: Mapping | None = None) -> Any:
    """One number: a Python float for plain-array input, a 0-d ``xr.DataArray`` with ``attrs`` for labelled input."""
    if labelled:
        return xr.DataArray(float(value), name=name, attrs=dict(attrs or {}))
    return float(value)
