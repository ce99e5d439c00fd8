"""Linear centred kernel alignment (CKA), biased (Kornblith et al. 2019) and debiased (Song et al. 2012 HSIC).

References
----------
Kornblith, Norouzi, Lee & Hinton (2019). Similarity of neural network representations revisited. ICML.
Song, Smola, Gretton, Bedo & Borgwardt (2012). Feature selection via dependence maximization. JMLR 13:1393.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import xarray as xr

from ensembles.analysis import _xr
from ensembles.analysis._contract import keeps_labels
from ensembles.errors import ParameterError

from ._common import _matrix, _set_mismatch

__all__ = ["linear_cka"]


# --------------------------------------------------------------------------------------------------------------
# linear CKA
# --------------------------------------------------------------------------------------------------------------
def _align_pair(x: Any, y: Any, *, lazy: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Two response matrices over the same presentations; labelled inputs are aligned on ``stimulus_id``.

    ``lazy``: dask-backed inputs stay dask arrays (read later in blocks of presentations)."""
    xa, xd = (lazy and _xr.lazy_matrix(x, name="x", float64=True)) or _matrix(x, "x")
    ya, yd = (lazy and _xr.lazy_matrix(y, name="y", float64=True)) or _matrix(y, "y")
    if xd is not None and yd is not None and "stimulus_id" in xd.coords and "stimulus_id" in yd.coords:
        sx = xd["stimulus_id"].values.astype(str)
        sy = yd["stimulus_id"].values.astype(str)
        if not (sx.shape == sy.shape and np.array_equal(sx, sy)):
            if set(sx) != set(sy):
                raise _set_mismatch(sx, sy, "'x' and 'y' were recorded on different stimulus sets", "stimulus_id(s)",
                                    ("x", "y"))  # fmt: skip
            if len(np.unique(sx)) != sx.size or len(np.unique(sy)) != sy.size:
                raise ParameterError(
                    "'x' and 'y' contain repeated stimulus_id values in different orders; average repeats first."
                )
            pos = {s: i for i, s in enumerate(sy)}
            ya = ya[[pos[s] for s in sx]]
    if xa.shape[0] != ya.shape[0]:
        raise ParameterError(
            f"'x' and 'y' must have the same number of presentations. Got {xa.shape[0]} and {ya.shape[0]}."
        )
    return xa, ya


def _gram_inner(x: np.ndarray, y: np.ndarray) -> float:
    """<X Xᵀ, Y Yᵀ>_F computed in feature space (‖XᵀY‖²) or sample space, whichever is cheaper."""
    n, p = x.shape
    q = y.shape[1]
    if p * q <= n * n:
        return float(np.sum((x.T @ y) ** 2))
    return float(np.sum((x @ x.T) * (y @ y.T)))


def _streamed_inners(x: Any, y: Any) -> tuple[float, float, float]:
    """<K, L>, <K, K>, <L, L> of the column-centred ``x``, ``y`` (either a dask array) in feature space: column means
    in one pass, then XᵀY, XᵀX, YᵀY of the centred blocks of presentations accumulated in float64 (memory: the
    Gram matrices and a few blocks, whatever the number of presentations)."""
    import dask.array as da

    p = x.shape[1]
    z = da.concatenate([da.asarray(x), da.asarray(y)], axis=1).rechunk({1: -1})
    (mean,) = _xr.compute(z.mean(axis=0))

    def grams(block, rows):
        b = np.asarray(block) - mean
        bx, by = b[:, :p], b[:, p:]
        out = np.zeros((b.shape[1], b.shape[1]))
        out[:p, :p] = bx.T @ bx
        out[p:, p:] = by.T @ by
        out[:p, p:] = bx.T @ by
        return out

    g = _xr.reduce_rows(grams, z)
    return float(np.sum(g[:p, p:] ** 2)), float(np.sum(g[:p, :p] ** 2)), float(np.sum(g[p:, p:] ** 2))


