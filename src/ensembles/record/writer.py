"""Streaming a recording to disk, batch by batch: :class:`RecordingWriter`."""

from __future__ import annotations

import os
import zlib
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import h5netcdf
import h5py
import numpy as np

from ensembles import conventions as C
from ensembles._io import commit_file, name_max
from ensembles._validation import describe
from ensembles.errors import InputTypeError, ParameterError

from .io import (
    COMPLETE_ATTR,
    DEFAULT_COMPLEVEL,
    PARTIAL_SUFFIX,
    _target_path,
    activity_chunks,
    ensure_space,
    estimated_file_size,
    file_sha256,
)
from .recording import _as_coord_array, check_float32_exact, make_recording
from .schema import METADATA_HASH_ATTR, RecordingIncompleteError, metadata_digest, validate_recording

__all__ = ["RecordingWriter"]

_MAX_THREADS = 8


def _encode_chunk(rows_data: np.ndarray, rows: int, level: int) -> bytes:
    """One chunk of activity as stored by HDF5's shuffle + deflate filters (zlib stream of byte planes).

    An edge chunk (fewer rows than the chunk) is padded with the fill value (NaN): HDF5 stores edge chunks at
    full size and ignores the padding when reading.
    """
    data = np.ascontiguousarray(rows_data, dtype="<f4")
    if data.shape[0] < rows:
        pad = np.full((rows - data.shape[0],) + data.shape[1:], np.nan, dtype="<f4")
        data = np.concatenate([data, pad])
    planes = data.view(np.uint8).reshape(-1, 4).T.tobytes()  # the shuffle filter: byte 0 of all values, ...
    return zlib.compress(planes, level)

_ALL_KINDS = {**C.PRESENTATION_COORDS_REQUIRED, **C.PRESENTATION_COORDS_OPTIONAL}


def _n_from(values: Any, what: str) -> int:
    arr = np.asarray(values) if not hasattr(values, "shape") else values
    shape = tuple(getattr(arr, "shape", ()))
    if len(shape) == 0:
        raise ParameterError(f"The {what} must be an array with one value per element. Got a scalar {values!r} instead.")
    return int(shape[-1])


