"""Threshold-based measures: the fraction of active entries (Kreiman et al. 2006; Tang et al. 2018; Li et al. 2023)
and the AllenSDK image selectivity (after Quian Quiroga et al. 2007).  Policies: docs/methods.md §A1.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import xarray as xr

from ensembles import conventions as C
from ensembles._validation import check_choice, describe
from ensembles.analysis import _xr
from ensembles.analysis._contract import is_labelled, keeps_labels
from ensembles.analysis._input import check_finite, check_nan_policy
from ensembles.errors import InputTypeError, ParameterError

from ._engine import DEFINITIONS

__all__ = ["fraction_active", "image_selectivity"]


# --------------------------------------------------------------------------------------------------------------------
# fraction active
# --------------------------------------------------------------------------------------------------------------------

FRACTION_MODES = (">0", "fraction_of_max", "sd_above_baseline")


@keeps_labels("x")
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


@keeps_labels("x")
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
