"""Do significant ensemble overlaps fall among the visually most similar category pairs?

Tosato et al. (2023, Fashion-MNIST, FF layer 1) report overlaps only between upper-body garments. To test "only
between visually similar classes" with a similarity that does not come from the network under test, take a
category-by-category similarity (e.g. the correlation of class-mean images, :func:`class_mean_similarity`), call
the ``top`` most similar pairs "similar", and count how many significantly overlapping pairs are among them. The
null relabels the categories of the similarity matrix (rows and columns together, as in a Mantel test; Mantel
1967), which keeps its structure and the number of significant pairs.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ensembles.analysis._contract import Result, keeps_labels
from ensembles.errors import ParameterError

__all__ = ["class_mean_correlation", "similar_pair_enrichment", "significant_pairs"]


def _square_bool(m: Any, name: str) -> np.ndarray:
    arr = np.asarray(getattr(m, "values", m))
    if arr.ndim != 2 or arr.shape[0] != arr.shape[1]:
        raise ParameterError(f"The {name!r} parameter must be a square (category x category) matrix. "
                             f"Got shape {arr.shape} instead.")
    if arr.dtype != bool:
        raise ParameterError(f"The {name!r} parameter must be boolean (True = significant pair). "
                             f"Got dtype {arr.dtype} instead.")
    return arr | arr.T


def _top_pairs(sim: np.ndarray, iu: tuple[np.ndarray, np.ndarray], top: int) -> np.ndarray:
    """Indices (into the upper-triangle pair list) of the ``top`` most similar pairs; ties broken by pair order."""
    return np.argsort(-sim[iu], kind="stable")[:top]


def similar_pair_enrichment(significant: Any, similarity: Any, *, top: int = 9, n_shuffles: int = 10000,
                            random_state: int | np.random.Generator | None = None) -> Result:
    """Count significant pairs among the ``top`` most similar category pairs, with a permutation p-value.

    Parameters
    ----------
    significant : bool array (n_categories, n_categories), or a sequence of them (e.g. one per seed)
        True where a pair's ensembles overlap significantly (symmetrised; the diagonal is ignored).
    similarity : array (n_categories, n_categories)
        Finite similarities (symmetrised as ``(S + S') / 2``), independent of the networks tested.
    top : int
        How many of the most similar pairs count as "similar" (default 9: 20 % of the 45 pairs of 10 classes).
    n_shuffles : int
        Random relabellings of the similarity matrix's categories.

    Returns
    -------
    :class:`~ensembles.analysis.Result` of plain values: ``n_significant`` (significant pairs, summed over the
    matrices), ``n_in_top`` (of which among the ``top`` most similar pairs), ``expected`` (mean of the null), ``p``
    (one-sided permutation p-value, (1 + #{null >= observed}) / (1 + n_shuffles)) and ``top_pairs`` (the ``top``
    most similar pairs as (category_i, category_j) index pairs, i < j).
    """
    mats = [significant] if np.ndim(getattr(significant, "values", significant)) == 2 else list(significant)
    if not mats:
        raise ParameterError("The 'significant' parameter must hold at least one matrix. Got none.")
    sig = [_square_bool(m, "significant") for m in mats]
    sim = np.asarray(getattr(similarity, "values", similarity), dtype=float)
    n = sig[0].shape[0]
    if sim.shape != (n, n) or any(m.shape != (n, n) for m in sig):
        raise ParameterError(f"The 'significant' matrices and 'similarity' must all have shape ({n}, {n}). "
                             f"Got {[m.shape for m in sig]} and {sim.shape}.")
    if not np.all(np.isfinite(sim)):
        raise ParameterError("The 'similarity' parameter must contain only finite values.")
    n_pairs = n * (n - 1) // 2
    if isinstance(top, bool) or not isinstance(top, (int, np.integer)) or not 1 <= top < n_pairs:
        raise ParameterError(f"The 'top' parameter must be an integer in [1, {n_pairs - 1}]. Got {top!r} instead.")
    if isinstance(n_shuffles, bool) or not isinstance(n_shuffles, (int, np.integer)) or n_shuffles < 1:
        raise ParameterError(f"The 'n_shuffles' parameter must be a positive integer. Got {n_shuffles!r} instead.")
    sim = (sim + sim.T) / 2
    iu = np.triu_indices(n, 1)
    counts = np.sum([m[iu] for m in sig], axis=0).astype(int)  # significant count per pair, over matrices
    top_idx = _top_pairs(sim, iu, top)
    observed = int(counts[top_idx].sum())
    rng = np.random.default_rng(random_state)
    null = np.empty(int(n_shuffles), dtype=int)
    for k in range(int(n_shuffles)):
        perm = rng.permutation(n)
        null[k] = counts[_top_pairs(sim[np.ix_(perm, perm)], iu, top)].sum()
    p = (1.0 + np.sum(null >= observed)) / (1.0 + n_shuffles)
    pairs = tuple((int(iu[0][i]), int(iu[1][i])) for i in top_idx)
    return Result({"n_significant": int(counts.sum()), "n_in_top": observed, "expected": float(null.mean()),
                   "p": float(p), "top_pairs": pairs})


def significant_pairs(overlap: Any, *, alpha: float = 0.05) -> Result:
    """Category pairs whose ensembles overlap significantly: BH-FDR ``q < alpha`` in one layer's overlap result.

    ``overlap``: the Dataset of :func:`ensemble_overlap` for one layer (variables ``q``, dims ``category`` x
    ``other_category``), or a square array of q-values.  Returns a :class:`~ensembles.analysis.Result`:
    ``matrix`` (bool, symmetric, False on the diagonal), ``count`` (significant unordered pairs) and ``pairs`` (as
    (category_i, category_j) labels, i < j).
    """
    if isinstance(alpha, bool) or not isinstance(alpha, (int, float)) or not 0 < alpha < 1:
        raise ParameterError(f"The 'alpha' parameter must be a number in (0, 1). Got {alpha!r} instead.")
    q = overlap["q"] if hasattr(overlap, "data_vars") else overlap
    if hasattr(q, "dims") and "layer" in q.dims:
        if q.sizes["layer"] != 1:
            raise ParameterError("The 'overlap' parameter has several layers; select one layer first.")
        q = q.isel(layer=0)
    labels = None
    if hasattr(q, "dims") and len(q.dims) == 2:
        labels = np.asarray(q[q.dims[0]].values) if q.dims[0] in q.coords else None
    arr = np.asarray(getattr(q, "values", q), dtype=float)
    if arr.ndim != 2 or arr.shape[0] != arr.shape[1]:
        raise ParameterError(f"The 'overlap' q-values must form a square matrix. Got shape {arr.shape} instead.")
    sig = np.nan_to_num(arr, nan=1.0) < alpha
    sig = (sig | sig.T) & ~np.eye(arr.shape[0], dtype=bool)
    labels = np.arange(arr.shape[0]) if labels is None else labels
    iu = np.triu_indices(arr.shape[0], 1)
    pairs = tuple((labels[i].item(), labels[j].item()) for i, j in zip(*iu, strict=True) if sig[i, j])
    return Result({"matrix": sig, "count": len(pairs), "pairs": pairs})


@keeps_labels("images")
def class_mean_correlation(images: Any, labels: Any) -> Any:
    """Pearson correlation between the class-mean images (pixel space): a visual similarity of categories that
    does not depend on any network. numpy in -> (n_categories, n_categories) array (categories = sorted labels);
    DataArray in -> DataArray (category, other_category).

    Equal to the cosine similarity of the class means after subtracting each class mean's own pixel average, which
    is what :func:`ensembles.analysis.ensembles.class_mean_similarity` computes on images centred per image.
    """
    from ensembles.analysis.ensembles import class_mean_similarity

    if hasattr(images, "dims"):  # labelled images: centre each image, keep the labels
        flat = images - images.mean([d for d in images.dims if d != images.dims[0]])
        sim = class_mean_similarity(flat, labels)
        sim.attrs["definition"] = "Pearson correlation of class-mean images"
        return sim.rename("correlation")
    arr = np.asarray(images, dtype=float)
    if arr.ndim < 2:
        raise ParameterError(f"The 'images' parameter must be (n_images, ...). Got shape {arr.shape} instead.")
    arr = arr.reshape(arr.shape[0], -1)
    sim = class_mean_similarity(arr - arr.mean(axis=1, keepdims=True), labels)
    if not hasattr(sim, "dims"):  # numpy in -> numpy out
        return np.asarray(sim)
    sim.attrs["definition"] = "Pearson correlation of class-mean images"
    return sim.rename("correlation")
