"""Representational similarity analysis: RDMs (correlation, Euclidean, crossnobis) and their comparison.

References
----------
Kriegeskorte, Mur & Bandettini (2008). Representational similarity analysis. Front Syst Neurosci 2:4.
Nili et al. (2014). A toolbox for representational similarity analysis. PLoS Comput Biol 10:e1003553.
Walther et al. (2016). Reliability of dissimilarity measures for multi-voxel pattern analysis. NeuroImage 137:188.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import xarray as xr
from scipy import stats

from ensembles import conventions as C
from ensembles._validation import check_choice, param_error
from ensembles.analysis._contract import Result, keeps_labels
from ensembles.analysis._input import unwrap
from ensembles.errors import ParameterError

from ._common import _matrix, _resolve_labels, _set_mismatch

__all__ = ["RDM_METRICS", "RDM_COMPARISONS", "rdm", "compare_rdms", "kendall_tau_a"]

RDM_METRICS = ("correlation", "euclidean", "sqeuclidean", "crossnobis")
RDM_COMPARISONS = ("spearman", "kendall_tau_a", "kendall_tau_b", "pearson", "cosine")
_METRIC_ALIASES = {"crossvalidated": "crossnobis", "cv_euclidean": "crossnobis", "corr": "correlation"}
_COMPARISON_ALIASES = {"tau_a": "kendall_tau_a", "tau-a": "kendall_tau_a", "corr": "pearson"}


# --------------------------------------------------------------------------------------------------------------
# RDMs
# --------------------------------------------------------------------------------------------------------------
@keeps_labels("x")
def rdm(
    x: Any,
    labels: Any = None,
    *,
    metric: str = "correlation",
    n_folds: int = 2,
    noise: Any = None,
    random_state: int | np.random.Generator | None = None,
) -> xr.DataArray:
    """Representational dissimilarity matrix (RDM) between conditions.

    Parameters
    ----------
    x : array-like of shape (n_presentations, n_neuroids), DataArray or recording
        Responses; a DataArray/recording keeps its coordinates.
    labels : array-like of shape (n_presentations,), str or None
        Condition of each presentation, or the name of a presentation coordinate (e.g. ``"label"`` for class
        RDMs).  ``None``: the ``stimulus_id`` coordinate of a labelled input (repeats averaged), or one condition
        per row of a plain array.  Conditions are sorted (``np.unique``).
    metric : {"correlation", "euclidean", "sqeuclidean", "crossnobis"}
        - ``"correlation"``: 1 − Pearson r between condition-mean patterns across neuroids (Kriegeskorte 2008).
        - ``"euclidean"``: ‖m_i − m_j‖₂ between condition means (``scipy.spatial.distance.pdist``).
        - ``"sqeuclidean"``: ‖m_i − m_j‖² / n_neuroids, rsatoolbox's ``"euclidean"`` convention.
        - ``"crossnobis"`` (alias ``"crossvalidated"``): cross-validated squared distance
          d_ij = Σ_{k≠l} (m_i^k − m_j^k)ᵀ P (m_i^l − m_j^l) / (F(F − 1) n_neuroids) over F independent folds of
          presentations (Nili 2014; Walther 2016).  Unbiased: its expectation is 0 for conditions that differ only by
          noise, so it can be negative.  P = identity (cross-validated Euclidean) unless ``noise`` is given.
    n_folds : int
        Folds for ``"crossnobis"``; every condition needs at least ``n_folds`` presentations.  Presentations of a
        condition are dealt to folds in a random order (``random_state``).
    noise : array-like of shape (n_neuroids, n_neuroids), optional
        Noise precision matrix P for ``"crossnobis"`` (e.g. the inverse of a shrinkage estimate of the residual
        covariance).
    random_state : int, Generator or None
        Seed for the fold assignment.

    Returns
    -------
    xr.DataArray (labelled input) or numpy.ndarray of shape (n_conditions, n_conditions) (numpy input)
        dims ``("condition_1", "condition_2")`` with the condition values as coordinates of both dims (plus
        ``class_name_1``/``class_name_2`` when ``labels="label"`` and the input has ``label_name``); attrs
        ``metric``, ``n_neuroids``, ``n_presentations``, ``reference``.  Conditions are in sorted order.
    """
    metric = _METRIC_ALIASES.get(metric, metric)
    check_choice("metric", metric, RDM_METRICS)
    arr, da = _matrix(x, "x")
    n, p = arr.shape
    label_coord = labels if isinstance(labels, str) else None
    if labels is None:
        if da is not None and "stimulus_id" in da.coords:
            labels = da["stimulus_id"].values
        else:
            labels = np.arange(n)
    else:
        labels = _resolve_labels(labels, da, n)
    conds, inverse = np.unique(labels, return_inverse=True)
    c = conds.size
    if c < 2:
        raise ParameterError(f"The 'labels' parameter must define at least 2 conditions. Got {c} instead.")
    counts = np.bincount(inverse, minlength=c)

    if metric == "crossnobis":
        values = _crossnobis(arr, inverse, c, n_folds=n_folds, noise=noise, random_state=random_state)
    else:
        means = np.zeros((c, p))
        np.add.at(means, inverse, arr)
        means /= counts[:, None]
        if metric == "correlation":
            centred = means - means.mean(axis=1, keepdims=True)
            norms = np.linalg.norm(centred, axis=1)
            with np.errstate(invalid="ignore", divide="ignore"):
                unit = centred / norms[:, None]
            values = 1.0 - np.clip(unit @ unit.T, -1.0, 1.0)
            np.fill_diagonal(values, 0.0)
            values[norms == 0, :] = np.nan
            values[:, norms == 0] = np.nan
        else:
            sq = np.sum(means**2, axis=1)
            d2 = np.maximum(sq[:, None] + sq[None, :] - 2.0 * means @ means.T, 0.0)
            np.fill_diagonal(d2, 0.0)
            values = np.sqrt(d2) if metric == "euclidean" else d2 / p
    if da is None:  # numpy in, numpy out: the (n_conditions, n_conditions) matrix, conditions in sorted order
        return values
    coords: dict[str, Any] = {C.CONDITION_1: conds, C.CONDITION_2: conds}
    if label_coord == "label" and "label_name" in da.coords:
        names = np.empty(c, dtype=object)
        names[inverse] = da["label_name"].values
        names = names.astype(str)
        coords[f"{C.CLASS_NAME}_1"] = (C.CONDITION_1, names)
        coords[f"{C.CLASS_NAME}_2"] = (C.CONDITION_2, names)
    out = xr.DataArray(values, dims=(C.CONDITION_1, C.CONDITION_2), coords=coords, name="rdm")
    out.attrs = {
        "metric": metric,
        "n_neuroids": int(p),
        "n_presentations": int(n),
        "min_presentations_per_condition": int(counts.min()),
        "reference": {
            "correlation": "1 - Pearson r (Kriegeskorte et al. 2008)",
            "euclidean": "Euclidean distance between condition means",
            "sqeuclidean": "squared Euclidean distance / n_neuroids (rsatoolbox 'euclidean')",
            "crossnobis": "cross-validated (crossnobis) distance (Nili et al. 2014; Walther et al. 2016)",
        }[metric],
    }
    if metric == "crossnobis":
        out.attrs["n_folds"] = int(n_folds)
    return out


def _crossnobis(arr, inverse, c, *, n_folds, noise, random_state) -> np.ndarray:
    if not isinstance(n_folds, (int, np.integer)) or isinstance(n_folds, bool) or n_folds < 2:
        raise param_error("n_folds", "an int >= 2", n_folds)
    n, p = arr.shape
    counts = np.bincount(inverse, minlength=c)
    if counts.min() < n_folds:
        raise ParameterError(
            f"metric='crossnobis' needs at least n_folds={n_folds} presentations of every condition; the smallest "
            f"condition has {int(counts.min())}. Use fewer folds or a non-cross-validated metric."
        )
    rng = np.random.default_rng(random_state)
    fold = np.empty(n, dtype=np.int64)
    for k in range(c):
        idx = np.flatnonzero(inverse == k)
        fold[rng.permutation(idx)] = np.arange(idx.size) % n_folds
    means = np.zeros((n_folds, c, p))
    np.add.at(means, (fold, inverse), arr)
    fcounts = np.zeros((n_folds, c))
    np.add.at(fcounts, (fold, inverse), 1.0)
    means /= fcounts[:, :, None]
    if noise is not None:
        prec = np.asarray(noise, dtype=np.float64)
        if prec.shape != (p, p):
            raise param_error("noise", f"a precision matrix of shape ({p}, {p})", prec)
        projected = means @ prec
    else:
        projected = means
    total_m = means.sum(axis=0)
    total_pm = projected.sum(axis=0)
    # G = sum_{k != l} M_k P M_l^T = (sum M) P (sum M)^T - sum_k M_k P M_k^T
    g = total_pm @ total_m.T - np.einsum("kip,kjp->ij", projected, means)
    g = 0.5 * (g + g.T)
    d = np.diag(g)[:, None] + np.diag(g)[None, :] - 2.0 * g
    d /= n_folds * (n_folds - 1) * p
    np.fill_diagonal(d, 0.0)
    return d


# --------------------------------------------------------------------------------------------------------------
# RDM comparison
# --------------------------------------------------------------------------------------------------------------
@keeps_labels("a", "b")
def kendall_tau_a(a: Any, b: Any) -> Any:
    """Kendall's τ-a = (n_concordant − n_discordant) / (n(n − 1)/2), ties counted in the denominator.

    Computed in O(n log n) from scipy's τ-b: τ-b = (C − D)/√((n₀ − n₁)(n₀ − n₂)), so
    τ-a = τ-b · √((n₀ − n₁)(n₀ − n₂)) / n₀ with n₀ = n(n − 1)/2 and n₁, n₂ the tied pairs in a and in b.
    τ-a is the recommended comparator when a model RDM has ties (Nili et al. 2014).  A float for plain arrays, a
    0-d DataArray for labelled input.
    """
    a = np.asarray(unwrap(a, name="a", ndim=None), dtype=np.float64).ravel()
    b = np.asarray(unwrap(b, name="b", ndim=None), dtype=np.float64).ravel()
    return xr.DataArray(_tau_a(a, b), name="kendall_tau_a", attrs={"statistic": "kendall_tau_a"})


def _tau_a(a: np.ndarray, b: np.ndarray) -> float:
    """The kernel of :func:`kendall_tau_a` on two float64 vectors."""
    if a.shape != b.shape:
        raise ParameterError(f"kendall_tau_a needs two vectors of equal length. Got {a.size} and {b.size}.")
    n = a.size
    if n < 2:
        return float("nan")
    n0 = n * (n - 1) / 2.0

    def tied_pairs(v):
        _, cnt = np.unique(v, return_counts=True)
        return float(np.sum(cnt * (cnt - 1) / 2.0))

    n1, n2 = tied_pairs(a), tied_pairs(b)
    if n1 == n0 or n2 == n0:
        return 0.0
    tau_b = stats.kendalltau(a, b, variant="b").statistic
    return float(tau_b * np.sqrt((n0 - n1) * (n0 - n2)) / n0)


def _similarity(u: np.ndarray, v: np.ndarray, method: str) -> float:
    if u.size < 3:
        return float("nan")
    if method == "spearman":
        u, v = stats.rankdata(u), stats.rankdata(v)
        method = "pearson"
    if method == "pearson":
        uc, vc = u - u.mean(), v - v.mean()
        den = np.sqrt(np.dot(uc, uc) * np.dot(vc, vc))
        return float(np.dot(uc, vc) / den) if den > 0 else float("nan")
    if method == "cosine":
        den = np.sqrt(np.dot(u, u) * np.dot(v, v))
        return float(np.dot(u, v) / den) if den > 0 else float("nan")
    if method == "kendall_tau_a":
        return _tau_a(u, v)
    if method == "kendall_tau_b":
        return float(stats.kendalltau(u, v, variant="b").statistic)
    raise AssertionError(method)  # pragma: no cover - checked by the caller


def _as_rdm(r: Any, name: str) -> tuple[np.ndarray, np.ndarray | None]:
    if isinstance(r, xr.DataArray):
        if r.ndim != 2 or r.shape[0] != r.shape[1]:
            raise param_error(name, "a square RDM (condition x condition)", r)
        cond = r[r.dims[0]].values if r.dims[0] in r.coords else None
        return np.asarray(r.values, dtype=np.float64), cond
    arr = np.asarray(r, dtype=np.float64)
    if arr.ndim != 2 or arr.shape[0] != arr.shape[1]:
        raise param_error(name, "a square RDM (condition x condition)", arr)
    return arr, None


@keeps_labels("a", "b")
def compare_rdms(
    a: Any,
    b: Any,
    *,
    method: str = "spearman",
    n_bootstrap: int = 0,
    ci: float = 0.95,
    random_state: int | np.random.Generator | None = None,
) -> Result | xr.Dataset:
    """Compare two RDMs over their upper triangles, with a stimulus-bootstrap confidence interval.

    Parameters
    ----------
    a, b : xr.DataArray or array-like of shape (n_conditions, n_conditions)
        RDMs, e.g. from :func:`rdm`.  Labelled RDMs are aligned on their conditions; a condition present in only one
        of them raises a ValueError naming it.
    method : {"spearman", "kendall_tau_a", "kendall_tau_b", "pearson", "cosine"}
        Spearman ρ (= scipy.stats.spearmanr), Kendall τ-a (ties penalised; Nili et al. 2014), τ-b
        (= scipy.stats.kendalltau), Pearson r, or cosine similarity of the raw dissimilarities (rsatoolbox
        ``"cosine"``).
    n_bootstrap : int
        Bootstrap resamples of the conditions (stimuli) with replacement; in each, the pairs of two copies of the
        same condition are dropped (as rsatoolbox's ``eval_bootstrap_pattern``).  0 disables the interval.
    ci : float
        Coverage of the percentile interval.
    random_state : int, Generator or None
        Seed of the bootstrap.

    Returns
    -------
    :class:`~ensembles.analysis.Result` (plain arrays) or xr.Dataset with the same fields (labelled RDMs)
        ``value`` (the comparison of the full upper triangles), ``ci_low``/``ci_high`` (percentile interval of the
        stimulus bootstrap; NaN when ``n_bootstrap=0``), ``method``, ``n_conditions``, ``n_bootstrap``, ``ci`` and
        the ``bootstrap`` values.
    """
    method = _COMPARISON_ALIASES.get(method, method)
    check_choice("method", method, RDM_COMPARISONS)
    if not isinstance(n_bootstrap, (int, np.integer)) or isinstance(n_bootstrap, bool) or n_bootstrap < 0:
        raise param_error("n_bootstrap", "an int >= 0", n_bootstrap)
    if not 0 < ci < 1:
        raise param_error("ci", "a float in (0, 1)", ci)
    ma, ca = _as_rdm(a, "a")
    mb, cb = _as_rdm(b, "b")
    if ca is not None and cb is not None:
        sa, sb = [str(v) for v in ca], [str(v) for v in cb]
        if set(sa) != set(sb):
            raise _set_mismatch(sa, sb, "The two RDMs are over different stimulus sets", "condition(s)", ("a", "b"),
                                " Compute both over the same stimuli.")  # fmt: skip
        if len(set(sa)) != len(sa):
            raise ParameterError("The conditions of RDM 'a' are not unique.")
        pos = {s: i for i, s in enumerate(sb)}
        order = np.array([pos[s] for s in sa])
        mb = mb[np.ix_(order, order)]
    elif ma.shape != mb.shape:
        raise ParameterError(
            f"The two RDMs must have the same number of conditions. Got {ma.shape[0]} ('a') and {mb.shape[0]} ('b')."
        )
    c = ma.shape[0]
    if c < 3:
        raise ParameterError(f"Comparing RDMs needs at least 3 conditions. Got {c}.")
    iu = np.triu_indices(c, k=1)
    value = _similarity(ma[iu], mb[iu], method)
    boot = np.full(n_bootstrap, np.nan)
    if n_bootstrap:
        rng = np.random.default_rng(random_state)
        for k in range(n_bootstrap):
            idx = np.sort(rng.integers(0, c, size=c))
            i, j = idx[iu[0]], idx[iu[1]]
            keep = i != j
            boot[k] = _similarity(ma[i[keep], j[keep]], mb[i[keep], j[keep]], method)
    finite = boot[np.isfinite(boot)]
    if finite.size:
        lo, hi = np.quantile(finite, [(1 - ci) / 2, 1 - (1 - ci) / 2])
    else:
        lo = hi = float("nan")
    return Result(
        {"value": float(value), "ci_low": float(lo), "ci_high": float(hi), "method": method,
         "n_conditions": int(c), "n_bootstrap": int(n_bootstrap), "ci": float(ci), "bootstrap": boot},
        attrs={"statistic": "compare_rdms"},
        dims={"bootstrap": (C.BOOTSTRAP,)},
    )
