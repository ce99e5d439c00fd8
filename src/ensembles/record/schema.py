"""The recording schema and its validator.

A *recording* is an :class:`xarray.Dataset` whose main variable ``activity`` (float32) has dims
``("presentation", "neuroid")`` or ``("checkpoint", "presentation", "neuroid")``; the vocabulary (dim, coord
and attr names, and the dtype kind of every coord) lives in :mod:`ensembles.conventions`.

Rules checked by :func:`validate_recording` (every violation is collected and reported in one ``ValueError``):

* ``activity`` exists, is float32 and has one of the two dim layouts above.  NaN *in activity* is allowed
  (a silent unit, a masked trial); it is a matter for the analysis, not the schema.
* Presentation coords: the required ones (``stimulus_id``, ``label``, ``label_name``, ``split``) have dims
  ``("presentation",)``; optional ones (``embedded_label``, ``predicted``, ``correct``, ``held_out``,
  ``repetition``) may also have dims ``("checkpoint", "presentation")`` when a checkpoint dim exists (a
  prediction changes during training).  Each has the numpy dtype kind given in the conventions: ``"U"``
  (unicode strings, not ``object``), ``"i"`` (signed integers) or ``"b"`` (bool).
* Each ``label_name`` names one label (two labels sharing a name would make per-class tables ambiguous).
* Neuroid coords ``neuroid_id`` (unique strings), ``layer`` (1-based ints) and ``unit`` (ints >= 0) with dims
  ``("neuroid",)``.
* With a checkpoint dim: coord ``epoch`` (ints) on ``("checkpoint",)``.  A scalar ``epoch`` coord is fine
  (the result of ``rec.isel(checkpoint=k)``).
* No coord contains NaN (or NaT).
* Attributes (of the dataset and of every variable): only strings and real numbers -- ``str``, ``int``,
  ``float`` or numpy integer/floating scalars.  Booleans are **rejected** (netCDF has no boolean attribute
  type, so they would not survive a round trip: store ``0``/``1``); ``None``, dicts, lists, arrays and other
  objects are rejected (store structured metadata as a JSON string, like ``config``).
* The attrs in :data:`ensembles.conventions.REQUIRED_ATTRS` are present, with types: ``seed`` an integer
  (-1 when not applicable), ``config`` a JSON string, ``created`` an ISO-8601 timestamp, the others strings.
* The attributes ``complete`` and ``metadata_sha256`` are reserved for the on-disk completeness marker of streamed
  files (:class:`~ensembles.record.RecordingWriter`) and the on-disk checksum of coords and attrs
  (:func:`metadata_digest`); they must not appear in an in-memory recording.
"""

from __future__ import annotations

import datetime as _dt
import json
import numbers
from typing import Any

import numpy as np
import xarray as xr

from ensembles import conventions as C
from ensembles.errors import DataFileError, InputTypeError

SCHEMA_VERSION = C.SCHEMA_VERSION

#: attribute name of the on-disk completeness marker (1 = complete, 0 = a writer is/was still writing)
COMPLETE_ATTR = "complete"
#: attribute name of the on-disk checksum of everything but the activity values (see :func:`metadata_digest`)
METADATA_HASH_ATTR = "metadata_sha256"
#: attributes that exist only on disk and are removed on load
ON_DISK_ATTRS = (COMPLETE_ATTR, METADATA_HASH_ATTR)
#: suffix of the temporary name a RecordingWriter writes under until it is closed
PARTIAL_SUFFIX = ".partial"

_KIND_NAMES = {"U": "unicode strings (numpy dtype kind 'U')", "i": "signed integers", "b": "booleans"}

#: optional presentation coords that may vary per checkpoint (dims ("checkpoint", "presentation"))
PER_CHECKPOINT_OK = tuple(C.PRESENTATION_COORDS_OPTIONAL)


class RecordingError(DataFileError):
    """A file or object is not a (valid) ensembles recording."""


class RecordingIncompleteError(RecordingError):
    """A streamed recording whose writer never finished (killed, crashed or still running)."""


def is_valid_attr_value(value: Any) -> bool:
    """True if ``value`` may be stored as a recording attribute (a string or a real, non-bool number scalar)."""
    if isinstance(value, (bool, np.bool_)):
        return False
    if isinstance(value, (str, np.str_)):
        return True
    if isinstance(value, (np.integer, np.floating)):
        return True
    return isinstance(value, numbers.Real) and isinstance(value, (int, float))


