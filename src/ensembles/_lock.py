"""Exclusive output directories: one writer at a time, and never over files another program wrote.

Every command that writes a run, analysis, report or sweep directory claims it first::

    with claim_output_dir(out, command="analyze", force=args.force) as claim:
        ...                              # write into out
        claim.note_stale()               # optional: a message about a crashed earlier writer, or None

A claim is an exclusive ``flock`` on ``OUT/.ensembles.lock`` (the kernel releases it when the holder dies, even by
SIGKILL, so a lock is never left held by a dead process), plus an ownership marker ``OUT/.ensembles.json`` naming
the command that writes the directory. A second process gets :class:`~ensembles.errors.OutputDirError` naming the
holder's pid, host and command. A directory that already holds files but no marker of the same command family was
not written by us: it is refused unless ``force=True`` (``--force``). A lock file whose last holder recorded no
clean release is reported as stale (the earlier writer crashed or was killed): its output may be incomplete and
is being redone.
"""

from __future__ import annotations

import datetime as _dt
import errno
import fcntl
import json
import os
import socket
import stat
from collections.abc import Iterable
from pathlib import Path

from ensembles.errors import OutputDirError

LOCK_NAME = ".ensembles.lock"
MARKER_NAME = ".ensembles.json"
_OURS = {LOCK_NAME, MARKER_NAME}

__all__ = ["OutputDirClaim", "claim_output_dir", "dir_in_use", "LOCK_NAME", "MARKER_NAME"]


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_CLOEXEC = getattr(os, "O_CLOEXEC", 0)


def _read_json(path: Path) -> dict | None:
    """The JSON object in the regular file ``path`` (never through a symbolic link), else None."""
    try:
        fd = os.open(path, os.O_RDONLY | _NOFOLLOW | _CLOEXEC | os.O_NONBLOCK)
    except OSError:
        return None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        with os.fdopen(fd, "rb", closefd=False) as fh:
            data = json.loads(fh.read(1 << 20).decode("utf-8"))
    except (OSError, ValueError, UnicodeDecodeError):
        return None
    finally:
        os.close(fd)
    return data if isinstance(data, dict) else None


def _open_lock(path: Path, *, create: bool = True):
    """Open the lock file ``path`` for reading and writing without following a symbolic link; refuse anything but a
    regular file (a link, a FIFO, a device, a directory) with :class:`~ensembles.errors.OutputDirError`."""
    flags = os.O_RDWR | _NOFOLLOW | _CLOEXEC | os.O_NONBLOCK | (os.O_CREAT if create else 0)
    what = None
    try:
        fd = os.open(path, flags, 0o666)
    except OSError as err:
        if err.errno == errno.ELOOP or (err.errno in (errno.EISDIR, errno.ENXIO, errno.EOPNOTSUPP)):
            what = "a symbolic link" if err.errno == errno.ELOOP else "not a regular file"
        else:
            raise
    else:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            os.close(fd)
            what = "not a regular file"
    if what is not None:
        raise OutputDirError(f"The lock file {str(path)!r} is {what}; ensembles only uses a regular file of its "
                             "own there: remove it, or choose another directory.")
    os.set_blocking(fd, True)
    return os.fdopen(fd, "a+", encoding="utf-8")


