"""Dimensionality of a population: participation ratio, PCA eigenspectrum and its power-law exponent α, and the
tidy per-layer summary.

References
----------
Stringer, Pachitariu, Steinmetz, Carandini & Harris (2019). High-dimensional geometry of population responses in
visual cortex. Nature 571:361.
Gao et al. (2017). A theory of multineuronal dimensionality, dynamics and measurement. bioRxiv 214262.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import xarray as xr

from ensembles import conventions as C
from ensembles._validation import param_error
from ensembles.analysis._contract import Result, is_labelled, keeps_labels
from ensembles.analysis._input import unwrap
from ensembles.errors import ParameterError

from ._common import _matrix
from .cka import _gram_inner

__all__ = ["participation_ratio", "eigenspectrum", "eigenspectrum_alpha", "summarize_geometry"]


# --------------------------------------------------------------------------------------------------------------
# dimensionality
# --------------------------------------------------------------------------------------------------------------
@keeps_labels("x")
def participation_ratio(x: Any) -> Any:
    """Participation ratio PR = (Σ λ_i)² / Σ λ_i² of the covariance eigenvalues λ across presentations.

    Ranges from 1 (one dimension) to n_neuroids (isotropic).  Definition: Gao et al. (2017); Litwin-Kumar et al.
    (2017, Neuron 93:1153); Recanatesi et al. (2019).  Computed as tr(C)²/‖C‖²_F without an eigendecomposition.
    A float for plain arrays, a 0-d DataArray (attrs: counts, reference) for labelled input; NaN for a
    population without variance (e.g. all zero).
    """
    arr, da = _matrix(x, "x")
    if arr.shape[0] < 2:
        raise ParameterError(f"participation_ratio needs at least 2 presentations. Got {arr.shape[0]}.")
    xc = arr - arr.mean(axis=0)
    tr = float(np.sum(xc * xc))
    tr2 = _gram_inner(xc, xc)
    value = tr * tr / tr2 if tr2 > 0 else float("nan")
    attrs = {"statistic": "participation_ratio", "n_neuroids": int(arr.shape[1]),
             "n_presentations": int(arr.shape[0]), "reference": "Gao et al. 2017"}
    return xr.DataArray(value, name="participation_ratio", attrs=attrs)


@keeps_labels("x")
def eigenspectrum(x: Any, x2: Any = None) -> np.ndarray | xr.DataArray:
    """PCA eigenspectrum (variance per component, descending) of responses across presentations.

    With ``x2`` (a second repeat of the same stimuli, same shape), the cross-validated spectrum of Stringer et al.
    (2019): components are estimated on ``x``, and the variance along component k is the covariance across
    stimuli of the projections of the two repeats, s_k = (X₁u_k)ᵀ(X₂u_k)/(n − 1), which is unbiased by
    trial-to-trial noise (and can be negative in the noise floor).  A numpy array for plain arrays, a DataArray
    along ``component`` for labelled input.
    """
    return xr.DataArray(_eigenspectrum(x, x2), dims=(C.COMPONENT,), name="eigenspectrum",
                        attrs={"statistic": "eigenspectrum", "cross_validated": int(x2 is not None)})


def _eigenspectrum(x: Any, x2: Any = None) -> np.ndarray:
    arr, _ = _matrix(x, "x")
    n = arr.shape[0]
    if n < 2:
        raise ParameterError(f"eigenspectrum needs at least 2 presentations. Got {n}.")
    xc = arr - arr.mean(axis=0)
    if n >= arr.shape[1]:
        # eigendecomposition of the (n_neuroids x n_neuroids) scatter matrix: much cheaper than an SVD of X for n >> p
        evals, evecs = np.linalg.eigh(xc.T @ xc)
        order = np.argsort(evals)[::-1][: min(n - 1, arr.shape[1])]
        s2, vt = np.clip(evals[order], 0.0, None), evecs[:, order].T
    else:
        _, s, vt = np.linalg.svd(xc, full_matrices=False)
        s2 = s**2
    if x2 is None:
        return s2 / (n - 1)
    arr2, _ = _matrix(x2, "x2")
    if arr2.shape != arr.shape:
        raise ParameterError(f"'x2' must have the shape of 'x' {arr.shape}. Got {arr2.shape}.")
    x2c = arr2 - arr2.mean(axis=0)
    return np.sum((xc @ vt.T) * (x2c @ vt.T), axis=0) / (n - 1)


@keeps_labels("x")
def eigenspectrum_alpha(
    x: Any,
    x2: Any = None,
    *,
    fit_range: tuple[int, int] = (11, 500),
    min_points: int = 5,
) -> Result | xr.Dataset:
    """Power-law exponent α of the PCA eigenspectrum, λ_n ∝ n^(−α) (Stringer et al. 2019).

    The fit follows the authors' ``get_powerlaw(ss, trange)`` (MouseLand stringer-pachitariu-et-al-2018b,
    ``utils.py``): weighted least squares of log λ_n on −log n with weights 1/n, over the 0-based component indices
    ``range(*fit_range)``, i.e. ranks n = 12 … 500 for the default ``(11, 500)``.  Mouse V1 on 2800 natural images:
    α ≈ 1 (Stringer et al. 2019).  The range is clipped to the components available (min(n_presentations − 1,
    n_neuroids)) and to the positive eigenvalues; the clipped range is reported in the result.

    Parameters
    ----------
    x : array-like of shape (n_presentations, n_neuroids)
    x2 : array-like, optional
        Second repeat for the cross-validated spectrum (:func:`eigenspectrum`).
    fit_range : (int, int)
        0-based [start, stop) component indices of the fit.
    min_points : int
        Fewest components the fit accepts (ValueError otherwise).

    Returns
    -------
    :class:`~ensembles.analysis.Result` (plain arrays) or ``xr.Dataset`` (labelled input)
        ``alpha``, ``intercept``, ``fit_start``, ``fit_stop`` (the clipped range), ``n_points`` and the
        ``eigenvalues`` (dim ``component``).
    """
    if (
        not isinstance(fit_range, (tuple, list))
        or len(fit_range) != 2
        or not all(isinstance(v, (int, np.integer)) for v in fit_range)
        or fit_range[0] < 0
        or fit_range[1] <= fit_range[0]
    ):
        raise param_error("fit_range", "a pair of ints (start, stop) with 0 <= start < stop", fit_range)
    ss = _eigenspectrum(x, x2)
    arr_rank = int(np.sum(ss > ss[0] * 1e-12)) if ss[0] > 0 else 0
    start = int(fit_range[0])
    stop = int(min(fit_range[1], arr_rank))
    idx = np.arange(start, stop)
    idx = idx[ss[idx] > 0] if idx.size else idx
    if idx.size < min_points:
        raise ParameterError(
            f"eigenspectrum_alpha: only {idx.size} positive components in fit_range={tuple(fit_range)} "
            f"(spectrum has {ss.size} components, {arr_rank} non-zero); need at least min_points={min_points}. "
            f"Use more presentations/neuroids or a lower fit range, e.g. fit_range=(0, {max(arr_rank, 1)})."
        )
    rank = idx + 1.0
    design = np.column_stack([-np.log(rank), np.ones(idx.size)])
    w = 1.0 / rank
    yv = np.log(ss[idx])
    coef = np.linalg.solve(design.T @ (design * w[:, None]), (design * w[:, None]).T @ yv)
    return Result(
        {"alpha": float(coef[0]), "intercept": float(coef[1]), "fit_start": int(idx[0]),
         "fit_stop": int(idx[-1] + 1), "n_points": int(idx.size), "eigenvalues": ss},
        attrs={"statistic": "eigenspectrum_alpha"},
        dims={"eigenvalues": (C.COMPONENT,)},
    )


# --------------------------------------------------------------------------------------------------------------
# tidy summary (same columns as ensembles.analysis.summary.summarize)
# --------------------------------------------------------------------------------------------------------------
def summarize_geometry(
    rec: Any,
    *,
    correct_only: bool = True,
    layers: Any = None,
    fit_range: tuple[int, int] = (11, 500),
) -> Any:
    """Dimensionality of each layer as tidy rows in the format of :func:`ensembles.analysis.summary.summarize`.

    Statistics (``aggregate = "value"``): ``participation_ratio`` (:func:`participation_ratio`) and
    ``eigenspectrum_alpha`` (:func:`eigenspectrum_alpha`; NaN with ``n_nan = 1`` when the layer has too few
    components for ``fit_range``).  ``n`` is the number of neuroids of the layer.  Only correctly classified
    presentations are used when ``correct_only`` and the recording has a ``correct`` coord (the paper's protocol),
    as in ``summarize``.  The rows can be concatenated with ``summarize(rec)`` and passed to
    :func:`ensembles.analysis.cortex.compare_to_cortex`.

    Returns
    -------
    pandas.DataFrame with columns ``model, dataset, seed, site, run, checkpoint, epoch, layer, subset, class,
    statistic, aggregate, value, n, n_nan``.
    """
    import pandas as pd

    attrs = dict(rec.attrs) if is_labelled(rec) else {}
    act = unwrap(rec, name="rec")
    if not isinstance(act, xr.DataArray):  # a plain (n_presentations, n_neuroids) array: one layer, no labels
        act = xr.DataArray(np.asarray(act), dims=(C.PRESENTATION, C.NEUROID))
    else:
        from ensembles.record import (
            select_presentations,  # the one selection (last checkpoint, correct + held out)
        )

        act = select_presentations(act, correct_only=correct_only)
    if set(act.dims) != {"presentation", "neuroid"}:
        raise ParameterError(
            f"The 'rec' parameter must have dims ('presentation', 'neuroid'). Got {tuple(act.dims)}."
        )
    act = act.transpose("presentation", "neuroid")
    subset = "correct" if correct_only and "correct" in act.coords else "all"
    layer_values = act["layer"].values if "layer" in act.coords else np.ones(act.sizes["neuroid"], dtype=int)
    wanted = np.unique(layer_values) if layers is None else np.atleast_1d(layers)
    base = {
        "model": attrs.get("model"),
        "dataset": attrs.get("dataset"),
        "seed": attrs.get("seed"),
        "site": attrs.get("site"),
        "run": None,
        "checkpoint": None,
        "epoch": int(act["epoch"].values) if "epoch" in act.coords and act["epoch"].ndim == 0 else None,
        "subset": subset,
        "class": "all",
        "aggregate": "value",
    }
    rows = []
    for layer in wanted:
        x = act.isel(neuroid=np.flatnonzero(layer_values == layer))
        p = int(x.sizes["neuroid"])
        if p == 0:
            raise ParameterError(f"The 'layers' parameter asks for layer {layer!r}, which the recording lacks.")
        arr = np.asarray(x.values, dtype=np.float64)
        ok = np.isfinite(arr).all(axis=1)
        arr = arr[ok]
        pr = participation_ratio(arr) if arr.shape[0] >= 2 else float("nan")
        try:
            alpha = eigenspectrum_alpha(arr, fit_range=fit_range).alpha
        except ValueError:
            alpha = float("nan")
        for stat, val in (("participation_ratio", pr), ("eigenspectrum_alpha", alpha)):
            rows.append({**base, "layer": int(layer), "statistic": stat, "value": float(val), "n": p,
                         "n_nan": int(not np.isfinite(val))})  # fmt: skip
    cols = ["model", "dataset", "seed", "site", "run", "checkpoint", "epoch", "layer", "subset", "class",
            "statistic", "aggregate", "value", "n", "n_nan"]  # fmt: skip
    return pd.DataFrame(rows, columns=cols)
