"""Representational geometry: RDMs, RDM comparison, linear CKA, decoding and dimensionality.

All functions take ``x`` as array-like of shape (n_presentations, n_neuroids) -- a numpy array, an
``xr.DataArray`` with dims ``("presentation", "neuroid")`` (in memory or dask-backed) or a recording
(``xr.Dataset`` with an ``activity`` variable).  Labelled inputs carry their ``stimulus_id`` / ``label``
coordinates into the results, so that two recordings are only ever compared over the same stimuli.

No torch here (``tests/test_layering.py``).

References
----------
Kriegeskorte, Mur & Bandettini (2008). Representational similarity analysis. Front Syst Neurosci 2:4.
Nili et al. (2014). A toolbox for representational similarity analysis. PLoS Comput Biol 10:e1003553.
Walther et al. (2016). Reliability of dissimilarity measures for multi-voxel pattern analysis. NeuroImage 137:188.
Kornblith, Norouzi, Lee & Hinton (2019). Similarity of neural network representations revisited. ICML.
Song, Smola, Gretton, Bedo & Borgwardt (2012). Feature selection via dependence maximization. JMLR 13:1393.
Stringer, Pachitariu, Steinmetz, Carandini & Harris (2019). High-dimensional geometry of population responses in
visual cortex. Nature 571:361.
Gao et al. (2017). A theory of multineuronal dimensionality, dynamics and measurement. bioRxiv 214262.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import xarray as xr
from scipy import stats

from ensembles import conventions as C
from ensembles._validation import check_choice, param_error
from ensembles.analysis._input import (
    ResultFields,
    is_labelled,
    matrix,
    resolve_labels,
    scalar_result,
    unwrap,
)
from ensembles.errors import InputTypeError, ParameterError

__all__ = [
    "RDM_METRICS",
    "RDM_COMPARISONS",
    "RDMComparison",
    "DecodingResult",
    "EigenspectrumFit",
    "rdm",
    "compare_rdms",
    "linear_cka",
    "decode",
    "participation_ratio",
    "eigenspectrum",
    "eigenspectrum_alpha",
    "kendall_tau_a",
    "summarize_geometry",
]

RDM_METRICS = ("correlation", "euclidean", "sqeuclidean", "crossnobis")
RDM_COMPARISONS = ("spearman", "kendall_tau_a", "kendall_tau_b", "pearson", "cosine")
_METRIC_ALIASES = {"crossvalidated": "crossnobis", "cv_euclidean": "crossnobis", "corr": "correlation"}
_COMPARISON_ALIASES = {"tau_a": "kendall_tau_a", "tau-a": "kendall_tau_a", "corr": "pearson"}


# --------------------------------------------------------------------------------------------------------------
# input helpers
# --------------------------------------------------------------------------------------------------------------
def _matrix(x: Any, name: str) -> tuple[np.ndarray, xr.DataArray | None]:
    """float64 (n_presentations, n_neuroids) without NaN/+-inf, and the labelled view (the one conversion path)."""
    m = matrix(x, name=name, float64=True)
    return m.values, m.da


def _resolve_labels(labels: Any, da: xr.DataArray | None, n: int, name: str = "labels") -> np.ndarray:
    """Labels given as an array, or as the name of a presentation coordinate of ``da``."""
    return resolve_labels(da if da is not None else np.empty((n, 0)), labels, n, default=None, name=name)


# --------------------------------------------------------------------------------------------------------------
# RDMs
# --------------------------------------------------------------------------------------------------------------
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
@dataclass(frozen=True)
class RDMComparison(ResultFields):
    """Result of :func:`compare_rdms`.

    ``value`` is the comparison of the full upper triangles; ``ci_low``/``ci_high`` the percentile interval of the
    stimulus (condition) bootstrap (NaN when ``n_bootstrap=0``); ``bootstrap`` the bootstrap values.
    """

    value: float
    ci_low: float
    ci_high: float
    method: str
    n_conditions: int
    n_bootstrap: int
    ci: float
    bootstrap: np.ndarray = field(repr=False, compare=False)
    _dims = {"bootstrap": (C.BOOTSTRAP,)}

    def as_dict(self) -> dict:
        d = asdict(self)
        d.pop("bootstrap")
        return d


def kendall_tau_a(a: Any, b: Any) -> Any:
    """Kendall's τ-a = (n_concordant − n_discordant) / (n(n − 1)/2), ties counted in the denominator.

    Computed in O(n log n) from scipy's τ-b: τ-b = (C − D)/√((n₀ − n₁)(n₀ − n₂)), so
    τ-a = τ-b · √((n₀ − n₁)(n₀ − n₂)) / n₀ with n₀ = n(n − 1)/2 and n₁, n₂ the tied pairs in a and in b.
    τ-a is the recommended comparator when a model RDM has ties (Nili et al. 2014).  A float for plain arrays, a
    0-d DataArray for labelled input.
    """
    labelled = is_labelled(a) or is_labelled(b)
    a = np.asarray(unwrap(a, name="a", ndim=None), dtype=np.float64).ravel()
    b = np.asarray(unwrap(b, name="b", ndim=None), dtype=np.float64).ravel()
    if labelled:
        return scalar_result(kendall_tau_a(a, b), True, name="kendall_tau_a", attrs={"statistic": "kendall_tau_a"})
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
        return kendall_tau_a(u, v)
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


def compare_rdms(
    a: Any,
    b: Any,
    *,
    method: str = "spearman",
    n_bootstrap: int = 0,
    ci: float = 0.95,
    random_state: int | np.random.Generator | None = None,
) -> RDMComparison | xr.Dataset:
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
    RDMComparison (plain arrays) or xr.Dataset with the same fields (labelled RDMs)
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
            only_a = sorted(set(sa) - set(sb))
            only_b = sorted(set(sb) - set(sa))
            raise ParameterError(
                "The two RDMs are over different stimulus sets: "
                f"{len(only_a)} condition(s) only in 'a' (e.g. {only_a[:5]}), "
                f"{len(only_b)} only in 'b' (e.g. {only_b[:5]}). Compute both over the same stimuli."
            )
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
    res = RDMComparison(
        value=float(value),
        ci_low=float(lo),
        ci_high=float(hi),
        method=method,
        n_conditions=int(c),
        n_bootstrap=int(n_bootstrap),
        ci=float(ci),
        bootstrap=boot,
    )
    return res.to_dataset(attrs={"statistic": "compare_rdms"}) if is_labelled(a) or is_labelled(b) else res


# --------------------------------------------------------------------------------------------------------------
# linear CKA
# --------------------------------------------------------------------------------------------------------------
def _align_pair(x: Any, y: Any) -> tuple[np.ndarray, np.ndarray]:
    """Two response matrices over the same presentations; labelled inputs are aligned on ``stimulus_id``."""
    xa, xd = _matrix(x, "x")
    ya, yd = _matrix(y, "y")
    if xd is not None and yd is not None and "stimulus_id" in xd.coords and "stimulus_id" in yd.coords:
        sx = xd["stimulus_id"].values.astype(str)
        sy = yd["stimulus_id"].values.astype(str)
        if not (sx.shape == sy.shape and np.array_equal(sx, sy)):
            if set(sx) != set(sy):
                only_x = sorted(set(sx) - set(sy))
                only_y = sorted(set(sy) - set(sx))
                raise ParameterError(
                    "'x' and 'y' were recorded on different stimulus sets: "
                    f"{len(only_x)} stimulus_id(s) only in 'x' (e.g. {only_x[:5]}), "
                    f"{len(only_y)} only in 'y' (e.g. {only_y[:5]})."
                )
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
    xa, ya = _align_pair(x, y)
    n = xa.shape[0]
    xc = xa - xa.mean(axis=0)
    yc = ya - ya.mean(axis=0)
    if debiased:
        if n < 4:
            raise ParameterError(f"Debiased CKA needs at least 4 presentations. Got {n}.")
        hxy, hxx, hyy = _hsic_u(xc, yc), _hsic_u(xc, xc), _hsic_u(yc, yc)
        den = hxx * hyy
        value = float(hxy / np.sqrt(den)) if den > 0 else float("nan")
    else:
        if n < 2:
            raise ParameterError(f"CKA needs at least 2 presentations. Got {n}.")
        num = _gram_inner(xc, yc)
        den = np.sqrt(_gram_inner(xc, xc) * _gram_inner(yc, yc))
        value = float(num / den) if den > 0 else float("nan")
    attrs = {"statistic": "linear_cka", "debiased": int(debiased), "n_presentations": int(n),
             "reference": "Kornblith et al. 2019" + ("; unbiased HSIC, Song et al. 2012" if debiased else "")}
    return scalar_result(value, is_labelled(x) or is_labelled(y), name="linear_cka", attrs=attrs)


# --------------------------------------------------------------------------------------------------------------
# decoding
# --------------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class DecodingResult(ResultFields):
    """Result of :func:`decode`: mean and SD of the cross-validated accuracy and its chance level."""

    accuracy: float
    accuracy_sd: float
    fold_accuracies: np.ndarray = field(repr=False, compare=False)
    chance: float = float("nan")
    n_classes: int = 0
    n_neuroids: int = 0
    n_presentations: int = 0
    cv: int = 0
    _dims = {"fold_accuracies": (C.FOLD,)}

    def as_dict(self) -> dict:
        d = asdict(self)
        d.pop("fold_accuracies")
        return d


def _select_neuroids(arr: np.ndarray, da: xr.DataArray | None, neuroids: Any) -> np.ndarray:
    if neuroids is None:
        return arr
    p = arr.shape[1]
    if isinstance(neuroids, xr.DataArray) and "neuroid" in neuroids.dims and neuroids.ndim == 1:
        if da is not None and "neuroid_id" in neuroids.coords and "neuroid_id" in da.coords:
            neuroids = neuroids.assign_coords(neuroid=neuroids["neuroid_id"].values)
            ids = da["neuroid_id"].values
            missing = set(ids.astype(str)) - set(neuroids["neuroid"].values.astype(str))
            if missing:
                raise ParameterError(
                    f"The 'neuroids' mask lacks {len(missing)} neuroid_id(s) of 'x' (e.g. {sorted(missing)[:3]})."
                )
            neuroids = neuroids.sel(neuroid=ids).values
        else:
            neuroids = neuroids.values
    sel = np.asarray(neuroids)
    if sel.dtype == bool:
        if sel.shape != (p,):
            raise param_error("neuroids", f"a boolean mask of length {p} or integer indices", sel)
        idx = np.flatnonzero(sel)
    elif sel.dtype.kind in "iu":
        idx = sel.ravel()
        if idx.size and (idx.min() < -p or idx.max() >= p):
            raise param_error("neuroids", f"integer indices in [0, {p})", sel)
    else:
        raise param_error("neuroids", "a boolean mask or integer indices", sel, exc=InputTypeError)
    if idx.size == 0:
        raise ParameterError("The 'neuroids' selection is empty; decoding needs at least one neuroid.")
    return arr[:, idx]


def decode(
    x: Any,
    labels: Any = "label",
    *,
    neuroids: Any = None,
    cv: int = 5,
    C: float = 1.0,
    standardize: bool = True,
    max_iter: int = 2000,
    random_state: int | None = 0,
) -> DecodingResult | xr.Dataset:
    """Cross-validated linear decoding of class labels from a layer, a region or an ensemble.

    A multinomial logistic regression (scikit-learn ``LogisticRegression``, L2, lbfgs) on z-scored responses
    (scaler fitted on the training folds only) is scored by stratified k-fold cross-validation.

    Parameters
    ----------
    x : array-like of shape (n_presentations, n_neuroids)
    labels : array-like of shape (n_presentations,) or str
        Class of each presentation, or the name of a presentation coordinate (default ``"label"``).
    neuroids : boolean mask, integer indices or DataArray mask over ``neuroid``, optional
        Decode from this subset only (e.g. the members of one ensemble; a DataArray mask is aligned on
        ``neuroid_id``).
    cv : int
        Number of stratified folds (shuffled with ``random_state``); every class needs ≥ ``cv`` presentations.
    C, max_iter : float, int
        Inverse regularisation strength and iteration cap of ``LogisticRegression``.
    standardize : bool
        z-score each neuroid inside the cross-validation pipeline.
    random_state : int or None
        Seed of the fold shuffle.

    Returns
    -------
    DecodingResult (plain arrays) or xr.Dataset with the same fields (labelled input)
        ``chance`` is the frequency of the most common class (accuracy of always guessing it).
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    arr, da = _matrix(x, "x")
    y = resolve_labels(da if da is not None else arr, labels, arr.shape[0])
    arr = _select_neuroids(arr, da, neuroids)
    if not isinstance(cv, (int, np.integer)) or isinstance(cv, bool) or cv < 2:
        raise param_error("cv", "an int >= 2", cv)
    classes, counts = np.unique(y, return_counts=True)
    if classes.size < 2:
        raise ParameterError(f"The 'labels' parameter must contain at least 2 classes. Got {classes.size}.")
    if counts.min() < cv:
        raise ParameterError(
            f"Every class needs at least cv={cv} presentations for stratified cross-validation; class "
            f"{classes[np.argmin(counts)]!r} has {int(counts.min())}."
        )
    clf = LogisticRegression(C=C, max_iter=max_iter)
    model = make_pipeline(StandardScaler(), clf) if standardize else clf
    folds = StratifiedKFold(n_splits=cv, shuffle=True, random_state=random_state)
    scores = cross_val_score(model, arr, y, cv=folds, scoring="accuracy")
    res = DecodingResult(
        accuracy=float(scores.mean()),
        accuracy_sd=float(scores.std(ddof=1)) if scores.size > 1 else 0.0,
        fold_accuracies=scores,
        chance=float(counts.max() / counts.sum()),
        n_classes=int(classes.size),
        n_neuroids=int(arr.shape[1]),
        n_presentations=int(arr.shape[0]),
        cv=int(cv),
    )
    return res.to_dataset(attrs={"statistic": "decode"}) if da is not None else res


