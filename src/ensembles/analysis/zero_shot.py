"""Does a category that was held out of training get an ensemble of its own? (Tosato et al. 2023, zero-shot)

Given ensemble membership computed on presentations of the seen categories plus the held-out one, the held-out
category's ensemble *forms* when it is non-empty, its size lies within ``[lo x smallest, hi x largest]`` of the
seen categories' ensembles of the same layer, and its largest Jaccard index with any seen ensemble is below
``max_jaccard`` (it is not a relabelled copy of a seen ensemble). The thresholds are those of the reproduction's
pre-registered rule (docs/reproduction.md, claim C6).
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from ensembles.errors import ParameterError

__all__ = ["HeldOutEnsemble", "held_out_ensemble"]


class HeldOutEnsemble(NamedTuple):
    size: int               # units in the held-out category's ensemble
    fraction: float         # size / units of the layer
    seen_min: int           # smallest and largest seen-category ensemble of the same layer
    seen_max: int
    max_jaccard: float      # largest Jaccard index with a seen ensemble (NaN if the held-out one is empty)
    forms: bool


def held_out_ensemble(membership: Any, held_out: Any, *, size_range: tuple[float, float] = (0.5, 2.0),
                      max_jaccard: float = 0.5) -> HeldOutEnsemble:
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
    return HeldOutEnsemble(size, size / m.shape[1], int(sizes.min()), int(sizes.max()), jac, forms)
