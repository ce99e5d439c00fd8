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

Writes are atomic (:func:`ensembles._io.atomic_write`): the file is written under a temporary name in the target
directory, flushed to disk, renamed onto the target (``os.replace``) and the directory flushed too; a failed write
leaves any previous file at the target untouched.  The file gets the permissions of any new file of the process
(0o666 less the umask).  Reading is :mod:`ensembles.record.reading` (re-exported here).
"""

from __future__ import annotations

import errno
import hashlib
import os
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from ensembles import conventions as C
from ensembles._io import atomic_write, file_mode
from ensembles.errors import InputTypeError, ParameterError, ResourceError

from .reading import load_recording, recording_info
from .schema import COMPLETE_ATTR, METADATA_HASH_ATTR, PARTIAL_SUFFIX, metadata_digest, validate_recording

__all__ = ["save_recording", "load_recording", "recording_info", "file_sha256", "ensure_space", "estimated_file_size",
           "default_file_mode", "PARTIAL_SUFFIX"]

#: target size of one HDF5 chunk of ``activity``
CHUNK_BYTES = 4 * 2**20
_ROUND_ROWS = sorted({d for d in range(1, 1001) if 1000 % d == 0} | {1000 * k for k in (2, 5, 10, 20, 50, 100, 200, 500, 1000)})
#: default zlib (gzip) level: 1 is ~2x faster than 4 on float32 activity and compresses nearly as well
DEFAULT_COMPLEVEL = 1


#: the mode ``open(path, "w")`` gives a new file (0o666 less the process umask), which every file ensembles writes
#: gets (:func:`ensembles._io.file_mode`; kept here under its earlier name)
default_file_mode = file_mode


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


def ensure_space(directory: str | os.PathLike, nbytes: int, *, what: str = "the recording",
                 size: str = "up to {nbytes} bytes (uncompressed)", hint: str = " (check_space=False writes anyway)"
                 ) -> None:
    """Raise ``OSError`` (EFBIG or ENOSPC) *before* writing when ``nbytes`` cannot fit.

    ``what``, ``size`` and ``hint`` word the message (the NWB export says "the NWB file" and "{nbytes} bytes").

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
                f"File too large: {what} needs {size.format(nbytes=nbytes)} but the file-size limit "
                f"(RLIMIT_FSIZE) is {soft} bytes (ulimit -f); nothing was written",
            )
    free = shutil.disk_usage(directory).free
    if nbytes > free:
        raise ResourceError(
            errno.ENOSPC,
            f"No space left on device: {what} needs {size.format(nbytes=nbytes)} but only {free} "
            f"bytes are free in {str(directory)!r}; nothing was written{hint}",
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
    digest = ""

    def write(tmp: Path) -> None:
        nonlocal digest
        out.to_netcdf(tmp, engine="h5netcdf", encoding=encoding)
        digest = file_sha256(tmp)

    atomic_write(target, write, fsync=True, fsync_dir=True)
    return digest
