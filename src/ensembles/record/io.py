"""Recordings on disk: :func:`save_recording`, :func:`load_recording`, :func:`recording_info`.

File format
-----------
A recording file is a plain HDF5 file in the netCDF-4 layout, written through xarray's ``h5netcdf``
engine, so it opens with ``xarray.open_dataset(path, engine="h5netcdf")``, ``h5py.File(path)`` and any
netCDF-4 reader (netCDF-C, ``netCDF4-python``, ``ncdump``):

* one HDF5 dataset per variable: ``activity`` (float32, chunked about 4 MiB per chunk along presentations,
  shuffle + gzip/zlib compressed -- zlib because every netCDF-4 reader can decompress it), and one per coord;
* dims are HDF5 dimension scales; string coords are variable-length UTF-8 strings; bool coords are stored as
  int8 with the attribute ``dtype = "bool"`` (xarray's convention, decoded back to bool by xarray);
* the recording's attrs are the file's root attributes, plus ``complete`` (int, 1 = finished).  A file
  streamed by :class:`~ensembles.record.RecordingWriter` carries ``complete = 0`` and the temporary name
  ``<path>.partial`` until its writer closes it; :func:`load_recording` refuses such a file with
  :class:`~ensembles.record.RecordingIncompleteError`.  ``complete`` is removed on load, so that
  ``xr.testing.assert_identical(load_recording(p), rec)`` holds after ``save_recording(rec, p)``.

Integrity: every chunk of ``activity`` carries a checksum (zlib's Adler-32 when compressed, HDF5's Fletcher-32
filter when ``compression_level=0``), and the root attribute ``metadata_sha256`` holds the SHA-256 of every coord
and attribute (:func:`~ensembles.record.schema.metadata_digest`).  :func:`load_recording` checks all of them, and
that every variable has the length of its dims (netCDF readers pad a shorter variable with invented fill values),
so a damaged or edited file is a :class:`~ensembles.record.RecordingError`, never changed data.  Like
``complete``, ``metadata_sha256`` is removed on load; files written by earlier versions have none and are read
without that check.

Writes are atomic: the file is written under a temporary name in the target directory, flushed to disk and
renamed onto the target (``os.replace``); a failed write leaves any previous file at the target untouched.  The
file gets the permissions of any new file of the process (0o666 less the umask).
"""

from __future__ import annotations

import errno
import hashlib
import os
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import xarray as xr

from ensembles import conventions as C
from ensembles.errors import InputTypeError, ParameterError, ResourceError

from .schema import (
    COMPLETE_ATTR,
    METADATA_HASH_ATTR,
    SCHEMA_VERSION,
    RecordingError,
    RecordingIncompleteError,
    metadata_digest,
    validate_recording,
)

__all__ = ["save_recording", "load_recording", "recording_info", "file_sha256", "ensure_space", "estimated_file_size",
           "default_file_mode", "PARTIAL_SUFFIX"]

#: suffix of the temporary name a RecordingWriter writes under until it is closed
PARTIAL_SUFFIX = ".partial"
#: target size of one HDF5 chunk of ``activity``
CHUNK_BYTES = 4 * 2**20
_ROUND_ROWS = sorted({d for d in range(1, 1001) if 1000 % d == 0} | {1000 * k for k in (2, 5, 10, 20, 50, 100, 200, 500, 1000)})
#: default zlib (gzip) level: 1 is ~2x faster than 4 on float32 activity and compresses nearly as well
DEFAULT_COMPLEVEL = 1


def _umask() -> int:
    """The process umask, read without changing it where the platform allows."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    old = os.umask(0o022)  # pragma: no cover - not Linux (not thread-safe, hence the /proc route above)
    os.umask(old)
    return old


def default_file_mode() -> int:
    """The mode ``open(path, "w")`` gives a new file: 0o666 less the process umask.

    Files written through a temporary name from :func:`tempfile.mkstemp` would keep its 0o600 otherwise; every
    file ensembles writes gets this mode instead, like the files of any other program.
    """
    return 0o666 & ~_umask()


def file_sha256(path: str | os.PathLike, *, block: int = 2**22) -> str:
    """SHA-256 hex digest of a file, read in 4 MiB blocks (constant memory)."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while True:
            chunk = fh.read(block)
            if not chunk:
                break
            h.update(chunk)
    return h.hexdigest()


