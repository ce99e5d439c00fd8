"""The label-shuffle null of the selectivity statistics: seeded permutations of the class codes, class sums under
each permutation (float32 sgemm in batches), p = (1 + #{null >= observed})/(1 + n_shuffles) (Phipson & Smyth 2010)
and Benjamini & Hochberg (1995) q-values over neuroids."""

from __future__ import annotations

from typing import Any

import numpy as np

from ensembles.analysis import _xr
from ensembles.analysis._input import check_count
from ensembles.analysis._stats import fdr_bh, permutation_pvalue

from ._core import _Ctx

_TOL = 1e-6  # relative tolerance when comparing null and observed statistics (float32 shuffle sums, round-off)
_SHUFFLE_BATCH = 64
_NULL_BYTES = 128 * 2**20  # float64 class sums of one group of neuroids under all permutations
_NUMPY_NULL_BYTES = 2**30  # in-memory input: one group up to this size of the sums of all neuroids
_GROUP_COLS = 2048  # at most this many neuroids per group (bounds the float32 copies of a block)


def _permutations(ctx: _Ctx, n_shuffles: int, random_state: Any) -> np.ndarray:
    rng = np.random.default_rng(random_state)
    perm = np.empty((n_shuffles, ctx.n), dtype=np.int32)
    for i in range(n_shuffles):
        perm[i] = ctx.codes[rng.permutation(ctx.n)]
    return perm


def _shuffled_moments(ctx: _Ctx, perm: np.ndarray, shift: np.ndarray, *, squares: bool, cols: slice | None = None):
    """Class sums under each label permutation: (n_shuffles, k, n_neuroids) for S1 (and S2), and the class counts
    (``ctx.counts[None, :, None]``, or per permutation, class and neuroid under ``nan_policy="omit"``).

    ``cols``: only these neuroids (the sums of a group of neuroids are those columns of the sums of all)."""
    k, n_sh = ctx.k, perm.shape[0]
    n_out = (2 if squares else 1) + int(ctx.omit)
    data = ctx.data if cols is None else ctx.data[:, cols]
    shift = shift if cols is None else shift[cols]

    def f(block, rows, cols):
        # float32 products (sgemm): the null only needs ~1e-7 relative precision; see _TOL.  The float32 copy is
        # made in row pieces (the same values as one float64 copy of the block, without its memory)
        b = _shifted_float32(block, shift[cols])
        valid = np.isfinite(b)
        if not valid.all():
            b[~valid] = np.float32(0.0)
        b2 = b * b if squares else None
        out = np.empty((n_out, n_sh * k, b.shape[1]))
        pc = perm[:, rows]
        for s0, s1 in _batches(n_sh):
            oh = _shuffled_onehot(pc[s0:s1], k)
            out[0, s0 * k : s1 * k] = oh @ b
            if squares:
                out[1, s0 * k : s1 * k] = oh @ b2
            if ctx.omit:
                out[-1, s0 * k : s1 * k] = oh @ valid.astype(np.float32)
        return out

    res = _xr.reduce_rows(f, data, with_cols=True)
    s1 = res[0].reshape(n_sh, k, -1)
    s2 = res[1].reshape(n_sh, k, -1) if squares else None
    cnt = res[-1].reshape(n_sh, k, -1) if ctx.omit else ctx.counts[None, :, None]
    return s1, s2, cnt


def _shifted_float32(block: np.ndarray, shift: np.ndarray, rows: int = 512) -> np.ndarray:
    """float32(float64(block) - shift), computed ``rows`` presentations at a time."""
    block = np.asarray(block)
    out = np.empty(block.shape, dtype=np.float32)
    for r0 in range(0, block.shape[0], rows):
        piece = np.array(block[r0 : r0 + rows], dtype=np.float64)
        piece -= shift[None, :]
        out[r0 : r0 + rows] = piece
    return out