# --------------------------------------------------------------------------------------------------------------
# dimensionality
# --------------------------------------------------------------------------------------------------------------
def participation_ratio(x: Any) -> Any:
    """Participation ratio PR = (Σ λ_i)² / Σ λ_i² of the covariance eigenvalues λ across presentations.

    Ranges from 1 (one dimension) to n_neuroids (isotropic).  Definition: Gao et al. (2017); Litwin-Kumar et al.
    (2017, Neuron 93:1153); Recanatesi et al. (2019).  Computed as tr(C)²/‖C‖²_F without an eigendecomposition.
    A float for plain arrays, a 0-d DataArray (attrs: counts, reference) for labelled input; NaN for a
    population without variance (e.g. all zero).
    """
    arr, da = _matrix(x, "x")
    if arr.shape[0] < 2:
        raise ParameterError(f"participation_ratio needs at least 2 presentations. Got {arr.shape[0]}.")
    xc = arr - arr.mean(axis=0)
    tr = float(np.sum(xc * xc))
    tr2 = _gram_inner(xc, xc)
    value = tr * tr / tr2 if tr2 > 0 else float("nan")
    attrs = {"statistic": "participation_ratio", "n_neuroids": int(arr.shape[1]),
             "n_presentations": int(arr.shape[0]), "reference": "Gao et al. 2017"}
    return scalar_result(value, da is not None, name="participation_ratio", attrs=attrs)