def _attr_problem(where: str, key: Any, value: Any) -> str | None:
    if not isinstance(key, str):
        return f"{where} attribute name {key!r} is not a string"
    if is_valid_attr_value(value):
        return None
    if isinstance(value, (bool, np.bool_)):
        hint = "booleans are not netCDF-serialisable; store 0/1 as an int"
    elif value is None:
        hint = "None is not serialisable; omit the attribute or use a sentinel such as '' or -1"
    elif isinstance(value, (dict, list, tuple, set, np.ndarray)):
        hint = "only scalars and strings are allowed; store structured values as a JSON string"
    else:
        hint = "only str, int and float (or numpy scalars) are allowed"
    return f"{where} attribute {key!r} has non-serialisable value {_short(value)} of type {type(value).__name__} ({hint})"


def _short(value: Any) -> str:
    r = repr(value)
    return r if len(r) <= 60 else r[:57] + "..."


def _kind_ok(dtype: np.dtype, kind: str) -> bool:
    return dtype.kind == kind


def _coord_values(var: xr.Variable) -> np.ndarray:
    # coords are small; for dask-backed coords this computes them
    return np.asarray(var.values)


def _has_nan(values: np.ndarray) -> bool:
    if values.dtype.kind in "fc":
        return bool(np.isnan(values).any())
    if values.dtype.kind in "mM":
        return bool(np.isnat(values).any())
    if values.dtype.kind == "O":
        return any(v is None or (isinstance(v, float) and v != v) for v in values.ravel())
    return False


