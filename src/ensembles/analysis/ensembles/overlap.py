"""Ensemble overlap (count, Jaccard, overlap coefficient) with a hypergeometric test, class-mean similarity, and
overlap vs similarity with a Mantel-style permutation p-value.

References
----------
Benjamini, Y. & Hochberg, Y. (1995). J R Stat Soc B 57:289-300.
Mantel, N. (1967). Cancer Res 27:209-220 (permutation test for matrix correlation).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import xarray as xr
from scipy import stats

from ... import conventions as C
from ..._validation import check_choice, describe
from ...errors import ParameterError
from .._contract import Result, keeps_labels
from .._input import check_count, check_finite, resolve_labels, unwrap
from .._stats import fdr_bh
from .._xr import is_dataarray
from ._common import CATEGORY, OTHER, _as_membership, _class_means

__all__ = ["ensemble_overlap", "class_mean_similarity", "overlap_vs_similarity"]


# ----------------------------------------------------------------------------------------------------------------------
# overlap
# ----------------------------------------------------------------------------------------------------------------------
def _overlap_block(M: np.ndarray, metric: str):
    n = M.shape[1]
    Mi = M.astype(np.int64)
    k = Mi @ Mi.T
    a = M.sum(axis=1)
    A, Bm = np.meshgrid(a, a, indexing="ij")
    p = stats.hypergeom.sf(k - 1, n, A, Bm)
    ek = A * Bm / n
    with np.errstate(invalid="ignore", divide="ignore"):
        if metric == "count":
            obs, exp = k.astype(float), ek
        elif metric == "overlap-coefficient":
            mn = np.minimum(A, Bm)
            obs, exp = k / mn, ek / mn
        else:
            obs = k / (A + Bm - k)
            exp = np.full(k.shape, np.nan)
            for i in range(len(a)):
                for j in range(i, len(a)):
                    lo, hi = max(0, a[i] + a[j] - n), min(a[i], a[j])
                    ks = np.arange(lo, hi + 1)
                    den = a[i] + a[j] - ks
                    pmf = stats.hypergeom.pmf(ks, n, a[i], a[j])
                    exp[i, j] = exp[j, i] = np.sum(np.where(den > 0, pmf * ks / np.maximum(den, 1), 0.0))
    iu = np.triu_indices(len(a), 1)
    q = np.full(k.shape, np.nan)
    if iu[0].size:
        qu = fdr_bh(p[iu])
        q[iu] = qu
        q[iu[1], iu[0]] = qu
    np.fill_diagonal(p, np.nan)
    np.fill_diagonal(exp, np.nan)
    return obs, exp, p, q


@keeps_labels("membership")
def ensemble_overlap(
    membership: Any, metric: str = "count", *, by_layer: bool | None = None
) -> xr.Dataset | Result:
    """Overlap between ensembles, its expectation under random membership and a hypergeometric p-value.

    For ensembles ``A`` and ``B`` of sizes ``a`` and ``b`` among ``n`` neuroids (of the layer), the shared count
    ``k = |A & B|`` under random membership of the same sizes is hypergeometric(n, a, b), with mean ``a b / n``.
    ``p = P(K >= k) = hypergeom.sf(k - 1, n, a, b)`` tests "more shared units than chance" (the paper's
    mixed-selectivity claim, docs/methods.md §A3.5, as a tested claim); ``q`` is its Benjamini-Hochberg adjustment over
    the off-diagonal pairs of a layer.

    Parameters
    ----------
    membership : bool DataArray (category, neuroid), Dataset with ``members``, or array (n_categories, n_neuroids)
    metric : {"count", "jaccard", "overlap-coefficient"}
        ``k``; ``k / |A | B|``; ``k / min(a, b)``.  ``expected`` is the same metric's expectation under the
        hypergeometric null (exact sum over its support for Jaccard).
    by_layer : bool or None
        Per layer (default when a ``layer`` coord exists along ``neuroid``): adds a ``layer`` dim.

    Returns
    -------
    xr.Dataset (labelled membership) or Result (plain array)
        ``overlap``, ``expected``, ``p``, ``q`` with dims (category, other_category[, layer]). The diagonal holds
        each ensemble with itself in ``overlap`` (the authors blank it for display) and NaN in ``expected``, ``p``
        and ``q``.  ``class_name`` and ``other_class_name`` coords when the membership has ``class_name``.
    """
    check_choice("metric", metric, ("count", "jaccard", "overlap-coefficient"))
    m = _as_membership(membership)
    cat = m.dims[0]
    has_layer = "layer" in m.coords and m.coords["layer"].dims == (C.NEUROID,)
    if by_layer is None:
        by_layer = has_layer
    if by_layer and not has_layer:
        raise ParameterError("by_layer=True needs a 'layer' coord along 'neuroid'; none was found.")
    M = np.asarray(m.values, dtype=bool)
    layers = np.unique(m.coords["layer"].values) if by_layer else [None]
    blocks = []
    for lay in layers:
        sel = np.ones(M.shape[1], bool) if lay is None else np.asarray(m.coords["layer"].values) == lay
        blocks.append(_overlap_block(M[:, sel], metric))
    arrs = [np.stack(z, axis=-1) for z in zip(*blocks, strict=True)]
    dims = (CATEGORY, OTHER, "layer") if by_layer else (CATEGORY, OTHER)
    cvals = m.coords[cat].values
    coords: dict = {CATEGORY: cvals, OTHER: cvals}
    if by_layer:
        coords["layer"] = layers
    else:
        arrs = [a[..., 0] for a in arrs]
    for extra in (C.CLASS_NAME,):
        if extra in m.coords and m.coords[extra].dims == (cat,):
            coords[extra] = (CATEGORY, m.coords[extra].values)
            coords[f"other_{extra}"] = (OTHER, m.coords[extra].values)
    ds = xr.Dataset({n: (dims, a) for n, a in zip(("overlap", "expected", "p", "q"), arrs, strict=True)}, coords=coords)
    ds.attrs = {"metric": metric, "null": "hypergeometric (random membership of the same sizes)",
                "reference": "Tosato et al. (2023); Benjamini-Hochberg (1995); docs/methods.md §A3.5"}
    return ds


@keeps_labels("images")
def class_mean_similarity(images: Any, labels: Any) -> xr.DataArray | np.ndarray:
    """Cosine similarity of class-mean images (visual similarity of categories, ours, docs/methods.md §A3.5).

    ``images``: array (n_images, ...) (flattened per image) or a DataArray whose first dim runs over images;
    ``labels``: (n_images,) or, for a DataArray, the name of a coord along its first dim.  Returns a DataArray
    (category, other_category) for a DataArray, a plain (n_categories, n_categories) array (sorted labels) for a
    plain array.
    """
    img = unwrap(images, name="images", ndim=None)
    arr = np.asarray(img.values if is_dataarray(img) else img, dtype=float)
    if arr.ndim < 2:
        raise ParameterError(f"The 'images' parameter must be (n_images, ...). Got {describe(arr)} instead.")
    arr = arr.reshape(arr.shape[0], -1)
    arr, _ = check_finite(arr, allow_nan=False, name="images")
    dim = img.dims[0] if is_dataarray(img) else C.PRESENTATION
    lab = resolve_labels(img, labels, arr.shape[0], dim=dim)
    classes, idx = np.unique(lab, return_inverse=True)
    mu, _ = _class_means(arr, idx, classes.size)
    nrm = np.linalg.norm(mu, axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        sim = (mu @ mu.T) / np.outer(nrm, nrm)
    out = xr.DataArray(sim, dims=(CATEGORY, OTHER), coords={CATEGORY: classes, OTHER: classes},
                       name="similarity", attrs={"definition": "cosine similarity of class-mean images"})
    return out


def _square(a: Any, name: str) -> np.ndarray:
    if isinstance(a, xr.Dataset):
        a = a["overlap"]
    if is_dataarray(a) and "layer" in a.dims:
        raise ParameterError(f"The {name!r} parameter has a 'layer' dim; select one layer first.")
    arr = np.asarray(a, dtype=float)
    if arr.ndim != 2 or arr.shape[0] != arr.shape[1]:
        raise ParameterError(f"The {name!r} parameter must be a square (category x category) matrix. Got {describe(arr)} instead.")
    return arr


@keeps_labels("overlap", "similarity")
def overlap_vs_similarity(
    overlap: Any,
    similarity: Any,
    *,
    n_shuffles: int = 1000,
    alternative: str = "greater",
    random_state: int | np.random.Generator | None = None,
) -> xr.Dataset | Result:
    """Does ensemble overlap follow class similarity? Spearman correlation over off-diagonal pairs with a
    Mantel (1967) permutation p-value.

    ``similarity`` may be a class confusion matrix (symmetrised as ``(S + S') / 2``) or the output of
    :func:`class_mean_similarity`; ``overlap`` a matrix or the Dataset of :func:`ensemble_overlap`.  The null
    permutes the category order of ``similarity`` (rows and columns together); ``p = (1 + #{rho_perm >= rho}) /
    (1 + n_shuffles)`` for ``alternative="greater"`` (``"two-sided"`` compares absolute values).

    Returns
    -------
    Result (plain arrays) or xr.Dataset of 0-d variables (labelled input) with ``rho``, ``p``, ``n_pairs``,
    ``n_shuffles``.
    """
    check_choice("alternative", alternative, ("greater", "two-sided"))
    n_shuffles = check_count("n_shuffles", n_shuffles, 1)
    o = _square(overlap, "overlap")
    s = _square(similarity, "similarity")
    if o.shape != s.shape:
        raise ParameterError(f"'overlap' {o.shape} and 'similarity' {s.shape} must have the same shape.")
    if o.shape[0] < 3:
        raise ParameterError("overlap_vs_similarity needs at least 3 categories (3 off-diagonal pairs).")
    o = (o + o.T) / 2
    s = (s + s.T) / 2
    iu = np.triu_indices(o.shape[0], 1)
    ro = stats.rankdata(o[iu])
    rho = float(stats.spearmanr(o[iu], s[iu]).statistic)
    rng = np.random.default_rng(random_state)
    null = np.empty(n_shuffles)
    for i in range(n_shuffles):
        perm = rng.permutation(o.shape[0])
        sp = s[np.ix_(perm, perm)][iu]
        null[i] = np.corrcoef(ro, stats.rankdata(sp))[0, 1]
    null = np.nan_to_num(null, nan=0.0)
    if alternative == "greater":
        p = (1.0 + np.sum(null >= rho - 1e-12)) / (1.0 + n_shuffles)
    else:
        p = (1.0 + np.sum(np.abs(null) >= abs(rho) - 1e-12)) / (1.0 + n_shuffles)
    values = {"rho": rho, "p": float(p), "n_pairs": int(iu[0].size), "n_shuffles": n_shuffles}
    attrs = {"statistic": "overlap_vs_similarity", "alternative": alternative,
             "definition": "Spearman rho over off-diagonal pairs; Mantel (1967) permutation p-value"}
    return xr.Dataset({k: ((), v) for k, v in values.items()}, attrs=attrs)
