"""Category ensembles against their null: sizes under shuffled labels over a range of τ, per-unit significance and
the specificity of the ensembles.

The authors' leave-one-out rule (Tosato et al. 2023; :func:`~ensembles.analysis.category_ensembles`, ``rule="paper"``)
has no null of its own: a neuroid whose class-c mean is twice the mean of the other neuroids is a member whatever the
labels mean, so a population with no category structure still has "ensembles".  :func:`ensemble_null` re-applies the
rule with the labels permuted (the same permutation for every τ) and reports, per τ and class, the real size beside
the null size (mean and percentile interval over shuffles), the Monte-Carlo p-value of the size, and each unit's
p-value (how often a shuffle gives the unit a leave-one-out score at least as large as the real one; the score does
not depend on τ, so one p-value per unit and class serves every τ).  :func:`ensemble_specificity` reduces a
membership to the mean pairwise Jaccard index between class ensembles (0: disjoint ensembles, 1: every class has the
same ensemble).

References
----------
Tosato, N. et al. (2023). Emergent representations in networks trained with the Forward-Forward algorithm.
arXiv:2305.18353 (the leave-one-out rule).
Phipson, B. & Smyth, G. K. (2010). Permutation p-values should never be zero. Stat Appl Genet Mol Biol 9:39.
Benjamini, Y. & Hochberg, Y. (1995). J R Stat Soc B 57:289-300.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import xarray as xr

from ... import conventions as C
from ..._validation import describe
from ...errors import ParameterError
from .._contract import keeps_labels
from .._input import check_count, class_names, matrix, resolve_labels
from .._stats import fdr_bh
from ._common import CATEGORY, _as_membership
from .category import _paper_rule, category_ensembles

__all__ = ["ensemble_null", "ensemble_specificity", "ENSEMBLE_TAUS"]

ENSEMBLE_TAUS = (0.25, 0.5, 1.0, 2.0, 4.0)  # default τ grid of the sensitivity table: the authors' τ = 1 and 2, and around


def _scores(X: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """(n_classes, n_neuroids) leave-one-out score of the authors' rule (NaN where 0/0)."""
    ds = category_ensembles(X, labels, rule="paper", tau=1.0, by_layer=False, return_stats=True)
    return np.asarray(ds["score"], dtype=float)


_BATCH_BYTES = 128 * 2**20  # one-hot matrix and class means of a batch of label permutations


