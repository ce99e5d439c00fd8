"""Mutual information I(class; response) per neuroid with equal-population bins and shuffle bias correction
(docs/methods.md §A2.5)."""

from __future__ import annotations

from typing import Any

import numpy as np
import xarray as xr
from scipy import stats

from ensembles import conventions as C
from ensembles._validation import describe
from ensembles.analysis import _xr
from ensembles.analysis._contract import keeps_labels
from ensembles.errors import ParameterError

from ._core import _dataset, _onehot, _prepare
from ._shuffle import _batches, _check_shuffles, _permutations, _pvalues, _shuffle_attrs, _shuffled_onehot

__all__ = ["mutual_information"]


# --------------------------------------------------------------------------------------------------------------------
# mutual information
# --------------------------------------------------------------------------------------------------------------------


def _equipop_bins(data: np.ndarray, n_bins: int) -> np.ndarray:
    """Equal-population bins per column from ranks; tied values share a bin (rank method 'min')."""
    ranks = stats.rankdata(data, axis=0, method="min")  # 1 .. N
    N = data.shape[0]
    return np.minimum(((ranks - 1) * n_bins) // N, n_bins - 1).astype(np.int64)


_PIECE_ROWS = 8192  # presentations per one-hot piece of the joint counts


def _binned_columns(block: np.ndarray, n_bins: int, width: int = 64) -> np.ndarray:
    """(N, m) int64 ``column * n_bins + bin`` of the equal-population bins of each column of ``block`` (non-finite
    values binned as 0), computed ``width`` columns at a time (each column's bins depend on that column only)."""
    N, m = block.shape
    flat = np.empty((N, m), dtype=np.int64)
    for c0 in range(0, m, width):
        c1 = min(m, c0 + width)
        piece = block[:, c0:c1]
        bins = _equipop_bins(np.where(np.isfinite(piece), piece, 0.0), n_bins)
        flat[:, c0:c1] = bins + (np.arange(c0, c1) * n_bins)[None, :]
    return flat


def _joint_counts(oh_obs, flat: np.ndarray, width: int, *, perm=None, k: int = 0) -> np.ndarray:
    """float64 counts (rows of ``oh_obs``, or ``perm.shape[0] * k`` shuffled class rows) x ``width`` one-hot bins,
    accumulated over pieces of ``_PIECE_ROWS`` presentations (float32 products of 0/1, exact)."""
    N, m = flat.shape
    rows = oh_obs.shape[0] if perm is None else perm.shape[0] * k
    out = np.zeros((rows, width))
    for r0 in range(0, N, _PIECE_ROWS):
        r1 = min(N, r0 + _PIECE_ROWS)
        ohb = np.zeros((r1 - r0, width), dtype=np.float32)
        ohb[np.repeat(np.arange(r1 - r0), m), flat[r0:r1].ravel()] = 1.0
        oh = oh_obs[:, r0:r1] if perm is None else _shuffled_onehot(perm[:, r0:r1], k)
        out += oh @ ohb
    return out


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


@keeps_labels("x")
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
        m = j1 - j0
        flat = _binned_columns(block, n_bins)  # (N, m): column * n_bins + bin
        # joint counts of (class, bin) per neuroid, observed and under each permutation: sums of 0/1 products,
        # exact integers in float32 (< 2**24 presentations) whatever the order, accumulated over presentation pieces
        nb = np.bincount(flat.ravel(), minlength=m * n_bins).reshape(m, n_bins).astype(np.float64)
        joint = _joint_counts(oh_obs, flat, m * n_bins).reshape(k, m, n_bins).transpose(1, 0, 2)
        mi[j0:j1] = np.where(bad, np.nan, _mi_from_counts(joint, ns, nb, N))
        if n_shuffles:
            for s0, s1 in _batches(n_shuffles):
                pj = _joint_counts(None, flat, m * n_bins, perm=perm[s0:s1], k=k)
                pj = pj.reshape(s1 - s0, k, m, n_bins).transpose(0, 2, 1, 3)
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
