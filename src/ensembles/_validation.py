"""Shared argument checks and message formats.

Messages name the parameter, what was expected and what was received, e.g.
``"dim='stimulus' not found in activity dims ('presentation', 'neuroid')"``.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from typing import Any

import numpy as np

from ensembles.errors import InputTypeError, ParameterError


class EnsemblesWarning(UserWarning):
    """Base class of the warnings this package emits (turned into errors in the test-suite)."""


def describe(value: Any) -> str:
    """Short description of a received value for error messages."""
    if isinstance(value, np.ndarray):
        return f"array of shape {value.shape} and dtype {value.dtype}"
    if hasattr(value, "dims") and hasattr(value, "shape"):
        return f"{type(value).__name__} with dims {tuple(value.dims)} and shape {tuple(value.shape)}"
    r = repr(value)
    return r if len(r) <= 80 else r[:77] + "..."


def param_error(name: str, expected: str, got: Any, *, exc: type[Exception] = ParameterError) -> Exception:
    """Build (not raise) an error in the house wording."""
    return exc(f"The {name!r} parameter must be {expected}. Got {describe(got)} instead.")


def check_choice(name: str, value: Any, choices: Iterable[Any]) -> Any:
    """Return ``value`` if it is one of ``choices``; otherwise raise a ParameterError suggesting the closest."""
    choices = tuple(choices)
    if value in choices:
        return value
    hint = ""
    if isinstance(value, str):
        close = difflib.get_close_matches(value, [str(c) for c in choices], n=1)
        if close:
            hint = f" Did you mean {close[0]!r}?"
    raise ParameterError(
        f"The {name!r} parameter must be one of {', '.join(repr(c) for c in choices)}. Got {value!r} instead.{hint}"
    )


def closest(value: str, choices: Iterable[str], n: int = 3) -> list[str]:
    """Closest matches of ``value`` among ``choices`` (for 'did you mean' hints)."""
    return difflib.get_close_matches(str(value), list(choices), n=n, cutoff=0.4)


def as_activity(x: Any, *, name: str = "x", allow_nan: bool = True) -> np.ndarray:
    """Coerce array-like input of shape (n_presentations, n_neuroids) to a 2-D float numpy array.

    Raises a TypeError for non-numeric input and a ValueError for the wrong number of dimensions,
    empty input or (when ``allow_nan`` is False) non-finite values.
    """
    if hasattr(x, "dims") and hasattr(x, "values"):
        x = x.values
    try:
        arr = np.asarray(x)
    except (ValueError, TypeError) as err:  # ragged sequences, objects numpy cannot convert
        raise InputTypeError(f"The {name!r} parameter must be array-like. Got {describe(x)} instead.") from err
    if arr.dtype == bool:
        arr = arr.astype(np.float64)
    if not (np.issubdtype(arr.dtype, np.number)):
        raise InputTypeError(
            f"The {name!r} parameter must be a numeric array of shape (n_presentations, n_neuroids). "
            f"Got {describe(arr)} instead."
        )
    if arr.ndim != 2:
        raise ParameterError(
            f"The {name!r} parameter must be a 2-D array of shape (n_presentations, n_neuroids). "
            f"Got {describe(arr)} instead."
        )
    if arr.size == 0:
        raise ParameterError(f"The {name!r} parameter must not be empty. Got {describe(arr)} instead.")
    if not np.issubdtype(arr.dtype, np.floating):
        arr = arr.astype(np.float64)
    if not allow_nan and not np.all(np.isfinite(arr)):
        raise ParameterError(f"The {name!r} parameter must contain only finite values; it contains NaN or inf.")
    return arr


def as_labels(y: Any, n: int, *, name: str = "labels", min_classes: int = 2) -> np.ndarray:
    """Coerce class labels to a 1-D array of length ``n`` with at least ``min_classes`` distinct values."""
    if hasattr(y, "dims") and hasattr(y, "values"):
        y = y.values
    arr = np.asarray(y)
    if arr.ndim != 1:
        raise ParameterError(f"The {name!r} parameter must be 1-D. Got {describe(arr)} instead.")
    if arr.shape[0] != n:
        raise ParameterError(
            f"The {name!r} parameter must have one entry per presentation ({n}). Got length {arr.shape[0]} instead."
        )
    if arr.dtype.kind == "f" and np.any(np.isnan(arr)):
        raise ParameterError(f"The {name!r} parameter must not contain NaN.")
    n_classes = len(np.unique(arr))
    if n_classes < min_classes:
        raise ParameterError(
            f"The {name!r} parameter must contain at least {min_classes} distinct classes. Got {n_classes} instead."
        )
    return arr
