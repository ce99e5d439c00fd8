"""Selectivity indices per neuroid: the class selectivity index (Morcos et al. 2018; Leavitt & Morcos 2021), d'
(Green & Swets 1966) and the one-way ANOVA with η² and ω² (Hays 1963), with label-shuffle or F-distribution p-values
(docs/methods.md §A2)."""

from __future__ import annotations

from typing import Any

import numpy as np
import xarray as xr
from scipy import special

from ensembles import conventions as C
from ensembles._validation import describe
from ensembles.analysis._contract import keeps_labels
from ensembles.analysis._stats import fdr_bh
from ensembles.errors import ParameterError

from ._core import _dataset, _moments, _pilot, _prepare
from ._shuffle import _check_shuffles, _permutations, _pvalues, _shuffle_attrs, _shuffle_null

__all__ = ["class_selectivity_index", "dprime", "anova"]


# --------------------------------------------------------------------------------------------------------------------
# CSI, d'
# --------------------------------------------------------------------------------------------------------------------


def _csi_from_means(means: np.ndarray, epsilon: float):
    """means (..., k, n) -> csi, mu_max, mu_rest, argmax."""
    k = means.shape[-2]
    arg = np.argmax(means, axis=-2)
    mu_max = np.max(means, axis=-2)
    mu_rest = (means.sum(axis=-2) - mu_max) / (k - 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        csi = (mu_max - mu_rest) / (mu_max + mu_rest + epsilon)
    return csi, mu_max, mu_rest, arg


@keeps_labels("x")
def class_selectivity_index(
    x: Any,
    labels: Any = None,
    *,
    epsilon: float = 0.0,
    n_shuffles: int = 1000,
    random_state: Any = None,
    dim: str = C.PRESENTATION,
    nan_policy: str = "propagate",
) -> xr.Dataset:
    """Class selectivity index (Morcos et al. 2018, ICLR), CSI = (μ_max - μ_-max)/(μ_max + μ_-max + ε).

    μ_max is the largest class-conditional mean and μ_-max the mean of the other class means.  ``epsilon`` > 0 gives
    the regularised variant of Leavitt & Morcos 2021 ("Selectivity considered harmful", ICLR).  CSI lies in [0, 1]
    for non-negative responses (1: the neuroid responds to one class only); a silent neuroid (all class means 0,
    ε = 0) gives NaN and is counted in ``n_silent``.

    Returns
    -------
    xr.Dataset
        ``csi``, ``preferred`` (class label), ``mu_max``, ``mu_rest``, ``p`` (label-shuffle p-value, one-sided),
        ``q`` (Benjamini–Hochberg over neuroids).
    """
    if not np.isscalar(epsilon) or not np.isfinite(epsilon) or epsilon < 0:
        raise ParameterError(f"The 'epsilon' parameter must be a finite number >= 0. Got {describe(epsilon)} instead.")
    n_shuffles = _check_shuffles(n_shuffles)
    ctx = _prepare(x, labels, dim, nan_policy)
    shift = _pilot(ctx)
    s1, _, bad, cnt = _moments(ctx, shift)
    means = s1 / cnt + shift
    csi, mu_max, mu_rest, arg = _csi_from_means(means, float(epsilon))
    silent = (mu_max == 0) & (mu_rest == 0)
    csi = np.where(bad, np.nan, csi)
    null = None
    if n_shuffles:
        perm = _permutations(ctx, n_shuffles, random_state)

        def null_csi(ps1, _, pcnt, c):  # the neuroids c
            return _csi_from_means(ps1 / pcnt + shift[c], float(epsilon))[0]

        null = _shuffle_null(ctx, perm, shift, null_csi, squares=False)
    p, q = _pvalues(csi, null)
    attrs = {
        "statistic": "class_selectivity_index",
        "definition": "Morcos et al. 2018 (ICLR): (mu_max - mu_-max)/(mu_max + mu_-max + epsilon); epsilon variant "
        "Leavitt & Morcos 2021 (ICLR)",
        "epsilon": float(epsilon),
        "n_silent": int((silent & ~bad).sum()),
        "n_nan": int(np.isnan(csi).sum()),
        "n_negative_means": int((np.min(means, axis=0) < 0).sum()),
        **_shuffle_attrs(n_shuffles, random_state),
    }
    return _dataset(
        ctx,
        {"csi": csi, "preferred": ctx.classes[arg], "mu_max": mu_max, "mu_rest": mu_rest, "p": p, "q": q},
        attrs,
    )


def _dprime_from_moments(s1, s2, counts, total1, total2, n):
    """s1, s2 (..., k, m) of shifted data; returns d' (preferred vs rest) and the preferred index.

    ``counts`` is (k,) with ``n`` the number of presentations, or (..., k, m) per class and neuroid with ``n`` per
    neuroid (``nan_policy="omit"``; a class without valid entries is never preferred)."""

    def take(a):
        return np.take_along_axis(a, arg[..., None, :], axis=-2)[..., 0, :]

    with np.errstate(divide="ignore", invalid="ignore"):
        if np.ndim(counts) > 1:
            counts = np.broadcast_to(counts, s1.shape).astype(np.float64)
            means = s1 / counts
            arg = np.argmax(np.where(np.isnan(means), -np.inf, means), axis=-2)
            n1 = take(counts)
        else:
            means = s1 / counts[:, None]
            arg = np.argmax(means, axis=-2)
            n1 = counts[arg].astype(np.float64)
        a1, a2 = take(s1), take(s2)
        n2 = n - n1
        r1, r2 = total1 - a1, total2 - a2
        m1, m2 = a1 / n1, r1 / n2
        v1 = np.maximum(a2 - n1 * m1 * m1, 0.0) / (n1 - 1)
        v2 = np.maximum(r2 - n2 * m2 * m2, 0.0) / (n2 - 1)
        d = (m1 - m2) / np.sqrt((v1 + v2) / 2)
    return d, arg


@keeps_labels("x")
def dprime(
    x: Any,
    labels: Any = None,
    *,
    n_shuffles: int = 1000,
    random_state: Any = None,
    dim: str = C.PRESENTATION,
    nan_policy: str = "propagate",
) -> xr.Dataset:
    """Sensitivity index d' of the preferred class vs all other presentations, per neuroid.

    d' = (μ_pref - μ_rest)/√((σ²_pref + σ²_rest)/2) with sample variances (ddof = 1) across presentations
    (Green & Swets 1966; docs/methods.md §A2.3).  Zero variance in both groups gives ±inf (or NaN if the means are
    equal too).  The shuffle null recomputes the preferred class for every permutation.

    Returns
    -------
    xr.Dataset with ``dprime``, ``preferred``, ``p``, ``q``.
    """
    n_shuffles = _check_shuffles(n_shuffles)
    ctx = _prepare(x, labels, dim, nan_policy)
    if np.any(ctx.counts < 2) or ctx.n - ctx.counts.min() < 2:
        raise ParameterError(
            f"The 'labels' parameter must give every class at least 2 presentations for d'. "
            f"Got class counts {ctx.counts.tolist()} instead."
        )
    shift = _pilot(ctx)
    s1, s2, bad, cnt = _moments(ctx, shift)
    t1, t2 = s1.sum(0), s2.sum(0)
    counts, total = (cnt, cnt.sum(0)) if ctx.omit else (ctx.counts, ctx.n)
    d, arg = _dprime_from_moments(s1, s2, counts, t1, t2, total)
    d = np.where(bad, np.nan, d)
    null = None
    if n_shuffles:
        perm = _permutations(ctx, n_shuffles, random_state)

        def null_dprime(ps1, ps2, pcnt, c):  # the neuroids c
            n_c = total[c] if np.ndim(total) else total
            return _dprime_from_moments(ps1, ps2, pcnt if ctx.omit else ctx.counts, t1[c], t2[c], n_c)[0]

        null = _shuffle_null(ctx, perm, shift, null_dprime, squares=True)
    p, q = _pvalues(d, null)
    attrs = {
        "statistic": "dprime",
        "definition": "(mu_pref - mu_rest)/sqrt((var_pref + var_rest)/2), preferred class vs rest, ddof=1",
        "n_nan": int(np.isnan(d).sum()),
        **_shuffle_attrs(n_shuffles, random_state),
    }
    return _dataset(ctx, {"dprime": d, "preferred": ctx.classes[arg], "p": p, "q": q}, attrs)


# --------------------------------------------------------------------------------------------------------------------
# ANOVA
# --------------------------------------------------------------------------------------------------------------------


@keeps_labels("x")
def anova(x: Any, labels: Any = None, *, dim: str = C.PRESENTATION, nan_policy: str = "propagate") -> xr.Dataset:
    """One-way ANOVA across classes per neuroid, vectorised: F, p, η², ω².

    F = [SS_b/(k - 1)]/[SS_w/(N - k)], p from the F(k - 1, N - k) distribution (identical to
    ``scipy.stats.f_oneway`` per neuroid); η² = SS_b/SS_t; ω² = (SS_b - (k - 1)·MS_w)/(SS_t + MS_w) (Hays 1963), the
    less biased effect size.  A constant neuroid gives NaN (0/0); zero within-class variance with different class
    means gives F = inf, p = 0.

    Returns
    -------
    xr.Dataset with ``F``, ``p``, ``q`` (BH over neuroids), ``eta2``, ``omega2``; attrs ``df_between``,
    ``df_within``.
    """
    ctx = _prepare(x, labels, dim, nan_policy)
    N, k = ctx.n, ctx.k
    if N <= k:
        raise ParameterError(
            f"The 'labels' parameter must leave N - k > 0 degrees of freedom; got N = {N} presentations in k = {k} "
            "classes."
        )
    shift = _pilot(ctx)
    s1, s2, bad, cnt = _moments(ctx, shift)
    cnt = cnt.astype(np.float64)
    t1, t2 = s1.sum(0), s2.sum(0)
    if ctx.omit:  # per neuroid: its valid entries, and the classes that have any
        N, has = cnt.sum(0), cnt > 0
        with np.errstate(divide="ignore", invalid="ignore"):
            ss_w = np.maximum(np.where(has, s2 - s1 * s1 / cnt, 0.0).sum(0), 0.0)
            grand = t1 / N
            ss_b = np.where(has, cnt * (s1 / cnt - grand) ** 2, 0.0).sum(0)
            ss_t = np.maximum(t2 - t1 * t1 / N, 0.0)
        dfb, dfw = has.sum(0) - 1, N - has.sum(0)
    else:
        ss_t = np.maximum(t2 - t1 * t1 / N, 0.0)
        ss_w = np.maximum((s2 - s1 * s1 / cnt).sum(0), 0.0)
        grand = t1 / N
        ss_b = (cnt * (s1 / cnt - grand) ** 2).sum(0)
        dfb, dfw = k - 1, N - k
    with np.errstate(divide="ignore", invalid="ignore"):
        msw = ss_w / dfw
        F = (ss_b / dfb) / msw
        eta2 = ss_b / ss_t
        omega2 = (ss_b - dfb * msw) / (ss_t + msw)
    p = special.fdtrc(dfb, dfw, F)
    p = np.where(np.isinf(F), 0.0, p)
    if ctx.omit:
        bad = (dfb < 1) | (dfw < 1)  # too few valid entries left for this neuroid
    F, p, eta2, omega2 = (np.where(bad, np.nan, v) for v in (F, p, eta2, omega2))
    attrs = {
        "statistic": "anova",
        "definition": "one-way ANOVA F; eta2 = SS_b/SS_t; omega2 = (SS_b - (k-1) MS_w)/(SS_t + MS_w) (Hays 1963)",
        "df_between": dfb if np.ndim(dfb) == 0 else "per neuroid (nan_policy='omit')",
        "df_within": dfw if np.ndim(dfw) == 0 else "per neuroid (nan_policy='omit')",
        "p_value": "F distribution (as scipy.stats.f_oneway)",
        "correction": "fdr_bh over neuroids (Benjamini & Hochberg 1995), variable q",
        "n_nan": int(np.isnan(F).sum()),
    }
    return _dataset(ctx, {"F": F, "p": p, "q": fdr_bh(p), "eta2": eta2, "omega2": omega2}, attrs)