class OutputDirClaim:
    """An exclusive claim on an output directory (see the module docstring)."""

    def __init__(self, path: str | os.PathLike, *, command: str, family: Iterable[str] = ()):
        self.path = Path(path)
        self.command = command
        # commands whose directories this command may continue (e.g. "demo" writes what "analyze" reads)
        self.family = {command, *family}
        self._fh = None
        self.stale: dict | None = None
        self._created_dir = self._created_own = False

    # ------------------------------------------------------------------ locking
    def acquire(self, *, force: bool = False) -> OutputDirClaim:
        if self.path.exists() and not self.path.is_dir():
            raise OutputDirError(f"The output path {str(self.path)!r} exists and is not a directory; choose a "
                                 "directory.")
        existed = self.path.is_dir()
        foreign = self._foreign_files() if existed else []
        marker = _read_json(self.path / MARKER_NAME) if existed else None
        if foreign and not force:
            if marker is None:
                raise OutputDirError(
                    f"The output directory {str(self.path)!r} holds files that ensembles {self.command} did not "
                    f"write (e.g. {foreign[0]!r}); choose an empty or new directory, or pass --force to write "
                    "into it anyway.")
            if marker.get("command") not in self.family:
                raise OutputDirError(
                    f"The output directory {str(self.path)!r} was written by 'ensembles {marker.get('command')}', "
                    f"not by 'ensembles {self.command}'; choose another directory, or pass --force.")
        self._created_dir = not existed
        self._created_own = not (os.path.lexists(self.path / LOCK_NAME) or os.path.lexists(self.path / MARKER_NAME))
        self.path.mkdir(parents=True, exist_ok=True)
        fh = _open_lock(self.path / LOCK_NAME)
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.seek(0)
            holder = _parse(fh.read())
            fh.close()
            who = (f"pid {holder.get('pid', '?')} on {holder.get('host', '?')} (ensembles "
                   f"{holder.get('command', '?')} since {holder.get('since', '?')})") if holder else "another process"
            raise OutputDirError(f"The output directory {str(self.path)!r} is in use by {who}; wait for it to "
                                 "finish or choose another directory.") from None
        fh.seek(0)
        previous = _parse(fh.read())
        if previous and not previous.get("released"):
            self.stale = previous
        fh.seek(0)
        fh.truncate()
        fh.write(json.dumps({"pid": os.getpid(), "host": socket.gethostname(), "command": self.command,
                             "since": _now()}) + "\n")
        fh.flush()
        self._fh = fh
        if marker is None or marker.get("command") not in self.family:
            _write_marker(self.path, self.command)
        return self

    def release(self, *, failed: bool = False) -> None:
        """Release the claim.  ``failed``: the command stopped (bad input, an error); when this claim created the
        lock and the marker and nothing else was written into the directory, both are removed again, and the
        directory too when this claim created it, so that a refused command leaves the directory as it found it."""
        fh, self._fh = self._fh, None
        if fh is None:
            return
        if failed and self._created_own and self._holds_only_ours():
            try:
                for name in (MARKER_NAME, LOCK_NAME):
                    try:
                        os.unlink(self.path / name)
                    except FileNotFoundError:
                        pass
                if self._created_dir:
                    try:
                        self.path.rmdir()
                    except OSError:
                        pass
            finally:
                fcntl.flock(fh.fileno(), fcntl.LOCK_UN)
                fh.close()
            return
        try:
            fh.seek(0)
            record = _parse(fh.read()) or {}
            record["released"] = _now()
            fh.seek(0)
            fh.truncate()
            fh.write(json.dumps(record) + "\n")
            fh.flush()
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)
            fh.close()

    def note_stale(self) -> str | None:
        """A one-line note when the previous writer of this directory died without releasing it, else None."""
        if not self.stale:
            return None
        s = self.stale
        return (f"note: a previous 'ensembles {s.get('command', '?')}' (pid {s.get('pid', '?')} on "
                f"{s.get('host', '?')}, started {s.get('since', '?')}) stopped without finishing in "
                f"{str(self.path)!r}; its partial output is being redone.")

    def __enter__(self) -> OutputDirClaim:
        if self._fh is None:
            self.acquire()
        return self

    def __exit__(self, exc_type, *exc) -> None:
        self.release(failed=exc_type is not None)

    # ------------------------------------------------------------------ helpers
    def _holds_only_ours(self) -> bool:
        try:
            return set(os.listdir(self.path)) <= _OURS
        except OSError:
            return False

    def _foreign_files(self) -> list[str]:
        try:
            names = sorted(os.listdir(self.path))
        except OSError:
            return []
        # our lock, our marker, and the marker's temporary name while another process writes it (a race otherwise
        # makes the second of two concurrent commands see a "foreign" file instead of the holder of the lock)
        return [n for n in names if n not in _OURS and not n.startswith(f".{MARKER_NAME}.")]


def _parse(text: str) -> dict | None:
    text = text.strip()
    if not text:
        return None
    try:
        data = json.loads(text.splitlines()[-1])
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def _write_marker(path: Path, command: str) -> None:
    from ensembles import __version__
    from ensembles._io import atomic_write_text

    atomic_write_text(path / MARKER_NAME, json.dumps({"command": command, "created": _now(),
                                                     "ensembles_version": __version__}, indent=1) + "\n")


def claim_output_dir(path: str | os.PathLike, *, command: str, force: bool = False,
                     family: Iterable[str] = ()) -> OutputDirClaim:
    """Claim ``path`` for ``command`` (see the module docstring); use the result as a context manager.

    Raises :class:`~ensembles.errors.OutputDirError` when another live process holds the directory, or when it holds
    files that no command of ``{command, *family}`` wrote and ``force`` is false.
    """
    return OutputDirClaim(path, command=command, family=family).acquire(force=force)


def dir_in_use(path: str | os.PathLike) -> bool:
    """True if a live process holds the claim on ``path``."""
    lock = Path(path) / LOCK_NAME
    if not os.path.lexists(lock):
        return False
    try:
        fh = _open_lock(lock, create=False)
    except (OutputDirError, FileNotFoundError):
        return False
    with fh:
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(fh.fileno(), fcntl.LOCK_UN)
        return False
