"""Class selectivity of single neuroids, given responses and class labels (docs/methods.md §A2).

Statistics (one value per neuroid unless noted), each with its significance:

- :func:`class_means`, :func:`preferred_class` -- class-conditional means and the argmax class (Allen
  ``pref_image_ns``).
- :func:`class_selectivity_index` -- CSI = (μ_max - μ_-max)/(μ_max + μ_-max + ε), μ_-max the mean of the other class
  means (Morcos et al. 2018, ICLR; ε-regularised variant of Leavitt & Morcos 2021, ICLR); label-shuffle p-value.
- :func:`dprime` -- d' = (μ_pref - μ_rest)/√((σ²_pref + σ²_rest)/2), preferred class vs the rest; label-shuffle
  p-value.
- :func:`anova` -- one-way F across classes, p (F distribution, as ``scipy.stats.f_oneway``), η² = SS_b/SS_t and
  ω² = (SS_b - (k - 1)MS_w)/(SS_t + MS_w) (Hays 1963; Olejnik & Algina 2003).
- :func:`mutual_information` -- plug-in I(class; response) in bits with equal-population response bins, minus the
  mean over label shuffles (shuffle bias correction), shuffle p-value (docs/methods.md §A2.5).
- :func:`tuning_sparseness` -- a sparseness measure of the class-mean tuning curve (lifetime sparseness across
  classes); label-shuffle p-value.
- :func:`n_driven_classes` -- how many classes drive each neuroid significantly: one-sided Welch t (or
  Mann–Whitney U) of class c vs the rest per neuroid × class, with a stated multiple-comparison correction
  (Benjamini–Hochberg FDR over all neuroid × class tests by default): mixed selectivity (Rigotti et al. 2013).

Significance by label shuffles uses a seeded generator (``random_state``) and ``n_shuffles`` permutations of the
labels; p = (1 + #{null ≥ observed})/(1 + n_shuffles) (Phipson & Smyth 2010); q = Benjamini–Hochberg over neuroids.
Shuffled class sums are accumulated in float32 (sgemm), so "≥" allows a relative round-off of 1e-6.
``n_shuffles=0`` skips the shuffles (p, q NaN).  Results are ``xr.Dataset`` objects with one variable per quantity
(``csi``, ``p``, ``q``, ...), the neuroid coords of a DataArray input and attrs stating definitions and corrections.

Non-finite values: ``nan_policy="propagate"`` (default; a neuroid with a NaN gives NaN), ``"omit"`` (each neuroid's
statistic from its complete presentations; the shuffle null permutes all labels and keeps those of the complete
presentations) or ``"raise"``; +-inf is an error unless ``"omit"`` (docs/architecture.md, "The analysis contract").

Input: ``x`` array-like of shape (n_presentations, n_neuroids) or a 2-D ``xr.DataArray`` with presentation dim
``dim``; ``labels`` an array with one class per presentation or (DataArray) the name of a presentation coord
(default ``"label"``).  Dask-backed input is reduced chunk by chunk (class sums, moments and the shuffle null in one
pass); mutual information reads one block of neuroids at a time.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import xarray as xr
from scipy import special, stats

from ensembles import conventions as C
from ensembles._validation import check_choice, describe
from ensembles.analysis import _xr
from ensembles.analysis import sparsity as _sp
from ensembles.analysis._input import (
    Result,
    check_count,
    check_finite,
    check_nan_policy,
    class_names,
    make_result,
    matrix,
    resolve_labels,
    unwrap,
)
from ensembles.analysis._stats import fdr_bh, permutation_pvalue
from ensembles.errors import ParameterError

__all__ = [
    "anova",
    "class_means",
    "class_selectivity_index",
    "dprime",
    "mutual_information",
    "n_driven_classes",
    "preference_order",
    "preferred_class",
    "tuning_sparseness",
]

CLASS = C.CATEGORY  # the result dim of one entry per class (coord values: the class labels)
_TOL = 1e-6  # relative tolerance when comparing null and observed statistics (float32 shuffle sums, round-off)
_SHUFFLE_BATCH = 64


# --------------------------------------------------------------------------------------------------------------------
# preparation and chunk-wise sums
# --------------------------------------------------------------------------------------------------------------------


@dataclass
class _Ctx:
    lay: _xr.Layout
    data: Any  # (n_presentations, n_neuroids), numpy or dask
    classes: np.ndarray
    codes: np.ndarray
    counts: np.ndarray
    nan_policy: str
    names: np.ndarray | None = None  # class names (the recording's label_name), when known

    @property
    def k(self) -> int:
        return len(self.classes)

    @property
    def n(self) -> int:
        return int(self.codes.shape[0])

    @property
    def omit(self) -> bool:
        return self.nan_policy == "omit"


def _prepare(x: Any, labels: Any, dim: str, nan_policy: str, *, min_classes: int = 2) -> _Ctx:
    check_nan_policy(nan_policy)
    lay = _xr.to_last(x, dim)
    x = unwrap(x)
    if lay.data.ndim != 2:
        raise ParameterError(
            f"The 'x' parameter must be 2-D ({dim!r} x neuroids); select a checkpoint/run first. "
            f"Got {describe(x)} instead."
        )
    y = resolve_labels(x, labels, lay.n, dim=dim, min_classes=min_classes)
    classes, codes = np.unique(y, return_inverse=True)
    codes = codes.reshape(-1)
    counts = np.bincount(codes, minlength=len(classes))
    data, _ = check_finite(lay.data.T, nan_policy=nan_policy)
    names = class_names(lay.template.transpose(dim, ...) if lay.template is not None else None, y, classes, dim)
    return _Ctx(lay, data, classes, codes, counts, nan_policy, names)


def _onehot(codes: np.ndarray, k: int, dtype=np.float64) -> np.ndarray:
    m = np.zeros((k, codes.shape[0]), dtype=dtype)
    m[codes, np.arange(codes.shape[0])] = 1
    return m


def _pilot(ctx: _Ctx) -> np.ndarray:
    """A per-neuroid shift (the first presentation) subtracted before accumulating moments (avoids cancellation)."""
    (p,) = _xr.compute(ctx.data[0])
    p = np.asarray(p, dtype=np.float64)
    return np.where(np.isfinite(p), p, 0.0)


def _moments(ctx: _Ctx, shift: np.ndarray):
    """Per class sums S1, S2 of (x - shift), shape (k, n_neuroids), a per-neuroid NaN flag and the per-class counts.

    Counts: ``ctx.counts[:, None]`` (k, 1); under ``nan_policy="omit"`` the valid entries per class and neuroid
    (k, n_neuroids), NaN entries left out of the sums, and the flag all False.
    """
    codes, k = ctx.codes, ctx.k

    def f(block, rows, cols):
        b = np.asarray(block, dtype=np.float64) - shift[None, cols]
        bad = ~np.isfinite(b)
        b = np.where(bad, 0.0, b)
        oh = _onehot(codes[rows], k)
        parts = [oh @ b, oh @ (b * b), bad.sum(0, keepdims=True).astype(np.float64)]
        if ctx.omit:
            parts.append(oh @ (~bad).astype(np.float64))
        return np.concatenate(parts, axis=0)

    res = _xr.reduce_rows(f, ctx.data, with_cols=True)
    if ctx.omit:
        return res[:k], res[k : 2 * k], np.zeros(res.shape[1], dtype=bool), res[2 * k + 1 :]
    return res[:k], res[k : 2 * k], res[2 * k] > 0, ctx.counts[:, None]


def _permutations(ctx: _Ctx, n_shuffles: int, random_state: Any) -> np.ndarray:
    rng = np.random.default_rng(random_state)
    perm = np.empty((n_shuffles, ctx.n), dtype=np.int32)
    for i in range(n_shuffles):
        perm[i] = ctx.codes[rng.permutation(ctx.n)]
    return perm


def _shuffled_moments(ctx: _Ctx, perm: np.ndarray, shift: np.ndarray, *, squares: bool):
    """Class sums under each label permutation: (n_shuffles, k, n_neuroids) for S1 (and S2), and the class counts
    (``ctx.counts[None, :, None]``, or per permutation, class and neuroid under ``nan_policy="omit"``)."""
    k, n_sh = ctx.k, perm.shape[0]
    n_out = (2 if squares else 1) + int(ctx.omit)

    def f(block, rows, cols):
        # float32 products (sgemm): the null only needs ~1e-7 relative precision; see _TOL
        b = (np.asarray(block, dtype=np.float64) - shift[None, cols]).astype(np.float32)
        valid = np.isfinite(b)
        b = np.where(valid, b, np.float32(0.0))
        b2 = b * b if squares else None
        out = np.empty((n_out, n_sh * k, b.shape[1]))
        pc = perm[:, rows]
        for s0 in range(0, n_sh, _SHUFFLE_BATCH):
            s1 = min(n_sh, s0 + _SHUFFLE_BATCH)
            oh = np.zeros(((s1 - s0) * k, b.shape[0]), dtype=np.float32)
            idx = (np.arange(s1 - s0)[:, None] * k + pc[s0:s1]).ravel()
            oh[idx, np.tile(np.arange(b.shape[0]), s1 - s0)] = 1.0
            out[0, s0 * k : s1 * k] = oh @ b
            if squares:
                out[1, s0 * k : s1 * k] = oh @ b2
            if ctx.omit:
                out[-1, s0 * k : s1 * k] = oh @ valid.astype(np.float32)
        return out

    res = _xr.reduce_rows(f, ctx.data, with_cols=True)
    s1 = res[0].reshape(n_sh, k, -1)
    s2 = res[1].reshape(n_sh, k, -1) if squares else None
    cnt = res[-1].reshape(n_sh, k, -1) if ctx.omit else ctx.counts[None, :, None]
    return s1, s2, cnt


def _pvalues(observed: np.ndarray, null: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    if null is None:
        nanv = np.full(observed.shape, np.nan)
        return nanv, nanv.copy()
    null = np.where(np.isnan(null), -np.inf, null)
    with np.errstate(invalid="ignore"):
        obs_tol = np.where(np.isfinite(observed), observed - _TOL * np.maximum(1.0, np.abs(observed)), observed)
    p = permutation_pvalue(obs_tol, null, alternative="greater", axis=0)
    p = np.where(np.isnan(observed), np.nan, p)
    return p, fdr_bh(p)


def _check_shuffles(n_shuffles: Any) -> int:
    return check_count("n_shuffles", n_shuffles, 0)


def _dataset(ctx: _Ctx, variables: dict, attrs: dict) -> xr.Dataset | Result:
    """Labelled input: an ``xr.Dataset`` with the neuroid coords of the input and a ``category`` dim for
    (class, neuroid) variables; numpy input: a :class:`~ensembles.analysis._input.Result` of the same arrays."""
    labelled = ctx.lay.template is not None
    kept = ctx.lay.kept_dims if labelled else (C.NEUROID,)
    out = {}
    for name, val in variables.items():
        val = np.asarray(val)
        out[name] = ((CLASS,) + tuple(kept), val) if val.ndim == 2 else (tuple(kept), val)
    coords: dict = {}
    if labelled:
        coords = dict(_xr.wrap_reduced(np.zeros(ctx.data.shape[1]), ctx.lay).coords)
        coords[CLASS] = ctx.classes
        if ctx.names is not None:
            coords[C.CLASS_NAME] = (CLASS, ctx.names)
    base = {"n_presentations": ctx.n, "n_classes": ctx.k, "classes": [str(c) for c in ctx.classes]}
    base.update(attrs)
    return make_result(labelled, out, coords=coords, attrs=base)


# --------------------------------------------------------------------------------------------------------------------
# class means, preferred class
# --------------------------------------------------------------------------------------------------------------------


def class_means(x: Any, labels: Any = None, *, dim: str = C.PRESENTATION, nan_policy: str = "propagate") -> Any:
    """Class-conditional mean response of every neuroid.

    Parameters
    ----------
    x : array-like of shape (n_presentations, n_neuroids), 2-D xr.DataArray or recording
    labels : array-like of length n_presentations, or the name of a coord along ``dim`` (default ``"label"``)
    dim : str
    nan_policy : {"propagate", "omit", "raise"}

    Returns
    -------
    numpy.ndarray of shape (n_classes, n_neuroids) (classes in sorted order) or xr.DataArray with dims
    (``"category"``, neuroid dim), a ``category`` coord (the class labels), ``class_name`` when the input has
    ``label_name``, and an ``n_presentations`` coord per class.
    """
    x = unwrap(x)
    y = resolve_labels(x, labels, x.sizes[dim] if _xr.is_dataarray(x) and dim in x.dims else None, dim=dim)
    out = _sp.condition_means(x, y, dim=dim, new_dim=CLASS, nan_policy=nan_policy)
    if _xr.is_dataarray(out):
        out.name = "class_mean"
        out.attrs = {"statistic": "class_mean", "dim": dim, "nan_policy": nan_policy}
        names = class_names(x, y, out[CLASS].values, dim)
        if names is not None:
            out = out.assign_coords({C.CLASS_NAME: (CLASS, names)})
    return out


def preferred_class(x: Any, labels: Any = None, *, dim: str = C.PRESENTATION) -> Any:
    """The class with the highest mean response per neuroid (ties: the first in sorted order), as a class label."""
    ctx = _prepare(x, labels, dim, "propagate", min_classes=1)
    shift = _pilot(ctx)
    s1, _, _, cnt = _moments(ctx, shift)
    means = s1 / cnt + shift
    pref = ctx.classes[np.argmax(means, axis=0)]
    return _xr.wrap_reduced(pref, ctx.lay, name="preferred_class", attrs={"statistic": "preferred_class"})


def preference_order(x: Any, labels: Any = None) -> Any:
    """Neuroid order that groups neuroids by preferred class, so that category ensembles form blocks (Figure 1).

    Neuroids are sorted by preferred class (argmax of the NaN-skipping class means; classes in sorted order), within
    a class by decreasing contrast (preferred-class mean minus the mean of the other class means), and silent
    neuroids (all zero) go last.

    Parameters
    ----------
    x : array-like of shape (n_presentations, n_neuroids), DataArray (presentation, neuroid) or recording
    labels : array-like of length n_presentations, or the name of a presentation coord (default ``"label"``)

    Returns
    -------
    numpy.ndarray of int (a permutation of ``range(n_neuroids)``), or, for labelled input, a DataArray of those
    indices along ``neuroid`` carrying the neuroid coords in the new order.
    """
    m = matrix(x, allow_nan=True)
    a = m.values
    y = resolve_labels(m.da if m.da is not None else a, labels, a.shape[0])
    classes = np.unique(y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a class with a NaN-only neuroid: NaN mean, never preferred
        means = np.stack([np.nanmean(a[y == c], axis=0) for c in classes])  # (n_classes, n_neuroids)
    pref = np.nanargmax(np.where(np.isnan(means), -np.inf, means), axis=0)
    k = len(classes)
    rest = (np.nansum(means, axis=0) - means[pref, np.arange(a.shape[1])]) / max(k - 1, 1)
    contrast = means[pref, np.arange(a.shape[1])] - rest
    silent = ~(np.abs(np.nan_to_num(a)).sum(axis=0) > 0)
    order = np.lexsort((-contrast, pref, silent))  # lexsort: the last key is primary
    if m.da is None:
        return order
    da = m.da.isel({C.NEUROID: order})
    coords = {n: c.variable for n, c in da.coords.items() if c.dims == (C.NEUROID,)}
    return xr.DataArray(order, dims=(C.NEUROID,), coords=coords, name="preference_order",
                        attrs={"statistic": "preference_order"})


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
        ps1, _, pcnt = _shuffled_moments(ctx, perm, shift, squares=False)
        null = _csi_from_means(ps1 / pcnt + shift, float(epsilon))[0]
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


def _shuffle_attrs(n_shuffles: int, random_state: Any) -> dict:
    return {
        "n_shuffles": int(n_shuffles),
        "random_state": "None" if random_state is None else str(random_state),
        "p_value": "label shuffles, (1 + #{null >= observed})/(1 + n_shuffles), one-sided (Phipson & Smyth 2010), "
        ">= with 1e-6 relative tolerance",
        "correction": "fdr_bh over neuroids (Benjamini & Hochberg 1995), variable q",
    }


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
        ps1, ps2, pcnt = _shuffled_moments(ctx, perm, shift, squares=True)
        null = _dprime_from_moments(ps1, ps2, pcnt if ctx.omit else ctx.counts, t1, t2, total)[0]
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


# --------------------------------------------------------------------------------------------------------------------
# tuning sparseness
# --------------------------------------------------------------------------------------------------------------------


def _transform_negative(a: np.ndarray, negative: str) -> np.ndarray:
    if negative == "clip":
        return np.maximum(a, 0.0)
    if negative == "abs":
        return np.abs(a)
    if negative == "shift":
        return a - np.nanmin(a, axis=-1, keepdims=True)
    return a


def tuning_sparseness(
    x: Any,
    labels: Any = None,
    *,
    measure: str = "vinje-gallant",
    negative: str = "raise",
    n_shuffles: int = 1000,
    random_state: Any = None,
    dim: str = C.PRESENTATION,
    nan_policy: str = "propagate",
) -> xr.Dataset:
    """Sparseness of each neuroid's class tuning curve: a :mod:`~ensembles.analysis.sparsity` measure applied to the
    k class means (lifetime sparseness across classes; Vinje & Gallant 2000 by default).

    Returns
    -------
    xr.Dataset with ``tuning_sparseness``, ``p`` (label shuffles; for ``"treves-rolls"``, where small is sparse, the
    test is on 1 - a), ``q``.  Silent neuroids give NaN (``n_silent``).
    """
    m = _sp._canonical(measure)
    n_shuffles = _check_shuffles(n_shuffles)
    ctx = _prepare(x, labels, dim, nan_policy)
    shift = _pilot(ctx)
    s1, _, bad, cnt = _moments(ctx, shift)
    means = (s1 / cnt + shift).T  # (n_neuroids, k)
    means = np.where(bad[:, None], np.nan, means)
    a = _sp._apply_policies(means, negative=negative, nan_policy="propagate", measure=m, name="x (class means)")

    def stat(arr):
        v, n, vmax, vmin = _sp._compute_measure(arr, m, "propagate")
        return _sp._edge_cases(v, n, vmax, vmin, m)

    value, silent, _ = stat(a)
    null = None
    if n_shuffles:
        perm = _permutations(ctx, n_shuffles, random_state)
        ps1, _, pcnt = _shuffled_moments(ctx, perm, shift, squares=False)
        pm = np.swapaxes(ps1 / pcnt + shift, -1, -2)  # (n_shuffles, n_neuroids, k)
        if negative == "raise" and np.any(pm < 0):
            pm = np.maximum(pm, 0.0)  # only reachable through round-off when the observed means are >= 0
        null = stat(_transform_negative(pm, negative))[0]
    sign = -1.0 if m == "treves-rolls" else 1.0
    p, q = _pvalues(sign * value, None if null is None else sign * null)
    attrs = {
        "statistic": "tuning_sparseness",
        "measure": m,
        "definition": _sp.DEFINITIONS[m] + " -- applied to the class means",
        "negative": negative,
        "n_silent": int(silent.sum()),
        **_shuffle_attrs(n_shuffles, random_state),
    }
    return _dataset(ctx, {"tuning_sparseness": value, "p": p, "q": q}, attrs)


# --------------------------------------------------------------------------------------------------------------------
# mixed selectivity: number of driven classes
# --------------------------------------------------------------------------------------------------------------------

CORRECTIONS = ("fdr_bh", "bonferroni", "none")


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


# --------------------------------------------------------------------------------------------------------------------
# mutual information
# --------------------------------------------------------------------------------------------------------------------


def _equipop_bins(data: np.ndarray, n_bins: int) -> np.ndarray:
    """Equal-population bins per column from ranks; tied values share a bin (rank method 'min')."""
    ranks = stats.rankdata(data, axis=0, method="min")  # 1 .. N
    N = data.shape[0]
    return np.minimum(((ranks - 1) * n_bins) // N, n_bins - 1).astype(np.int64)


def _mi_from_counts(joint: np.ndarray, ns: np.ndarray, nb: np.ndarray, N: int) -> np.ndarray:
    """Plug-in MI (bits) from joint counts (..., k, n_bins) with class counts ns (k,) and bin counts nb (..., n_bins)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = joint * N / (ns[:, None] * nb[..., None, :])
        terms = np.where(joint > 0, joint * np.log2(ratio), 0.0)
    return terms.sum(axis=(-2, -1)) / N


