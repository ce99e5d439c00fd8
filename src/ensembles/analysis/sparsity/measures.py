"""Sparseness of each vector along a dim (:func:`sparseness`), its named forms (lifetime, population, Vinje–Gallant,
Treves–Rolls, Hoyer, Gini, kurtosis) and sparseness at a matched n (:func:`subsample_sparseness`).  Definitions and
citations: :mod:`ensembles.analysis.sparsity` and docs/methods.md §A1.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import xarray as xr

from ensembles import conventions as C
from ensembles._validation import check_choice
from ensembles.analysis import _xr
from ensembles.analysis._contract import Result, keeps_labels
from ensembles.errors import ParameterError

from ._engine import DEFINITIONS, _apply_policies, _canonical, _compute_measure, _edge_cases

__all__ = [
    "sparseness",
    "lifetime_sparseness",
    "population_sparseness",
    "vinje_gallant_sparseness",
    "treves_rolls_activity",
    "hoyer_sparseness",
    "gini_sparseness",
    "kurtosis_sparseness",
    "subsample_sparseness",
]


@keeps_labels("x")
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


@keeps_labels("x")
def lifetime_sparseness(x: Any, measure: str = "vinje-gallant", *, dim: str = C.PRESENTATION, negative: str = "raise",
                        nan_policy: str = "propagate") -> Any:
    """Lifetime sparseness: one value per neuroid across stimuli (reduces ``dim``, default ``"presentation"``).

    Pass **trial-averaged** responses per stimulus condition (blank dropped), as the AllenSDK does; use
    :func:`condition_means` to average repeats (then ``dim="stimulus"``).  Defaults to the Vinje–Gallant S of the
    AllenSDK (Vinje & Gallant 2000).  Parameters and returns as :func:`sparseness`.
    """
    return sparseness(x, measure, dim=dim, negative=negative, nan_policy=nan_policy)


@keeps_labels("x")
def population_sparseness(x: Any, measure: str = "hoyer", *, dim: str = C.NEUROID, negative: str = "raise",
                          nan_policy: str = "propagate") -> Any:
    """Population sparseness: one value per presentation across neuroids (reduces ``dim``, default ``"neuroid"``).

    Defaults to Hoyer's measure, the per-sample sparseness of Tosato et al. 2023 (Hoyer 2004).  The Allen population
    aggregate is ``np.nanmean`` of the per-stimulus Vinje–Gallant S (docs/methods.md §A1.6).  Parameters and returns as
    :func:`sparseness`.
    """
    return sparseness(x, measure, dim=dim, negative=negative, nan_policy=nan_policy)


@keeps_labels("x")
def vinje_gallant_sparseness(x: Any, *, dim: str = C.PRESENTATION, negative: str = "raise", nan_policy="propagate"):
    """Vinje & Gallant (2000) S along ``dim`` (the AllenSDK lifetime/population sparseness); see :func:`sparseness`."""
    return sparseness(x, "vinje-gallant", dim=dim, negative=negative, nan_policy=nan_policy)


@keeps_labels("x")
def treves_rolls_activity(x: Any, *, dim: str = C.PRESENTATION, negative: str = "raise", nan_policy="propagate"):
    """Treves–Rolls activity ratio a (Rolls & Tovee 1995) along ``dim``; small a = sparse; see :func:`sparseness`."""
    return sparseness(x, "treves-rolls", dim=dim, negative=negative, nan_policy=nan_policy)


@keeps_labels("x")
def hoyer_sparseness(x: Any, *, dim: str = C.NEUROID, negative: str = "raise", nan_policy="propagate"):
    """Hoyer (2004) sparseness along ``dim`` (default per sample, as Tosato et al. 2023); see :func:`sparseness`."""
    return sparseness(x, "hoyer", dim=dim, negative=negative, nan_policy=nan_policy)


@keeps_labels("x")
def gini_sparseness(x: Any, *, dim: str = C.NEUROID, negative: str = "raise", nan_policy="propagate"):
    """Gini index (Hurley & Rickard 2009) along ``dim``; see :func:`sparseness`."""
    return sparseness(x, "gini", dim=dim, negative=negative, nan_policy=nan_policy)


@keeps_labels("x")
def kurtosis_sparseness(
    x: Any, *, dim: str = C.PRESENTATION, convention: str = "sample", negative: str = "raise", nan_policy="propagate"
):
    """Excess kurtosis along ``dim``; ``convention="sample"`` (Willmore & Tolhurst 2001) or ``"moment"`` (Field 1994).

    See :func:`sparseness`.
    """
    check_choice("convention", convention, ("sample", "moment"))
    return sparseness(x, f"kurtosis-{convention}", dim=dim, negative=negative, nan_policy=nan_policy)


@keeps_labels("x")
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
    ds = xr.Dataset(variables, attrs=attrs)
    if lay.template is not None and kept:
        ds = ds.assign_coords(_xr.wrap_reduced(est, lay).coords)
    return ds
