"""Reading the tables of an NWB file for :func:`~ensembles.io.nwb.import_nwb`: columns as arrays, which columns
are plain, the presentation table and the response series to use, labels, and the coord names that
:func:`~ensembles.io.nwb.export_nwb` renamed."""

from __future__ import annotations

import numpy as np

from ensembles.errors import DataFileError, InputTypeError, ParameterError

from ._common import _ORIGINAL_NAME, _PRESENTATIONS, _SERIES, PROCESSING_MODULE


def _coord_values(arr: np.ndarray) -> np.ndarray | None:
    """A table column as coordinate values (strings, numbers, bools), or None if it cannot be one (NaN, objects)."""
    if arr.dtype.kind == "f" and np.any(np.isnan(arr)):
        return None
    if arr.dtype.kind in "OUS":
        return arr.astype(str)
    return arr if arr.dtype.kind in "iufb" else None


def _read_column(table, name: str) -> np.ndarray:
    col = table[name]
    data = col.data[:] if hasattr(col, "data") else col[:]
    arr = np.asarray(data)
    if arr.dtype.kind == "S":
        arr = np.char.decode(arr, "utf-8")
    elif arr.dtype.kind == "O":
        flat = arr.ravel()
        if flat.size and all(isinstance(v, (bytes, np.bytes_)) for v in flat):
            arr = np.array([v.decode("utf-8") for v in flat]).reshape(arr.shape)
        elif flat.size and all(isinstance(v, str) for v in flat):
            arr = arr.astype(str)
    return arr


def _simple_columns(table) -> list[str]:
    """Names of the scalar (non-ragged, 1-D, simple dtype) columns of a DynamicTable."""
    from hdmf.common import VectorIndex

    out = []
    for name in table.colnames:
        col = table[name]
        if isinstance(col, VectorIndex) or not hasattr(col, "data"):
            continue
        try:
            first = np.asarray(col.data[:1])
        except Exception:  # noqa: BLE001 - hdmf column types of other extensions fail in any way: not a coord
            continue
        if first.ndim != 1 or first.dtype.names is not None:
            continue
        out.append(name)
    return out


def _find_intervals(nwbfile, intervals: str | None, exported: bool):
    available = {}
    if nwbfile.intervals is not None:
        available.update({name: t for name, t in nwbfile.intervals.items()})
    if nwbfile.trials is not None:
        available["trials"] = nwbfile.trials
    if intervals not in (None, "auto"):
        if intervals not in available:
            raise ParameterError(
                f"The 'intervals' parameter names the table {intervals!r}, which the file lacks. "
                f"Available interval tables: {sorted(available) or 'none'}."
            )
        return intervals, available[intervals]
    if exported and _PRESENTATIONS in available:
        return _PRESENTATIONS, available[_PRESENTATIONS]
    for name in ("trials", _PRESENTATIONS):
        if name in available:
            return name, available[name]
    cands = [n for n in available if n.endswith("presentations")]
    if len(cands) == 1:
        return cands[0], available[cands[0]]
    raise DataFileError(
        "Could not choose the table of stimulus presentations: "
        + (
            f"several candidates {sorted(cands)}"
            if cands
            else f"available interval tables: {sorted(available) or 'none'}"
        )
        + ". Name it with intervals=<table name>."
    )


def _find_series(nwbfile, series: str | None, exported: bool):
    from pynwb import TimeSeries

    if exported and series is None:
        return _SERIES, nwbfile.processing[PROCESSING_MODULE][_SERIES]
    found = {}
    for obj in nwbfile.objects.values():
        if isinstance(obj, TimeSeries) and obj.data is not None and len(getattr(obj.data, "shape", ())) == 2:
            parent = obj.parent.name if obj.parent is not None else ""
            found[f"{parent}/{obj.name}"] = obj
    if series is not None:
        hits = [
            k for k in found if k == series or k.split("/", 1)[1] == series or k.split("/", 1)[0] == series
        ]
        if len(hits) != 1:
            raise ParameterError(
                f"The 'series' parameter {series!r} matches {len(hits)} 2-D response series. "
                f"Available (container/name): {sorted(found) or 'none'}."
            )
        return hits[0], found[hits[0]]
    if not found:
        return None, None
    roi = {k: v for k, v in found.items() if type(v).__name__ == "RoiResponseSeries"}
    pool = roi or found
    if len(pool) == 1:
        return next(iter(pool.items()))
    raise ParameterError(
        f"The file has several 2-D response series {sorted(pool)}; choose one with series=<container/name or name>."
    )


def _labels(values: np.ndarray, column: str, table_name: str, drop_unlabeled: bool):
    """(keep mask, label ints, label_name strings) from a label column."""
    n = values.shape[0]
    if values.dtype.kind in "US" or values.dtype.kind == "O":
        sv = np.array(["" if v is None else str(v) for v in values.ravel()])
        missing = (sv == "") | (np.char.lower(sv) == "nan")
    elif values.dtype.kind == "f":
        missing = np.isnan(values)
        sv = None
    elif values.dtype.kind in "iub":
        missing = np.zeros(n, dtype=bool)
        sv = None
    else:
        raise InputTypeError(
            f"The label column {column!r} of {table_name!r} must hold strings or numbers. Got dtype {values.dtype}."
        )
    if missing.any():
        if not drop_unlabeled:
            rows = np.flatnonzero(missing)
            raise DataFileError(
                f"{rows.size} of {n} presentations in {table_name!r} have no label in column {column!r} "
                f"(e.g. rows {rows[:5].tolist()}). Pass drop_unlabeled=True to leave them out, or choose another "
                "label_column."
            )
        if missing.all():
            raise DataFileError(f"No presentation in {table_name!r} has a label in column {column!r}.")
    keep = ~missing
    if sv is not None:
        names, codes = np.unique(sv[keep], return_inverse=True)
        return keep, codes.astype(np.int64), names[codes].astype(str)
    v = values[keep]
    if v.dtype.kind == "f":
        if not np.all(v == np.round(v)):
            names, codes = np.unique(v, return_inverse=True)
            return keep, codes.astype(np.int64), np.array([f"{x:g}" for x in names])[codes]
        v = v.astype(np.int64)
    v = v.astype(np.int64)
    return keep, v, np.array([str(x) for x in v])


def _original_names(table) -> dict[str, str]:
    """Column name -> coord name for tables written by :func:`export_nwb` (``presentation_split`` -> ``split``)."""
    out = {}
    for name in table.colnames:
        m = _ORIGINAL_NAME.match(str(getattr(table[name], "description", "") or ""))
        if m and m.group(2) != name:
            out[name] = m.group(2)
    return out


def _extra_coords(table, cols: list[str], out: dict, *, skip: set[str]) -> None:
    for name in cols:
        if name in out or name in skip or name in ("neuroid_id", "layer", "unit"):
            continue
        try:
            arr = _read_column(table, name)
        except Exception:  # noqa: BLE001 - hdmf column types of other extensions fail in any way: not a coord
            continue
        arr = _coord_values(arr) if arr.ndim == 1 else None
        if arr is not None:
            out[name] = arr
