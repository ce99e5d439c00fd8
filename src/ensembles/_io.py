"""Atomic file writes: the one writer behind every file ``ensembles`` produces (runs, sweeps, analyses, reports).

:func:`atomic_write` hands a unique temporary path in the destination's directory to a ``write_fn`` (anything that
writes a file given a path: ``torch.save``, ``Dataset.to_netcdf``, ``Figure.savefig``, ``np.savez``, or the text
and JSON helpers below), fsyncs it, gives it the permissions a plain ``open()`` would (``0o666`` minus the process
umask: temporary files are created ``0600``, which would otherwise stay), then renames it over the destination
(``os.replace`` is atomic on POSIX).  A reader, a restarted job, or a second process sees either the old file or the
complete new one, never a torn write; two writers never share a temporary name.  On any error the temporary file is
removed and the destination is untouched.

Two keywords tune the durability against an operating-system crash (a killed *process* never leaves a torn file
either way): ``fsync=False`` skips flushing the file's data before the rename (training checkpoints, rewritten
every epoch, whose readers verify a checksum), and ``fsync_dir=True`` also flushes the directory entry after the
rename (recordings, so that the rename itself survives a power cut).  :func:`commit_file` is the same last step
for a file that was streamed under a temporary name of its own (:class:`~ensembles.record.RecordingWriter`).
"""

from __future__ import annotations

import errno
import json
import math
import os
import stat
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ensembles.errors import DataFileError

__all__ = ["atomic_write", "commit_file", "name_max", "fsync_file", "fsync_directory", "atomic_write_text", "atomic_write_json",
           "read_json", "read_json_object", "file_mode", "to_jsonable"]

_umask_lock = threading.Lock()


def file_mode() -> int:
    """The mode a new file gets from ``open()`` in this process: ``0o666`` minus the umask."""
    try:  # Linux >= 4.7 reports the umask without changing it
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return 0o666 & ~int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    with _umask_lock:  # elsewhere: read it by setting it (restored at once)
        mask = os.umask(0o022)
        os.umask(mask)
    return 0o666 & ~mask


def fsync_file(path: str | os.PathLike) -> None:
    """Flush a file's data to the disk (``os.fsync``)."""
    with open(path, "rb") as fh:
        os.fsync(fh.fileno())


def fsync_directory(directory: str | os.PathLike) -> None:
    """Flush a directory's entries (a rename into it) to the disk; a no-op where directories cannot be opened."""
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


def commit_file(tmp: str | os.PathLike, path: str | os.PathLike, *, fsync: bool = True,
                fsync_dir: bool = False) -> Path:
    """Move the complete file ``tmp`` onto ``path`` atomically: fsync it (unless ``fsync=False``), give it the mode
    of a new file (:func:`file_mode`), ``os.replace`` it, then fsync the directory when ``fsync_dir``."""
    path = Path(path)
    if fsync:
        fsync_file(tmp)
    os.chmod(tmp, file_mode())
    os.replace(tmp, path)
    if fsync_dir:
        fsync_directory(path.parent)
    return path


#: the length of the random part of a temporary name (``tempfile.mkstemp``)
_RANDOM_CHARS = 8


def name_max(directory: str | os.PathLike) -> int:
    """The longest file name the file system of ``directory`` accepts (``NAME_MAX``; 255 where unknown)."""
    try:
        return int(os.pathconf(directory, "PC_NAME_MAX"))
    except (OSError, ValueError, AttributeError):
        return 255


def _tmp_prefix(path: Path, suffix: str) -> str:
    """``.<name>.``, with ``<name>`` shortened so that the temporary name fits the file system whenever the final
    name does (a legal 255-character name must not fail for its temporary name)."""
    room = name_max(path.parent) - len(f"..{'x' * _RANDOM_CHARS}.tmp{suffix}".encode())
    name = path.name.encode("utf-8", "surrogateescape")[:max(room, 1)].decode("utf-8", "ignore")
    return f".{name}."


