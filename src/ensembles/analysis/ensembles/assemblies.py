"""Unsupervised assemblies: :func:`detect_ensembles` fits an :class:`~ensembles.analysis.EnsembleDetector` and labels
its results; :func:`match_ensembles` scores found against reference ensembles (best-match Jaccard).

References
----------
Lopes-dos-Santos, V., Ribeiro, S. & Tort, A. B. L. (2013). J Neurosci Methods 220:149-166.
Mölter, J., Avitan, L. & Goodhill, G. J. (2018). BMC Biol 16:143 (best-match scoring).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import xarray as xr

from ... import conventions as C
from ..._validation import describe
from ...errors import InputTypeError, ParameterError
from .._contract import Result, keeps_labels
from .._detectors import EnsembleDetector
from ._common import ENSEMBLE, _activity, _as_membership

__all__ = ["detect_ensembles", "match_ensembles"]


# ----------------------------------------------------------------------------------------------------------------------
# unsupervised: labelled adapter and scoring
# ----------------------------------------------------------------------------------------------------------------------
@keeps_labels("x")
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
    return ds if da is not None else ds.reset_coords(["participation_ratio", "is_global"])


@keeps_labels("found", "reference")
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
    return ds
