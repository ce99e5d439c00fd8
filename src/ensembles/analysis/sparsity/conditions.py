"""Trial averaging: the mean response per stimulus condition, the input of lifetime measures (docs/methods.md §A1,
§D1); chunk by chunk on dask-backed input."""

from __future__ import annotations

from typing import Any

import numpy as np

from ensembles import conventions as C
from ensembles._validation import describe
from ensembles.analysis import _xr
from ensembles.analysis._contract import keeps_labels
from ensembles.analysis._input import check_finite, check_nan_policy
from ensembles.analysis._input import resolve_labels as _resolve_labels
from ensembles.errors import ParameterError

__all__ = ["condition_means"]


# --------------------------------------------------------------------------------------------------------------------
# trial averaging and matched-n comparisons
# --------------------------------------------------------------------------------------------------------------------


def _codes(labels: np.ndarray):
    uniq, codes = np.unique(labels, return_inverse=True)
    return uniq, codes.reshape(-1)


def _group_sums_block(block: np.ndarray, codes: np.ndarray, n_groups: int) -> np.ndarray:
    """(3, n_groups, n_neuroids): sums of finite values, valid counts, NaN counts."""
    b = np.asarray(block, dtype=np.float64)
    nan = np.isnan(b)
    onehot = np.zeros((n_groups, b.shape[0]))
    onehot[codes, np.arange(b.shape[0])] = 1.0
    return np.stack([onehot @ np.where(nan, 0.0, b), onehot @ (~nan), onehot @ nan])


@keeps_labels("x")
def condition_means(
    x: Any,
    labels: Any = None,
    *,
    dim: str = C.PRESENTATION,
    new_dim: str = "stimulus",
    nan_policy: str = "propagate",
) -> Any:
    """Average presentations that share a label (trial averaging): the input of lifetime measures.

    Parameters
    ----------
    x : array-like of shape (n_presentations, n_neuroids) or 2-D xr.DataArray
    labels : array-like of length n_presentations, or the name of a coord along ``dim``
        Condition of each presentation.  Default for a DataArray: its ``"stimulus_id"`` coord.
    dim : str
        The presentation dim.
    new_dim : str
        Name of the result's dim (default ``"stimulus"``, docs/methods.md §D1); its coord holds the sorted unique labels
        and an ``n_presentations`` coord counts the presentations averaged.
    nan_policy : {"propagate", "omit", "raise"}
        ``"propagate"``: a condition with a NaN response is NaN for that neuroid; ``"omit"``: NaN entries are skipped.

    Returns
    -------
    numpy.ndarray of shape (n_conditions, n_neuroids) or xr.DataArray with dims (``new_dim``, other dim).
    Works chunk by chunk on dask-backed input (one pass).
    """
    check_nan_policy(nan_policy)
    lay = _xr.to_last(x, dim)
    x = _xr.unwrap(x)
    if lay.data.ndim != 2:
        raise ParameterError(f"The 'x' parameter must be 2-D for condition_means. Got {describe(x)} instead.")
    y = _resolve_labels(x, labels, lay.n, dim=dim, default="stimulus_id")
    uniq, codes = _codes(y)
    data, _ = check_finite(lay.data.T, nan_policy=nan_policy)  # (n_presentations, other)
    res = _xr.reduce_rows(lambda b, rows: _group_sums_block(b, codes[rows], len(uniq)), data)
    sums, counts, nans = res
    with np.errstate(invalid="ignore", divide="ignore"):
        means = sums / counts
    if nan_policy == "propagate":
        means = np.where(nans > 0, np.nan, means)
    n_pres = np.bincount(codes, minlength=len(uniq))
    if lay.template is None:
        return means
    out = _xr.wrap_reduced(
        means.T, lay, name=getattr(x, "name", None), attrs=dict(x.attrs), new_dims=(new_dim,),
        new_coords={new_dim: uniq, "n_presentations": (new_dim, n_pres)},
    )
    return out.transpose(new_dim, ...)