def eigenspectrum(x: Any, x2: Any = None) -> np.ndarray | xr.DataArray:
    """PCA eigenspectrum (variance per component, descending) of responses across presentations.

    With ``x2`` (a second repeat of the same stimuli, same shape), the cross-validated spectrum of Stringer et al.
    (2019): components are estimated on ``x``, and the variance along component k is the covariance across
    stimuli of the projections of the two repeats, s_k = (X₁u_k)ᵀ(X₂u_k)/(n − 1), which is unbiased by
    trial-to-trial noise (and can be negative in the noise floor).  A numpy array for plain arrays, a DataArray
    along ``component`` for labelled input.
    """
    values = _eigenspectrum(x, x2)
    if not is_labelled(x):
        return values
    return xr.DataArray(values, dims=(C.COMPONENT,), name="eigenspectrum",
                        attrs={"statistic": "eigenspectrum", "cross_validated": int(x2 is not None)})


def _eigenspectrum(x: Any, x2: Any = None) -> np.ndarray:
    arr, _ = _matrix(x, "x")
    n = arr.shape[0]
    if n < 2:
        raise ParameterError(f"eigenspectrum needs at least 2 presentations. Got {n}.")
    xc = arr - arr.mean(axis=0)
    if n >= arr.shape[1]:
        # eigendecomposition of the (n_neuroids x n_neuroids) scatter matrix: much cheaper than an SVD of X for n >> p
        evals, evecs = np.linalg.eigh(xc.T @ xc)
        order = np.argsort(evals)[::-1][: min(n - 1, arr.shape[1])]
        s2, vt = np.clip(evals[order], 0.0, None), evecs[:, order].T
    else:
        _, s, vt = np.linalg.svd(xc, full_matrices=False)
        s2 = s**2
    if x2 is None:
        return s2 / (n - 1)
    arr2, _ = _matrix(x2, "x2")
    if arr2.shape != arr.shape:
        raise ParameterError(f"'x2' must have the shape of 'x' {arr.shape}. Got {arr2.shape}.")
    x2c = arr2 - arr2.mean(axis=0)
    return np.sum((xc @ vt.T) * (x2c @ vt.T), axis=0) / (n - 1)