def recording_problems(rec: Any) -> list[str]:
    """Every schema violation of ``rec`` as a list of messages (empty when valid).  See the module docstring."""
    if not isinstance(rec, xr.Dataset):
        hint = ""
        if isinstance(rec, xr.DataArray):
            hint = " (a DataArray: wrap it with .to_dataset(name='activity'))"
        return [f"expected an xarray.Dataset, got {type(rec).__name__}{hint}"]

    problems: list[str] = []
    dims = dict(rec.sizes)
    has_ck = C.CHECKPOINT in dims

    # --- activity -------------------------------------------------------------------------------------
    if C.ACTIVITY not in rec.data_vars:
        problems.append(f"missing data variable {C.ACTIVITY!r} (data variables: {sorted(map(str, rec.data_vars))})")
    else:
        act = rec[C.ACTIVITY]
        allowed = [(C.PRESENTATION, C.NEUROID), (C.CHECKPOINT, C.PRESENTATION, C.NEUROID)]
        if tuple(act.dims) not in allowed:
            problems.append(
                f"{C.ACTIVITY!r} must have dims {allowed[0]} or {allowed[1]}; got {tuple(act.dims)}"
            )
        if act.dtype != np.float32:
            problems.append(f"{C.ACTIVITY!r} must have dtype float32; got {act.dtype}")
    for d in (C.PRESENTATION, C.NEUROID):
        if d not in dims:
            problems.append(f"missing dim {d!r} (dims: {tuple(dims)})")

    # --- coords ---------------------------------------------------------------------------------------
    def check_coord(name: str, kind: str, dim: str, *, required: bool, per_checkpoint_ok: bool = False) -> None:
        if name not in rec.coords:
            if required:
                problems.append(f"missing {dim} coord {name!r} (expected {_KIND_NAMES[kind]} on dims ({dim!r},))")
            return
        var = rec.coords[name].variable
        ok_dims = [(dim,)]
        if per_checkpoint_ok and has_ck:
            ok_dims.append((C.CHECKPOINT, dim))
        if name == "epoch":
            ok_dims.append(())
        if tuple(var.dims) not in ok_dims:
            problems.append(
                f"{dim} coord {name!r} must have dims {' or '.join(map(str, ok_dims))}; got {tuple(var.dims)}"
            )
        if not _kind_ok(var.dtype, kind):
            problems.append(f"{dim} coord {name!r} must hold {_KIND_NAMES[kind]}; got dtype {var.dtype}")

    for name, kind in C.PRESENTATION_COORDS_REQUIRED.items():
        check_coord(name, kind, C.PRESENTATION, required=True)
    for name, kind in C.PRESENTATION_COORDS_OPTIONAL.items():
        check_coord(name, kind, C.PRESENTATION, required=False, per_checkpoint_ok=True)
    for name, kind in C.NEUROID_COORDS_REQUIRED.items():
        check_coord(name, kind, C.NEUROID, required=True)
    if has_ck:
        for name, kind in C.CHECKPOINT_COORDS_REQUIRED.items():
            check_coord(name, kind, C.CHECKPOINT, required=True)
    elif "epoch" in rec.coords:
        check_coord("epoch", "i", C.CHECKPOINT, required=False)

    for name, coord in rec.coords.items():
        values = _coord_values(coord.variable)
        if _has_nan(values):
            n_bad = int(np.isnan(values).sum()) if values.dtype.kind in "fc" else "some"
            problems.append(f"coord {name!r} contains NaN/missing values ({n_bad} of {values.size}); coords must be complete")

    if "neuroid_id" in rec.coords and rec.coords["neuroid_id"].dims == (C.NEUROID,):
        ids = _coord_values(rec.coords["neuroid_id"].variable)
        uniq, counts = np.unique(ids, return_counts=True)
        if (counts > 1).any():
            dup = uniq[counts > 1]
            problems.append(
                f"neuroid coord 'neuroid_id' must be unique; {dup.size} duplicated, e.g. {[str(d) for d in dup[:5]]}"
            )
    if ("label" in rec.coords and "label_name" in rec.coords and rec.coords["label"].dims == (C.PRESENTATION,)
            and rec.coords["label_name"].dims == (C.PRESENTATION,)):
        pairs = {(str(a), str(b)) for a, b in zip(_coord_values(rec.coords["label"].variable).tolist(),
                                                   _coord_values(rec.coords["label_name"].variable).tolist(),
                                                   strict=True)}
        names: dict[str, list[str]] = {}
        for lab, name in sorted(pairs):
            names.setdefault(name, []).append(lab)
        shared = {n: labs for n, labs in names.items() if len(labs) > 1}
        if shared:
            n, labs = next(iter(shared.items()))
            problems.append(f"presentation coord 'label_name' must name one label each; labels {labs} share the "
                            f"name {n!r}")
    if "layer" in rec.coords and rec.coords["layer"].dtype.kind == "i":
        lay = _coord_values(rec.coords["layer"].variable)
        if lay.size and lay.min() < 1:
            problems.append(f"neuroid coord 'layer' is 1-based; got a minimum of {int(lay.min())}")
    if "unit" in rec.coords and rec.coords["unit"].dtype.kind == "i":
        unit = _coord_values(rec.coords["unit"].variable)
        if unit.size and unit.min() < 0:
            problems.append(f"neuroid coord 'unit' must be >= 0; got a minimum of {int(unit.min())}")

    # --- attrs ----------------------------------------------------------------------------------------
    for key, value in rec.attrs.items():
        p = _attr_problem("dataset", key, value)
        if p:
            problems.append(p)
    for vname, var in rec.variables.items():
        for key, value in var.attrs.items():
            p = _attr_problem(f"variable {vname!r}", key, value)
            if p:
                problems.append(p)
    if COMPLETE_ATTR in rec.attrs:
        problems.append(
            f"attribute {COMPLETE_ATTR!r} is reserved for the on-disk completeness marker of streamed files; "
            "remove it from the in-memory recording"
        )
    if METADATA_HASH_ATTR in rec.attrs:
        problems.append(
            f"attribute {METADATA_HASH_ATTR!r} is reserved for the on-disk checksum of recording files; remove it "
            "from the in-memory recording"
        )

    missing = [a for a in C.REQUIRED_ATTRS if a not in rec.attrs]
    if missing:
        problems.append(f"missing required attrs {missing}")
    for key in C.REQUIRED_ATTRS:
        if key not in rec.attrs:
            continue
        value = rec.attrs[key]
        if key == "seed":
            if not (isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))):
                problems.append(f"attr 'seed' must be an integer (-1 when not applicable); got {_short(value)}")
            continue
        if not isinstance(value, str):
            problems.append(f"attr {key!r} must be a string; got {_short(value)} of type {type(value).__name__}")
            continue
        if key == "config":
            try:
                json.loads(value)
            except ValueError as err:
                problems.append(f"attr 'config' must be a JSON string; it does not parse ({err})")
        elif key == "created":
            try:
                _dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
            except ValueError:
                problems.append(f"attr 'created' must be an ISO-8601 timestamp; got {value!r}")
        elif key == "schema_version":
            major = value.split(".")[0]
            if major != SCHEMA_VERSION.split(".")[0]:
                problems.append(
                    f"attr 'schema_version' is {value!r}; this version of ensembles reads schema {SCHEMA_VERSION} "
                    f"(major version {SCHEMA_VERSION.split('.')[0]})"
                )
    return problems