def atomic_write(path: str | os.PathLike, write_fn: Callable[[Path], Any], *, suffix: str = "", fsync: bool = True,
                 fsync_dir: bool = False) -> Path:
    """Write ``path`` atomically: ``write_fn(tmp)`` writes a temporary file that then replaces ``path``.

    Parameters
    ----------
    path : path
        The destination; its parent directory is created if needed.
    write_fn : callable
        Called with the temporary path (a :class:`~pathlib.Path` in the same directory, unique to this call).
        It must write the complete file there (it may replace the empty file that exists at that path).
    suffix : str
        Suffix of the temporary name (e.g. ``".png"`` for writers that infer the format from the name).
    fsync : bool
        Flush the file's data to the disk before the rename (default).  False: a killed process still leaves the
        old file or the complete new one, but after an operating-system crash the new file may be damaged; only
        for files whose reader verifies a checksum.
    fsync_dir : bool
        Also flush the directory after the rename, so that the new name itself survives an operating-system crash.

    Returns
    -------
    pathlib.Path
        ``path``.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=_tmp_prefix(path, suffix), suffix=f".tmp{suffix}", dir=path.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        write_fn(tmp)
        commit_file(tmp, path, fsync=fsync, fsync_dir=fsync_dir)
    except BaseException:
        try:
            tmp.unlink()
        except OSError:
            pass
        raise
    return path


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically (see :func:`atomic_write`)."""
    return atomic_write(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def to_jsonable(obj: Any) -> Any:
    """``obj`` with numpy scalars/arrays as Python values, non-finite floats as ``None``, paths as strings."""
    if isinstance(obj, dict):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, bool) or obj is None or isinstance(obj, (str, int)):
        return obj
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if hasattr(obj, "tolist") and callable(obj.tolist):  # numpy scalars and arrays
        return to_jsonable(obj.tolist())
    if isinstance(obj, os.PathLike):
        return os.fspath(obj)
    return str(obj)


def atomic_write_json(path: str | os.PathLike, obj: Any, *, indent: int = 1) -> Path:
    """Write ``obj`` as JSON atomically (numpy values converted, non-finite floats written as ``null``)."""
    return atomic_write_text(path, json.dumps(to_jsonable(obj), indent=indent) + "\n")


def _open_own(path: str | os.PathLike):
    """Open one of the toolkit's own files for reading, never through a symbolic link at its last component (a
    file of a directory linked to a file elsewhere is not read); OSError (ELOOP) for a link, or a non-regular file."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0) | os.O_NONBLOCK)
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise OSError(errno.EINVAL, "not a regular file", os.fspath(path))
    return open(fd, encoding="utf-8")


def read_json(path: str | os.PathLike, default: Any = None) -> Any:
    """Read one of the toolkit's own JSON files; ``default`` if it does not exist, is a symbolic link or something
    other than a regular file, or is not valid JSON."""
    try:
        with _open_own(path) as fh:
            return json.load(fh)
    except (OSError, ValueError):
        return default


def read_json_object(path: str | os.PathLike, *, prefix: str = "", fix: str = "") -> dict:
    """The JSON object stored in ``path``.

    Raises :class:`~ensembles.errors.DataFileError` naming the file when it cannot be read, is not JSON, or holds
    something other than an object: ``"{prefix}'{path}' is unreadable (...); {fix}."`` or ``"... does not hold a
    JSON object; {fix}."``.
    """
    tail = f"; {fix}." if fix else "."
    try:
        with _open_own(path) as fh:
            data = json.load(fh)
    except OSError as err:
        why = "a symbolic link" if err.errno == errno.ELOOP else (err.strerror or str(err))
        raise DataFileError(f"{prefix}{str(path)!r} is unreadable ({why}){tail}") from None
    except ValueError as err:
        raise DataFileError(f"{prefix}{str(path)!r} is unreadable ({err}){tail}") from None
    if not isinstance(data, dict):
        raise DataFileError(f"{prefix}{str(path)!r} does not hold a JSON object{tail}")
    return data
