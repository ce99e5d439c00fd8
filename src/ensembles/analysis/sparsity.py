"""Sparseness of responses: lifetime (one neuroid across stimuli) and population (one stimulus across neuroids).

Definitions, edge-case policies and reference values are in ``docs/methods.md`` §A1.

Measures (``measure=``)
    ``"vinje-gallant"``  S = [1 - (Σr)²/(n Σr²)] / (1 - 1/n), 0 (dense) ... 1 (sparse); Vinje & Gallant 2000, Science
                         287:1273; the form used by the AllenSDK (``lifetime_sparseness``), Olsen & Wilson 2008 and
                         Froudarakis et al. 2014.
    ``"treves-rolls"``   activity ratio a = (Σr/n)² / (Σr²/n), 1/n (sparse) ... 1 (dense); Rolls & Tovee 1995,
                         J Neurophysiol 73:713.  Note the direction: *small* a is sparse.
    ``"hoyer"``          H = (√n - ‖r‖₁/‖r‖₂) / (√n - 1), 0 ... 1 (one unit active); Hoyer 2004, JMLR 5:1457; the
                         per-sample (population) measure of Tosato et al. 2023 (arXiv 2305.18353).
    ``"gini"``           G = 1 - 2 Σ_k (c_(k)/‖c‖₁)(n - k + ½)/n over |r| sorted ascending, 0 ... 1 - 1/n; Hurley &
                         Rickard 2009, IEEE Trans Inf Theory 55:4723.
    ``"kurtosis"``       excess kurtosis, sample form Σ(r - r̄)⁴/((n - 1)s⁴) - 3 with s² = Σ(r - r̄)²/(n - 1)
                         (Willmore & Tolhurst 2001, Network 12:255; Lehky et al. 2005); alias ``"kurtosis-sample"``.
    ``"kurtosis-moment"`` population-moment form m₄/m₂² - 3 (Field 1994; equals ``scipy.stats.kurtosis`` with the
                         default ``bias=True``).

Policies (docs/methods.md §A1.4), recorded in the attrs of DataArray results
    silent (all-zero) vector → NaN, counted in ``n_silent``; constant non-zero vector → S = H = G = 0, a = 1, kurtosis
    NaN (counted in ``n_constant``); fewer than two values → NaN; ``negative="raise"`` (default) | ``"clip"``
    (max(r, 0)) | ``"abs"`` | ``"shift"`` (subtract the vector's minimum, Kreiman et al. 2006) | ``"allow"`` (only for
    the sign-tolerant measures hoyer, gini and kurtosis); ``nan_policy="propagate"`` | ``"omit"`` | ``"raise"``
    (scipy's convention).  +inf and -inf are treated alike: an error naming the parameter and the counts, unless
    ``nan_policy="omit"``, which skips them like NaN (never clipped; docs/architecture.md, "The analysis contract").

Input: ``x`` is array-like of shape (n_presentations, n_neuroids) or an ``xr.DataArray``; ``dim`` names the dim that
is reduced.  DataArray results keep the coords of the other dims.  Dask-backed input is reduced chunk by chunk:
Vinje–Gallant, Treves–Rolls, Hoyer, kurtosis and fraction active are computed from running sums (Σr, Σr², Σ|r|,
centred moments, counts, max/min), so a recording larger than memory is read once (twice for kurtosis and
``negative="shift"``); Gini and image selectivity need each vector whole, so the reduced dim is rechunked into one
chunk (cheap for population measures, whose vectors are one presentation).

Lifetime measures are defined on **trial-averaged** responses per stimulus condition (blank dropped): average
repeated presentations first with :func:`condition_means`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import xarray as xr

from ensembles import conventions as C
from ensembles._validation import check_choice, describe
from ensembles.analysis import _xr
from ensembles.analysis._input import (
    Result,
    check_finite,
    check_nan_policy,
    is_labelled,
    make_result,
    renamed_keywords,
)
from ensembles.analysis._input import resolve_labels as _resolve_labels
from ensembles.errors import InputTypeError, ParameterError

__all__ = [
    "MEASURES",
    "NEGATIVE_POLICIES",
    "NAN_POLICIES",
    "condition_means",
    "fraction_active",
    "gini_sparseness",
    "hoyer_sparseness",
    "image_selectivity",
    "kurtosis_sparseness",
    "lifetime_sparseness",
    "population_sparseness",
    "sparseness",
    "subsample_sparseness",
    "treves_rolls_activity",
    "vinje_gallant_sparseness",
]

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
    constant = (vmax == vmin) & ~silent & np.isfinite(vmax)
    too_few = n < 2
    if measure in _CONSTANT_VALUE:
        value = np.where(constant, _CONSTANT_VALUE[measure], value)
    else:
        value = np.where(constant, np.nan, value)
    value = np.where(silent | too_few, np.nan, value)
    if measure in ("vinje-gallant", "hoyer"):  # round-off guard; the formulas are in [0, 1] for r >= 0
        value = np.clip(value, 0.0, 1.0)
    return value, silent & ~too_few, constant & ~too_few


def sparseness(
    x: Any,
    measure: str = "vinje-gallant",
    *,
    dim: str = C.PRESENTATION,
    negative: str = "raise",
    nan_policy: str = "propagate",
) -> Any:
    """Sparseness of each vector along ``dim`` (the engine behind lifetime and population sparseness).

    Parameters
    ----------
    x : array-like of shape (n_presentations, n_neuroids) or xr.DataArray
        Responses.  numpy input is read as (n_presentations, n_neuroids); a DataArray may have any dims.
    measure : {"vinje-gallant", "treves-rolls", "hoyer", "gini", "kurtosis", "kurtosis-sample", "kurtosis-moment"}
        See the module docstring for each definition and its citation.
    dim : str
        The dim reduced: ``"presentation"`` for lifetime, ``"neuroid"`` for population sparseness.
    negative : {"raise", "clip", "abs", "shift", "allow"}
        What to do with negative responses (docs/methods.md §A1.4).
    nan_policy : {"propagate", "omit", "raise"}

    Returns
    -------
    numpy.ndarray or xr.DataArray
        One value per vector.  DataArray results keep the other coords and carry attrs ``measure``,
        ``definition``, ``dim``, ``n`` (length of ``dim``), ``n_silent``, ``n_constant``, ``n_nan``, ``negative``,
        ``nan_policy``.
    """
    m = _canonical(measure)
    lay = _xr.to_last(x, dim)
    a = _apply_policies(lay.data, negative=negative, nan_policy=nan_policy, measure=m)
    value, n, vmax, vmin = _compute_measure(a, m, nan_policy)
    value, silent, constant = _edge_cases(value, n, vmax, vmin, m)
    attrs = {
        "measure": m,
        "definition": DEFINITIONS[m],
        "dim": dim,
        "n": lay.n,
        "n_silent": int(silent.sum()),
        "n_constant": int(constant.sum()),
        "n_nan": int(np.isnan(value).sum()),
        "negative": negative,
        "nan_policy": nan_policy,
    }
    if m.startswith("kurtosis"):
        attrs["constant_reason"] = "kurtosis of a constant vector is 0/0: NaN (counted in n_constant)"
    return _xr.wrap_reduced(value, lay, name=f"sparseness_{m.replace('-', '_')}", attrs=attrs)


def lifetime_sparseness(
    x: Any,
    measure: str = "vinje-gallant",
    *,
    dim: str = C.PRESENTATION,
    negative: str = "raise",
    nan_policy: str = "propagate",
) -> Any:
    """Lifetime sparseness: one value per neuroid across stimuli (reduces ``dim``, default ``"presentation"``).

    Pass **trial-averaged** responses per stimulus condition (blank dropped), as the AllenSDK does; use
    :func:`condition_means` to average repeats (then ``dim="stimulus"``).  Defaults to the Vinje–Gallant S of the
    AllenSDK (Vinje & Gallant 2000).  Parameters and returns as :func:`sparseness`.
    """
    return sparseness(x, measure, dim=dim, negative=negative, nan_policy=nan_policy)


def population_sparseness(
    x: Any,
    measure: str = "hoyer",
    *,
    dim: str = C.NEUROID,
    negative: str = "raise",
    nan_policy: str = "propagate",
) -> Any:
    """Population sparseness: one value per presentation across neuroids (reduces ``dim``, default ``"neuroid"``).

    Defaults to Hoyer's measure, the per-sample sparseness of Tosato et al. 2023 (Hoyer 2004).  The Allen population
    aggregate is ``np.nanmean`` of the per-stimulus Vinje–Gallant S (docs/methods.md §A1.6).  Parameters and returns as
    :func:`sparseness`.
    """
    return sparseness(x, measure, dim=dim, negative=negative, nan_policy=nan_policy)


def vinje_gallant_sparseness(x: Any, *, dim: str = C.PRESENTATION, negative: str = "raise", nan_policy="propagate"):
    """Vinje & Gallant (2000) S along ``dim`` (the AllenSDK lifetime/population sparseness); see :func:`sparseness`."""
    return sparseness(x, "vinje-gallant", dim=dim, negative=negative, nan_policy=nan_policy)


def treves_rolls_activity(x: Any, *, dim: str = C.PRESENTATION, negative: str = "raise", nan_policy="propagate"):
    """Treves–Rolls activity ratio a (Rolls & Tovee 1995) along ``dim``; small a = sparse; see :func:`sparseness`."""
    return sparseness(x, "treves-rolls", dim=dim, negative=negative, nan_policy=nan_policy)


def hoyer_sparseness(x: Any, *, dim: str = C.NEUROID, negative: str = "raise", nan_policy="propagate"):
    """Hoyer (2004) sparseness along ``dim`` (default per sample, as Tosato et al. 2023); see :func:`sparseness`."""
    return sparseness(x, "hoyer", dim=dim, negative=negative, nan_policy=nan_policy)


def gini_sparseness(x: Any, *, dim: str = C.NEUROID, negative: str = "raise", nan_policy="propagate"):
    """Gini index (Hurley & Rickard 2009) along ``dim``; see :func:`sparseness`."""
    return sparseness(x, "gini", dim=dim, negative=negative, nan_policy=nan_policy)


def kurtosis_sparseness(
    x: Any, *, dim: str = C.PRESENTATION, convention: str = "sample", negative: str = "raise", nan_policy="propagate"
):
    """Excess kurtosis along ``dim``; ``convention="sample"`` (Willmore & Tolhurst 2001) or ``"moment"`` (Field 1994).

    See :func:`sparseness`.
    """
    check_choice("convention", convention, ("sample", "moment"))
    return sparseness(x, f"kurtosis-{convention}", dim=dim, negative=negative, nan_policy=nan_policy)


# --------------------------------------------------------------------------------------------------------------------
# fraction active
# --------------------------------------------------------------------------------------------------------------------

FRACTION_MODES = (">0", "fraction_of_max", "sd_above_baseline")


def fraction_active(
    x: Any,
    threshold: float | None = None,
    *,
    mode: str = ">0",
    dim: str = C.NEUROID,
    baseline: Any = None,
    presentation_dim: str = C.PRESENTATION,
    nan_policy: str = "propagate",
) -> Any:
    """Fraction of entries along ``dim`` that are active, f = #{i : r_i > θ_i}/n.

    Parameters
    ----------
    x : array-like of shape (n_presentations, n_neuroids) or xr.DataArray
    threshold : float, optional
        ``mode=">0"``: θ = ``threshold`` (default 0; "> 0" as for ReLU networks, Li et al. 2023);
        ``mode="fraction_of_max"``: θ = ``threshold`` × the neuroid's maximum over presentations (default ½; Kreiman
        et al. 2006 for lifetime, Tang et al. 2018 for population);
        ``mode="sd_above_baseline"``: θ = mean_b + ``threshold`` · sd_b of each neuroid's ``baseline`` responses
        (default 2).
    mode : {">0", "fraction_of_max", "sd_above_baseline"}
    dim : str
        Reduced dim: ``"neuroid"`` (default, fraction of neuroids active per presentation) or ``"presentation"``.
    baseline : array-like of shape (n_baseline, n_neuroids) or xr.DataArray, optional
        Spontaneous/blank responses; required for ``"sd_above_baseline"``.
    presentation_dim : str
        The presentation dim of a DataArray input (for the neuroid's max and the baseline statistics).
    nan_policy : {"propagate", "omit", "raise"}

    Returns
    -------
    numpy.ndarray or xr.DataArray
        Fraction in [0, 1]; attrs record ``mode``, ``threshold`` and ``n``.
    """
    check_choice("mode", mode, FRACTION_MODES)
    check_nan_policy(nan_policy)
    default = {">0": 0.0, "fraction_of_max": 0.5, "sd_above_baseline": 2.0}[mode]
    thr = default if threshold is None else threshold
    if not np.isscalar(thr) or not np.isfinite(thr):
        raise ParameterError(f"The 'threshold' parameter must be a finite number. Got {describe(thr)} instead.")
    lay = _xr.to_last(x, dim)
    x = _xr.unwrap(x)
    a, _ = check_finite(lay.data, nan_policy=nan_policy)
    # per-neuroid threshold, broadcast against the (..., dim) layout
    if mode == ">0":
        theta = thr
    else:
        if lay.template is None:
            arr = np.asarray(x, dtype=np.float64) if not _xr.is_dask(x) else x
        elif presentation_dim not in x.dims:
            raise ParameterError(f"presentation_dim={presentation_dim!r} not found in x dims {tuple(x.dims)}")
        if mode == "fraction_of_max":
            if lay.template is None:
                nmax = np.nanmax(arr, axis=0)  # (n_neuroids,)
                nmax = _xr.compute(nmax)[0]
                per_neuroid = xr.DataArray(nmax, dims=("neuroid",))
            else:
                per_neuroid = x.max(presentation_dim, skipna=True).compute()
            per_neuroid = thr * per_neuroid
        else:
            if baseline is None:
                raise ParameterError(
                    "The 'baseline' parameter must be responses of shape (n_baseline, n_neuroids) for "
                    "mode='sd_above_baseline'. Got None instead."
                )
            if lay.template is None:
                b = np.asarray(baseline, dtype=np.float64)
                if b.ndim != 2 or b.shape[1] != np.shape(x)[1]:
                    raise ParameterError(
                        f"The 'baseline' parameter must have shape (n_baseline, {np.shape(x)[1]}). "
                        f"Got {describe(b)} instead."
                    )
                per_neuroid = xr.DataArray(np.nanmean(b, 0) + thr * np.nanstd(b, 0, ddof=1), dims=("neuroid",))
            else:
                if not _xr.is_dataarray(baseline) or presentation_dim not in baseline.dims:
                    raise ParameterError(
                        f"The 'baseline' parameter must be a DataArray with a {presentation_dim!r} dim for DataArray "
                        f"input. Got {describe(baseline)} instead."
                    )
                per_neuroid = (baseline.mean(presentation_dim) + thr * baseline.std(presentation_dim, ddof=1)).compute()
        # align to layout
        if lay.template is None:
            pn = per_neuroid.values
            theta = pn[:, None] if dim == C.PRESENTATION else pn[None, :]
        else:
            other = [d for d in per_neuroid.dims if d not in lay.template.dims]
            if other:
                raise ParameterError(f"baseline dims {per_neuroid.dims} do not match x dims {tuple(x.dims)}")
            theta = per_neuroid.broadcast_like(lay.template).transpose(*lay.template.dims).values
    active = a > theta
    if nan_policy == "omit":
        valid = ~np.isnan(a)
        frac = (active & valid).sum(axis=-1) / valid.sum(axis=-1)
    else:
        frac = active.mean(axis=-1)
        frac = np.where(np.isnan(a).any(axis=-1), np.nan, frac)
    (frac,) = _xr.compute(frac)
    attrs = {
        "measure": "fraction_active",
        "definition": DEFINITIONS["fraction_active"],
        "mode": mode,
        "threshold": float(thr),
        "dim": dim,
        "n": lay.n,
        "nan_policy": nan_policy,
    }
    return _xr.wrap_reduced(np.asarray(frac, dtype=np.float64), lay, name="fraction_active", attrs=attrs)


# --------------------------------------------------------------------------------------------------------------------
# Allen image selectivity
# --------------------------------------------------------------------------------------------------------------------


def _image_selectivity_np(r: np.ndarray, num_steps: int) -> np.ndarray:
    r = np.asarray(r, dtype=np.float64)
    lead = r.shape[:-1]
    flat = r.reshape(-1, r.shape[-1])
    out = np.full(flat.shape[0], np.nan)
    n = flat.shape[-1]
    if n < 2 or num_steps < 2:
        return out.reshape(lead)
    j = np.arange(num_steps)
    for i, row in enumerate(flat):
        if np.isnan(row).any():
            continue
        fmin, fmax = row.min(), row.max()
        if fmin == fmax:
            out[i] = 0.0
            continue
        thresh = fmin + j * ((fmax - fmin) / num_steps)
        srt = np.sort(row)
        above = n - np.searchsorted(srt, thresh, side="right")  # count(r > t)
        rtj = above / n
        out[i] = 1 - (2 * np.mean(rtj))
    return out.reshape(lead)


@renamed_keywords(responses="x")
def image_selectivity(x: Any, num_steps: int = 1000, *, dim: str = C.PRESENTATION) -> Any:
    """Image selectivity of the AllenSDK (after Quian Quiroga et al. 2007), S = 1 - 2·mean_j F(θ_j).

    θ_j = f_min + j·(f_max - f_min)/M for j = 0 … M - 1 (M = ``num_steps``) and F(θ) is the fraction of conditions
    with a response strictly above θ.  Reproduces AllenSDK ``natural_scenes.image_selectivity`` exactly: fewer than 2
    conditions (or ``num_steps`` < 2) → NaN; a uniform vector (including all zeros) → 0.0 (Allen's behaviour, kept
    for parity; :func:`sparseness` reports silent neuroids as NaN instead); one responsive image out of N → 1 - 2/N.

    Parameters
    ----------
    x : 1-D array (one neuroid), array-like of shape (n_conditions, n_neuroids), xr.DataArray or recording
        Trial-averaged responses per condition, blank dropped.  NaN gives NaN; +-inf is an error.
    num_steps : int
    dim : str
        Reduced dim for 2-D and DataArray input.

    Returns
    -------
    float (1-D input), numpy.ndarray or xr.DataArray (one value per neuroid).
    """
    if not isinstance(num_steps, (int, np.integer)) or isinstance(num_steps, bool):
        raise InputTypeError(f"The 'num_steps' parameter must be an int. Got {describe(num_steps)} instead.")
    if not is_labelled(x) and not _xr.is_dask(x) and np.shape(x) == (0,):
        return float("nan")  # fewer than 2 conditions (AllenSDK's behaviour)
    x = _xr.unwrap(x, ndim=None)
    if not _xr.is_dataarray(x):
        arr = np.asarray(x, dtype=np.float64)
        if arr.ndim == 1:
            arr, _ = check_finite(arr)
            if arr.size < 2:
                return float("nan")
            return float(_image_selectivity_np(arr, int(num_steps)))
    lay = _xr.to_last(x, dim)
    data, _ = check_finite(lay.data)
    val = _xr.apply_last(lambda b: _image_selectivity_np(b, int(num_steps)), data)
    (val,) = _xr.compute(val)
    attrs = {
        "measure": "image_selectivity",
        "definition": DEFINITIONS["image_selectivity"],
        "num_steps": int(num_steps),
        "dim": dim,
        "n": lay.n,
    }
    return _xr.wrap_reduced(val, lay, name="image_selectivity", attrs=attrs)


# --------------------------------------------------------------------------------------------------------------------
# trial averaging and matched-n comparisons
# --------------------------------------------------------------------------------------------------------------------


def _codes(labels: np.ndarray):
    uniq, codes = np.unique(labels, return_inverse=True)
    return uniq, codes.reshape(-1)


def _group_sums_block(block: np.ndarray, codes: np.ndarray, n_groups: int) -> np.ndarray:
    """(3, n_groups, n_neuroids): sums of finite values, valid counts, NaN counts."""
    b = np.asarray(block, dtype=np.float64)
    nan = np.isnan(b)
    onehot = np.zeros((n_groups, b.shape[0]))
    onehot[codes, np.arange(b.shape[0])] = 1.0
    return np.stack([onehot @ np.where(nan, 0.0, b), onehot @ (~nan), onehot @ nan])


def condition_means(
    x: Any,
    labels: Any = None,
    *,
    dim: str = C.PRESENTATION,
    new_dim: str = "stimulus",
    nan_policy: str = "propagate",
) -> Any:
    """Average presentations that share a label (trial averaging): the input of lifetime measures.

    Parameters
    ----------
    x : array-like of shape (n_presentations, n_neuroids) or 2-D xr.DataArray
    labels : array-like of length n_presentations, or the name of a coord along ``dim``
        Condition of each presentation.  Default for a DataArray: its ``"stimulus_id"`` coord.
    dim : str
        The presentation dim.
    new_dim : str
        Name of the result's dim (default ``"stimulus"``, docs/methods.md §D1); its coord holds the sorted unique labels
        and an ``n_presentations`` coord counts the presentations averaged.
    nan_policy : {"propagate", "omit", "raise"}
        ``"propagate"``: a condition with a NaN response is NaN for that neuroid; ``"omit"``: NaN entries are skipped.

    Returns
    -------
    numpy.ndarray of shape (n_conditions, n_neuroids) or xr.DataArray with dims (``new_dim``, other dim).
    Works chunk by chunk on dask-backed input (one pass).
    """
    check_nan_policy(nan_policy)
    lay = _xr.to_last(x, dim)
    x = _xr.unwrap(x)
    if lay.data.ndim != 2:
        raise ParameterError(f"The 'x' parameter must be 2-D for condition_means. Got {describe(x)} instead.")
    y = _resolve_labels(x, labels, lay.n, dim=dim, default="stimulus_id")
    uniq, codes = _codes(y)
    data, _ = check_finite(lay.data.T, nan_policy=nan_policy)  # (n_presentations, other)
    res = _xr.reduce_rows(lambda b, rows: _group_sums_block(b, codes[rows], len(uniq)), data)
    sums, counts, nans = res
    with np.errstate(invalid="ignore", divide="ignore"):
        means = sums / counts
    if nan_policy == "propagate":
        means = np.where(nans > 0, np.nan, means)
    n_pres = np.bincount(codes, minlength=len(uniq))
    if lay.template is None:
        return means
    out = _xr.wrap_reduced(
        means.T, lay, name=getattr(x, "name", None), attrs=dict(x.attrs), new_dims=(new_dim,),
        new_coords={new_dim: uniq, "n_presentations": (new_dim, n_pres)},
    )
    return out.transpose(new_dim, ...)


@renamed_keywords(n_boot="n_bootstrap")
def subsample_sparseness(
    x: Any,
    n: int,
    measure: str = "hoyer",
    *,
    dim: str = C.NEUROID,
    n_bootstrap: int = 1000,
    aggregate: str | None = "mean",
    ci: float = 0.95,
    random_state: Any = None,
    negative: str = "raise",
    nan_policy: str = "propagate",
) -> xr.Dataset | Result:
    """Sparseness at a matched n: draw ``n`` entries along ``dim`` without replacement, ``n_bootstrap`` times.

    Sparseness measures depend on n (docs/methods.md §A1.4, §A1.7): compare a 1000-unit layer with a 300-cell 2-photon
    plane at ``n=300``.  Each draw computes :func:`sparseness` along ``dim`` on the subsample; with ``aggregate``
    (``"mean"`` / ``"median"``, NaN-aware) the vectors of a draw are summarised into one number (the Allen population
    aggregate is the mean over stimuli), with ``aggregate=None`` the per-vector values are kept.

    Returns
    -------
    xr.Dataset (labelled input) or Result (numpy input)
        ``estimate`` (mean over draws), ``ci_low``, ``ci_high`` (percentile interval of level ``ci``) and ``draws``
        (dim ``bootstrap``); attrs ``n``, ``n_bootstrap``, ``measure``, ``ci``, ``aggregate``.  Works in memory (dask
        input is loaded).
    """
    m = _canonical(measure)
    check_choice("aggregate", aggregate, ("mean", "median", None))
    lay = _xr.to_last(x, dim)
    N = lay.n
    if not isinstance(n, (int, np.integer)) or isinstance(n, bool) or not (2 <= n <= N):
        raise ParameterError(f"The 'n' parameter must be an int with 2 <= n <= {N} (the length of {dim!r}). Got {n!r}.")
    if not isinstance(n_bootstrap, (int, np.integer)) or isinstance(n_bootstrap, bool) or n_bootstrap < 1:
        raise ParameterError(f"The 'n_bootstrap' parameter must be a positive int. Got {n_bootstrap!r} instead.")
    if not 0 < ci < 1:
        raise ParameterError(f"The 'ci' parameter must be in (0, 1). Got {ci!r} instead.")
    rng = np.random.default_rng(random_state)
    (data,) = _xr.compute(lay.data)
    data = _apply_policies(data, negative=negative, nan_policy=nan_policy, measure=m)
    lead = data.shape[:-1]
    vals = np.empty((n_bootstrap,) + lead)
    for b in range(n_bootstrap):
        idx = rng.choice(N, size=n, replace=False)
        sub = data[..., idx]
        v, nn, vmax, vmin = _compute_measure(sub, m, nan_policy)
        vals[b] = _edge_cases(v, nn, vmax, vmin, m)[0]
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        if aggregate is not None:
            flat = vals.reshape(n_bootstrap, -1)
            vals = np.nanmean(flat, axis=1) if aggregate == "mean" else np.nanmedian(flat, axis=1)
        est = np.nanmean(vals, axis=0)
        lo, hi = np.nanpercentile(vals, [50 * (1 - ci), 50 * (1 + ci)], axis=0)
    attrs = {"measure": m, "definition": DEFINITIONS[m], "n": int(n), "n_total": N, "n_bootstrap": int(n_bootstrap),
             "ci": float(ci), "aggregate": str(aggregate), "dim": dim, "negative": negative, "nan_policy": nan_policy}
    kept = () if aggregate is not None else tuple(lay.kept_dims)
    variables = {"estimate": (kept, est), "ci_low": (kept, lo), "ci_high": (kept, hi),
                 "draws": ((C.BOOTSTRAP,) + kept, vals)}  # fmt: skip
    ds = make_result(lay.template is not None, variables, attrs=attrs)
    if lay.template is not None and kept:
        ds = ds.assign_coords(_xr.wrap_reduced(est, lay).coords)
    return ds