class RecordingWriter:
    """Stream a recording to disk as a model is run, so that it never has to fit in memory.

    The file is written under the temporary name ``<path>.partial`` with the attribute ``complete = 0``;
    :meth:`close` checks that every presentation of every checkpoint was written (and every deferred coord
    set), marks the file complete and renames it to ``path``.  If the writer is killed, crashes, or leaves
    its ``with`` block through an exception, the data written so far stay in ``<path>.partial`` and nothing
    appears at ``path``; :func:`~ensembles.record.load_recording` on either name says the recording is
    incomplete.  The finished file is identical (``xr.testing.assert_identical`` after loading) to
    ``save_recording(make_recording(...))`` of the same data.

    Memory: one HDF5 chunk of rows (about 4 MiB, see ``chunk_presentations``) plus the coords; batches that
    are not aligned with chunks are buffered until a chunk is full.

    Parameters
    ----------
    path : str or os.PathLike
        Final file name (conventionally ``*.h5``); replaced if it exists when the writer closes.
    presentation : dict
        Presentation coords known before running (at least ``stimulus_id``, ``label``, ``label_name``,
        ``split``); their length fixes the number of presentations.  See :func:`make_recording`.
    layer_sizes, neuroid, epochs, attrs
        As in :func:`~ensembles.record.make_recording`.  With ``epochs``, the recording has a leading
        ``checkpoint`` dim and every :meth:`append` names its checkpoint.
    chunk_presentations : int, optional
        Presentations per HDF5 chunk of ``activity`` (default: about 4 MiB per chunk).
    compression_level : int
        zlib (gzip) level 0-9 (0 = uncompressed).
    check_space : bool
        Refuse to start (``OSError``) when the uncompressed recording would not fit on the disk or under the
        file-size limit (see :func:`~ensembles.record.io.ensure_space`).  A disk that fills up *during*
        streaming from other writers cannot be guarded against: HDF5 then crashes the process, and the data
        written so far stay in ``<path>.partial``.

    Examples
    --------
    >>> with RecordingWriter("rec.h5", presentation=coords, layer_sizes=[1000, 1000],
    ...                      attrs=attrs) as w:                                  # doctest: +SKIP
    ...     for x in batches:
    ...         w.append(model_activity(x))
    ...     w.set_presentation_coord("predicted", predictions)
    """

    def __init__(
        self,
        path: str | os.PathLike,
        *,
        presentation: Mapping[str, Any],
        layer_sizes: Sequence[int] | None = None,
        neuroid: Mapping[str, Any] | None = None,
        epochs: Sequence[int] | None = None,
        attrs: Mapping[str, Any],
        chunk_presentations: int | None = None,
        compression_level: int = DEFAULT_COMPLEVEL,
        check_space: bool = True,
    ) -> None:
        import dask.array as da

        from .io import _activity_encoding

        self.path = _target_path(path)
        self.partial_path = Path(str(self.path) + PARTIAL_SUFFIX)
        limit = name_max(self.path.parent) if self.path.parent.is_dir() else 255
        if len(self.partial_path.name.encode()) > limit:
            raise ParameterError(
                f"The 'path' parameter names a file of {len(self.path.name.encode())} bytes; the recording is "
                f"written under its name + {PARTIAL_SUFFIX!r} until complete, which must fit the file system's "
                f"limit of {limit} bytes: choose a name of at most {limit - len(PARTIAL_SUFFIX)} bytes.")
        if not isinstance(presentation, Mapping) or not presentation:
            raise InputTypeError(
                "The 'presentation' parameter must be a non-empty dict of coord name -> values (at least "
                f"'stimulus_id'). Got {describe(presentation)} instead."
            )
        n_pres = _n_from(next(iter(presentation.values())), "presentation coords")
        if layer_sizes is not None:
            n_neur = int(sum(int(s) for s in layer_sizes))
        elif neuroid is not None and isinstance(neuroid, Mapping) and neuroid:
            n_neur = _n_from(next(iter(neuroid.values())), "neuroid coords")
        else:
            n_neur = 0  # make_recording raises the clear error
        shape: tuple[int, ...] = (n_pres, n_neur)
        if epochs is not None:
            shape = (len(list(epochs)), n_pres, n_neur)
        self._chunks = activity_chunks(shape, chunk_presentations)
        enc = _activity_encoding(shape, compression_level, chunk_presentations)
        # a lazy all-zero activity lets make_recording build and validate coords and attrs without memory cost
        template = make_recording(
            da.zeros(shape, dtype=np.float32, chunks=self._chunks),
            presentation=presentation,
            neuroid=neuroid,
            layer_sizes=layer_sizes,
            epochs=epochs,
            attrs=attrs,
        )
        self._template = template
        if check_space:
            ensure_space(self.path.parent if str(self.path.parent) else Path("."), estimated_file_size(template))
        self.shape = shape
        self.has_checkpoint = len(shape) == 3
        self.n_checkpoints = shape[0] if self.has_checkpoint else 1
        self.n_presentations = n_pres
        self.n_neuroids = n_neur
        self._coord_names = list(template.coords)
        self._deferred: dict[str, np.ndarray] = {}  # whole coords set after running
        self._deferred_ck: dict[str, dict[int, np.ndarray]] = {}  # per-checkpoint coords, by checkpoint
        self._next = [0] * self.n_checkpoints  # next row to place, per checkpoint
        rows = self._chunks[-2]
        self._buf = np.empty((rows, n_neur), dtype=np.float32)
        self._buf_n = 0
        self._buf_ck = 0
        self._buf_start = 0
        self._closed = False
        self._pool: ThreadPoolExecutor | None = None
        self.sha256: str | None = None

        coords_only = template.drop_vars(C.ACTIVITY)
        coords_only.attrs = {**template.attrs, COMPLETE_ATTR: 0}
        if self.partial_path.exists():
            self.partial_path.unlink()  # a stale partial file of an earlier, unfinished run
        coords_only.to_netcdf(self.partial_path, engine="h5netcdf")
        self._file = h5netcdf.File(self.partial_path, "a")
        try:
            kwargs: dict[str, Any] = {"chunks": enc["chunksizes"], "fillvalue": np.float32(np.nan)}
            self._complevel = int(enc.get("complevel", 0)) if enc.get("zlib") else 0
            if self._complevel:
                kwargs.update(compression="gzip", compression_opts=self._complevel, shuffle=True)
            elif enc.get("fletcher32"):
                kwargs.update(fletcher32=True)
            dims = (C.CHECKPOINT, C.PRESENTATION, C.NEUROID) if self.has_checkpoint else (C.PRESENTATION, C.NEUROID)
            self._var = self._file.create_variable(C.ACTIVITY, dims, dtype="f4", **kwargs)
            # parallel compression of whole chunks (only when one chunk spans every neuroid)
            self._pool = (
                ThreadPoolExecutor(max_workers=min(_MAX_THREADS, os.cpu_count() or 1))
                if self._complevel and self._chunks[-1] == n_neur
                else None
            )
            self._h5 = self._file._h5file  # the underlying h5py.File (h5netcdf's flush() does not flush it)
            self._h5ds = self._h5[C.ACTIVITY]
            self._file.flush()
            self._h5.flush()
        except BaseException:
            self._file.close()
            raise

    # ------------------------------------------------------------------------------------------------------
    def __enter__(self) -> RecordingWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> bool:
        if exc_type is not None:
            self.abort()
            return False
        self.close()
        return False

    def __repr__(self) -> str:
        state = "closed" if self._closed else "open"
        written = sum(self._next)
        total = self.n_checkpoints * self.n_presentations
        return f"<RecordingWriter {str(self.path)!r} {state}: {written}/{total} rows, shape {self.shape}>"

    @property
    def rows_written(self) -> list[int]:
        """Presentations handed to :meth:`append` so far, per checkpoint."""
        return list(self._next)

    def _check_open(self) -> None:
        if self._closed:
            raise ValueError(f"the RecordingWriter for {str(self.path)!r} is closed")

    def _checkpoint_index(self, checkpoint: Any) -> int:
        if not self.has_checkpoint:
            if checkpoint is not None:
                raise ParameterError(
                    "The 'checkpoint' parameter must be None: this recording has no checkpoint dim (no 'epochs' "
                    f"were given). Got {checkpoint!r} instead."
                )
            return 0
        if checkpoint is None or isinstance(checkpoint, (bool, np.bool_)) or not isinstance(checkpoint, (int, np.integer)):
            raise ParameterError(
                f"The 'checkpoint' parameter must be an int in 0..{self.n_checkpoints - 1} (an index into 'epochs'). "
                f"Got {checkpoint!r} instead."
            )
        k = int(checkpoint)
        if not 0 <= k < self.n_checkpoints:
            raise ParameterError(
                f"The 'checkpoint' parameter must be an int in 0..{self.n_checkpoints - 1} (an index into 'epochs'). "
                f"Got {checkpoint!r} instead."
            )
        return k

    # ------------------------------------------------------------------------------------------------------
    def append(self, batch: Any, *, checkpoint: int | None = None) -> None:
        """Append the activity of the next presentations (rows), in presentation order.

        Parameters
        ----------
        batch : array-like
            ``(n_rows, n_neuroids)``; converted to float32 (a CPU torch tensor is accepted).
        checkpoint : int, optional
            Index into ``epochs`` (required when the recording has a checkpoint dim).  Each checkpoint is
            filled independently, in presentation order.
        """
        self._check_open()
        k = self._checkpoint_index(checkpoint)
        if hasattr(batch, "detach") and hasattr(batch, "cpu"):
            batch = batch.detach().cpu().numpy()
        arr = np.asarray(batch)
        if arr.ndim != 2 or arr.shape[1] != self.n_neuroids:
            raise ParameterError(
                f"The 'batch' parameter must be a 2-D array of shape (n_rows, {self.n_neuroids}). "
                f"Got {describe(arr)} instead."
            )
        if not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool):
            raise InputTypeError(f"The 'batch' parameter must be numeric. Got {describe(arr)} instead.")
        check_float32_exact(arr, "batch")
        arr = np.asarray(arr, dtype=np.float32)
        b = arr.shape[0]
        if self._next[k] + b > self.n_presentations:
            where = f" of checkpoint {k}" if self.has_checkpoint else ""
            raise ParameterError(
                f"The 'batch' parameter has {b} rows, but only {self.n_presentations - self._next[k]} of the "
                f"{self.n_presentations} presentations{where} remain to be written; nothing was written"
            )
        if self._buf_n and self._buf_ck != k:
            self._flush()
        rows = self._chunks[-2]
        pos = 0
        while pos < b:
            cur = self._next[k]
            if self._buf_n == 0:
                self._buf_ck, self._buf_start = k, cur
                if cur % rows == 0 and b - pos >= rows:  # aligned whole chunks: straight to disk
                    n = (b - pos) // rows * rows
                    self._write(k, cur, arr[pos : pos + n])
                    self._next[k] += n
                    pos += n
                    continue
            boundary = min((cur // rows + 1) * rows, self.n_presentations)
            take = min(boundary - cur, b - pos)
            self._buf[self._buf_n : self._buf_n + take] = arr[pos : pos + take]
            self._buf_n += take
            self._next[k] += take
            pos += take
            if self._next[k] == boundary:
                self._flush()

    def _write(self, k: int, start: int, block: np.ndarray) -> None:
        stop = start + block.shape[0]
        rows = self._chunks[-2]
        if self._pool is not None and start % rows == 0:
            # whole chunks: compressed in parallel threads (zlib releases the GIL), written in order with
            # H5Dwrite_chunk; the bytes are exactly what HDF5's shuffle + deflate filters would produce
            spans = []
            a = start
            while a < stop:
                b = min(a + rows, self.n_presentations)
                if b > stop:
                    break
                spans.append((a, b))
                a = b
            if spans:
                futures = [
                    self._pool.submit(_encode_chunk, block[a0 - start : b0 - start], rows, self._complevel)
                    for a0, b0 in spans
                ]
                for (a0, _), fut in zip(spans, futures, strict=True):
                    offset = (k, a0, 0) if self.has_checkpoint else (a0, 0)
                    self._h5ds.id.write_direct_chunk(offset, fut.result(), 0)
                block, start = block[a - start :], a
        if start < stop:
            if self.has_checkpoint:
                self._h5ds[k, start:stop, :] = block
            else:
                self._h5ds[start:stop, :] = block
        self._h5.flush()  # so that a killed process leaves a readable (incomplete) file behind

    def _flush(self) -> None:
        if self._buf_n:
            self._write(self._buf_ck, self._buf_start, self._buf[: self._buf_n])
            self._buf_n = 0

    # ------------------------------------------------------------------------------------------------------
    def set_presentation_coord(self, name: str, values: Any, *, checkpoint: int | None = None) -> None:
        """Set a presentation coord known only after running the model (e.g. ``predicted``, ``correct``).

        Parameters
        ----------
        name : str
            A coord not given at construction.  Names from :mod:`ensembles.conventions` are type-checked
            (``predicted`` ints, ``correct`` bools, ...).
        values : array-like
            One value per presentation; or, without ``checkpoint`` on a recording with a checkpoint dim,
            ``(n_checkpoints, n_presentations)`` values.
        checkpoint : int, optional
            Set the values of one checkpoint: the coord gets dims ``("checkpoint", "presentation")`` and must
            be set for every checkpoint before :meth:`close`.
        """
        self._check_open()
        if not isinstance(name, str) or not name:
            raise InputTypeError(f"The 'name' parameter must be a non-empty string. Got {name!r} instead.")
        if name in self._coord_names or name in (C.ACTIVITY, C.PRESENTATION, C.NEUROID, C.CHECKPOINT):
            raise ParameterError(
                f"The 'name' parameter must be a new presentation coord; {name!r} is already in the recording "
                "(coords given at construction cannot be changed)."
            )
        arr = _as_coord_array(name, values)
        kind = _ALL_KINDS.get(name)
        if kind is not None and arr.dtype.kind != kind:
            what = {"U": "strings", "i": "signed integers", "b": "booleans"}[kind]
            raise ParameterError(f"The presentation coord {name!r} must hold {what}. Got {describe(arr)} instead.")
        if arr.dtype.kind not in "Uibf":
            raise ParameterError(
                f"The presentation coord {name!r} must hold strings, ints, bools or floats. Got {describe(arr)} instead."
            )
        if arr.dtype.kind == "f" and np.isnan(arr).any():
            raise ParameterError(f"The presentation coord {name!r} must not contain NaN.")
        n = self.n_presentations
        if checkpoint is None:
            if name in self._deferred_ck:
                raise ParameterError(f"coord {name!r} was set per checkpoint; keep setting it with checkpoint=")
            ok = arr.shape == (n,) or (self.has_checkpoint and arr.shape == (self.n_checkpoints, n))
            if not ok:
                expected = f"({n},)" + (f" or ({self.n_checkpoints}, {n})" if self.has_checkpoint else "")
                raise ParameterError(f"The 'values' parameter for {name!r} must have shape {expected}. Got {describe(arr)} instead.")
            self._deferred[name] = arr
        else:
            k = self._checkpoint_index(checkpoint)
            if name in self._deferred:
                raise ParameterError(f"coord {name!r} was set for all checkpoints at once; set it without checkpoint=")
            if arr.shape != (n,):
                raise ParameterError(f"The 'values' parameter for {name!r} must have shape ({n},). Got {describe(arr)} instead.")
            per = self._deferred_ck.setdefault(name, {})
            if per:
                first = next(iter(per.values()))
                if first.dtype.kind != arr.dtype.kind:
                    raise ParameterError(
                        f"The 'values' parameter for {name!r} has dtype {arr.dtype}, but earlier checkpoints had {first.dtype}."
                    )
            per[k] = arr

    # ------------------------------------------------------------------------------------------------------
    def _missing(self) -> list[str]:
        problems = []
        for k, n in enumerate(self._next):
            if n != self.n_presentations:
                where = f"checkpoint {k} (epoch {int(self._template['epoch'].values[k])})" if self.has_checkpoint else "activity"
                problems.append(f"{where}: {n} of {self.n_presentations} presentations written")
        for name, per in self._deferred_ck.items():
            absent = [k for k in range(self.n_checkpoints) if k not in per]
            if absent:
                problems.append(f"coord {name!r} not set for checkpoint(s) {absent}")
        return problems

    def abort(self) -> None:
        """Stop writing; keep what was written in ``<path>.partial`` (marked incomplete).  Idempotent."""
        if self._closed:
            return
        self._closed = True
        try:
            self._flush()
        finally:
            self._shutdown_pool()
            self._file.close()

    def close(self) -> str:
        """Finish the recording: check completeness, mark complete, rename to ``path``; return its SHA-256.

        Raises
        ------
        RecordingIncompleteError
            If some presentations of some checkpoint (or some per-checkpoint coord) were never written; the
            data stay in ``<path>.partial`` and the writer is closed.
        """
        if self._closed:
            if self.sha256 is None:
                raise RecordingIncompleteError(
                    f"the RecordingWriter for {str(self.path)!r} was closed without finishing; the partial data are "
                    f"in {str(self.partial_path)!r}"
                )
            return self.sha256
        self._flush()
        missing = self._missing()
        if missing:
            self.abort()
            raise RecordingIncompleteError(
                f"cannot finish the recording {str(self.path)!r}: "
                + "; ".join(missing)
                + f". The data written so far are in {str(self.partial_path)!r} (incomplete)."
            )
        new: dict[str, tuple[tuple[str, ...], np.ndarray]] = {}
        for name, arr in self._deferred.items():
            dims = (C.PRESENTATION,) if arr.ndim == 1 else (C.CHECKPOINT, C.PRESENTATION)
            new[name] = (dims, arr)
        for name, per in self._deferred_ck.items():
            new[name] = ((C.CHECKPOINT, C.PRESENTATION), np.stack([per[k] for k in range(self.n_checkpoints)]))
        try:
            final = validate_recording(self._template.assign_coords(new))
            digest = metadata_digest(final)
        except ValueError:
            self.abort()
            raise
        try:
            for name, (dims, arr) in new.items():
                self._write_coord(name, dims, arr)
            names = self._coord_names + list(new)
            self._var.attrs["coordinates"] = " ".join(names)
            if "coordinates" in self._file.attrs:
                del self._file.attrs["coordinates"]
            self._file.attrs[METADATA_HASH_ATTR] = digest
            self._file.attrs[COMPLETE_ATTR] = np.int64(1)
        except BaseException:
            self.abort()
            raise
        self._closed = True
        self._shutdown_pool()
        self._file.close()
        self.sha256 = file_sha256(self.partial_path)
        commit_file(self.partial_path, self.path, fsync=True, fsync_dir=True)
        return self.sha256

    def _shutdown_pool(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None

    def _write_coord(self, name: str, dims: tuple[str, ...], arr: np.ndarray) -> None:
        # the encodings xarray's netCDF writer uses: vlen UTF-8 strings; bools as int8 with attr dtype="bool"
        if arr.dtype.kind == "U":
            self._file.create_variable(name, dims, dtype=h5py.string_dtype(), data=arr.astype(object))
        elif arr.dtype.kind == "b":
            var = self._file.create_variable(name, dims, dtype="i1", data=arr.astype(np.int8))
            var.attrs["dtype"] = "bool"
        else:
            self._file.create_variable(name, dims, dtype=arr.dtype, data=arr)

