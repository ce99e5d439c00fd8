"""Distribution similarity of single-neuroid properties (Brain-Score "Marques2020" recipe).

A model is compared with a neural recording not by the mean of a property (lifetime sparseness, image selectivity,
number of driven classes, ...) but by the whole distribution across neuroids, at matched numbers of neuroids, with
a bootstrap interval (docs/methods.md §A5.6).  :func:`ks_similarity` and :func:`distribution_similarity` follow
Brain-Score vision's ``metrics/distribution_similarity`` (``ks_similarity`` and ``BootstrapDistributionSimilarity``)
step by step; :func:`property_similarity` applies them to sparseness and selectivity of two recordings, which
Brain-Score does not offer.

References
----------
Marques, Schrimpf & DiCarlo (2021). Multi-scale hierarchical neural network models that bridge from single neurons
in the primate primary visual cortex to object recognition behavior. bioRxiv 2021.03.01.433495.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import xarray as xr

from ensembles import conventions as C
from ensembles._validation import check_choice, param_error
from ensembles.analysis._contract import Result, keeps_labels
from ensembles.analysis._input import check_count, resolve_labels, unwrap
from ensembles.errors import ParameterError

__all__ = [
    "ks_similarity",
    "distribution_similarity",
    "property_similarity",
    "PROPERTIES",
]

PROPERTIES = ("lifetime_sparseness", "image_selectivity", "n_driven_classes")


@keeps_labels("p", "q")
def ks_similarity(p: Any, q: Any) -> Any:
    """KS similarity of two normalised histograms on the same bins: 1 − D/D_max.

    D = max_b |CDF_p − CDF_q|; D_max = the larger KS distance between ``q`` (the data histogram) and a point mass
    in its first or in its last bin, so that 1 means identical and 0 means as far as a point mass at an end of the
    data range (Brain-Score ``ks_similarity``; Marques et al. 2021).  A float for plain arrays, a 0-d DataArray
    for labelled input.
    """
    p = np.asarray(unwrap(p, name="p", ndim=None), dtype=np.float64)
    q = np.asarray(unwrap(q, name="q", ndim=None), dtype=np.float64)
    if p.ndim != 1 or p.shape != q.shape or p.size == 0:
        raise ParameterError(
            f"ks_similarity needs two 1-D histograms of equal length. Got shapes {p.shape} and {q.shape}."
        )
    return xr.DataArray(_ks(p, q), name="ks_similarity",
                        attrs={"statistic": "ks_similarity", "reference": "Marques et al. 2021"})


def _ks(p: np.ndarray, q: np.ndarray) -> float:
    """The kernel of :func:`ks_similarity` on two validated float64 histograms."""
    z1 = np.zeros_like(q)
    z2 = np.zeros_like(q)
    z1[0] = 1.0
    z2[-1] = 1.0
    cq = np.cumsum(q)
    d = np.max(np.abs(np.cumsum(p) - cq))
    d_max = max(np.max(np.abs(np.cumsum(z1) - cq)), np.max(np.abs(np.cumsum(z2) - cq)))
    return float(1.0 - d / d_max)


_SIMILARITY_DIMS = {"bins": ("bin_edge",), "data_hist": ("bin",), "similarities": (C.BOOTSTRAP,)}


def _values(v: Any, name: str) -> np.ndarray:
    v = unwrap(v, name=name, ndim=None)
    arr = np.asarray(v.values if hasattr(v, "dims") else v, dtype=np.float64)
    if arr.ndim != 1:
        raise param_error(name, "a 1-D array of one property value per neuroid", arr)
    if arr.size == 0:
        raise ParameterError(f"The {name!r} parameter is empty; need at least one neuroid.")
    return arr


@keeps_labels("model_values", "data_values")
def distribution_similarity(
    model_values: Any,
    data_values: Any,
    *,
    bins: Any = None,
    n_bootstrap: int = 1000,
    random_state: int | np.random.Generator | None = None,
) -> Result | xr.Dataset:
    """Bootstrap KS similarity of a model's distribution of a property to a neural recording's (Marques2020).

    Steps (Brain-Score ``BootstrapDistributionSimilarity.__call__``): clip model and data values into
    [bins[0], bins[−1]]; normalised histogram of the data; ``n_bootstrap`` draws of n_data values (with replacement)
    from the model's values, each histogrammed and normalised; :func:`ks_similarity` of each draw to the data
    histogram; score = mean over draws, error = SD; score = error = 0 when more than 10 % of the draws are NaN.
    Drawing n_data values matches the number of neuroids.  As in Brain-Score, NaN model values stay in the pool
    (they fall in no bin, so a draw of only NaN gives a NaN similarity); NaN data values are dropped.

    Parameters
    ----------
    model_values, data_values : array-like of shape (n_neuroids,)
        One property value per neuroid (e.g. lifetime sparseness).
    bins : int, array-like of edges, or None
        Histogram edges (Brain-Score stores them with each property); an int gives that many equal bins over the
        data's range; None gives 20.
    n_bootstrap : int
        Number of draws (Brain-Score: 1000).
    random_state : int, Generator or None

    Returns
    -------
    :class:`~ensembles.analysis.Result` (plain arrays) or ``xr.Dataset`` (labelled input)
        ``score``, ``error``, ``n_model``, ``n_data``, ``n_bootstrap``, ``n_nan_draws``, and the arrays ``bins``,
        ``data_hist`` and ``similarities`` (one per draw).
    """
    model = _values(model_values, "model_values").copy()
    data = _values(data_values, "data_values")
    data = data[np.isfinite(data)].copy()
    if data.size == 0:
        raise ParameterError("The 'data_values' parameter has no finite value.")
    n_bootstrap = check_count("n_bootstrap", n_bootstrap, 1)
    if bins is None or isinstance(bins, (int, np.integer)):
        k = 20 if bins is None else int(bins)
        if k < 1:
            raise param_error("bins", "a positive int or an increasing array of edges", bins)
        lo, hi = float(data.min()), float(data.max())
        if hi == lo:
            lo, hi = lo - 0.5, hi + 0.5
        edges = np.linspace(lo, hi, k + 1)
    else:
        edges = np.asarray(bins, dtype=np.float64)
        if edges.ndim != 1 or edges.size < 2 or np.any(np.diff(edges) <= 0):
            raise param_error("bins", "a positive int or an increasing array of at least 2 edges", bins)
    data = np.clip(data, edges[0], edges[-1])
    finite = np.isfinite(model)
    model[finite] = np.clip(model[finite], edges[0], edges[-1])
    n_data = data.size
    data_hist = np.histogram(data, bins=edges)[0].astype(np.float64)
    data_hist /= data_hist.sum()
    rng = np.random.default_rng(random_state)
    sims = np.empty(n_bootstrap)
    with np.errstate(invalid="ignore", divide="ignore"):
        for s in range(n_bootstrap):
            sample = rng.choice(model, size=n_data, replace=True)
            h = np.histogram(sample[np.isfinite(sample)], bins=edges)[0].astype(np.float64)
            h /= h.sum()
            sims[s] = _ks(h, data_hist) if np.all(np.isfinite(h)) else np.nan
    n_nan = int(np.isnan(sims).sum())
    if n_nan > n_bootstrap / 10:
        score = error = 0.0
    else:
        score, error = float(np.nanmean(sims)), float(np.nanstd(sims))
    return Result(
        {"score": score, "error": error, "n_model": int(model.size), "n_data": int(n_data),
         "n_bootstrap": int(n_bootstrap), "n_nan_draws": n_nan, "bins": edges, "data_hist": data_hist,
         "similarities": sims},
        attrs={"statistic": "distribution_similarity"},
        dims=_SIMILARITY_DIMS,
    )


def _labelled(x: Any, labels: Any, name: str) -> xr.DataArray:
    """(presentation, neuroid) DataArray with a ``label`` coord, from a recording, a DataArray or a plain array."""
    a = unwrap(x, name=name)
    if not isinstance(a, xr.DataArray):
        a = xr.DataArray(np.asarray(a), dims=(C.PRESENTATION, C.NEUROID))
    if set(a.dims) != {C.PRESENTATION, C.NEUROID}:
        raise ParameterError(
            f"The {name!r} parameter must have dims ('presentation', 'neuroid') (select one checkpoint first). "
            f"Got dims {tuple(a.dims)} instead."
        )
    y = resolve_labels(a, labels, a.sizes[C.PRESENTATION])
    return a.transpose(C.PRESENTATION, C.NEUROID).assign_coords(label=(C.PRESENTATION, y))


def _property(da: xr.DataArray, prop: str, n_conditions: int | None, rng: np.random.Generator) -> np.ndarray:
    from ensembles.analysis import selectivity as sel
    from ensembles.analysis import sparsity as sp

    classes = np.unique(da["label"].values)
    if n_conditions is not None and n_conditions < classes.size:
        keep = np.sort(rng.choice(classes, size=n_conditions, replace=False))
        da = da.isel(presentation=np.isin(da["label"].values, keep))
    if prop == "n_driven_classes":
        return np.asarray(sel.n_driven_classes(da, da["label"].values)["n_driven"].values, dtype=np.float64)
    means = sp.condition_means(da, "label")
    if prop == "lifetime_sparseness":
        return np.asarray(
            sp.lifetime_sparseness(means, dim="stimulus", negative="clip").values, dtype=np.float64
        )
    return np.asarray(sp.image_selectivity(means, dim="stimulus").values, dtype=np.float64)


@keeps_labels("model", "data")
def property_similarity(
    model: Any,
    data: Any,
    *,
    labels: Any = "label",
    property: str = "lifetime_sparseness",
    bins: Any = None,
    n_bootstrap: int = 1000,
    match_conditions: bool = True,
    random_state: int | np.random.Generator | None = None,
) -> Result | xr.Dataset:
    """KS similarity of a single-neuroid property between a model recording and a neural recording.

    The property is computed per neuroid on the trial-averaged response to each condition (``labels``):
    ``"lifetime_sparseness"`` (Vinje–Gallant S of the condition means, negatives clipped; AllenSDK's form),
    ``"image_selectivity"`` (AllenSDK), or ``"n_driven_classes"`` (:func:`ensembles.analysis.selectivity.n_driven_classes`).
    With ``match_conditions`` the recording with more conditions is reduced to a random subset of as many conditions
    as the other has (lifetime measures depend on the number of stimuli, docs/methods.md §A5.8); neuroids are
    matched by drawing n_data model values per bootstrap draw (:func:`distribution_similarity`).

    ``model`` and ``data`` are recordings, DataArrays (presentation, neuroid) or plain arrays of shape
    (n_presentations, n_neuroids); ``labels`` is the presentation coord holding the conditions (default
    ``"label"``) or, for plain arrays, a pair ``(model_labels, data_labels)``.  Returns a
    :class:`~ensembles.analysis.Result` for plain arrays (``score``, ``error``, ``n_model``, ``n_data``,
    ``n_bootstrap``, ``n_nan_draws``, ``bins``, ``data_hist``, ``similarities``), an ``xr.Dataset`` with the same
    fields for labelled input.
    """
    check_choice("property", property, PROPERTIES)
    pair = isinstance(labels, (tuple, list)) and len(labels) == 2 and not isinstance(labels[0], (int, np.integer))
    ml, dl = labels if pair else (labels, labels)
    mda, dda = _labelled(model, ml, "model"), _labelled(data, dl, "data")
    rng = np.random.default_rng(random_state)
    n = None
    if match_conditions:
        n = min(np.unique(mda["label"].values).size, np.unique(dda["label"].values).size)
    mv = _property(mda, property, n, rng)
    dv = _property(dda, property, n, rng)
    if bins is None and property in ("lifetime_sparseness",):
        bins = np.linspace(0.0, 1.0, 21)
    res = distribution_similarity(mv, dv, bins=bins, n_bootstrap=n_bootstrap, random_state=rng)
    res.attrs.update(statistic="property_similarity", property=property)
    return res
