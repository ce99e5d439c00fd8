"""Small statistical helpers shared by the analysis modules (no torch)."""

from __future__ import annotations

import numpy as np

from ensembles.errors import ParameterError


def fdr_bh(pvalues, *, axis: int | None = None) -> np.ndarray:
    """Benjamini–Hochberg (1995) adjusted p-values (q-values), step-up, monotone, capped at 1.

    NaN p-values are ignored (they stay NaN and do not count towards m).  With ``axis=None`` the correction is
    over all entries; otherwise it is applied independently along ``axis``.

    References
    ----------
    Benjamini, Y. & Hochberg, Y. (1995). Controlling the false discovery rate. J R Stat Soc B 57:289-300.
    """
    p = np.asarray(pvalues, dtype=float)
    if axis is None:
        return _bh_1d(p.ravel()).reshape(p.shape)
    return np.apply_along_axis(_bh_1d, axis, p)


def _bh_1d(p: np.ndarray) -> np.ndarray:
    out = np.full(p.shape, np.nan)
    ok = ~np.isnan(p)
    m = int(ok.sum())
    if m == 0:
        return out
    pv = p[ok]
    order = np.argsort(pv, kind="mergesort")
    ranked = pv[order] * m / np.arange(1, m + 1)
    q = np.minimum.accumulate(ranked[::-1])[::-1]
    q = np.minimum(q, 1.0)
    res = np.empty(m)
    res[order] = q
    out[ok] = res
    return out


def permutation_pvalue(observed, null, *, alternative: str = "greater", axis: int = 0) -> np.ndarray:
    """Monte-Carlo p-value (1 + #{null >= observed}) / (1 + n_shuffles) (Phipson & Smyth 2010).

    ``null`` holds the statistic under ``n_shuffles`` permutations along ``axis``.
    """
    obs = np.asarray(observed, dtype=float)
    nul = np.moveaxis(np.asarray(null, dtype=float), axis, 0)
    n = nul.shape[0]
    if alternative == "greater":
        count = (nul >= obs).sum(axis=0)
    elif alternative == "less":
        count = (nul <= obs).sum(axis=0)
    elif alternative == "two-sided":
        count = (np.abs(nul) >= np.abs(obs)).sum(axis=0)
    else:
        raise ParameterError(
            f"The 'alternative' parameter must be one of 'greater', 'less', 'two-sided'. Got {alternative!r} instead."
        )
    p = (1.0 + count) / (1.0 + n)
    return np.where(np.isnan(obs), np.nan, p)
