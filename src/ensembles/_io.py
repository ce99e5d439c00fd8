"""Atomic file writes shared by every module that writes results (runs, sweeps, analyses, reports).

The content goes to a temporary file in the destination's directory, is flushed and fsync'ed, then renamed over
the destination (``os.replace`` is atomic on POSIX): a reader, or a restarted job, sees either the old file or the
complete new one, never a torn write.  On any error the temporary file is removed and the destination is untouched.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically, creating the parent directory if needed."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    return path
