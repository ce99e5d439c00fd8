"""A small TOML writer for run configs (``tomllib`` only reads): :func:`dumps_toml` writes ``config.toml``."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

from ensembles.errors import ParameterError

__all__ = ["dumps_toml"]


def _toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if math.isnan(v) or math.isinf(v):
            raise ParameterError(f"Cannot write the non-finite value {v!r} to TOML.")
        return repr(v)
    if isinstance(v, str):
        return json.dumps(v)
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    raise TypeError(f"Cannot write a value of type {type(v).__name__} to TOML.")


def dumps_toml(d: Mapping[str, Any]) -> str:
    """Write a two-level dict as TOML; ``None`` values are omitted (TOML has no null: absent = default)."""
    lines = []
    for k, v in d.items():
        if not isinstance(v, Mapping) and v is not None:
            lines.append(f"{k} = {_toml_value(v)}")
    for k, v in d.items():
        if isinstance(v, Mapping):
            lines.append(f"\n[{k}]")
            for kk, vv in v.items():
                if vv is not None:
                    lines.append(f"{kk} = {_toml_value(vv)}")
    return "\n".join(lines) + "\n"
