"""Input helpers shared by the geometry modules: one conversion path for activity and labels."""

from __future__ import annotations

from typing import Any

import numpy as np
import xarray as xr

from ensembles.analysis._input import matrix, resolve_labels
from ensembles.errors import ParameterError


def _matrix(x: Any, name: str) -> tuple[np.ndarray, xr.DataArray | None]:
    """float64 (n_presentations, n_neuroids) without NaN/+-inf, and the labelled view (the one conversion path)."""
    m = matrix(x, name=name, float64=True)
    return m.values, m.da


def _resolve_labels(labels: Any, da: xr.DataArray | None, n: int, name: str = "labels") -> np.ndarray:
    """Labels given as an array, or as the name of a presentation coordinate of ``da``."""
    return resolve_labels(da if da is not None else np.empty((n, 0)), labels, n, default=None, name=name)


def _set_mismatch(a: Any, b: Any, what: str, item: str, names: tuple[str, str], hint: str = "") -> ParameterError:
    """The error for two inputs over different stimulus sets: how many ``item`` only each has, with examples."""
    only_a, only_b = sorted(set(a) - set(b)), sorted(set(b) - set(a))
    return ParameterError(
        f"{what}: {len(only_a)} {item} only in {names[0]!r} (e.g. {only_a[:5]}), "
        f"{len(only_b)} only in {names[1]!r} (e.g. {only_b[:5]}).{hint}"
    )