def _shuffle_null(ctx: _Ctx, perm: np.ndarray, shift: np.ndarray, stat, *, squares: bool) -> np.ndarray:
    """The null statistic (n_shuffles, n_neuroids): ``stat(ps1, ps2, pcnt, cols)`` of the shuffled class sums of
    each group of neuroids ``cols`` (:func:`_groups`; one group, i.e. one call, when the sums of all fit)."""
    n_sh, n_neur = perm.shape[0], int(ctx.data.shape[1])
    groups = _groups(ctx.data, n_sh * ctx.k)
    if len(groups) == 1:
        return stat(*_shuffled_moments(ctx, perm, shift, squares=squares), slice(0, n_neur))
    null = np.empty((n_sh, n_neur))
    for cols in groups:
        null[:, cols] = stat(*_shuffled_moments(ctx, perm, shift, squares=squares, cols=cols), cols)
    return null


def _groups(data: Any, rows: int) -> list[slice]:
    """Groups of neuroids for the shuffled class sums (``rows`` = shuffles x classes float64 rows per neuroid).

    The statistics are per neuroid, so memory stays bounded whatever the number of neuroids and shuffles, at the
    cost of one pass over the data per group.  In memory: one group unless the sums of all neuroids exceed
    ``_NUMPY_NULL_BYTES``, else groups whose sums fit ``_NULL_BYTES``.  Dask: the column chunks, merged while
    their sums fit ``_NULL_BYTES`` and they span at most ``_GROUP_COLS`` neuroids (which bounds the float32
    copies of a block), split where one is wider.  A group narrower than the float32 products would otherwise
    see changes them by float32 round-off (~1e-7 relative, absorbed by ``_TOL``)."""
    n = int(data.shape[1])
    width = max(1, _NULL_BYTES // (8 * max(1, rows)))
    if not _xr.is_dask(data):
        if 8 * rows * n <= _NUMPY_NULL_BYTES:
            return [slice(0, n)]
        return [slice(c0, min(n, c0 + width)) for c0 in range(0, n, width)]
    width = min(width, _GROUP_COLS)
    groups: list[slice] = []
    c0 = 0
    for w in data.chunks[1]:
        pieces = [(c, min(c0 + w, c + width)) for c in range(c0, c0 + w, width)]
        for a, b in pieces:
            if groups and b - groups[-1].start <= width and len(pieces) == 1:
                groups[-1] = slice(groups[-1].start, b)
            else:
                groups.append(slice(a, b))
        c0 += w
    return groups


def _batches(n_shuffles: int):
    """(start, stop) of consecutive batches of ``_SHUFFLE_BATCH`` label permutations."""
    for s0 in range(0, n_shuffles, _SHUFFLE_BATCH):
        yield s0, min(n_shuffles, s0 + _SHUFFLE_BATCH)


def _shuffled_onehot(perm: np.ndarray, k: int) -> np.ndarray:
    """float32 one-hot of a batch of permuted class codes ``perm`` (n_batch, n): row ``s * k + c``, column ``i`` is 1
    when presentation ``i`` has class ``c`` under permutation ``s`` (one sgemm gives the class sums of the batch)."""
    n_batch, n = perm.shape
    oh = np.zeros((n_batch * k, n), dtype=np.float32)
    idx = (np.arange(n_batch)[:, None] * k + perm).ravel()
    oh[idx, np.tile(np.arange(n), n_batch)] = 1.0
    return oh


def _pvalues(observed: np.ndarray, null: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    if null is None:
        nanv = np.full(observed.shape, np.nan)
        return nanv, nanv.copy()
    null = np.where(np.isnan(null), -np.inf, null)
    with np.errstate(invalid="ignore"):
        obs_tol = np.where(np.isfinite(observed), observed - _TOL * np.maximum(1.0, np.abs(observed)), observed)
    p = permutation_pvalue(obs_tol, null, alternative="greater", axis=0)
    p = np.where(np.isnan(observed), np.nan, p)
    return p, fdr_bh(p)


def _check_shuffles(n_shuffles: Any) -> int:
    return check_count("n_shuffles", n_shuffles, 0)


def _shuffle_attrs(n_shuffles: int, random_state: Any) -> dict:
    return {
        "n_shuffles": int(n_shuffles),
        "random_state": "None" if random_state is None else str(random_state),
        "p_value": "label shuffles, (1 + #{null >= observed})/(1 + n_shuffles), one-sided (Phipson & Smyth 2010), "
        ">= with 1e-6 relative tolerance",
        "correction": "fdr_bh over neuroids (Benjamini & Hochberg 1995), variable q",
    }
