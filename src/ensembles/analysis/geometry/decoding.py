"""Cross-validated linear decoding of class labels from a layer, a region or an ensemble (scikit-learn)."""

from __future__ import annotations

from typing import Any

import numpy as np
import xarray as xr

from ensembles import conventions as C
from ensembles._validation import param_error
from ensembles.analysis._contract import Result, keeps_labels
from ensembles.analysis._input import resolve_labels
from ensembles.errors import InputTypeError, ParameterError

from ._common import _matrix

__all__ = ["decode"]

_DECODE_DIMS = {"fold_accuracies": (C.FOLD,)}  # module level: decode's parameter ``C`` shadows the conventions


# --------------------------------------------------------------------------------------------------------------
# decoding
# --------------------------------------------------------------------------------------------------------------
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


@keeps_labels("x")
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
) -> Result | xr.Dataset:
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
    :class:`~ensembles.analysis.Result` (plain arrays) or xr.Dataset with the same fields (labelled input)
        ``accuracy`` and ``accuracy_sd`` (mean and SD over folds), ``fold_accuracies`` (dim ``fold``), ``chance``,
        ``n_classes``, ``n_neuroids``, ``n_presentations``, ``cv``.  ``chance`` is the frequency of the most common class (accuracy of always guessing it).
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
    return Result(
        {"accuracy": float(scores.mean()), "accuracy_sd": float(scores.std(ddof=1)) if scores.size > 1 else 0.0,
         "fold_accuracies": scores, "chance": float(counts.max() / counts.sum()), "n_classes": int(classes.size),
         "n_neuroids": int(arr.shape[1]), "n_presentations": int(arr.shape[0]), "cv": int(cv)},
        attrs={"statistic": "decode"},
        dims=_DECODE_DIMS,
    )
