"""Statistics across independent runs (seeds): t-intervals of a mean and Welch intervals of a difference.

With few seeds (the reproduction uses 3) these intervals are wide by construction; they are what a reader needs to
see whether a difference between training rules is larger than the spread between seeds of one rule.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import stats

from ensembles.analysis._contract import Result
from ensembles.errors import ParameterError

__all__ = ["seed_interval", "difference_interval", "seed_summary"]


def _interval(estimate: float, low: float, high: float, n: int) -> Result:
    """An estimate with its two-sided interval: ``estimate``, ``low``, ``high`` (NaN when ``n`` is too small), ``n``,
    and whether the interval lies strictly above or below zero (``above_zero``, ``below_zero``)."""
    return Result({"estimate": estimate, "low": low, "high": high, "n": n,
                   "above_zero": bool(np.isfinite(low) and low > 0),
                   "below_zero": bool(np.isfinite(high) and high < 0)})


def _values(x: Any, name: str) -> np.ndarray:
    arr = np.asarray(getattr(x, "values", x), dtype=float).ravel()
    arr = arr[~np.isnan(arr)]
    if np.isinf(arr).any():
        raise ParameterError(f"The {name!r} parameter must contain only finite values (NaN values are dropped). "
                             f"Got {int(np.isinf(arr).sum())} infinite value(s).")
    return arr


def _check_confidence(ci: float) -> None:
    if isinstance(ci, bool) or not isinstance(ci, (int, float)) or not 0 < ci < 1:
        raise ParameterError(f"The 'ci' parameter (confidence level) must be a number in (0, 1). Got {ci!r} instead.")


def seed_interval(values: Any, *, ci: float = 0.95) -> Result:
    """Mean of ``values`` (one per seed; NaN dropped) with its Student-t interval, ``mean ± t_{n-1} · s / sqrt(n)``.

    ``n = 1`` gives NaN bounds; ``n = 0`` gives a NaN estimate.  Returns a :class:`~ensembles.analysis.Result` of
    plain values: ``estimate``, ``low``, ``high``, ``n``, ``above_zero`` and ``below_zero`` (the interval lies strictly
    above / below zero).
    """
    _check_confidence(ci)
    v = _values(values, "values")
    n = int(v.size)
    if n == 0:
        return _interval(float("nan"), float("nan"), float("nan"), 0)
    mean = float(v.mean())
    if n == 1:
        return _interval(mean, float("nan"), float("nan"), 1)
    half = float(stats.t.ppf((1 + ci) / 2, n - 1)) * float(v.std(ddof=1)) / np.sqrt(n)
    return _interval(mean, mean - half, mean + half, n)


def difference_interval(a: Any, b: Any, *, ci: float = 0.95) -> Result:
    """``mean(a) - mean(b)`` with Welch's t interval (unequal variances, Welch–Satterthwaite degrees of freedom).

    ``n`` of the result is ``min(n_a, n_b)``; bounds are NaN unless both have at least 2 values. When both groups
    have zero variance the interval collapses to the difference itself.  Same fields as :func:`seed_interval`.
    """
    _check_confidence(ci)
    x, y = _values(a, "a"), _values(b, "b")
    if x.size == 0 or y.size == 0:
        return _interval(float("nan"), float("nan"), float("nan"), 0)
    diff = float(x.mean() - y.mean())
    n = int(min(x.size, y.size))
    if x.size < 2 or y.size < 2:
        return _interval(diff, float("nan"), float("nan"), n)
    va, vb = x.var(ddof=1) / x.size, y.var(ddof=1) / y.size
    se2 = va + vb
    if se2 == 0:
        return _interval(diff, diff, diff, n)
    df = se2 ** 2 / (va ** 2 / (x.size - 1) + vb ** 2 / (y.size - 1))
    half = float(stats.t.ppf((1 + ci) / 2, df)) * float(np.sqrt(se2))
    return _interval(diff, diff - half, diff + half, n)


def seed_summary(table: Any, by: list[str], *, value: str = "value", ci: float = 0.95) -> Any:
    """Across-seed mean and t-interval of ``value`` for every group of ``by`` in a tidy table (one row per seed).

    Returns a pandas DataFrame with the ``by`` columns and ``mean``, ``low``, ``high``, ``n``.
    """
    import pandas as pd

    if not isinstance(table, pd.DataFrame):
        raise ParameterError(f"The 'table' parameter must be a pandas DataFrame. Got {type(table).__name__}.")
    missing = [c for c in [*by, value] if c not in table.columns]
    if missing:
        raise ParameterError(f"The 'table' parameter lacks the columns {missing}.")
    rows = []
    for key, grp in table.groupby(by, sort=True, dropna=False):
        iv = seed_interval(grp[value].to_numpy(float), ci=ci)
        key = key if isinstance(key, tuple) else (key,)
        rows.append({**dict(zip(by, key, strict=True)), "mean": iv.estimate, "low": iv.low, "high": iv.high,
                     "n": iv.n})
    return pd.DataFrame(rows, columns=[*by, "mean", "low", "high", "n"])