def _hsic_u(x: np.ndarray, y: np.ndarray) -> float:
    """Unbiased HSIC (Song et al. 2012) of linear kernels K = XXᵀ, L = YYᵀ without forming K or L.

    HSIC_u = [tr(K̃L̃) + (1ᵀK̃1)(1ᵀL̃1)/((n−1)(n−2)) − 2/(n−2) 1ᵀK̃L̃1] / (n(n−3)), K̃ = K with zero diagonal.
    """
    n = x.shape[0]
    dk = np.sum(x * x, axis=1)  # diag K
    dl = np.sum(y * y, axis=1)
    k1 = x @ x.sum(axis=0) - dk  # K̃ 1
    l1 = y @ y.sum(axis=0) - dl
    tr_kl = _gram_inner(x, y) - float(np.dot(dk, dl))
    s_k, s_l = float(k1.sum()), float(l1.sum())
    return (tr_kl + s_k * s_l / ((n - 1) * (n - 2)) - 2.0 / (n - 2) * float(np.dot(k1, l1))) / (n * (n - 3))


@keeps_labels("x", "y")
def linear_cka(x: Any, y: Any, *, debiased: bool = False) -> Any:
    """Linear centred kernel alignment (CKA) between two representations of the same stimuli.

    Parameters
    ----------
    x : array-like of shape (n_presentations, p)
    y : array-like of shape (n_presentations, q)
        Labelled inputs are aligned on ``stimulus_id``; different stimulus sets raise a ValueError.
    debiased : bool
        ``False``: the biased estimator of Kornblith et al. (2019), CKA = ‖YᵀX‖²_F / (‖XᵀX‖_F ‖YᵀY‖_F) on
        column-centred X, Y -- equivalently HSIC(K, L) = tr(KHLH)/(n − 1)², as in Brain-Score's ``cka`` metric.
        ``True``: CKA from the unbiased HSIC estimator of Song et al. (2012) (docs/methods.md §A5.3),
        CKA_u = HSIC_u(K, L)/√(HSIC_u(K, K) HSIC_u(L, L)); needs n ≥ 4.  The biased value is inflated when
        p, q ≫ n (two independent 50 × 2000 Gaussian matrices: ≈ 0.98 biased, ≈ 0 debiased).

    Returns
    -------
    float (plain arrays) or 0-d xr.DataArray with attrs (labelled input)
        In [0, 1] for the biased estimator (the debiased one can be slightly negative); NaN when a representation
        is constant.
    """
    xa, ya = _align_pair(x, y, lazy=not debiased)
    n = xa.shape[0]
    if xa.shape[1] + ya.shape[1] > n:  # feature-space Grams larger than the data: in memory (sample space)
        xa, ya = _xr.compute(xa, ya)
    if _xr.is_dask(xa) or _xr.is_dask(ya):  # out of core: feature-space Gram matrices, streamed (biased only)
        if n < 2:
            raise ParameterError(f"CKA needs at least 2 presentations. Got {n}.")
        num, gxx, gyy = _streamed_inners(xa, ya)
        den = np.sqrt(gxx * gyy)
        value = float(num / den) if den > 0 else float("nan")
    elif debiased:
        xc = xa - xa.mean(axis=0)
        yc = ya - ya.mean(axis=0)
        if n < 4:
            raise ParameterError(f"Debiased CKA needs at least 4 presentations. Got {n}.")
        hxy, hxx, hyy = _hsic_u(xc, yc), _hsic_u(xc, xc), _hsic_u(yc, yc)
        den = hxx * hyy
        value = float(hxy / np.sqrt(den)) if den > 0 else float("nan")
    else:
        if n < 2:
            raise ParameterError(f"CKA needs at least 2 presentations. Got {n}.")
        xc = xa - xa.mean(axis=0)
        yc = ya - ya.mean(axis=0)
        num = _gram_inner(xc, yc)
        den = np.sqrt(_gram_inner(xc, xc) * _gram_inner(yc, yc))
        value = float(num / den) if den > 0 else float("nan")
    attrs = {"statistic": "linear_cka", "debiased": int(debiased), "n_presentations": int(n),
             "reference": "Kornblith et al. 2019" + ("; unbiased HSIC, Song et al. 2012" if debiased else "")}
    return xr.DataArray(value, name="linear_cka", attrs=attrs)
