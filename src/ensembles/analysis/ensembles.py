"""Ensembles: category (supervised) ensembles, their overlap, and unsupervised cell assemblies (no torch).

Category ensembles
    :func:`category_ensembles` (rules ``"paper"``, ``"test"``, ``"fraction"``, optional shuffled-label null),
    :func:`ensemble_sizes`, :func:`ensemble_core`.
Overlap and mixed selectivity
    :func:`ensemble_overlap` (count / Jaccard / overlap coefficient, expected value under random membership and a
    hypergeometric p-value), :func:`class_mean_similarity`, :func:`overlap_vs_similarity` (Spearman + Mantel-style
    permutation p-value).
Unsupervised assemblies
    :class:`EnsembleDetector` (scikit-learn transformer; ``ica``, ``pca``, ``svd``, ``graph``, ``nmf``),
    :func:`detect_ensembles` (labelled adapter), :func:`match_ensembles` (best-match Jaccard scoring).

Inputs are numpy arrays of shape (n_presentations, n_neuroids) or ``xr.DataArray`` with dims ``presentation`` and
``neuroid`` (dask-backed arrays are computed: every rule here needs the whole matrix).

References
----------
Tosato, N., Basile, L., Ballarin, E., de Alteriis, G., Cazzaniga, A. & Ansuini, A. (2023). Emergent representations
in networks trained with the Forward-Forward algorithm. arXiv:2305.18353 (the leave-one-out ensemble rule).
Lopes-dos-Santos, V., Ribeiro, S. & Tort, A. B. L. (2013). J Neurosci Methods 220:149-166.
Mölter, J., Avitan, L. & Goodhill, G. J. (2018). BMC Biol 16:143 (best-match scoring).
Benjamini, Y. & Hochberg, Y. (1995). J R Stat Soc B 57:289-300.
Mantel, N. (1967). Cancer Res 27:209-220 (permutation test for matrix correlation).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import xarray as xr
from scipy import stats

from .. import conventions as C
from .._validation import check_choice, describe
from ..errors import InputTypeError, ParameterError
from ._detectors import EnsembleDetector, marchenko_pastur_bound, tracy_widom_bound
from ._input import (
    Result,
    check_count,
    check_finite,
    class_names,
    is_labelled,
    make_result,
    matrix,
    renamed_keywords,
    resolve_labels,
    unlabel,
    unwrap,
)
from ._stats import fdr_bh
from ._xr import is_dataarray

__all__ = [
    "category_ensembles",
    "ensemble_sizes",
    "ensemble_core",
    "ensemble_overlap",
    "class_mean_similarity",
    "overlap_vs_similarity",
    "EnsembleDetector",
    "detect_ensembles",
    "match_ensembles",
    "marchenko_pastur_bound",
    "tracy_widom_bound",
]

CATEGORY = C.CATEGORY
OTHER = C.OTHER_CATEGORY
ENSEMBLE = C.ENSEMBLE

_PAPER_REF = "Tosato et al. (2023) arXiv:2305.18353, leave-one-out rule (docs/methods.md §A3.4)"


# ----------------------------------------------------------------------------------------------------------------------
# helpers
# ----------------------------------------------------------------------------------------------------------------------
def _activity(x: Any, name: str = "x") -> tuple[np.ndarray, xr.DataArray | None]:
    """(n_presentations, n_neuroids) float array without NaN or +-inf, plus the DataArray (transposed) when given one
    (:func:`ensembles.analysis._input.matrix`, the one conversion path)."""
    m = matrix(x, name=name)
    return m.values, m.da


def _neuroid_coords(da: xr.DataArray | None) -> dict:
    if da is None:
        return {}
    return {k: v.variable for k, v in da.coords.items() if v.dims == (C.NEUROID,)}


def _layer_groups(da: xr.DataArray | None, n: int, by_layer: bool | None) -> list[np.ndarray]:
    has_layer = da is not None and "layer" in da.coords and da.coords["layer"].dims == (C.NEUROID,)
    if by_layer is None:
        by_layer = has_layer
    if by_layer and not has_layer:
        raise ParameterError("by_layer=True needs a 'layer' coord along 'neuroid'; none was found.")
    if not by_layer:
        return [np.arange(n)]
    layer = np.asarray(da.coords["layer"].values)
    return [np.flatnonzero(layer == v) for v in np.unique(layer)]


def _class_means(X: np.ndarray, lab_idx: np.ndarray, n_classes: int) -> tuple[np.ndarray, np.ndarray]:
    counts = np.bincount(lab_idx, minlength=n_classes).astype(float)
    onehot = np.zeros((X.shape[0], n_classes), dtype=np.result_type(X.dtype, np.float32))
    onehot[np.arange(X.shape[0]), lab_idx] = 1.0
    sums = onehot.T @ X
    with np.errstate(invalid="ignore", divide="ignore"):
        return sums / counts[:, None], counts


# ----------------------------------------------------------------------------------------------------------------------
# category ensembles
# ----------------------------------------------------------------------------------------------------------------------
def _paper_rule(mu: np.ndarray, groups, tau: float):
    """E_c = {i : (mu_i - m_-i) / m_-i > tau}, m_-i = mean_{j != i} mu_j within the layer (docs/methods.md §A3.4)."""
    member = np.zeros(mu.shape, dtype=bool)
    score = np.full(mu.shape, np.nan)
    for g in groups:
        if g.size < 2:
            raise ParameterError(
                f"rule='paper' needs at least 2 neuroids per layer (the leave-one-out mean is over the others); "
                f"got a layer with {g.size}."
            )
        m = mu[:, g]
        loo = (m.sum(axis=1, keepdims=True) - m) / (g.size - 1)
        with np.errstate(invalid="ignore", divide="ignore"):
            ratio = (m - loo) / loo
        # m_-i == 0 (every other neuroid silent for class c): member iff mu_i > 0, as numpy's inf > tau in the
        # authors' code; 0/0 is not a member
        zero = loo == 0
        ratio = np.where(zero, np.where(m > 0, np.inf, np.nan), ratio)
        score[:, g] = ratio
        member[:, g] = np.where(np.isnan(ratio), False, ratio > tau)
    return member, {"score": score}


def _welch_rule(X, lab_idx, n_classes, groups, alpha, min_effect, test):
    N = X.shape[1]
    p = np.ones((n_classes, N))
    d = np.zeros((n_classes, N))
    for c in range(n_classes):
        sel = lab_idx == c
        a, b = X[sel], X[~sel]
        na, nb = a.shape[0], b.shape[0]
        ma, mb = a.mean(axis=0), b.mean(axis=0)
        va, vb = a.var(axis=0, ddof=1), b.var(axis=0, ddof=1)
        diff = ma - mb
        sd = np.sqrt((va + vb) / 2)
        with np.errstate(invalid="ignore", divide="ignore"):
            d[c] = np.where(sd > 0, diff / sd, np.where(diff > 0, np.inf, 0.0))
        if test == "welch":
            se2a, se2b = va / na, vb / nb
            se = np.sqrt(se2a + se2b)
            with np.errstate(invalid="ignore", divide="ignore"):
                t = diff / se
                df = (se2a + se2b) ** 2 / (se2a**2 / (na - 1) + se2b**2 / (nb - 1))
                pc = stats.t.sf(t, df)
            p[c] = np.where(se > 0, pc, np.where(diff > 0, 0.0, 1.0))
        else:
            const = (np.ptp(a, axis=0) == 0) & (np.ptp(b, axis=0) == 0)
            res = stats.mannwhitneyu(a, b, alternative="greater", axis=0)
            p[c] = np.where(const, np.where(diff > 0, 0.0, 1.0), res.pvalue)
    q = np.ones_like(p)
    for g in groups:
        q[:, g] = fdr_bh(p[:, g])
    member = (q < alpha) & (d >= min_effect)
    return member, {"p": p, "q": q, "effect": d}


def _membership(X, lab_idx, n_classes, groups, rule, prm):
    if rule == "paper":
        mu, _ = _class_means(X, lab_idx, n_classes)
        return _paper_rule(mu, groups, prm["tau"])
    if rule == "fraction":
        frac, _ = _class_means((X > prm["threshold"]).astype(float), lab_idx, n_classes)
        return frac >= prm["min_fraction"], {"score": frac}
    return _welch_rule(X, lab_idx, n_classes, groups, prm["alpha"], prm["min_effect"], prm["test"])


def _group_sizes(member: np.ndarray, groups) -> np.ndarray:
    """(n_classes, n_groups) ensemble sizes within each neuroid group."""
    return np.stack([member[:, g].sum(axis=1) for g in groups], axis=1)


def category_ensembles(
    x: Any,
    labels: Any = None,
    *,
    rule: str = "paper",
    tau: float = 1.0,
    alpha: float = 0.05,
    min_effect: float = 0.5,
    test: str = "welch",
    threshold: float = 0.0,
    min_fraction: float = 0.5,
    by_layer: bool | None = None,
    n_shuffles: int = 0,
    random_state: int | np.random.Generator | None = None,
    return_stats: bool = False,
) -> xr.DataArray | xr.Dataset:
    """Category ensembles: for each class, the neuroids that respond preferentially to it.

    Rules
    -----
    ``"paper"`` (Tosato et al. 2023, docs/methods.md §A3.4, exactly): with ``mu_i`` the mean response of neuroid ``i``
    over the presentations of class ``c`` and ``m_-i = mean_{j != i} mu_j`` (over the other neuroids of the same
    layer), ``i`` is in ``E_c`` iff ``(mu_i - m_-i) / m_-i > tau`` (``tau = 1``: ``mu_i > 2 m_-i``; ``tau = 2`` is
    the authors' robustness check).  When ``m_-i = 0`` (all other neuroids silent for ``c``) ``i`` is a member iff
    ``mu_i > 0`` (the authors' numpy gives ``inf > tau``); ``0/0`` is not a member.  For inputs with negative
    values the ratio is taken as written, which flips the inequality when ``m_-i < 0``: the rule is meant for
    non-negative (post-ReLU, rate) data.  The authors keep only correctly classified presentations: select them
    before calling.
    ``"test"``: one-sided test per neuroid and class that the response to ``c`` exceeds the response to all other
    classes (Welch's t, or Mann-Whitney U with ``test="mannwhitney"``), Benjamini-Hochberg FDR over classes x
    neuroids of a layer at ``alpha``, and an effect-size floor ``d >= min_effect`` with
    ``d = (mean_c - mean_rest) / sqrt((var_c + var_rest) / 2)``.  A neuroid constant in both groups gets p = 0 if
    its class-c value is larger, else 1.  Needs >= 2 classes and >= 2 presentations per class.
    ``"fraction"``: ``i`` is in ``E_c`` iff ``x > threshold`` on at least ``min_fraction`` of class-c presentations.

    Parameters
    ----------
    x : array-like of shape (n_presentations, n_neuroids) or DataArray (presentation, neuroid)
        Must not contain NaN (ValueError).
    labels : array-like of shape (n_presentations,), str or None
        Class labels; for DataArray input, the name of a presentation coord (None: ``"label"``).
    rule : {"paper", "test", "fraction"}
    tau : float
        ``"paper"`` contrast threshold.
    alpha, min_effect, test : float, float, {"welch", "mannwhitney"}
        ``"test"`` rule parameters.
    threshold, min_fraction : float
        ``"fraction"`` rule parameters.
    by_layer : bool or None
        Apply the rule within each layer (the leave-one-out mean and the FDR family are per layer). None: per
        layer when ``x`` has a ``layer`` coord along ``neuroid``, otherwise across all neuroids.
    n_shuffles : int
        When > 0, a shuffled-label null (ours, docs/methods.md §A3.4): labels are permuted ``n_shuffles`` times and
        the rule re-applied; coords ``expected_size`` (mean null size) and ``size_p`` (Monte-Carlo p-value of an
        ensemble at least as large, (1 + #{null >= observed}) / (1 + n_shuffles), Phipson & Smyth 2010) are added.
        Sizes are counted within each group the rule is applied to: dims ``(category,)`` when the rule runs over
        one group (all neuroids, or a single layer); dims ``(category, neuroid)`` when it runs per layer over
        several layers, every neuroid carrying the value of its own layer (the same permutations serve all
        layers, so each layer's values equal those of calling the function on that layer alone with the same
        ``random_state``).  :func:`ensemble_sizes` returns them per ``(category, layer)``.
    random_state : int, Generator or None
    return_stats : bool
        Return an ``xr.Dataset`` with ``members`` and the rule's statistics (``score``: the LOO ratio or the active
        fraction; ``p``, ``q``, ``effect`` for ``"test"``) instead of the membership alone.

    Returns
    -------
    DataArray of bool, dims (category, neuroid) (labelled input)
        ``category`` coord = sorted class labels (plus ``class_name`` when ``x`` has a ``label_name`` coord, and
        ``n_presentations``); every ``neuroid`` coord of ``x`` is kept. ``attrs`` record the rule and parameters.
    numpy.ndarray of bool, shape (n_categories, n_neuroids) (numpy input)
        Rows in sorted label order; a :class:`~ensembles.analysis.Result` with ``members`` (and ``expected_size``,
        ``size_p`` or the rule's statistics) when ``n_shuffles > 0`` or ``return_stats``.

    Raises
    ------
    ValueError
        NaN in ``x``; labels of the wrong length; a layer with < 2 neuroids (``"paper"``); < 2 classes or a class
        with < 2 presentations (``"test"``).  One class is allowed for ``"paper"`` and ``"fraction"`` (e.g. a
        held-out class alone, docs/methods.md §A3.6).

    Examples
    --------
    >>> x = np.array([[4.0, 1.0, 1.0], [0.0, 1.0, 6.0]])
    >>> category_ensembles(x, [0, 1]).tolist()
    [[True, False, False], [False, False, True]]
    """
    check_choice("rule", rule, ("paper", "test", "fraction"))
    check_choice("test", test, ("welch", "mannwhitney"))
    n_shuffles = check_count("n_shuffles", n_shuffles, 0)
    X, da = _activity(x)
    lab = resolve_labels(da if da is not None else x, labels, X.shape[0])
    classes, lab_idx = np.unique(lab, return_inverse=True)
    n_classes = classes.size
    if rule == "test":
        if n_classes < 2:
            raise ParameterError(f"rule='test' needs at least 2 classes to compare; got {n_classes}.")
        if np.bincount(lab_idx).min() < 2:
            raise ParameterError("rule='test' needs at least 2 presentations of every class.")
    groups = _layer_groups(da, X.shape[1], by_layer)
    prm = dict(tau=float(tau), alpha=float(alpha), min_effect=float(min_effect), test=test,
               threshold=float(threshold), min_fraction=float(min_fraction))
    member, extra = _membership(X, lab_idx, n_classes, groups, rule, prm)

    coords: dict = {CATEGORY: classes}
    coords.update(_neuroid_coords(da))
    coords["n_presentations"] = (CATEGORY, np.bincount(lab_idx, minlength=n_classes))
    names = class_names(da, lab, classes)
    if names is not None:
        coords[C.CLASS_NAME] = (CATEGORY, names)
    if n_shuffles:
        # null ensemble sizes per shuffle, class and neuroid group (one group per layer when the rule is per layer):
        # the size of a layer's ensemble is compared with that layer's null, never with a sum over layers
        rng = np.random.default_rng(random_state)
        null = np.empty((int(n_shuffles), n_classes, len(groups)))
        for s in range(int(n_shuffles)):
            m_s, _ = _membership(X, rng.permutation(lab_idx), n_classes, groups, rule, prm)
            null[s] = _group_sizes(m_s, groups)
        obs = _group_sizes(member, groups)
        expected = null.mean(axis=0)
        size_p = (1.0 + (null >= obs).sum(axis=0)) / (1.0 + n_shuffles)
        if len(groups) == 1:
            coords["expected_size"] = (CATEGORY, expected[:, 0])
            coords["size_p"] = (CATEGORY, size_p[:, 0])
        else:  # each neuroid carries the value of its own layer (constant within a layer)
            which = np.empty(X.shape[1], dtype=np.int64)
            for g, idx in enumerate(groups):
                which[idx] = g
            coords["expected_size"] = ((CATEGORY, C.NEUROID), expected[:, which])
            coords["size_p"] = ((CATEGORY, C.NEUROID), size_p[:, which])
    attrs = {"rule": rule, "n_shuffles": int(n_shuffles), "by_layer": int(len(groups) > 1 or bool(by_layer))}
    if rule == "paper":
        attrs.update(tau=float(tau), reference=_PAPER_REF)
    elif rule == "test":
        attrs.update(alpha=float(alpha), min_effect=float(min_effect), test=test,
                     reference="one-sided Welch t / Mann-Whitney U, Benjamini-Hochberg (1995) FDR, effect floor")
    else:
        attrs.update(threshold=float(threshold), min_fraction=float(min_fraction))
    if da is None:  # numpy in: the membership array, or a Result when there is more than the membership
        if not return_stats and not n_shuffles:
            return member
        data = {"members": member, **(extra if return_stats else {})}
        dims = {k: (CATEGORY, C.NEUROID) for k in data}
        for k in ("expected_size", "size_p"):
            if k in coords:
                d, v = coords[k]
                data[k], dims[k] = np.asarray(v), (d,) if isinstance(d, str) else tuple(d)
        return Result(data, attrs, dims)
    out = xr.DataArray(member, dims=(CATEGORY, C.NEUROID), coords=coords, name="members", attrs=attrs)
    if not return_stats:
        return out
    ds = out.to_dataset()
    for k, v in extra.items():
        ds[k] = ((CATEGORY, C.NEUROID), v)
    return ds


def _as_membership(m: Any, name: str = "membership") -> xr.DataArray:
    if isinstance(m, (xr.Dataset, Result)):
        if "members" not in m:
            raise ParameterError(f"The {name!r} parameter is a Dataset without a 'members' variable.")
        m = m["members"]
    if is_dataarray(m):
        if m.ndim != 2 or C.NEUROID not in m.dims:
            raise ParameterError(f"The {name!r} parameter must be 2-D with a 'neuroid' dim. Got {describe(m)} instead.")
        first = next(d for d in m.dims if d != C.NEUROID)
        return m.transpose(first, C.NEUROID).astype(bool)
    arr = np.asarray(m)
    if arr.ndim != 2:
        raise ParameterError(f"The {name!r} parameter must be 2-D (category, neuroid). Got {describe(arr)} instead.")
    if arr.dtype != bool:
        if not np.isin(arr, (0, 1)).all():
            raise ParameterError(f"The {name!r} parameter must be boolean (or 0/1). Got {describe(arr)} instead.")
        arr = arr.astype(bool)
    return xr.DataArray(arr, dims=(CATEGORY, C.NEUROID), coords={CATEGORY: np.arange(arr.shape[0])})


def ensemble_sizes(membership: Any, *, by_layer: bool | None = None) -> xr.Dataset | Result:
    """Size of each ensemble and its fraction of the layer (or of all neuroids).

    Returns an ``xr.Dataset`` with ``size`` and ``fraction`` (size / number of neuroids in the layer), dims
    (category,) or, per layer (default when the membership has a ``layer`` coord along ``neuroid``),
    (category, layer).  When ``membership`` carries the shuffled-label null of :func:`category_ensembles`
    (``n_shuffles > 0``) computed per layer, ``expected_size`` and ``size_p`` are added with the same dims
    (per layer when they vary along ``neuroid``).  A plain-array membership gives a
    :class:`~ensembles.analysis.Result` with the same variables.
    """
    m = _as_membership(membership)
    has_layer = "layer" in m.coords and m.coords["layer"].dims == (C.NEUROID,)
    if by_layer is None:
        by_layer = has_layer
    if by_layer and not has_layer:
        raise ParameterError("by_layer=True needs a 'layer' coord along 'neuroid'; none was found.")
    keep = {k: v for k, v in m.coords.items() if v.dims == (m.dims[0],)}
    if not by_layer:
        size = m.sum(C.NEUROID)
        frac = size / m.sizes[C.NEUROID]
    else:
        g = m.astype(int).groupby("layer")
        size = g.sum(C.NEUROID)
        frac = size / g.count(C.NEUROID)
    ds = xr.Dataset({"size": size.astype(int), "fraction": frac}).assign_coords(keep)
    for name in ("expected_size", "size_p"):
        if name in m.coords and m.coords[name].dims == m.dims:  # per-layer null, one value per neuroid's layer
            ds = ds.drop_vars(name, errors="ignore")
            if by_layer:
                ds[name] = m.coords[name].reset_coords(drop=True).assign_coords(
                    layer=m.coords["layer"]).groupby("layer").first()
    ds.attrs = dict(m.attrs)
    return unlabel(ds, is_labelled(membership))


def ensemble_core(memberships: Sequence[Any]) -> xr.DataArray | np.ndarray:
    """Units present in the ensemble of every recording (e.g. every seed): the logical AND of the memberships.

    All memberships must have the same categories and neuroids (same coords for DataArrays); otherwise a
    ValueError is raised.  Plain arrays give a plain boolean array.
    """
    ms = [_as_membership(m, name=f"memberships[{i}]") for i, m in enumerate(memberships)]
    if not ms:
        raise ParameterError("The 'memberships' parameter must hold at least one membership. Got an empty sequence.")
    shapes = {m.shape for m in ms}
    if len(shapes) > 1:
        raise ParameterError(f"The 'memberships' parameter must hold arrays of one shape. Got shapes {sorted(shapes)}.")
    try:
        aligned = xr.align(*ms, join="exact")
    except ValueError as err:
        raise ParameterError(f"The 'memberships' parameter must share category and neuroid coords: {err}") from err
    out = aligned[0].copy()
    for m in aligned[1:]:
        out = out & m
    out.attrs = {**ms[0].attrs, "n_recordings": len(ms)}
    return unlabel(out.rename("core"), any(is_labelled(m) for m in memberships))


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
    return unlabel(ds, is_labelled(membership))


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
    return unlabel(out, is_labelled(images))


def _square(a: Any, name: str) -> np.ndarray:
    if isinstance(a, xr.Dataset):
        a = a["overlap"]
    if is_dataarray(a) and "layer" in a.dims:
        raise ParameterError(f"The {name!r} parameter has a 'layer' dim; select one layer first.")
    arr = np.asarray(a, dtype=float)
    if arr.ndim != 2 or arr.shape[0] != arr.shape[1]:
        raise ParameterError(f"The {name!r} parameter must be a square (category x category) matrix. Got {describe(arr)} instead.")
    return arr


@renamed_keywords(n_permutations="n_shuffles")
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
    return make_result(is_labelled(overlap) or is_labelled(similarity),
                       {k: ((), v) for k, v in values.items()}, attrs=attrs)


# ----------------------------------------------------------------------------------------------------------------------
# unsupervised: labelled adapter and scoring
# ----------------------------------------------------------------------------------------------------------------------
@renamed_keywords(rec="x")
def detect_ensembles(x: Any, detector: EnsembleDetector | None = None) -> xr.Dataset | Result:
    """Fit an :class:`EnsembleDetector` on a recording and return labelled results.

    Parameters
    ----------
    x : array-like of shape (n_presentations, n_neuroids), DataArray (presentation, neuroid) or recording
    detector : EnsembleDetector or None
        Unfitted (it is fitted here, in place) ; None uses ``EnsembleDetector(random_state=0)``.

    Returns
    -------
    xr.Dataset (labelled input) or Result (numpy input)
        ``patterns`` (ensemble, neuroid), ``members`` (ensemble, neuroid), ``strength`` (presentation, ensemble),
        ``eigenvalues`` (component) when defined; every presentation and neuroid coord of the input;
        ``participation_ratio`` and ``is_global`` along ``ensemble`` (coords of the Dataset, variables of the
        Result); ``attrs`` with the detector's parameters and ``threshold``.
    """
    X, da = _activity(x)
    det = EnsembleDetector(random_state=0) if detector is None else detector
    if not isinstance(det, EnsembleDetector):
        raise InputTypeError(f"The 'detector' parameter must be an EnsembleDetector or None. Got {describe(det)} instead.")
    strength = det.fit(X).transform(X)
    k = det.n_ensembles_
    coords: dict = {ENSEMBLE: np.arange(k)}
    if da is not None:
        coords.update({n: c.variable for n, c in da.coords.items() if c.dims in ((C.NEUROID,), (C.PRESENTATION,))})
    ds = xr.Dataset(
        {
            "patterns": ((ENSEMBLE, C.NEUROID), det.patterns_),
            "members": ((ENSEMBLE, C.NEUROID), det.members_),
            "strength": ((C.PRESENTATION, ENSEMBLE), strength),
            "eigenvalues": ((C.COMPONENT,), np.asarray(det.eigenvalues_, dtype=float)),
        },
        coords=coords,
    )
    ds = ds.assign_coords(participation_ratio=(ENSEMBLE, det.participation_ratio_), is_global=(ENSEMBLE, det.global_))
    attrs = {k2: ("None" if v is None else v) for k2, v in det.get_params().items() if not hasattr(v, "randint")}
    attrs.update(threshold=float(det.threshold_), significance_used=det.significance_, n_ensembles_found=int(k))
    ds.attrs = {k2: (int(v) if isinstance(v, bool) else v) for k2, v in attrs.items()}
    if da is None:
        return unlabel(ds.reset_coords(["participation_ratio", "is_global"]), False)
    return ds


def match_ensembles(found: Any, reference: Any, *, one_to_one: bool = False) -> xr.Dataset | Result:
    """Score detected ensembles against reference ensembles (Mölter et al. 2018 best match).

    For each reference ensemble R, the found ensemble F with the largest Jaccard index ``|F & R| / |F | R|``;
    ``precision = |F & R| / |F|`` and ``recall = |F & R| / |R|``.  With ``one_to_one=True`` each found ensemble
    matches at most one reference (Hungarian assignment on the Jaccard matrix, scipy ``linear_sum_assignment``).
    Also used to compare unsupervised assemblies with category ensembles.

    Parameters
    ----------
    found, reference : bool arrays (n_ensembles, n_neuroids), DataArrays, or Datasets with ``members``

    Returns
    -------
    xr.Dataset
        Along ``reference``: ``match`` (index of the found ensemble, -1 if none), ``jaccard``, ``precision``,
        ``recall``; along ``found``: ``best_jaccard`` (each found ensemble's best match, low for false positives);
        ``jaccard_matrix`` (reference, found); ``attrs["mean_jaccard"]`` (mean over reference ensembles, the
        benchmark summary), ``n_found``, ``n_reference``.
    """
    F = np.asarray(_as_membership(found, "found").values, dtype=bool)
    R = np.asarray(_as_membership(reference, "reference").values, dtype=bool)
    if F.shape[1] != R.shape[1]:
        raise ParameterError(
            f"'found' and 'reference' must have the same number of neuroids. Got {F.shape[1]} and {R.shape[1]}."
        )
    inter = R.astype(np.int64) @ F.T.astype(np.int64)
    union = R.sum(1)[:, None] + F.sum(1)[None, :] - inter
    with np.errstate(invalid="ignore", divide="ignore"):
        J = np.where(union > 0, inter / union, 0.0)
    nr, nf = R.shape[0], F.shape[0]
    match = np.full(nr, -1)
    if nf:
        if one_to_one:
            from scipy.optimize import linear_sum_assignment

            ri, fi = linear_sum_assignment(-J)
            match[ri] = fi
        else:
            match = np.argmax(J, axis=1)
    ok = match >= 0
    jac = np.where(ok, J[np.arange(nr), np.maximum(match, 0)] if nf else 0.0, 0.0)
    it = np.where(ok, inter[np.arange(nr), np.maximum(match, 0)] if nf else 0, 0)
    fs = np.where(ok, F.sum(1)[np.maximum(match, 0)] if nf else 0, 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        prec = np.where(fs > 0, it / np.maximum(fs, 1), 0.0)
        rec = np.where(R.sum(1) > 0, it / np.maximum(R.sum(1), 1), 0.0)
    ds = xr.Dataset(
        {
            "match": (C.REFERENCE, match),
            "jaccard": ("reference", jac),
            "precision": ("reference", prec),
            "recall": ("reference", rec),
            "best_jaccard": ("found", J.max(axis=0) if nr else np.zeros(nf)),
            "jaccard_matrix": (("reference", "found"), J),
        },
        coords={"reference": np.arange(nr), "found": np.arange(nf)},
    )
    ds.attrs = {"mean_jaccard": float(jac.mean()) if nr else float("nan"), "n_found": nf, "n_reference": nr,
                "one_to_one": int(one_to_one), "reference": "Mölter et al. (2018) best match"}
    return unlabel(ds, is_labelled(found) or is_labelled(reference))