@dataclass(frozen=True)
class EigenspectrumFit(ResultFields):
    """Power-law fit λ_n ∝ n^(−α) of a PCA eigenspectrum (see :func:`eigenspectrum_alpha`)."""

    alpha: float
    intercept: float
    fit_start: int
    fit_stop: int
    n_points: int
    eigenvalues: np.ndarray = field(repr=False, compare=False)
    _dims = {"eigenvalues": (C.COMPONENT,)}

    def as_dict(self) -> dict:
        d = asdict(self)
        d.pop("eigenvalues")
        return d


def eigenspectrum_alpha(
    x: Any,
    x2: Any = None,
    *,
    fit_range: tuple[int, int] = (11, 500),
    min_points: int = 5,
) -> EigenspectrumFit | xr.Dataset:
    """Power-law exponent α of the PCA eigenspectrum, λ_n ∝ n^(−α) (Stringer et al. 2019).

    The fit follows the authors' ``get_powerlaw(ss, trange)`` (MouseLand stringer-pachitariu-et-al-2018b,
    ``utils.py``): weighted least squares of log λ_n on −log n with weights 1/n, over the 0-based component indices
    ``range(*fit_range)``, i.e. ranks n = 12 … 500 for the default ``(11, 500)``.  Mouse V1 on 2800 natural images:
    α ≈ 1 (Stringer et al. 2019).  The range is clipped to the components available (min(n_presentations − 1,
    n_neuroids)) and to the positive eigenvalues; the clipped range is reported in the result.

    Parameters
    ----------
    x : array-like of shape (n_presentations, n_neuroids)
    x2 : array-like, optional
        Second repeat for the cross-validated spectrum (:func:`eigenspectrum`).
    fit_range : (int, int)
        0-based [start, stop) component indices of the fit.
    min_points : int
        Fewest components the fit accepts (ValueError otherwise).
    """
    if (
        not isinstance(fit_range, (tuple, list))
        or len(fit_range) != 2
        or not all(isinstance(v, (int, np.integer)) for v in fit_range)
        or fit_range[0] < 0
        or fit_range[1] <= fit_range[0]
    ):
        raise param_error("fit_range", "a pair of ints (start, stop) with 0 <= start < stop", fit_range)
    ss = _eigenspectrum(x, x2)
    arr_rank = int(np.sum(ss > ss[0] * 1e-12)) if ss[0] > 0 else 0
    start = int(fit_range[0])
    stop = int(min(fit_range[1], arr_rank))
    idx = np.arange(start, stop)
    idx = idx[ss[idx] > 0] if idx.size else idx
    if idx.size < min_points:
        raise ParameterError(
            f"eigenspectrum_alpha: only {idx.size} positive components in fit_range={tuple(fit_range)} "
            f"(spectrum has {ss.size} components, {arr_rank} non-zero); need at least min_points={min_points}. "
            f"Use more presentations/neuroids or a lower fit range, e.g. fit_range=(0, {max(arr_rank, 1)})."
        )
    rank = idx + 1.0
    design = np.column_stack([-np.log(rank), np.ones(idx.size)])
    w = 1.0 / rank
    yv = np.log(ss[idx])
    coef = np.linalg.solve(design.T @ (design * w[:, None]), (design * w[:, None]).T @ yv)
    res = EigenspectrumFit(
        alpha=float(coef[0]),
        intercept=float(coef[1]),
        fit_start=int(idx[0]),
        fit_stop=int(idx[-1] + 1),
        n_points=int(idx.size),
        eigenvalues=ss,
    )
    return res.to_dataset(attrs={"statistic": "eigenspectrum_alpha"}) if is_labelled(x) else res


