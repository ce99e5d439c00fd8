"""The sparseness engine: measure definitions, input policies (negative values, NaN/+-inf) and the kernels that
reduce the last axis of numpy or (lazily) dask arrays.  Definitions and policies: docs/methods.md §A1.

References
----------
Vinje & Gallant 2000, Science 287:1273.  Rolls & Tovee 1995, J Neurophysiol 73:713.  Hoyer 2004, JMLR 5:1457.
Hurley & Rickard 2009, IEEE Trans Inf Theory 55:4723.  Willmore & Tolhurst 2001, Network 12:255.  Field 1994, Neural
Comput 6:559.  Kreiman et al. 2006 (the "shift" policy).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ensembles import conventions as C
from ensembles._validation import check_choice
from ensembles.analysis import _xr
from ensembles.analysis._input import check_finite, check_nan_policy
from ensembles.errors import ParameterError

MEASURES = ("vinje-gallant", "treves-rolls", "hoyer", "gini", "kurtosis", "kurtosis-sample", "kurtosis-moment")
NEGATIVE_POLICIES = ("raise", "clip", "abs", "shift", "allow")
NAN_POLICIES = C.NAN_POLICIES
SIGN_TOLERANT = ("hoyer", "gini", "kurtosis", "kurtosis-sample", "kurtosis-moment")

DEFINITIONS = {
    "vinje-gallant": "Vinje & Gallant 2000, Science 287:1273: S = [1 - (sum r)^2/(n sum r^2)]/(1 - 1/n) (AllenSDK form)",
    "treves-rolls": "Rolls & Tovee 1995, J Neurophysiol 73:713: a = (sum r/n)^2/(sum r^2/n); small a = sparse",
    "hoyer": "Hoyer 2004, JMLR 5:1457: H = (sqrt(n) - |r|_1/|r|_2)/(sqrt(n) - 1)",
    "gini": "Hurley & Rickard 2009, IEEE Trans Inf Theory 55:4723: G = 1 - 2 sum_k (c_(k)/|c|_1)(n - k + 1/2)/n",
    "kurtosis-sample": "Willmore & Tolhurst 2001, Network 12:255: sum (r - mean)^4/((n - 1) s^4) - 3, s^2 = sample var",
    "kurtosis-moment": "Field 1994, Neural Comput 6:559: m4/m2^2 - 3 (population moments)",
    "fraction_active": "fraction of entries above a threshold (Kreiman et al. 2006; Tang et al. 2018; Li et al. 2023)",
    "image_selectivity": "Quian Quiroga et al. 2007 as implemented by AllenSDK natural_scenes.image_selectivity",
}
_CONSTANT_VALUE = {"vinje-gallant": 0.0, "treves-rolls": 1.0, "hoyer": 0.0, "gini": 0.0}


def _canonical(measure: str) -> str:
    check_choice("measure", measure, MEASURES)
    return "kurtosis-sample" if measure == "kurtosis" else measure


# --------------------------------------------------------------------------------------------------------------------
# input policies
# --------------------------------------------------------------------------------------------------------------------


def _apply_policies(a: Any, *, negative: str, nan_policy: str, measure: str, name: str = "x") -> Any:
    """Check NaN/+-inf (:func:`~ensembles.analysis._input.check_finite`) and negative values in one pass, and apply
    the ``negative`` policy; returns the array."""
    check_nan_policy(nan_policy)
    check_choice("negative", negative, NEGATIVE_POLICIES)
    if negative == "allow" and measure not in SIGN_TOLERANT:
        raise ParameterError(
            f"The 'negative' parameter may be 'allow' only for the sign-tolerant measures {SIGN_TOLERANT}; "
            f"measure={measure!r} assumes responses >= 0. Got negative='allow' instead."
        )
    extra = ()
    if negative == "raise" and _xr.is_dask(a):  # one pass over a dask array; +-inf are judged by check_finite
        fin = a.map_blocks(lambda b: np.where(np.isinf(b), 0.0, b), dtype=a.dtype)
        extra = ((fin < 0).any(), fin.min())
    a, res = check_finite(a, nan_policy=nan_policy, name=name, extra=extra)
    if negative == "raise" and not _xr.is_dask(a):
        neg = bool((a < 0).any())
        res = (neg, np.nanmin(a) if neg else 0.0)
    if negative == "raise" and bool(res[0]):
        raise ParameterError(
            f"The {name!r} parameter must be non-negative under negative='raise' (the default; measure="
            f"{measure!r}). Got a minimum of {float(res[1]):.6g} instead. Choose negative='clip', 'abs' "
            f"or 'shift' (docs/methods.md §A1.4), or record responses after the nonlinearity."
        )
    if negative == "clip":
        a = np.where(a < 0, 0.0, a) if not _xr.is_dask(a) else a.clip(min=0)
    elif negative == "abs":
        a = abs(a)
    elif negative == "shift":
        m = np.nanmin(a, axis=-1, keepdims=True) if not _xr.is_dask(a) else _nanmin_dask(a)
        (m,) = _xr.compute(m)
        a = a - m
    return a


def _nanmin_dask(a):
    import dask.array as da

    return da.nanmin(a, axis=-1, keepdims=True)


# --------------------------------------------------------------------------------------------------------------------
# kernels: reduce the last axis; work on numpy and (lazily) on dask arrays unless noted
# --------------------------------------------------------------------------------------------------------------------


def _masked(a: Any, nan_policy: str):
    """(a with NaN -> 0 when omitting, per-vector count n as float64)."""
    if nan_policy == "omit":
        valid = ~np.isnan(a)
        return np.where(valid, a, 0.0), valid.sum(axis=-1).astype(np.float64)
    n = np.full(a.shape[:-1], float(a.shape[-1]))
    return a, n


def _flags(a: Any, nan_policy: str):
    """Per-vector max and min (NaN-aware when omitting)."""
    if nan_policy == "omit":
        if _xr.is_dask(a):
            import dask.array as da

            return da.nanmax(a, axis=-1), da.nanmin(a, axis=-1)
        with np.errstate(invalid="ignore"):
            import warnings

            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                return np.nanmax(a, axis=-1), np.nanmin(a, axis=-1)
    return a.max(axis=-1), a.min(axis=-1)


def _sum64(a, **kw):
    return a.sum(axis=-1, dtype=np.float64, **kw)


def _power_sums(a: Any, nan_policy: str):
    a0, n = _masked(a, nan_policy)
    s1 = _sum64(a0)
    a64 = a0.astype(np.float64)
    s2 = _sum64(a64 * a64)
    l1 = _sum64(abs(a0))
    return n, s1, s2, l1


def _finish_power(measure: str, n, s1, s2, l1):
    with np.errstate(divide="ignore", invalid="ignore"):
        if measure == "treves-rolls":
            return s1**2 / (n * s2)
        if measure == "vinje-gallant":
            a = s1**2 / (n * s2)
            return (1.0 - a) / (1.0 - 1.0 / n)
        if measure == "hoyer":
            rn = np.sqrt(n)
            return (rn - l1 / np.sqrt(s2)) / (rn - 1.0)
    raise AssertionError(measure)  # pragma: no cover


def _gini_np(a: np.ndarray, nan_policy: str = "propagate") -> np.ndarray:
    """Gini index (Hurley & Rickard 2009) along the last axis; numpy only (needs whole vectors)."""
    c = np.abs(np.asarray(a, dtype=np.float64))
    has_nan = np.isnan(c).any(axis=-1)
    c = np.sort(c, axis=-1)  # NaN sort last
    if not has_nan.any():  # fast path: one weight vector for all rows
        n = c.shape[-1]
        w = (n - np.arange(1, n + 1) + 0.5) / n
        with np.errstate(divide="ignore", invalid="ignore"):
            return 1.0 - 2.0 * (c @ w) / c.sum(axis=-1)
    n = (~np.isnan(c)).sum(axis=-1).astype(np.float64)
    c = np.where(np.isnan(c), 0.0, c)
    k = np.arange(1, c.shape[-1] + 1, dtype=np.float64)
    nn = n[..., None]
    w = np.where(k <= nn, (nn - k + 0.5) / np.where(nn > 0, nn, 1.0), 0.0)
    l1 = c.sum(axis=-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        g = 1.0 - 2.0 * (c * w).sum(axis=-1) / l1
    if nan_policy != "omit":
        g = np.where(has_nan, np.nan, g)
    return g


def _kurtosis_parts(a: Any, nan_policy: str):
    """Two-pass centred moments: returns (n, m2 = Σd², m4 = Σd⁴) with d = r - mean."""
    a0, n = _masked(a, nan_policy)
    mean = _sum64(a0) / n
    (mean_c,) = _xr.compute(mean) if _xr.is_dask(mean) else (mean,)
    d = a0.astype(np.float64) - mean_c[..., None]
    if nan_policy == "omit":
        d = np.where(np.isnan(a), 0.0, d)
    d2 = d * d
    return n, _sum64(d2), _sum64(d2 * d2)


def _compute_measure(a: Any, measure: str, nan_policy: str):
    """Value, per-vector n, max and min -- all numpy (dask evaluated in one pass)."""
    vmax, vmin = _flags(a, nan_policy)
    if measure in ("vinje-gallant", "treves-rolls", "hoyer"):
        n, s1, s2, l1 = _power_sums(a, nan_policy)
        n, s1, s2, l1, vmax, vmin = _xr.compute(n, s1, s2, l1, vmax, vmin)
        value = _finish_power(measure, n, s1, s2, l1)
    elif measure == "gini":
        g = _xr.apply_last(lambda b: _gini_np(b, nan_policy), a)
        a0, n = _masked(a, nan_policy)
        value, n, vmax, vmin = _xr.compute(g, n, vmax, vmin)
    else:  # kurtosis
        n, m2, m4 = _kurtosis_parts(a, nan_policy)
        n, m2, m4, vmax, vmin = _xr.compute(n, m2, m4, vmax, vmin)
        with np.errstate(divide="ignore", invalid="ignore"):
            factor = (n - 1.0) if measure == "kurtosis-sample" else n
            value = factor * m4 / (m2 * m2) - 3.0
    return np.asarray(value, dtype=np.float64), n, vmax, vmin


def _edge_cases(value, n, vmax, vmin, measure):
    value = np.array(value, dtype=np.float64, copy=True)
    silent = (vmax == 0) & (vmin == 0)
    # constant up to rounding: values that differ only in their last bits (spread within 8·n·eps of their size)
    # give kurtosis from rounding noise (two orderings of [0.01, 0.01, 0.01 + 1 ulp] gave -1 and -2)
    with np.errstate(invalid="ignore"):
        tol = 8.0 * np.maximum(n, 1) * np.finfo(np.float64).eps * np.maximum(np.abs(vmax), np.abs(vmin))
        constant = (np.abs(vmax - vmin) <= tol) & ~silent & np.isfinite(vmax) & np.isfinite(vmin)
    too_few = n < 2
    if measure in _CONSTANT_VALUE:
        value = np.where(constant, _CONSTANT_VALUE[measure], value)
    else:
        value = np.where(constant, np.nan, value)
    value = np.where(silent | too_few, np.nan, value)
    if measure in ("vinje-gallant", "hoyer"):  # round-off guard; the formulas are in [0, 1] for r >= 0
        value = np.clip(value, 0.0, 1.0)
    return value, silent & ~too_few, constant & ~too_few
