"""Resampling statistics shared by the workflows and the notebooks (no torch).

:func:`bootstrap_mean_ci` is the percentile bootstrap of a mean (Efron & Tibshirani 1993, ch. 13) that the report's
sparseness tables and bars use; it lives here so that workflows compose analysis functions instead of computing
statistics themselves (docs/architecture.md, "The analysis contract").

References
----------
Efron, B. & Tibshirani, R. J. (1993). An Introduction to the Bootstrap. Chapman & Hall, ch. 13.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import xarray as xr

from ensembles.analysis._contract import Result, is_labelled, keeps_labels
from ensembles.analysis._input import check_count, unwrap
from ensembles.errors import ParameterError

__all__ = ["bootstrap_mean_ci"]


@keeps_labels("values")
def bootstrap_mean_ci(
    values: Any,
    *,
    n_bootstrap: int = 1000,
    ci: float = 0.95,
    random_state: int | np.random.Generator | None = None,
) -> Result | xr.Dataset:
    """Mean of the finite values and its percentile bootstrap confidence interval, resampling the values.

    Non-finite values (e.g. NaN sparseness of silent presentations) are dropped first and ``n`` counts the values
    used.  No finite value (or no value) gives NaN with ``n = 0``; one value gives that value for the mean and both bounds.

    Parameters
    ----------
    values : array-like of any shape (flattened), or a DataArray
    n_bootstrap : int
        Resamples of ``n`` values with replacement.
    ci : float
        Coverage of the percentile interval, in (0, 1).
    random_state : int, Generator or None
        A Generator is used as it is (so successive calls continue one stream).

    Returns
    -------
    :class:`~ensembles.analysis.Result` (plain values) or xr.Dataset (a DataArray) with ``mean``, ``ci_low``,
    ``ci_high`` and ``n``.

    Examples
    --------
    >>> bootstrap_mean_ci([1.0, 2.0, np.nan, 3.0], n_bootstrap=200, random_state=0).mean
    2.0
    """
    n_bootstrap = check_count("n_bootstrap", n_bootstrap, 1)
    if not np.isscalar(ci) or not 0 < ci < 1:
        raise ParameterError(f"The 'ci' parameter must be a float in (0, 1). Got {ci!r} instead.")
    if is_labelled(values) or np.size(values) > 0:  # empty input: NaN with n = 0, like all-NaN input
        values_ = unwrap(values, name="values", ndim=None)
        v = np.asarray(values_.values if isinstance(values_, xr.DataArray) else values_, dtype=float).ravel()
    else:
        v = np.zeros(0)
    v = v[np.isfinite(v)]
    if v.size == 0:
        mean, lo, hi = np.nan, np.nan, np.nan
    elif v.size == 1:
        mean = lo = hi = float(v[0])
    else:
        rng = np.random.default_rng(random_state)
        idx = rng.integers(0, v.size, size=(n_bootstrap, v.size))
        means = v[idx].mean(axis=1)
        pct = float(np.round(100.0 * ci, 10))  # 0.95 -> 95.0 exactly, so the quantiles are 2.5 and 97.5
        lo, hi = np.percentile(means, [(100 - pct) / 2, 100 - (100 - pct) / 2])
        mean, lo, hi = float(v.mean()), float(lo), float(hi)
    attrs = {"statistic": "bootstrap_mean_ci", "n_bootstrap": n_bootstrap, "ci": float(ci),
             "definition": "percentile bootstrap of the mean of the finite values (Efron & Tibshirani 1993)"}
    return Result({"mean": mean, "ci_low": lo, "ci_high": hi, "n": int(v.size)}, attrs=attrs)
