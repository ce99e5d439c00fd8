"""Shared machinery of the selectivity statistics: preparation of activity and labels, chunk-wise class sums and
moments, the label-shuffle null (Phipson & Smyth 2010 p-values, Benjamini & Hochberg 1995 q-values) and the result
container.  See :mod:`ensembles.analysis.selectivity` for the conventions.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import xarray as xr

from ensembles import conventions as C
from ensembles._validation import describe
from ensembles.analysis import _xr
from ensembles.analysis._input import (
    Result,
    check_count,
    check_finite,
    check_nan_policy,
    class_names,
    make_result,
    resolve_labels,
    unwrap,
)
from ensembles.analysis._stats import fdr_bh, permutation_pvalue
from ensembles.errors import ParameterError

CLASS = C.CATEGORY  # the result dim of one entry per class (coord values: the class labels)
_TOL = 1e-6  # relative tolerance when comparing null and observed statistics (float32 shuffle sums, round-off)
_SHUFFLE_BATCH = 64


# --------------------------------------------------------------------------------------------------------------------
# preparation and chunk-wise sums
# --------------------------------------------------------------------------------------------------------------------


@dataclass
class _Ctx:
    lay: _xr.Layout
    data: Any  # (n_presentations, n_neuroids), numpy or dask
    classes: np.ndarray
    codes: np.ndarray
    counts: np.ndarray
    nan_policy: str
    names: np.ndarray | None = None  # class names (the recording's label_name), when known

    @property
    def k(self) -> int:
        return len(self.classes)

    @property
    def n(self) -> int:
        return int(self.codes.shape[0])

    @property
    def omit(self) -> bool:
        return self.nan_policy == "omit"


def _prepare(x: Any, labels: Any, dim: str, nan_policy: str, *, min_classes: int = 2) -> _Ctx:
    check_nan_policy(nan_policy)
    lay = _xr.to_last(x, dim)
    x = unwrap(x)
    if lay.data.ndim != 2:
        raise ParameterError(
            f"The 'x' parameter must be 2-D ({dim!r} x neuroids); select a checkpoint/run first. "
            f"Got {describe(x)} instead."
        )
    y = resolve_labels(x, labels, lay.n, dim=dim, min_classes=min_classes)
    classes, codes = np.unique(y, return_inverse=True)
    codes = codes.reshape(-1)
    counts = np.bincount(codes, minlength=len(classes))
    data, _ = check_finite(lay.data.T, nan_policy=nan_policy)
    names = class_names(lay.template.transpose(dim, ...) if lay.template is not None else None, y, classes, dim)
    return _Ctx(lay, data, classes, codes, counts, nan_policy, names)


def _onehot(codes: np.ndarray, k: int, dtype=np.float64) -> np.ndarray:
    m = np.zeros((k, codes.shape[0]), dtype=dtype)
    m[codes, np.arange(codes.shape[0])] = 1
    return m


def _pilot(ctx: _Ctx) -> np.ndarray:
    """A per-neuroid shift (the first presentation) subtracted before accumulating moments (avoids cancellation)."""
    (p,) = _xr.compute(ctx.data[0])
    p = np.asarray(p, dtype=np.float64)
    return np.where(np.isfinite(p), p, 0.0)


def _moments(ctx: _Ctx, shift: np.ndarray):
    """Per class sums S1, S2 of (x - shift), shape (k, n_neuroids), a per-neuroid NaN flag and the per-class counts.

    Counts: ``ctx.counts[:, None]`` (k, 1); under ``nan_policy="omit"`` the valid entries per class and neuroid
    (k, n_neuroids), NaN entries left out of the sums, and the flag all False.
    """
    codes, k = ctx.codes, ctx.k

    def f(block, rows, cols):
        b = np.asarray(block, dtype=np.float64) - shift[None, cols]
        bad = ~np.isfinite(b)
        b = np.where(bad, 0.0, b)
        oh = _onehot(codes[rows], k)
        parts = [oh @ b, oh @ (b * b), bad.sum(0, keepdims=True).astype(np.float64)]
        if ctx.omit:
            parts.append(oh @ (~bad).astype(np.float64))
        return np.concatenate(parts, axis=0)

    res = _xr.reduce_rows(f, ctx.data, with_cols=True)
    if ctx.omit:
        return res[:k], res[k : 2 * k], np.zeros(res.shape[1], dtype=bool), res[2 * k + 1 :]
    return res[:k], res[k : 2 * k], res[2 * k] > 0, ctx.counts[:, None]


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


def _dataset(ctx: _Ctx, variables: dict, attrs: dict) -> xr.Dataset | Result:
    """Labelled input: an ``xr.Dataset`` with the neuroid coords of the input and a ``category`` dim for
    (class, neuroid) variables; numpy input: a :class:`~ensembles.analysis._input.Result` of the same arrays."""
    labelled = ctx.lay.template is not None
    kept = ctx.lay.kept_dims if labelled else (C.NEUROID,)
    out = {}
    for name, val in variables.items():
        val = np.asarray(val)
        out[name] = ((CLASS,) + tuple(kept), val) if val.ndim == 2 else (tuple(kept), val)
    coords: dict = {}
    if labelled:
        coords = dict(_xr.wrap_reduced(np.zeros(ctx.data.shape[1]), ctx.lay).coords)
        coords[CLASS] = ctx.classes
        if ctx.names is not None:
            coords[C.CLASS_NAME] = (CLASS, ctx.names)
    base = {"n_presentations": ctx.n, "n_classes": ctx.k, "classes": [str(c) for c in ctx.classes]}
    base.update(attrs)
    return make_result(labelled, out, coords=coords, attrs=base)


def _shuffle_attrs(n_shuffles: int, random_state: Any) -> dict:
    return {
        "n_shuffles": int(n_shuffles),
        "random_state": "None" if random_state is None else str(random_state),
        "p_value": "label shuffles, (1 + #{null >= observed})/(1 + n_shuffles), one-sided (Phipson & Smyth 2010), "
        ">= with 1e-6 relative tolerance",
        "correction": "fdr_bh over neuroids (Benjamini & Hochberg 1995), variable q",
    }