def activity_chunks(shape: tuple[int, ...], chunk_presentations: int | None = None) -> tuple[int, ...]:
    """HDF5 chunk shape of ``activity``: whole neuroid rows (up to 1 Mi values), at most ~4 MiB per chunk.

    The number of rows is the largest "round" number (a divisor of 1000 or a multiple of 1000) that keeps a
    chunk within 4 MiB, e.g. 250 rows for 3000 neuroids, 1000 rows for 784.  With a checkpoint dim, one
    checkpoint per chunk.  ``chunk_presentations`` overrides the number of rows.
    """
    n_pres, n_neur = int(shape[-2]), int(shape[-1])
    cols = max(1, min(n_neur, 2**20))
    if chunk_presentations is None:
        # a "round" number of rows (a divisor of 1000, or a multiple of 1000) so that the usual dask chunks
        # ({"presentation": 1000}, 10_000, ...) line up with the stored chunks
        target = CHUNK_BYTES // (4 * cols)
        rows = max([r for r in _ROUND_ROWS if r <= target], default=1)
    else:
        rows = int(chunk_presentations)
        if rows < 1:
            raise ParameterError(f"The 'chunk_presentations' parameter must be a positive int. Got {chunk_presentations!r} instead.")
    rows = max(1, min(max(n_pres, 1), rows))
    return (1, rows, cols) if len(shape) == 3 else (rows, cols)


def _activity_encoding(shape: tuple[int, ...], compression_level: int, chunk_presentations: int | None = None) -> dict:
    if not (isinstance(compression_level, (int, np.integer)) and 0 <= int(compression_level) <= 9):
        raise ParameterError(f"The 'compression_level' parameter must be an int in 0..9. Got {compression_level!r} instead.")
    enc: dict[str, Any] = {"chunksizes": activity_chunks(shape, chunk_presentations)}
    if int(compression_level) > 0:
        enc.update(zlib=True, complevel=int(compression_level), shuffle=True)  # zlib's Adler-32 checks each chunk
    else:
        enc.update(fletcher32=True)  # an uncompressed chunk gets HDF5's Fletcher-32 checksum instead
    return enc


def _fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:  # pragma: no cover - platforms without directory fds
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover
        pass
    finally:
        os.close(fd)


def _fsync_file(path: str | os.PathLike) -> None:
    with open(path, "rb+") as fh:
        os.fsync(fh.fileno())


def _target_path(path: str | os.PathLike, param: str = "path") -> Path:
    try:
        p = Path(os.fspath(path))
    except TypeError as err:
        raise InputTypeError(f"The {param!r} parameter must be a path (str or os.PathLike). Got {path!r} instead.") from err
    if p.is_dir():
        raise IsADirectoryError(f"The {param!r} parameter must be a file path; {str(p)!r} is a directory.")
    parent = p.parent if str(p.parent) else Path(".")
    if not parent.is_dir():
        raise FileNotFoundError(f"cannot write {str(p)!r}: directory {str(parent)!r} does not exist")
    return p


def estimated_file_size(rec: xr.Dataset) -> int:
    """Upper bound of the size of ``rec`` on disk, bytes: the uncompressed size of every variable (strings at
    4 bytes per character), plus 0.1% (zlib's worst-case expansion) and 1 MiB for HDF5 metadata."""
    total = 0
    for var in rec.variables.values():
        total += int(var.size) * int(var.dtype.itemsize)
    return int(total * 1.001) + 2**20


def ensure_space(directory: str | os.PathLike, nbytes: int) -> None:
    """Raise ``OSError`` (EFBIG or ENOSPC) *before* writing when ``nbytes`` cannot fit.

    HDF5 does not recover from a failed write: after "file too large" or "no space left on device" the
    library crashes the process (SIGSEGV) when the file is closed, so :func:`save_recording` and
    :class:`~ensembles.record.RecordingWriter` check the per-file size limit (``RLIMIT_FSIZE``) and the free
    disk space against the uncompressed size first.  Compression usually makes the file smaller, so this is
    conservative; pass ``check_space=False`` to write anyway.
    """
    try:
        import resource
    except ImportError:  # pragma: no cover - not Unix
        resource = None
    if resource is not None:
        soft, _ = resource.getrlimit(resource.RLIMIT_FSIZE)
        if soft != resource.RLIM_INFINITY and nbytes > soft:
            raise ResourceError(
                errno.EFBIG,
                f"File too large: the recording needs up to {nbytes} bytes (uncompressed) but the file-size limit "
                f"(RLIMIT_FSIZE) is {soft} bytes; nothing was written",
            )
    free = shutil.disk_usage(directory).free
    if nbytes > free:
        raise ResourceError(
            errno.ENOSPC,
            f"No space left on device: the recording needs up to {nbytes} bytes (uncompressed) but only {free} "
            f"bytes are free in {str(directory)!r}; nothing was written (check_space=False writes anyway)",
        )


