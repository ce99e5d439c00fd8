"""Small atomic-file helpers shared by the sweep modules.

Every file the sweep writes goes through :func:`atomic_write_text`: the content is written to a temporary file in
the same directory, flushed and fsync'ed, then renamed over the destination (``os.replace`` is atomic on POSIX), so
a reader (or a restarted sweep) sees either the old file or the complete new one, never a torn write.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

from ensembles._io import atomic_write_text

__all__ = ["atomic_write_json", "atomic_write_text", "read_json"]


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if hasattr(obj, "item") and callable(obj.item) and getattr(obj, "ndim", 1) == 0:
        return _jsonable(obj.item())
    if isinstance(obj, (str, int, float, bool)) or obj is None:
        return obj
    if isinstance(obj, os.PathLike):
        return os.fspath(obj)
    return repr(obj)


def atomic_write_json(path: str | os.PathLike, obj: Any) -> Path:
    """Write ``obj`` as indented JSON, atomically (non-finite floats become ``null``)."""
    return atomic_write_text(path, json.dumps(_jsonable(obj), indent=2, sort_keys=False) + "\n")


def read_json(path: str | os.PathLike, default: Any = None) -> Any:
    """Read a JSON file; return ``default`` if it does not exist or is not valid JSON."""
    try:
        with open(path, encoding="utf-8") as fh:
            return json.load(fh)
    except (OSError, ValueError):
        return default