def _mi_one(v: np.ndarray, codes: np.ndarray, perm: np.ndarray | None, n_bins: int, k: int):
    """Plug-in MI of one neuroid's values ``v`` with class codes, and under each row of ``perm`` (or None)."""
    n = v.size
    if n == 0:
        return np.nan, None if perm is None else np.full(perm.shape[0], np.nan)
    bins = _equipop_bins(v[:, None], n_bins)[:, 0]
    ohb = np.zeros((n, n_bins))
    ohb[np.arange(n), bins] = 1.0
    nb = ohb.sum(0)[None]

    def mi_of(c):
        ns = np.bincount(c, minlength=k).astype(np.float64)
        return _mi_from_counts((_onehot(c, k) @ ohb)[None], ns, nb, n)[0]

    null = None if perm is None else np.array([mi_of(perm[i]) for i in range(perm.shape[0])])
    return mi_of(codes), null


def mutual_information(
    x: Any,
    labels: Any = None,
    *,
    n_bins: int = 8,
    n_shuffles: int = 1000,
    random_state: Any = None,
    block_size: int = 256,
    dim: str = C.PRESENTATION,
    nan_policy: str = "propagate",
) -> xr.Dataset:
    """Mutual information I(class; response) per neuroid, in bits, with shuffle bias correction.

    Responses are discretised into ``n_bins`` equal-population bins per neuroid (ties share a bin; keep ``n_bins``
    fixed across models and report it).  The plug-in estimate I = Σ p(s, r) log₂[p(s, r)/(p(s)p(r))] is biased
    upwards; the corrected value subtracts the mean plug-in MI over ``n_shuffles`` label permutations
    (docs/methods.md §A2.5), and p = (1 + #{I_π ≥ I})/(1 + n_shuffles).  A constant neuroid has I = 0.

    Returns
    -------
    xr.Dataset with ``mi`` (bias-corrected; equals ``mi_plugin`` when ``n_shuffles=0``), ``mi_plugin``,
    ``mi_bias`` (mean shuffled MI), ``p``, ``q``.
    """
    if not isinstance(n_bins, (int, np.integer)) or isinstance(n_bins, bool) or n_bins < 2:
        raise ParameterError(f"The 'n_bins' parameter must be an int >= 2. Got {describe(n_bins)} instead.")
    n_shuffles = _check_shuffles(n_shuffles)
    ctx = _prepare(x, labels, dim, nan_policy)
    N, k = ctx.n, ctx.k
    n_neur = ctx.data.shape[1]
    perm = _permutations(ctx, n_shuffles, random_state) if n_shuffles else None
    ns = ctx.counts.astype(np.float64)
    mi = np.empty(n_neur)
    bias = np.full(n_neur, np.nan)
    null_all = np.empty((n_shuffles, n_neur)) if n_shuffles else None
    oh_obs = _onehot(ctx.codes, k, dtype=np.float32)
    for j0 in range(0, n_neur, block_size):
        j1 = min(n_neur, j0 + block_size)
        (block,) = _xr.compute(ctx.data[:, j0:j1])
        block = np.asarray(block, dtype=np.float64)
        bad = ~np.isfinite(block).all(0)
        bins = _equipop_bins(np.where(np.isfinite(block), block, 0.0), n_bins)  # (N, m)
        m = j1 - j0
        ohb = np.zeros((N, m * n_bins), dtype=np.float32)
        ohb[np.repeat(np.arange(N), m), (np.arange(m)[None, :] * n_bins + bins).ravel()] = 1.0
        nb = ohb.sum(0).reshape(m, n_bins).astype(np.float64)
        joint = (oh_obs @ ohb).reshape(k, m, n_bins).transpose(1, 0, 2).astype(np.float64)
        mi[j0:j1] = np.where(bad, np.nan, _mi_from_counts(joint, ns, nb, N))
        if n_shuffles:
            for s0 in range(0, n_shuffles, _SHUFFLE_BATCH):
                s1 = min(n_shuffles, s0 + _SHUFFLE_BATCH)
                oh = np.zeros(((s1 - s0) * k, N), dtype=np.float32)
                idx = (np.arange(s1 - s0)[:, None] * k + perm[s0:s1]).ravel()
                oh[idx, np.tile(np.arange(N), s1 - s0)] = 1.0
                pj = (oh @ ohb).reshape(s1 - s0, k, m, n_bins).transpose(0, 2, 1, 3).astype(np.float64)
                null_all[s0:s1, j0:j1] = _mi_from_counts(pj, ns, nb[None], N)
            null_all[:, j0:j1][:, bad] = np.nan
        if ctx.omit:  # a neuroid with NaN: its valid presentations only (the same permutations, restricted)
            for jj in np.flatnonzero(bad):
                ok = np.isfinite(block[:, jj])
                mi[j0 + jj], null_j = _mi_one(block[ok, jj], ctx.codes[ok], None if perm is None else perm[:, ok],
                                              n_bins, k)  # fmt: skip
                if n_shuffles:
                    null_all[:, j0 + jj] = null_j
    if n_shuffles:
        bias = np.mean(null_all, axis=0)
        mi_corr = mi - bias
    else:
        mi_corr = mi.copy()
    p, q = _pvalues(mi, null_all)
    attrs = {
        "statistic": "mutual_information",
        "units": "bits",
        "definition": "plug-in I(class; response) with equal-population bins, minus the mean over label shuffles",
        "n_bins": int(n_bins),
        **_shuffle_attrs(n_shuffles, random_state),
    }
    return _dataset(ctx, {"mi": mi_corr, "mi_plugin": mi, "mi_bias": bias, "p": p, "q": q}, attrs)
