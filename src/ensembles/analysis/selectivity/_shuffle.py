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


def _permutations(ctx: _Ctx, n_shuffles: int, random_state: Any) -> np.ndarray:
    rng = np.random.default_rng(random_state)
    perm = np.empty((n_shuffles, ctx.n), dtype=np.int32)
    for i in range(n_shuffles):
        perm[i] = ctx.codes[rng.permutation(ctx.n)]
    return perm


def _shuffled_moments(ctx: _Ctx, perm: np.ndarray, shift: np.ndarray, *, squares: bool):
    """Class sums under each label permutation: (n_shuffles, k, n_neuroids) for S1 (and S2), and the class counts
    (``ctx.counts[None, :, None]``, or per permutation, class and neuroid under ``nan_policy="omit"``)."""
    k, n_sh = ctx.k, perm.shape[0]
    n_out = (2 if squares else 1) + int(ctx.omit)

    def f(block, rows, cols):
        # float32 products (sgemm): the null only needs ~1e-7 relative precision; see _TOL
        b = (np.asarray(block, dtype=np.float64) - shift[None, cols]).astype(np.float32)
        valid = np.isfinite(b)
        b = np.where(valid, b, np.float32(0.0))
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

    res = _xr.reduce_rows(f, ctx.data, with_cols=True)
    s1 = res[0].reshape(n_sh, k, -1)
    s2 = res[1].reshape(n_sh, k, -1) if squares else None
    cnt = res[-1].reshape(n_sh, k, -1) if ctx.omit else ctx.counts[None, :, None]
    return s1, s2, cnt


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