def validate_recording(rec: Any) -> xr.Dataset:
    """Check that ``rec`` follows the recording schema; return it unchanged.

    Parameters
    ----------
    rec : xarray.Dataset
        The candidate recording (in memory or dask-backed: ``activity`` is never computed; coords are).

    Returns
    -------
    xarray.Dataset
        ``rec`` itself, so that the call can be chained.

    Raises
    ------
    TypeError
        If ``rec`` is not an :class:`xarray.Dataset`.
    ValueError
        One error listing **every** problem found (missing or ill-typed dims, coords and attrs, NaN in
        coords, duplicated ``neuroid_id``, non-serialisable attrs, wrong ``activity`` dtype or dims).  The
        rules are listed in the docstring of :mod:`ensembles.record.schema`.
    """
    if not isinstance(rec, xr.Dataset):
        raise InputTypeError(recording_problems(rec)[0])
    problems = recording_problems(rec)
    if problems:
        lines = "\n".join(f"  - {p}" for p in problems)
        raise RecordingError(f"invalid recording ({len(problems)} problem{'s' if len(problems) > 1 else ''}):\n{lines}")
    return rec


def _feed_value(h, value: Any) -> None:
    if isinstance(value, (str, np.str_)):
        data = str(value).encode("utf-8", "surrogatepass")
        h.update(b"s" + str(len(data)).encode() + b"|" + data)
    elif isinstance(value, (bool, np.bool_)):
        h.update(b"b1" if value else b"b0")
    elif isinstance(value, (int, np.integer)):
        h.update(b"i" + str(int(value)).encode() + b"|")
    elif isinstance(value, (float, np.floating)):
        h.update(b"f" + float(value).hex().encode() + b"|")
    else:  # not a valid attribute (validation reports it); hashed deterministically all the same
        h.update(b"o" + type(value).__name__.encode() + b"|" + repr(value).encode() + b"|")


def _feed_array(h, values: np.ndarray) -> None:
    values = np.asarray(values)
    h.update(f"{values.dtype.kind}{values.shape}|".encode())
    if values.dtype.kind in "UOS":
        enc = [v.encode("utf-8", "surrogatepass") if isinstance(v, str) else bytes(v) if isinstance(v, bytes)
               else repr(v).encode() for v in values.ravel().tolist()]
        h.update(np.asarray([len(e) for e in enc], dtype="<i8").tobytes())
        h.update(b"".join(enc))
    elif values.dtype.kind == "b":
        h.update(values.astype(np.uint8).tobytes())
    elif values.dtype.kind in "iu":
        h.update(values.astype("<i8").tobytes())
    elif values.dtype.kind == "f":
        h.update(values.astype("<f8").tobytes())
    else:
        h.update(repr(values.tolist()).encode())


def metadata_digest(rec: xr.Dataset) -> str:
    """SHA-256 of everything in a recording but the activity values: every coord (name, dims, dtype kind, values,
    attrs), the names, dims, dtypes and attrs of the data variables, and the dataset attrs (except the on-disk
    ones, :data:`ON_DISK_ATTRS`).

    :func:`~ensembles.record.save_recording` and :class:`~ensembles.record.RecordingWriter` store it in the file;
    :func:`~ensembles.record.load_recording` recomputes it, so that a changed label, stimulus id, layer or attribute
    is an error rather than a silent change.  (The activity values are covered by HDF5 itself: zlib's Adler-32 in
    every compressed chunk, the Fletcher-32 filter on uncompressed ones.)  Coords are small, so this is cheap even
    for a recording far larger than memory.
    """
    import hashlib

    h = hashlib.sha256()
    for name in sorted(map(str, rec.coords)):
        var = rec.coords[name].variable
        h.update(f"C|{name}|{','.join(map(str, var.dims))}|".encode())
        _feed_array(h, _coord_values(var))
        for key in sorted(map(str, var.attrs)):
            h.update(f"a|{key}|".encode())
            _feed_value(h, var.attrs[key])
    for name in sorted(map(str, rec.data_vars)):
        var = rec[name].variable
        h.update(f"V|{name}|{','.join(map(str, var.dims))}|{var.dtype.str}|{var.shape}|".encode())
        for key in sorted(map(str, var.attrs)):
            h.update(f"a|{key}|".encode())
            _feed_value(h, var.attrs[key])
    for key in sorted(map(str, rec.attrs)):
        if key in ON_DISK_ATTRS:
            continue
        h.update(f"A|{key}|".encode())
        _feed_value(h, rec.attrs[key])
    return h.hexdigest()