def _shuffled_scores(X: np.ndarray, labels: np.ndarray, rng: np.random.Generator, n_shuffles: int):
    """Yield ``(first shuffle, scores (n_batch, n_classes, n_neuroids))`` of the rule under ``rng.permutation``
    of the labels, a batch of permutations at a time: one product of the stacked one-hot label matrices with the
    activity gives the class means of the batch (the permutations, their order and the scores of the rule applied
    to each permutation alone)."""
    classes, codes = np.unique(labels, return_inverse=True)
    k, (B, N) = classes.size, X.shape
    counts = np.bincount(codes, minlength=k).astype(float)  # a permutation keeps the class counts
    dtype = np.result_type(X.dtype, np.float32)
    batch = int(max(1, min(n_shuffles, _BATCH_BYTES // (k * max(B, N) * 8))))
    cols = np.arange(B)
    for s0 in range(0, n_shuffles, batch):
        P = np.stack([rng.permutation(codes) for _ in range(min(batch, n_shuffles - s0))])
        nb = P.shape[0]
        onehot = np.zeros((nb * k, B), dtype=dtype)
        onehot[(np.arange(nb)[:, None] * k + P).ravel(), np.tile(cols, nb)] = 1.0
        with np.errstate(invalid="ignore", divide="ignore"):
            mu = (onehot @ X) / np.tile(counts, nb)[:, None]
        score = _paper_rule(mu, [np.arange(N)], 1.0)[1]["score"]
        yield s0, score.reshape(nb, k, N)


def _jaccard_means(member: np.ndarray) -> np.ndarray:
    """:func:`_jaccard_mean` of each membership of a stack (n, n_classes, n_neuroids)."""
    return np.array([_jaccard_mean(m) for m in member])


def _members(score: np.ndarray, tau: float) -> np.ndarray:
    """Membership at ``tau`` from the score, exactly as the rule decides it (NaN is not a member)."""
    with np.errstate(invalid="ignore"):
        return np.where(np.isnan(score), False, score > tau)


def _jaccard_mean(member: np.ndarray) -> float:
    """Mean Jaccard index over the pairs of classes whose ensembles are not both empty (NaN without such pairs)."""
    m = member.astype(np.int64)
    inter = m @ m.T
    size = m.sum(axis=1)
    union = size[:, None] + size[None, :] - inter
    iu = np.triu_indices(m.shape[0], k=1)
    ok = union[iu] > 0
    return float(np.mean(inter[iu][ok] / union[iu][ok])) if ok.any() else np.nan


@keeps_labels("membership")
def ensemble_specificity(membership: Any) -> Any:
    """Mean pairwise Jaccard index between the class ensembles of a membership (lower = more specific).

    Parameters
    ----------
    membership : bool array of shape (n_categories, n_neuroids) or DataArray (category, neuroid)
        E.g. :func:`~ensembles.analysis.category_ensembles` of one layer.  Pairs whose ensembles are both empty are
        skipped; with none left the result is NaN.

    Returns
    -------
    float for plain input, a 0-d ``xr.DataArray`` (attrs ``n_pairs``) for labelled input.
    """
    m = _as_membership(membership)
    v = _jaccard_mean(np.asarray(m.values, dtype=bool))
    k = m.shape[0]
    return xr.DataArray(v, name="specificity_jaccard",
                        attrs={"statistic": "mean pairwise Jaccard index between class ensembles",
                               "n_pairs": int(k * (k - 1) // 2)})  # fmt: skip


@keeps_labels("x")
def ensemble_null(
    x: Any,
    labels: Any = None,
    *,
    taus: Sequence[float] = ENSEMBLE_TAUS,
    n_shuffles: int = 100,
    ci: float = 0.95,
    random_state: Any = None,
) -> Any:
    """Ensemble sizes over ``taus`` beside their shuffled-label null, per-unit significance and specificity.

    Parameters
    ----------
    x : array-like of shape (n_presentations, n_neuroids), DataArray or recording
        One layer (or one neuroid group) of non-negative responses; the rule's leave-one-out mean runs over all its
        neuroids.  A recording with several layers is refused: select one first.
    labels : array-like or str
        Class labels (default: the ``label`` coord of labelled input).
    taus : sequence of float
        The rule's contrast thresholds (default :data:`ENSEMBLE_TAUS`).
    n_shuffles : int >= 1
        Label permutations of the null (the same permutations serve every τ).
    ci : float in (0, 1)
        Coverage of the percentile interval of the null sizes.
    random_state : int, Generator or None

    Returns
    -------
    ``xr.Dataset`` (labelled input) or :class:`~ensembles.analysis.Result` with

    * ``size`` (tau, category): the real ensemble size; ``null_mean``, ``null_lo``, ``null_hi`` (tau, category): mean
      and interval of the size over the shuffles; ``size_p`` (tau, category): (1 + #{null size >= size}) /
      (1 + n_shuffles);
    * ``unit_p`` (category, neuroid): the unit's Monte-Carlo p-value, (1 + #{shuffled score >= score}) /
      (1 + n_shuffles) (NaN where the score is undefined, 0/0); ``unit_q``: Benjamini-Hochberg over category ×
      neuroid;
    * ``n_significant_members`` (tau, category): members with ``unit_p`` < 0.05;
    * ``specificity_jaccard`` (tau): mean pairwise Jaccard between the real ensembles; ``null_specificity_jaccard``
      (tau): its mean over the shuffles.
    """
    n_shuffles = check_count("n_shuffles", n_shuffles, 1)
    if not (isinstance(ci, int | float) and not isinstance(ci, bool) and 0 < ci < 1):
        raise ParameterError(f"The 'ci' parameter must be a number in (0, 1). Got {describe(ci)} instead.")
    t = np.asarray(list(taus) if not np.isscalar(taus) else [taus], dtype=float)
    if t.ndim != 1 or t.size == 0 or not np.all(np.isfinite(t)):
        raise ParameterError(f"The 'taus' parameter must be a non-empty sequence of finite numbers. Got {describe(taus)}.")
    m = matrix(x)
    if m.da is not None and "layer" in m.da.coords and m.da.coords["layer"].dims == (C.NEUROID,):
        n_layers = np.unique(np.asarray(m.da.coords["layer"].values)).size
        if n_layers > 1:
            raise ParameterError(f"The 'x' parameter must hold one layer; it has {n_layers}. Select one first "
                                 "(ensembles.record.select_layer).")  # fmt: skip
    X = m.values
    lab = resolve_labels(m.da if m.da is not None else x, labels, X.shape[0])
    classes = np.unique(lab)
    rng = np.random.default_rng(random_state)
    score = _scores(X, lab)
    size = np.stack([_members(score, v).sum(axis=1) for v in t]).astype(np.int64)  # (tau, category)
    null = np.empty((n_shuffles, t.size, classes.size))
    null_jac = np.empty((n_shuffles, t.size))
    exceed = np.zeros(score.shape)
    for s0, sc in _shuffled_scores(X, lab, rng, n_shuffles):
        s1 = s0 + sc.shape[0]
        for k, v in enumerate(t):
            mem = _members(sc, v)
            null[s0:s1, k] = mem.sum(axis=-1)
            null_jac[s0:s1, k] = _jaccard_means(mem)
        with np.errstate(invalid="ignore"):
            exceed += (np.nan_to_num(sc, nan=-np.inf) >= score).sum(axis=0)
    lo, hi = np.percentile(null, [(1 - ci) / 2 * 100, (1 + ci) / 2 * 100], axis=0)
    size_p = (1.0 + (null >= size[None]).sum(axis=0)) / (1.0 + n_shuffles)
    unit_p = np.where(np.isnan(score), np.nan, (1.0 + exceed) / (1.0 + n_shuffles))
    unit_q = np.full(unit_p.shape, np.nan)
    fin = np.isfinite(unit_p)
    if fin.any():
        unit_q[fin] = fdr_bh(unit_p[fin])
    sig = np.nan_to_num(unit_p, nan=1.0) < 0.05
    n_sig = np.stack([(_members(score, v) & sig).sum(axis=1) for v in t]).astype(np.int64)
    jac = np.array([_jaccard_mean(_members(score, v)) for v in t])
    with np.errstate(invalid="ignore"):
        null_jac_mean = np.array([np.nanmean(c) if np.isfinite(c).any() else np.nan for c in null_jac.T])
    variables = {
        "size": (("tau", CATEGORY), size), "null_mean": (("tau", CATEGORY), null.mean(axis=0)),
        "null_lo": (("tau", CATEGORY), lo), "null_hi": (("tau", CATEGORY), hi), "size_p": (("tau", CATEGORY), size_p),
        "n_significant_members": (("tau", CATEGORY), n_sig),
        "unit_p": ((CATEGORY, C.NEUROID), unit_p), "unit_q": ((CATEGORY, C.NEUROID), unit_q),
        "specificity_jaccard": (("tau",), jac), "null_specificity_jaccard": (("tau",), null_jac_mean),
    }  # fmt: skip
    attrs = {"rule": "paper", "n_shuffles": int(n_shuffles), "ci": float(ci), "n_neuroids": int(X.shape[1]),
             "unit_alpha": 0.05,
             "reference": "Tosato et al. (2023) leave-one-out rule; shuffled-label null, Phipson & Smyth (2010) "
                          "p-values"}  # fmt: skip
    coords: dict = {"tau": t, CATEGORY: classes}
    if m.da is not None:
        coords.update({k: v.variable for k, v in m.da.coords.items() if v.dims == (C.NEUROID,)})
        names = class_names(m.da, lab, classes)
        if names is not None:
            coords[C.CLASS_NAME] = (CATEGORY, names)
    return xr.Dataset(variables, coords=coords, attrs=attrs)
