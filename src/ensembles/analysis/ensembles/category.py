"""Category (supervised) ensembles: the authors' leave-one-out rule, a statistical rule with FDR and a fraction rule,
with an optional shuffled-label null; ensemble sizes and the core shared across recordings.

References
----------
Tosato, N., Basile, L., Ballarin, E., de Alteriis, G., Cazzaniga, A. & Ansuini, A. (2023). Emergent representations
in networks trained with the Forward-Forward algorithm. arXiv:2305.18353 (the leave-one-out ensemble rule).
Benjamini, Y. & Hochberg, Y. (1995). J R Stat Soc B 57:289-300.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import xarray as xr
from scipy import stats

from ... import conventions as C
from ..._validation import check_choice
from ...errors import ParameterError
from .._contract import Result, keeps_labels
from .._input import check_count, class_names, resolve_labels
from .._stats import fdr_bh
from ._common import (
    CATEGORY,
    _activity,
    _as_membership,
    _class_means,
    _class_sums,
    _layer_groups,
    _neuroid_coords,
    _Streamed,
)

__all__ = ["category_ensembles", "ensemble_sizes", "ensemble_core"]

_PAPER_REF = "Tosato et al. (2023) arXiv:2305.18353, leave-one-out rule (docs/methods.md §A3.4)"


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
        if isinstance(X, _Streamed):  # 0/1 sums: exact, the same fractions as in memory
            counts = np.bincount(lab_idx, minlength=n_classes).astype(float)
            frac = _class_sums(X, lab_idx, n_classes, _active(prm["threshold"], X.shape[0])) / counts[:, None]
        else:
            frac, _ = _class_means((X > prm["threshold"]).astype(float), lab_idx, n_classes)
        return frac >= prm["min_fraction"], {"score": frac}
    if isinstance(X, _Streamed):
        X = X.load()
    return _welch_rule(X, lab_idx, n_classes, groups, prm["alpha"], prm["min_effect"], prm["test"])


_NULL_BATCH_BYTES = 128 * 2**20  # one-hot matrix of a batch of label permutations
_NULL_STREAM_BYTES = 64 * 2**20  # float64 class means of a batch of permutations, streamed input


def _active(threshold: float, n_presentations: int):
    """The 0/1 indicator ``x > threshold`` of a block (float32: exact sums below 2**24 presentations)."""
    dtype = np.float32 if n_presentations < 2**24 else np.float64
    return lambda b: (b > threshold).astype(dtype)


def _null_sizes(X, lab_idx, n_classes, groups, rule, prm, rng, n_shuffles) -> np.ndarray:
    """Ensemble sizes (n_shuffles, n_classes, n_groups) of the rule under label permutations ``rng.permutation``.

    ``"paper"`` and ``"fraction"`` depend on the data only through class means: a batch of permutations is one
    matrix product of the stacked one-hot label matrices (batch x classes, presentations) with the activity (or
    the active indicator), and the rule is applied to all rows at once.  ``"test"`` re-applies the rule per shuffle.
    """
    perms = [rng.permutation(lab_idx) for _ in range(n_shuffles)]
    null = np.empty((n_shuffles, n_classes, len(groups)))
    if rule == "test" and isinstance(X, _Streamed):
        X = X.load()
    if rule == "test":
        for s, perm in enumerate(perms):
            null[s] = _group_sizes(_membership(X, perm, n_classes, groups, rule, prm)[0], groups)
        return null
    if isinstance(X, _Streamed):
        return _null_sizes_streamed(X, perms, n_classes, groups, rule, prm, null)
    B = X.shape[0]
    if rule == "paper":
        src = X
    else:  # 0/1 sums are exact in float32 below 2**24 presentations
        src = (X > prm["threshold"]).astype(np.float32 if B < 2**24 else np.float64)
    dtype = np.result_type(src.dtype, np.float32)
    counts = np.bincount(lab_idx, minlength=n_classes).astype(float)  # a permutation keeps the class counts
    batch = int(max(1, min(n_shuffles, _NULL_BATCH_BYTES // (n_classes * B * dtype.itemsize))))
    cols = np.arange(B)
    for s0 in range(0, n_shuffles, batch):
        P = np.stack(perms[s0 : s0 + batch])
        nb = P.shape[0]
        onehot = np.zeros((nb * n_classes, B), dtype=dtype)
        onehot[(np.arange(nb)[:, None] * n_classes + P).ravel(), np.tile(cols, nb)] = 1.0
        with np.errstate(invalid="ignore", divide="ignore"):
            mu = (onehot @ src) / np.tile(counts, nb)[:, None]
        if rule == "paper":
            member = _paper_rule(mu, groups, prm["tau"])[0]
        else:
            member = mu >= prm["min_fraction"]
        null[s0 : s0 + nb] = _group_sizes(member, groups).reshape(nb, n_classes, len(groups))
    return null


def _null_sizes_streamed(X: _Streamed, perms, n_classes, groups, rule, prm, null) -> np.ndarray:
    """:func:`_null_sizes` of a streamed matrix: one pass over the data per batch of permutations whose float64 class
    sums fit ``_NULL_STREAM_BYTES`` (the same permutations, in the same order)."""
    B, N = X.shape
    counts = np.bincount(perms[0], minlength=n_classes).astype(float)
    transform = None if rule == "paper" else _active(prm["threshold"], B)
    batch = int(max(1, min(len(perms), _NULL_STREAM_BYTES // (8 * n_classes * max(N, 1)))))
    for s0 in range(0, len(perms), batch):
        P = np.stack(perms[s0 : s0 + batch])
        nb = P.shape[0]
        with np.errstate(invalid="ignore", divide="ignore"):
            mu = _class_sums(X, P, n_classes, transform) / np.tile(counts, nb)[:, None]
        member = _paper_rule(mu, groups, prm["tau"])[0] if rule == "paper" else mu >= prm["min_fraction"]
        null[s0 : s0 + nb] = _group_sizes(member, groups).reshape(nb, n_classes, len(groups))
    return null


def _group_sizes(member: np.ndarray, groups) -> np.ndarray:
    """(n_classes, n_groups) ensemble sizes within each neuroid group."""
    return np.stack([member[:, g].sum(axis=1) for g in groups], axis=1)


@keeps_labels("x")
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
    X, da = _activity(x, stream=True)
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
        null = _null_sizes(X, lab_idx, n_classes, groups, rule, prm, np.random.default_rng(random_state),
                           int(n_shuffles))
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


@keeps_labels("membership")
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
    return ds


@keeps_labels("memberships")
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
    return out.rename("core")