def _strip_encoding(rec: xr.Dataset) -> xr.Dataset:
    """Shallow copy without the on-disk encodings a loaded dataset carries (they may not fit a subset)."""
    out = rec.copy(deep=False)
    for var in out.variables.values():
        var.encoding = {}
    out.encoding = {}
    return out


def save_recording(
    rec: xr.Dataset,
    path: str | os.PathLike,
    *,
    compression_level: int = DEFAULT_COMPLEVEL,
    chunk_presentations: int | None = None,
    check_space: bool = True,
) -> str:
    """Write a recording to an HDF5 (netCDF-4) file, atomically; return the file's SHA-256.

    Parameters
    ----------
    rec : xarray.Dataset
        A recording; validated first (a bad attr raises, it is never silently dropped).  A dask-backed
        ``activity`` is written chunk by chunk without being loaded whole.
    path : str or os.PathLike
        Target file (conventionally ``*.h5``).  Replaced atomically if it exists.
    compression_level : int
        zlib (gzip) level 0-9 for ``activity`` (0 = uncompressed); shuffle filter on when compressed.
    chunk_presentations : int, optional
        Presentations per HDF5 chunk of ``activity`` (default: about 4 MiB per chunk).
    check_space : bool
        Refuse (``OSError`` EFBIG/ENOSPC, nothing written) when the uncompressed size exceeds the free disk
        space or the file-size limit; see :func:`ensure_space` for why (HDF5 crashes on a failed write).

    Returns
    -------
    str
        SHA-256 hex digest of the written file, so that a notebook can cite exactly what it wrote.

    Notes
    -----
    Round trip: ``xr.testing.assert_identical(load_recording(path), rec)``.  See the module docstring for
    the layout.
    """
    validate_recording(rec)
    target = _target_path(path)
    out = _strip_encoding(rec)
    out.attrs = {**out.attrs, COMPLETE_ATTR: 1, METADATA_HASH_ATTR: metadata_digest(rec)}
    encoding = {C.ACTIVITY: _activity_encoding(tuple(rec[C.ACTIVITY].shape), compression_level, chunk_presentations)}
    if check_space:
        ensure_space(target.parent if str(target.parent) else Path("."), estimated_file_size(out))
    fd, tmp = tempfile.mkstemp(dir=target.parent if str(target.parent) else ".", prefix=f".{target.name}.", suffix=".tmp")
    os.close(fd)
    try:
        out.to_netcdf(tmp, engine="h5netcdf", encoding=encoding)
        os.chmod(tmp, default_file_mode())
        _fsync_file(tmp)
        digest = file_sha256(tmp)
        os.replace(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    _fsync_dir(target.parent)
    return digest


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
    except MemoryError:
        raise
    except Exception as err:  # h5py raises OSError, KeyError, RuntimeError... for damaged files
        raise _corrupt(p, err) from err
    return {"attrs": attrs, "variables": names, "shape_problems": shape_problems}


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
    except Exception:
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
    except Exception as err:
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
        if isinstance(err, RecordingError) and str(err).startswith("invalid recording"):
            raise RecordingError(f"{str(p)!r} is not a valid ensembles recording: {err}") from err
        raise RecordingError(f"{str(p)!r} is not a readable ensembles recording: {err}") from err
    except MemoryError:
        ds.close()
        raise
    except Exception as err:  # damaged data chunks (checksum, inflate errors) surface while loading
        ds.close()
        raise _corrupt(p, err) from err
    return ds


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
    from .schema import recording_problems

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
        info["problems"] = list(header.get("shape_problems", [])) + ([] if not complete else recording_problems(ds))
        if complete and not info["problems"]:
            try:
                _verify_metadata(p, ds, stored_hash)
            except RecordingError as err:
                info["problems"].append(str(err))
    finally:
        ds.close()
    return info

