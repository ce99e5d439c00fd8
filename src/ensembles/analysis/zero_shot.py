"""Does a category that was held out of training get an ensemble of its own? (Tosato et al. 2023, zero-shot)

Given ensemble membership computed on presentations of the seen categories plus the held-out one, the held-out
category's ensemble *forms* when it is non-empty, its size lies within ``[lo x smallest, hi x largest]`` of the
seen categories' ensembles of the same layer, and its largest Jaccard index with any seen ensemble is below
``max_jaccard`` (it is not a relabelled copy of a seen ensemble). The thresholds are those of the reproduction's
pre-registered rule (docs/reproduction.md, claim C6).

That rule cannot tell a formed ensemble from a copy or from noise for the right reason: a trained class with a
visually similar neighbour can overlap it by more than ``max_jaccard``. The controlled test
(docs/reproduction-v2.md, section 4) asks what a reader would accept as "an ensemble forms":
:func:`zero_shot_test` (the ensemble's members tell the class from its nearest seen class under cross-validation,
and are selective for it by d') and :func:`compare_to_reference` (the same class's ensemble in a model trained on
it).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ensembles.analysis._contract import Result, named_result
from ensembles.analysis._input import matrix, resolve_labels
from ensembles.errors import ParameterError

__all__ = ["held_out_ensemble", "zero_shot_test", "compare_to_reference"]


# the fields of the Result of :func:`held_out_ensemble`:
#   size: units in the held-out category's ensemble
#   fraction: size / units of the layer
#   seen_min: smallest and largest seen-category ensemble of the same layer
#   seen_max
#   max_jaccard: largest Jaccard index with a seen ensemble (NaN if the held-out one is empty)
#   forms
_HELD_OUT_ENSEMBLE_FIELDS = ('size', 'fraction', 'seen_min', 'seen_max', 'max_jaccard', 'forms')


def held_out_ensemble(membership: Any, held_out: Any, *, size_range: tuple[float, float] = (0.5, 2.0),
                      max_jaccard: float = 0.5) -> Result:
    """Check the held-out category's ensemble against the seen ones (see the module docstring).

    ``membership``: boolean (category, neuroid) for ONE layer (e.g. ``category_ensembles(...)`` restricted to a
    layer), as a DataArray with a ``category`` coord or an array whose rows are ``categories`` 0..K-1;
    ``held_out``: the held-out category's label.
    """
    m = np.asarray(getattr(membership, "values", membership))
    if m.ndim != 2 or m.dtype != bool:
        raise ParameterError(f"The 'membership' parameter must be a boolean (category, neuroid) matrix. "
                             f"Got shape {m.shape}, dtype {m.dtype}.")
    cats = (np.asarray(membership["category"].values) if hasattr(membership, "coords")
            and "category" in membership.coords else np.arange(m.shape[0]))
    hits = np.flatnonzero(cats == held_out)
    if hits.size != 1:
        raise ParameterError(f"The 'held_out' parameter must be one of the categories {cats.tolist()}. "
                             f"Got {held_out!r}.")
    lo, hi = size_range
    if not 0 <= lo <= hi:
        raise ParameterError(f"The 'size_range' parameter must be (lo, hi) with 0 <= lo <= hi. Got {size_range!r}.")
    k = int(hits[0])
    target = m[k]
    seen = np.delete(m, k, axis=0)
    if seen.shape[0] == 0:
        raise ParameterError("The 'membership' parameter must contain at least one seen category.")
    sizes = seen.sum(axis=1)
    size = int(target.sum())
    if size:
        inter = (seen & target).sum(axis=1)
        union = (seen | target).sum(axis=1)
        jac = float(np.max(np.where(union > 0, inter / np.maximum(union, 1), 0.0)))
    else:
        jac = float("nan")
    forms = bool(size > 0 and lo * sizes.min() <= size <= hi * sizes.max() and jac < max_jaccard)
    return named_result(_HELD_OUT_ENSEMBLE_FIELDS, size, size / m.shape[1], int(sizes.min()), int(sizes.max()), jac, forms)


def _membership(membership: Any, name: str) -> tuple[np.ndarray, np.ndarray]:
    m = np.asarray(getattr(membership, "values", membership))
    if m.ndim != 2 or m.dtype != bool:
        raise ParameterError(f"The {name!r} parameter must be a boolean (category, neuroid) matrix. "
                             f"Got shape {m.shape}, dtype {m.dtype}.")
    cats = (np.asarray(membership["category"].values) if hasattr(membership, "coords")
            and "category" in membership.coords else np.arange(m.shape[0]))
    return m, cats


def _row_of(cats: np.ndarray, category: Any, name: str) -> int:
    hits = np.flatnonzero(cats == category)
    if hits.size != 1:
        raise ParameterError(f"The 'category' parameter must be one of the categories of {name!r} "
                             f"{cats.tolist()}. Got {category!r}.")
    return int(hits[0])


# the fields of the Result of :func:`compare_to_reference`:
#   size: units in the class's ensemble in the held-out model
#   reference_size: ... and in the reference model (trained on the class)
#   size_ratio: size / reference_size (NaN if the reference ensemble is empty)
#   jaccard: Jaccard index between the two ensembles (NaN if both are empty)
#   chance_jaccard: expected for independent random sets of these sizes: k / (a + b - k), k = a b / n
_REFERENCE_COMPARISON_FIELDS = ('size', 'reference_size', 'size_ratio', 'jaccard', 'chance_jaccard')


def compare_to_reference(membership: Any, reference: Any, category: Any) -> Result:
    """The held-out class's ensemble against the same class's ensemble in a reference model.

    ``membership`` (held-out model) and ``reference`` (a model trained on every class, ideally on the same
    training images and from the same initial weights, so that unit ``j`` of one is comparable with unit ``j`` of
    the other): boolean (category, neuroid) matrices of ONE layer with the same neuroids; ``category``: the class.
    The chance Jaccard index uses the expected intersection ``a b / n`` of independent random sets of sizes ``a``
    and ``b`` among ``n`` units (a ratio of expectations).
    """
    m, cats = _membership(membership, "membership")
    r, rcats = _membership(reference, "reference")
    if m.shape[1] != r.shape[1]:
        raise ParameterError(f"The 'reference' parameter must have the neuroids of 'membership' ({m.shape[1]}). "
                             f"Got {r.shape[1]}.")
    a_row, b_row = m[_row_of(cats, category, "membership")], r[_row_of(rcats, category, "reference")]
    a, b, n = int(a_row.sum()), int(b_row.sum()), m.shape[1]
    union = int((a_row | b_row).sum())
    jac = float((a_row & b_row).sum() / union) if union else float("nan")
    k = a * b / n
    chance = float(k / (a + b - k)) if (a + b - k) > 0 else float("nan")
    return named_result(_REFERENCE_COMPARISON_FIELDS, a, b, float(a / b) if b else float("nan"), jac, chance)


# the fields of the Result of :func:`zero_shot_test`:
#   category: the class tested
#   size: units in its ensemble
#   fraction: size / units of the layer
#   nearest: the other class whose class-mean activity correlates most with this class's
#   accuracy: cross-validated accuracy of decoding category vs nearest from the members (chance 0.5)
#   median_dprime: median over members of d' (category vs all other presentations)
#   passes
_ZERO_SHOT_TEST_FIELDS = ('category', 'size', 'fraction', 'nearest', 'accuracy', 'median_dprime', 'passes')


def zero_shot_test(x: Any, labels: Any = "label", category: Any = None, *, tau: float = 1.0,
                   min_accuracy: float = 0.75, min_dprime: float = 0.5, cv: int = 5,
                   random_state: int | None = 0) -> Result:
    """Does ``category`` have an ensemble of its own in this layer? (docs/reproduction-v2.md, section 4)

    The class's ensemble (the authors' leave-one-out rule at ``tau``) passes when (a) it is non-empty, (b) a
    linear decoder (:func:`ensembles.analysis.decode`, ``cv``-fold stratified cross-validation) tells the class
    from its *nearest* other class (highest Pearson correlation of the class-mean activity vectors) from the
    members' activity alone with accuracy >= ``min_accuracy`` (the two classes subsampled to equal numbers,
    chance 0.5), and (c) the members' median d' (Green & Swets 1966; the class against all other presentations,
    sample variances) is >= ``min_dprime``. The same test applies to a class the model was trained on (a positive
    control) and to shuffled labels (a negative control).

    Parameters
    ----------
    x : array-like (presentation, neuroid), DataArray or recording
        Non-negative activity of ONE layer (e.g. the presentations C6 uses: correct seen-class presentations plus
        every presentation of the held-out class).
    labels : array-like or str
        Class per presentation, or a presentation coord of labelled ``x``.
    category : the class to test.

    Returns
    -------
    :class:`~ensembles.analysis.Result` of plain values
        ``category``, ``size``, ``fraction``, ``nearest``, ``accuracy``, ``median_dprime`` and ``passes`` (comments
        at ``_ZERO_SHOT_TEST_FIELDS``).  ``accuracy`` is NaN (and the test fails) when the class or its nearest class has fewer than ``cv``
        presentations; ``median_dprime`` is NaN for an empty ensemble.
    """
    mx = matrix(x, name="x", float64=True)
    a = mx.values
    y = resolve_labels(mx.da if mx.da is not None else a, labels, a.shape[0], min_classes=2)
    classes = np.unique(y)
    if category is None or not np.any(classes == category):
        raise ParameterError(f"The 'category' parameter must be one of the classes {classes.tolist()}. "
                             f"Got {category!r}.")
    for name, v in (("min_accuracy", min_accuracy), ("min_dprime", min_dprime), ("tau", tau)):
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not np.isfinite(v):
            raise ParameterError(f"The {name!r} parameter must be a finite number. Got {v!r} instead.")
    from ensembles.analysis.ensembles import category_ensembles
    from ensembles.analysis.geometry import decode

    found = category_ensembles(a, y, rule="paper", tau=float(tau), by_layer=False)
    member = np.asarray(getattr(found, "values", found), dtype=bool)
    k = int(np.flatnonzero(classes == category)[0])
    cols = np.flatnonzero(member[k])
    size = int(cols.size)
    means = np.stack([a[y == c].mean(axis=0) for c in classes])
    with np.errstate(invalid="ignore", divide="ignore"):
        corr = np.array([np.corrcoef(means[k], means[j])[0, 1] if j != k else -np.inf
                         for j in range(classes.size)])
    corr = np.where(np.isfinite(corr), corr, -np.inf)
    corr[k] = -np.inf
    nearest = classes[int(np.argmax(corr))]
    nearest = nearest.item() if isinstance(nearest, np.generic) else nearest
    if size == 0:
        return named_result(_ZERO_SHOT_TEST_FIELDS, category, 0, 0.0, nearest, float("nan"), float("nan"), False)
    rng = np.random.default_rng(random_state)
    rows_k, rows_n = np.flatnonzero(y == category), np.flatnonzero(y == nearest)
    n = min(rows_k.size, rows_n.size)
    if n >= cv:
        pick = np.concatenate([rng.choice(rows_k, n, replace=False), rng.choice(rows_n, n, replace=False)])
        acc = float(decode(a[pick][:, cols], (y[pick] == category).astype(int), cv=cv,
                           random_state=random_state).accuracy)
    else:  # too few presentations to cross-validate: the test cannot pass
        acc = float("nan")
    ink = y == category
    xk, xr_ = a[ink][:, cols], a[~ink][:, cols]
    with np.errstate(invalid="ignore", divide="ignore"):
        d = (xk.mean(0) - xr_.mean(0)) / np.sqrt((xk.var(0, ddof=1) + xr_.var(0, ddof=1)) / 2)
    med = float(np.median(d[~np.isnan(d)])) if (~np.isnan(d)).any() else float("nan")
    passes = bool(acc >= min_accuracy and med >= min_dprime)  # NaN compares False
    return named_result(_ZERO_SHOT_TEST_FIELDS, category, size, size / a.shape[1], nearest, acc, med, passes)