# --------------------------------------------------------------------------------------------------------------
# tidy summary (same columns as ensembles.analysis.summary.summarize)
# --------------------------------------------------------------------------------------------------------------
def summarize_geometry(
    rec: Any,
    *,
    correct_only: bool = True,
    layers: Any = None,
    fit_range: tuple[int, int] = (11, 500),
) -> Any:
    """Dimensionality of each layer as tidy rows in the format of :func:`ensembles.analysis.summary.summarize`.

    Statistics (``aggregate = "value"``): ``participation_ratio`` (:func:`participation_ratio`) and
    ``eigenspectrum_alpha`` (:func:`eigenspectrum_alpha`; NaN with ``n_nan = 1`` when the layer has too few
    components for ``fit_range``).  ``n`` is the number of neuroids of the layer.  Only correctly classified
    presentations are used when ``correct_only`` and the recording has a ``correct`` coord (the paper's protocol),
    as in ``summarize``.  The rows can be concatenated with ``summarize(rec)`` and passed to
    :func:`ensembles.analysis.cortex.compare_to_cortex`.

    Returns
    -------
    pandas.DataFrame with columns ``model, dataset, seed, site, run, checkpoint, epoch, layer, subset, class,
    statistic, aggregate, value, n, n_nan``.
    """
    import pandas as pd

    attrs = dict(rec.attrs) if is_labelled(rec) else {}
    act = unwrap(rec, name="rec")
    if not isinstance(act, xr.DataArray):  # a plain (n_presentations, n_neuroids) array: one layer, no labels
        act = xr.DataArray(np.asarray(act), dims=(C.PRESENTATION, C.NEUROID))
    else:
        from ensembles.record import (
            select_presentations,  # the one selection (last checkpoint, correct + held out)
        )

        act = select_presentations(act, correct_only=correct_only)
    if set(act.dims) != {"presentation", "neuroid"}:
        raise ParameterError(
            f"The 'rec' parameter must have dims ('presentation', 'neuroid'). Got {tuple(act.dims)}."
        )
    act = act.transpose("presentation", "neuroid")
    subset = "correct" if correct_only and "correct" in act.coords else "all"
    layer_values = act["layer"].values if "layer" in act.coords else np.ones(act.sizes["neuroid"], dtype=int)
    wanted = np.unique(layer_values) if layers is None else np.atleast_1d(layers)
    base = {
        "model": attrs.get("model"),
        "dataset": attrs.get("dataset"),
        "seed": attrs.get("seed"),
        "site": attrs.get("site"),
        "run": None,
        "checkpoint": None,
        "epoch": int(act["epoch"].values) if "epoch" in act.coords and act["epoch"].ndim == 0 else None,
        "subset": subset,
        "class": "all",
        "aggregate": "value",
    }
    rows = []
    for layer in wanted:
        x = act.isel(neuroid=np.flatnonzero(layer_values == layer))
        p = int(x.sizes["neuroid"])
        if p == 0:
            raise ParameterError(f"The 'layers' parameter asks for layer {layer!r}, which the recording lacks.")
        arr = np.asarray(x.values, dtype=np.float64)
        ok = np.isfinite(arr).all(axis=1)
        arr = arr[ok]
        pr = participation_ratio(arr) if arr.shape[0] >= 2 else float("nan")
        try:
            alpha = eigenspectrum_alpha(arr, fit_range=fit_range).alpha
        except ValueError:
            alpha = float("nan")
        for stat, val in (("participation_ratio", pr), ("eigenspectrum_alpha", alpha)):
            rows.append({**base, "layer": int(layer), "statistic": stat, "value": float(val), "n": p,
                         "n_nan": int(not np.isfinite(val))})  # fmt: skip
    cols = ["model", "dataset", "seed", "site", "run", "checkpoint", "epoch", "layer", "subset", "class",
            "statistic", "aggregate", "value", "n", "n_nan"]  # fmt: skip
    return pd.DataFrame(rows, columns=cols)
