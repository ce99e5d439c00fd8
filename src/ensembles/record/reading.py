"""Reading recordings: :func:`load_recording` and :func:`recording_info` (the file format: :mod:`ensembles.record.io`).

Every read checks, before any value is returned, that the file is an HDF5 recording of a readable schema version,
complete (not a writer's ``.partial`` file, ``complete = 1``), that every variable has the length of its dims, the
checksum of every ``activity`` chunk and the SHA-256 of the coords and attributes (``metadata_sha256``); a damaged
or edited file is a :class:`~ensembles.record.RecordingError`, never changed data.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import xarray as xr

from ensembles import conventions as C
from ensembles.errors import InputTypeError, ResourceError

from .schema import (
    COMPLETE_ATTR,
    METADATA_HASH_ATTR,
    PARTIAL_SUFFIX,
    SCHEMA_VERSION,
    RecordingError,
    RecordingIncompleteError,
    metadata_digest,
    recording_problems,
    validate_recording,
)

__all__ = ["load_recording", "recording_info"]


def _existing_file(path: str | os.PathLike) -> Path:
    try:
        p = Path(os.fspath(path))
    except TypeError as err:
        raise InputTypeError(f"The 'path' parameter must be a path (str or os.PathLike). Got {path!r} instead.") from err
    if not p.exists():
        partial = Path(str(p) + PARTIAL_SUFFIX)
        if partial.exists():
            raise FileNotFoundError(
                f"no recording at {str(p)!r}; there is an incomplete one at {str(partial)!r} (its writer never "
                "finished: it was killed, crashed or is still running)"
            )
        raise FileNotFoundError(f"no such recording file: {str(p)!r}")
    if p.is_dir():
        raise IsADirectoryError(f"{str(p)!r} is a directory, not a recording file")
    return p


def _read_header(p: Path) -> dict[str, Any]:
    """Root attrs of an HDF5 file and its variable names; clear errors for files that are not recordings."""
    if not h5py.is_hdf5(p):
        size = p.stat().st_size
        what = "an empty file" if size == 0 else "not an HDF5 file"
        raise RecordingError(f"{str(p)!r} is not an ensembles recording: {what}")
    try:
        with h5py.File(p, "r") as f:
            attrs = {}
            for k, v in f.attrs.items():
                if isinstance(v, bytes):
                    v = v.decode("utf-8", "replace")
                elif isinstance(v, np.ndarray) and v.size == 1:
                    v = v.reshape(()).item()
                attrs[k] = v
            names = list(f.keys())
            shape_problems = _dim_length_problems(f)
            unwritten = _unwritten_activity(f)
            act = f.get(C.ACTIVITY)
            nbytes = int(act.size) * act.dtype.itemsize if isinstance(act, h5py.Dataset) else 0
    except MemoryError:
        raise
    except Exception as err:  # h5py raises OSError, KeyError, RuntimeError... for damaged files
        raise _corrupt(p, err) from err
    return {"attrs": attrs, "variables": names, "shape_problems": shape_problems, "unwritten": unwritten,
            "activity_nbytes": nbytes}


def _dim_length_problems(f: h5py.File) -> list[str]:
    """Variables whose length along a dim differs from the dim's length (its HDF5 dimension scale).

    netCDF readers (xarray's h5netcdf backend included) take a dim's length from its dimension scale and pad a
    shorter variable with its fill value (0 for ints) -- silently inventing data.  No writer of ensembles produces
    such a file; an edited or damaged one is refused.
    """
    problems = []
    for name, obj in f.items():
        if not isinstance(obj, h5py.Dataset) or "DIMENSION_LIST" not in obj.attrs:
            continue
        for axis in range(obj.ndim):
            scales = obj.dims[axis]
            if len(scales) == 0:
                continue
            scale = scales[0]
            dim = scale.name.rsplit("/", 1)[-1]
            if scale == obj:
                continue
            if scale.shape and scale.shape[0] != obj.shape[axis]:
                problems.append(f"variable {name!r} has {obj.shape[axis]} values along dim {dim!r}, whose length "
                                f"is {scale.shape[0]}")
    return problems


def _unwritten_activity(f: h5py.File) -> list[str]:
    """Chunks of ``activity`` that were never written (HDF5 reads them as the fill value, NaN: rows that look like
    data).  Every writer of ensembles writes every chunk of a complete recording; an edited file may not."""
    d = f.get(C.ACTIVITY)
    if not isinstance(d, h5py.Dataset) or d.size == 0:
        return []
    if d.chunks is None:
        if d.compression is None and d.id.get_storage_size() < d.size * d.dtype.itemsize:
            return [f"variable {C.ACTIVITY!r} was never written (its storage is not allocated)"]
        return []
    expected = 1
    for n, c in zip(d.shape, d.chunks, strict=True):
        expected *= -(-n // c)
    written = d.id.get_num_chunks()
    if written < expected:
        return [f"{expected - written} of the {expected} chunks of {C.ACTIVITY!r} were never written (they would "
                "read as NaN rows)"]
    return []


def _corrupt(p: Path, err: BaseException) -> RecordingError:
    return RecordingError(
        f"{str(p)!r} is not a readable ensembles recording: the HDF5 file is truncated or corrupt "
        f"({type(err).__name__}: {err})"
    )


def _partial_message(p: Path) -> str:
    return (
        f"{str(p)!r} is an incomplete recording: a RecordingWriter was still writing it (it was killed, crashed "
        "or has not been closed); its name ends in '.partial' until the writer finishes"
    )


def _is_one(value: Any) -> bool:
    try:
        return int(np.asarray(value).reshape(-1)[0]) == 1
    except (ValueError, TypeError, IndexError):  # an attribute that is not a number, or empty
        return False


def _check_header(p: Path, header: dict[str, Any], *, allow_incomplete: bool) -> None:
    attrs, names = header["attrs"], header["variables"]
    if "schema_version" not in attrs or C.ACTIVITY not in names:
        missing = [w for w, ok in (("the 'schema_version' attribute", "schema_version" in attrs),
                                   (f"the {C.ACTIVITY!r} variable", C.ACTIVITY in names)) if not ok]
        raise RecordingError(f"{str(p)!r} is not an ensembles recording: it lacks {' and '.join(missing)}")
    if allow_incomplete:
        return
    if header.get("shape_problems"):
        raise RecordingError(
            f"{str(p)!r} is not a valid ensembles recording (the file was edited or damaged): "
            + "; ".join(header["shape_problems"]))
    if p.name.endswith(PARTIAL_SUFFIX):
        raise RecordingIncompleteError(_partial_message(p))
    if header.get("unwritten") and (COMPLETE_ATTR not in attrs or _is_one(attrs[COMPLETE_ATTR])):
        raise RecordingError(f"{str(p)!r} is not a valid ensembles recording (the file was edited or damaged): "
                             + "; ".join(header["unwritten"]))
    if COMPLETE_ATTR in attrs and not _is_one(attrs[COMPLETE_ATTR]):
        raise RecordingIncompleteError(
            f"{str(p)!r} is an incomplete recording: its writer never finished (attribute complete=0); "
            "not every presentation was written"
        )
    version = str(attrs["schema_version"])
    if version.split(".")[0] != SCHEMA_VERSION.split(".")[0]:
        raise RecordingError(
            f"{str(p)!r} was written with recording schema {version}; this version of ensembles reads schema "
            f"{SCHEMA_VERSION}"
        )


def _open_raw(p: Path, chunks: Any) -> xr.Dataset:
    try:
        ds = xr.open_dataset(p, engine="h5netcdf", chunks=chunks)
    except MemoryError:
        raise
    except Exception as err:  # damaged metadata surfaces as OSError, KeyError, RuntimeError, ValueError...
        raise _corrupt(p, err) from err
    try:
        # coords are small: keep them in memory even for a lazily opened file; strings as unicode ('U')
        new = {}
        for name in list(ds.coords):
            var = ds.variables[name]
            var.load()
            if var.dtype.kind in "OS":
                values = np.asarray(var.values)
                if values.dtype.kind == "S":
                    values = np.char.decode(values, "utf-8")
                elif values.size and all(isinstance(v, str) for v in values.ravel()):
                    values = values.astype(str)
                else:
                    continue
                new[name] = xr.Variable(var.dims, values, var.attrs)
        if new:
            ds = ds.assign_coords(new)
    except MemoryError:
        ds.close()
        raise
    except Exception as err:  # xarray/h5netcdf/h5py on a damaged file: any type (KeyError, OSError, ValueError, ...)
        ds.close()
        raise _corrupt(p, err) from err
    return ds


def load_recording(path: str | os.PathLike, chunks: Mapping[str, int] | str | int | None = None) -> xr.Dataset:
    """Read a recording written by :func:`save_recording` or :class:`~ensembles.record.RecordingWriter`.

    Parameters
    ----------
    path : str or os.PathLike
        The recording file.
    chunks : dict, "auto" or int, optional
        ``None`` (default): everything is loaded into memory and the file is closed.  Otherwise ``activity``
        is a lazy dask array with these chunks (e.g. ``{"presentation": 1000}`` or ``"auto"``), so that
        recordings larger than memory can be analysed; coords are always loaded.

    Returns
    -------
    xarray.Dataset
        The validated recording (the on-disk ``complete`` marker removed).

    Raises
    ------
    FileNotFoundError
        No such file (the message says when an incomplete ``<path>.partial`` exists instead).
    RecordingIncompleteError
        (a ``ValueError``) the file was streamed by a writer that never finished.
    RecordingError
        (a ``ValueError``) not an HDF5 file, truncated/corrupt, not a recording, or not schema-valid.
    """
    p = _existing_file(path)
    if p.name.endswith(PARTIAL_SUFFIX):
        raise RecordingIncompleteError(_partial_message(p))
    header = _read_header(p)
    _check_header(p, header, allow_incomplete=False)
    if chunks is None:
        _check_memory(p, header["activity_nbytes"])
    ds = _open_raw(p, chunks)
    try:
        if chunks is None:
            ds = ds.load()
            ds.close()
        ds.attrs.pop(COMPLETE_ATTR, None)
        stored = ds.attrs.pop(METADATA_HASH_ATTR, None)
        validate_recording(ds)
        _verify_metadata(p, ds, stored)
    except ValueError as err:
        ds.close()
        text = " ".join(str(err).split())  # one line: the validator lists its problems on lines of their own
        if isinstance(err, RecordingError) and str(err).startswith("invalid recording"):
            raise RecordingError(f"{str(p)!r} is not a valid ensembles recording: {text}") from err
        raise RecordingError(f"{str(p)!r} is not a readable ensembles recording: {text}") from err
    except MemoryError:
        ds.close()
        raise
    except Exception as err:  # damaged data chunks (checksum, inflate errors) surface while loading
        ds.close()
        raise _corrupt(p, err) from err
    return ds


def available_memory() -> int | None:
    """Bytes this process may still allocate: the smaller of the system's available memory (``MemAvailable``) and
    what the address-space limit (``ulimit -v``) leaves; None where neither is known."""
    limits = []
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    limits.append(int(line.split()[1]) * 1024)
    except (OSError, ValueError):
        pass
    try:
        import resource

        soft, _ = resource.getrlimit(resource.RLIMIT_AS)
        if soft != resource.RLIM_INFINITY:
            used = 0
            with open("/proc/self/status", encoding="ascii") as fh:
                for line in fh:
                    if line.startswith("VmSize:"):
                        used = int(line.split()[1]) * 1024
            limits.append(max(soft - used, 0))
    except (ImportError, OSError, ValueError):
        pass
    return min(limits) if limits else None


def _check_memory(p: Path, nbytes: int) -> None:
    """Refuse to load an activity that its declared size says cannot fit in memory (before allocating anything)."""
    free = available_memory()
    if free is not None and nbytes > free:
        raise ResourceError(
            errno.ENOMEM,
            f"{str(p)!r} declares {nbytes / 2**20:.0f} MiB of activity but only {free / 2**20:.0f} MiB of memory "
            "are available to this process; load it lazily (load_recording(path, chunks='auto')), free memory, or "
            "raise the limit (ulimit -v).")


def _verify_metadata(p: Path, ds: xr.Dataset, stored: Any) -> None:
    """Compare the stored checksum of coords and attrs with the loaded ones (files of earlier versions have none)."""
    if stored is None:
        return
    if not isinstance(stored, str):
        raise RecordingError(f"{str(p)!r} is corrupt: its {METADATA_HASH_ATTR!r} attribute is not a checksum "
                             f"({stored!r:.80})")
    actual = metadata_digest(ds)
    if actual != stored:
        raise RecordingError(
            f"{str(p)!r} is corrupt or was edited: its coords or attributes differ from those it was written with "
            f"(checksum {actual[:16]}... instead of {stored[:16]}...); restore it from a backup or record it again")


def recording_info(path: str | os.PathLike) -> dict[str, Any]:
    """Summary of a recording file without loading its activity (used by ``ensembles inspect``).

    Works on incomplete files too (``complete`` is then False).  Returns a JSON-serialisable dict: path, file
    size, the attrs, dims and sizes, layers with widths, epochs, label counts, split counts, accuracy per
    checkpoint when a ``correct`` coord exists, and the list of schema problems (empty when valid).
    """
    p = _existing_file(path)
    header = _read_header(p)
    _check_header(p, header, allow_incomplete=True)
    attrs = header["attrs"]
    complete = not p.name.endswith(PARTIAL_SUFFIX) and _is_one(attrs.get(COMPLETE_ATTR, 1))
    ds = _open_raw(p, chunks={})
    try:
        ds_attrs = dict(ds.attrs)
        ds_attrs.pop(COMPLETE_ATTR, None)
        stored_hash = ds_attrs.pop(METADATA_HASH_ATTR, None)
        ds.attrs = ds_attrs
        info: dict[str, Any] = {
            "path": str(p),
            "file_size_bytes": int(p.stat().st_size),
            "complete": bool(complete),
            "schema_version": str(attrs.get("schema_version")),
            "attrs": {k: (v.item() if isinstance(v, np.generic) else v) for k, v in ds_attrs.items()},
            "dims": {str(k): int(v) for k, v in ds.sizes.items()},
            "activity_dtype": str(ds[C.ACTIVITY].dtype) if C.ACTIVITY in ds else None,
        }
        if "layer" in ds.coords:
            layers, widths = np.unique(np.asarray(ds["layer"].values), return_counts=True)
            info["layers"] = {str(int(la)): int(w) for la, w in zip(layers, widths, strict=True)}
        if "epoch" in ds.coords:
            info["epochs"] = [int(e) for e in np.atleast_1d(np.asarray(ds["epoch"].values))]
        name_coord = "label_name" if "label_name" in ds.coords else ("label" if "label" in ds.coords else None)
        if name_coord is not None and ds[name_coord].dims == (C.PRESENTATION,):
            vals, counts = np.unique(np.asarray(ds[name_coord].values), return_counts=True)
            info["label_counts"] = {str(v): int(c) for v, c in zip(vals, counts, strict=True)}
        if "split" in ds.coords and ds["split"].dims == (C.PRESENTATION,):
            vals, counts = np.unique(np.asarray(ds["split"].values), return_counts=True)
            info["split_counts"] = {str(v): int(c) for v, c in zip(vals, counts, strict=True)}
        if "correct" in ds.coords:
            corr = np.asarray(ds["correct"].values)
            if corr.dtype.kind in "biu":
                corr = corr.astype(bool)
                if corr.ndim == 2:
                    info["accuracy"] = [float(row.mean()) for row in corr]
                else:
                    info["accuracy"] = float(corr.mean())
        info["problems"] = list(header.get("shape_problems", [])) + (
            [] if not complete else list(header.get("unwritten", [])) + recording_problems(ds))
        if complete and not info["problems"]:
            try:
                _verify_metadata(p, ds, stored_hash)
            except RecordingError as err:
                info["problems"].append(str(err))
    finally:
        ds.close()
    return info
