"""Mixed selectivity: how many classes drive each neuroid significantly (Welch 1947 t or Mann–Whitney U per neuroid ×
class, corrected over all tests; Rigotti et al. 2013)."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import xarray as xr
from scipy import stats

from ensembles import conventions as C
from ensembles._validation import check_choice, describe
from ensembles.analysis import _xr
from ensembles.analysis._contract import keeps_labels
from ensembles.analysis._stats import fdr_bh
from ensembles.errors import ParameterError

from ._core import _dataset, _moments, _pilot, _prepare

__all__ = ["n_driven_classes"]


# --------------------------------------------------------------------------------------------------------------------
# mixed selectivity: number of driven classes
# --------------------------------------------------------------------------------------------------------------------

CORRECTIONS = ("fdr_bh", "bonferroni", "none")


@keeps_labels("x")
def n_driven_classes(
    x: Any,
    labels: Any = None,
    *,
    alpha: float = 0.05,
    correction: str = "fdr_bh",
    test: str = "welch",
    dim: str = C.PRESENTATION,
    nan_policy: str = "propagate",
) -> xr.Dataset:
    """Number of classes that drive each neuroid significantly above its response to the other classes.

    For every neuroid × class a one-sided test of "class c > rest": ``test="welch"`` (Welch 1947 t with
    Welch–Satterthwaite df; chunk-wise on dask) or ``"mannwhitney"`` (Mann–Whitney U, ``scipy.stats.mannwhitneyu``,
    asymptotic, in memory).  p-values are corrected over **all** neuroid × class tests with ``correction``
    (``"fdr_bh"``: Benjamini–Hochberg FDR; ``"bonferroni"``; ``"none"``) and a class counts as driving the neuroid
    when the corrected p < ``alpha``.  Neuroids driven by ≥ 2 classes show mixed selectivity (Rigotti et al. 2013).

    Returns
    -------
    xr.Dataset with ``n_driven`` (neuroid), and per (class, neuroid) ``statistic`` (t or U), ``p``, ``q`` (corrected)
    and ``driven`` (bool); attrs state the test, the correction and alpha.
    """
    check_choice("correction", correction, CORRECTIONS)
    check_choice("test", test, ("welch", "mannwhitney"))
    if not np.isscalar(alpha) or not 0 < alpha < 1:
        raise ParameterError(f"The 'alpha' parameter must be in (0, 1). Got {describe(alpha)} instead.")
    ctx = _prepare(x, labels, dim, nan_policy)
    if np.any(ctx.counts < 2):
        raise ParameterError(
            f"The 'labels' parameter must give every class at least 2 presentations. Got class counts "
            f"{ctx.counts.tolist()} instead."
        )
    if test == "welch":
        shift = _pilot(ctx)
        s1, s2, bad, cnt = _moments(ctx, shift)
        n1 = cnt.astype(np.float64)
        n2 = (n1.sum(0) if ctx.omit else ctx.n) - n1
        t1, t2 = s1.sum(0), s2.sum(0)
        with np.errstate(divide="ignore", invalid="ignore"):
            m1, m2 = s1 / n1, (t1 - s1) / n2
            v1 = np.maximum(s2 - n1 * m1 * m1, 0.0) / (n1 - 1)
            v2 = np.maximum((t2 - s2) - n2 * m2 * m2, 0.0) / (n2 - 1)
            se2 = v1 / n1 + v2 / n2
            stat = (m1 - m2) / np.sqrt(se2)
            df = se2**2 / ((v1 / n1) ** 2 / (n1 - 1) + (v2 / n2) ** 2 / (n2 - 1))
            p = stats.t.sf(stat, df)
        p = np.where(np.isinf(stat), np.where(stat > 0, 0.0, 1.0), p)
        stat = np.where(bad[None, :], np.nan, stat)
        p = np.where(bad[None, :] | np.isnan(stat), np.nan, p)
        test_desc = "one-sided Welch t-test, class c > rest (Welch 1947)"
    else:
        (data,) = _xr.compute(ctx.data)
        data = np.asarray(data, dtype=np.float64)
        stat = np.empty((ctx.k, data.shape[1]))
        p = np.empty_like(stat)
        for c in range(ctx.k):
            sel = ctx.codes == c
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                r = stats.mannwhitneyu(data[sel], data[~sel], alternative="greater", axis=0, method="asymptotic",
                                       nan_policy="omit" if ctx.omit else "propagate")
            stat[c], p[c] = r.statistic, r.pvalue
        bad = ~np.isfinite(data).all(0) if not ctx.omit else np.zeros(data.shape[1], dtype=bool)
        stat = np.where(bad[None, :], np.nan, stat)
        p = np.where(bad[None, :], np.nan, p)
        test_desc = "one-sided Mann-Whitney U, class c > rest (asymptotic, tie-corrected)"
    if correction == "fdr_bh":
        q = fdr_bh(p)
    elif correction == "bonferroni":
        m = int(np.isfinite(p).sum())
        q = np.minimum(p * m, 1.0)
    else:
        q = p.copy()
    driven = np.nan_to_num(q, nan=1.0) < alpha
    n_driven = driven.sum(0).astype(np.int64)
    attrs = {
        "statistic": "n_driven_classes",
        "test": test_desc,
        "correction": f"{correction} over all neuroid x class tests (m = {int(np.isfinite(p).sum())})",
        "alpha": float(alpha),
    }
    return _dataset(ctx, {"n_driven": n_driven, "statistic": stat, "p": p, "q": q, "driven": driven}, attrs)
