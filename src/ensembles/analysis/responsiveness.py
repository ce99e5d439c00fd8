"""Silent and responsive neuroids: which units of a population carry the statistics computed over it.

A population statistic over all neuroids cannot tell a sparse code from a layer whose units never respond: a neuroid
that is silent on every presentation raises population sparseness as much as a selective one.  These functions say
how many neuroids are silent and which are responsive, so that a statistic can be reported over all neuroids and over
the responsive ones, side by side (``summarize`` does; docs/methods.md).

:func:`silent_units`
    silent neuroids (no response above ``threshold`` on any presentation) and all-zero presentations (no neuroid
    above ``threshold``), with their counts and fractions.
:func:`responsive_neuroids`
    a documented, parameterised responsiveness criterion:

    ``criterion="active"`` (model recordings, which have no spontaneous activity): a neuroid is responsive when it
    is active (response > ``threshold``) on at least ``min_fraction`` of the presentations of its preferred
    condition (the condition with the largest mean response).  ``min_fraction=0`` keeps every neuroid that is
    active at least once, i.e. every neuroid that is not silent.  The default ``min_fraction=0.25`` transfers the
    Allen Brain Observatory's 25 % rule (below) to "active" in place of "significant".

    ``criterion="allen"`` (neural data with spontaneous or blank-stimulus responses): the criterion of the Allen
    Brain Observatory (de Vries et al. 2020, as in the AllenSDK's ``sweep_p_values``): every trial's response gets a
    p-value against the neuroid's spontaneous responses, p = the fraction of ``baseline`` responses at least as
    large as the trial's; a trial is significant when p < ``alpha`` (0.05); the neuroid is responsive when at least
    ``min_fraction`` (25 %) of the trials of its preferred condition are significant.  The AllenSDK draws its null
    from windows of the spontaneous-activity trace; here the null is the neuroid's responses on the presentations
    given as ``baseline`` (a boolean presentation coord such as ``blank``, or an array of responses).

References
----------
de Vries, S. E. J., Lecoq, J. A., Buice, M. A. et al. (2020). A large-scale standardized physiological survey reveals
functional organization of the mouse visual cortex. Nat Neurosci 23:138-151 (responsiveness: at least 25 % of the
preferred condition's trials significant, p < 0.05 against spontaneous activity).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import xarray as xr

from ensembles import conventions as C
from ensembles._validation import check_choice, describe
from ensembles.analysis._contract import keeps_labels
from ensembles.analysis._input import matrix, resolve_labels, unwrap
from ensembles.errors import ParameterError

__all__ = ["RESPONSIVE_CRITERIA", "silent_units", "responsive_neuroids", "describe_criterion"]

RESPONSIVE_CRITERIA = ("active", "allen")
_ALLEN_REF = ("de Vries et al. (2020) Nat Neurosci 23:138: responsive if >= 25% of the preferred condition's trials "
              "are significant (p < 0.05 against spontaneous activity)")  # fmt: skip


def _number(name: str, value: Any, lo: float | None = None, hi: float | None = None) -> float:
    ok = isinstance(value, int | float | np.integer | np.floating) and not isinstance(value, bool)
    ok = ok and np.isfinite(value) and (lo is None or value >= lo) and (hi is None or value <= hi)
    if not ok:
        rng = f" in [{lo}, {hi}]" if lo is not None and hi is not None else (f" >= {lo}" if lo is not None else "")
        raise ParameterError(f"The {name!r} parameter must be a finite number{rng}. Got {describe(value)} instead.")
    return float(value)


def _neuroid_coords(da: xr.DataArray | None) -> dict:
    return {} if da is None else {k: v.variable for k, v in da.coords.items() if v.dims == (C.NEUROID,)}


@keeps_labels("x")
def silent_units(x: Any, *, threshold: float = 0.0) -> Any:
    """Silent neuroids and all-zero presentations of a population.

    Parameters
    ----------
    x : array-like of shape (n_presentations, n_neuroids), DataArray or recording
        The presentations to judge (select them first, e.g. with :func:`ensembles.record.select_presentations`).
    threshold : float
        A response counts as activity when it is > ``threshold`` (default 0: any positive response).

    Returns
    -------
    ``silent`` (neuroid: True when the neuroid is never above ``threshold``) and ``all_zero`` (presentation: True
    when no neuroid is above ``threshold``): a :class:`~ensembles.analysis.Result` for numpy input, an ``xr.Dataset``
    (the coords of ``x`` kept) for labelled input.  ``attrs``: ``n_neuroids``, ``n_silent``, ``frac_silent``,
    ``n_presentations``, ``n_all_zero``, ``frac_all_zero``, ``threshold``.
    """
    thr = _number("threshold", threshold)
    m = matrix(x)
    active = m.values > thr
    silent = ~active.any(axis=0)
    all_zero = ~active.any(axis=1)
    n, p = m.values.shape
    attrs = {"n_neuroids": int(p), "n_silent": int(silent.sum()), "frac_silent": float(silent.mean()),
             "n_presentations": int(n), "n_all_zero": int(all_zero.sum()), "frac_all_zero": float(all_zero.mean()),
             "threshold": thr}  # fmt: skip
    coords = {}
    if m.da is not None:
        coords = {k: v.variable for k, v in m.da.coords.items() if v.dims in ((C.NEUROID,), (C.PRESENTATION,))}
    return xr.Dataset({"silent": ((C.NEUROID,), silent), "all_zero": ((C.PRESENTATION,), all_zero)},
                       coords=coords, attrs=attrs)  # fmt: skip


def _conditions(x: Any, labels: Any, n: int) -> np.ndarray:
    """One condition per presentation: ``labels``, the ``label`` coord of labelled input, or one condition for all."""
    if labels is None:
        da = unwrap(x)
        if isinstance(da, xr.DataArray) and "label" in da.coords:
            return resolve_labels(da, "label", n)
        return np.zeros(n, dtype=np.int64)
    return resolve_labels(x, labels, n)


@keeps_labels("x")
def responsive_neuroids(
    x: Any,
    labels: Any = None,
    *,
    criterion: str = "active",
    threshold: float = 0.0,
    min_fraction: float = 0.25,
    baseline: Any = None,
    alpha: float = 0.05,
) -> Any:
    """Which neuroids respond: the criterion of the module docstring (``"active"`` or the Allen ``"allen"``).

    Parameters
    ----------
    x : array-like of shape (n_presentations, n_neuroids), DataArray or recording
    labels : array-like of one condition per presentation, or the name of a presentation coord
        The conditions among which the preferred one is chosen (classes, or stimuli for neural data).  None: the
        ``label`` coord of labelled input when there is one, otherwise one condition holding every presentation.
    criterion : {"active", "allen"}
    threshold : float
        ``"active"``: a response > ``threshold`` is active.
    min_fraction : float in [0, 1]
        Fraction of the preferred condition's presentations that must be active (``"active"``) or significant
        (``"allen"``); a neuroid with none is never responsive.
    baseline : str or array-like of shape (n_baseline, n_neuroids), required for ``"allen"``
        The spontaneous (or blank-stimulus) responses of the same neuroids: the name of a boolean presentation coord
        of ``x`` marking them (those presentations are then excluded from the conditions), or the responses.
    alpha : float
        ``"allen"``: significance level of a trial.

    Returns
    -------
    ``responsive`` (neuroid, bool), ``fraction`` (neuroid: the fraction of the preferred condition's presentations
    that are active / significant) and ``preferred`` (neuroid: the preferred condition): a
    :class:`~ensembles.analysis.Result` for numpy input, an ``xr.Dataset`` for labelled input.  ``attrs``:
    ``criterion`` (a one-line description), ``n_responsive``, ``n_neuroids``, ``frac_responsive`` and the
    parameters.
    """
    check_choice("criterion", criterion, RESPONSIVE_CRITERIA)
    thr = _number("threshold", threshold)
    mf = _number("min_fraction", min_fraction, 0.0, 1.0)
    a = _number("alpha", alpha, 0.0, 1.0)
    m = matrix(x, float64=True)
    X = m.values
    cond = _conditions(x, labels, X.shape[0])
    base = None
    if criterion == "allen":
        if baseline is None:
            raise ParameterError("The 'baseline' parameter must name a boolean presentation coord or give spontaneous "
                                 "responses of shape (n_baseline, n_neuroids) for criterion='allen'. Got None instead.")
        if isinstance(baseline, str):
            mask = np.asarray(resolve_labels(x, baseline, X.shape[0], name="baseline"))
            if mask.dtype != bool:
                raise ParameterError(f"The 'baseline' parameter must name a boolean presentation coord. Coord "
                                     f"{baseline!r} has dtype {mask.dtype}.")  # fmt: skip
            if not mask.any() or mask.all():
                raise ParameterError(f"The 'baseline' coord {baseline!r} must mark some presentations, not none or all. "
                                     f"Got {int(mask.sum())} of {mask.size}.")  # fmt: skip
            base, X, cond = X[mask], X[~mask], cond[~mask]
        else:
            base = matrix(baseline, name="baseline", float64=True).values
            if base.shape[1] != X.shape[1]:
                raise ParameterError(f"The 'baseline' parameter must have shape (n_baseline, {X.shape[1]}). "
                                     f"Got {describe(base)} instead.")  # fmt: skip
    classes, idx = np.unique(cond, return_inverse=True)
    counts = np.bincount(idx, minlength=classes.size).astype(float)
    onehot = np.zeros((X.shape[0], classes.size))
    onehot[np.arange(X.shape[0]), idx] = 1.0
    means = (onehot.T @ X) / counts[:, None]
    pref = np.argmax(means, axis=0)  # ties: the first condition in sorted order
    if criterion == "active":
        hit = X > thr
    else:
        srt = np.sort(base, axis=0)
        # p = #{baseline >= r} / n_baseline, per neuroid (the AllenSDK's fraction of null samples at least as large)
        ge = np.empty(X.shape)
        for j in range(X.shape[1]):
            ge[:, j] = srt.shape[0] - np.searchsorted(srt[:, j], X[:, j], side="left")
        hit = ge / srt.shape[0] < a
    hits_per_cond = onehot.T @ hit.astype(float)  # (n_conditions, n_neuroids)
    cols = np.arange(X.shape[1])
    frac = hits_per_cond[pref, cols] / counts[pref]
    responsive = (frac >= mf) & (hits_per_cond[pref, cols] > 0)
    desc = describe_criterion(criterion, threshold=thr, min_fraction=mf, alpha=a)
    attrs = {"criterion": desc, "criterion_name": criterion, "threshold": thr, "min_fraction": mf, "alpha": a,
             "n_neuroids": int(X.shape[1]), "n_responsive": int(responsive.sum()),
             "frac_responsive": float(responsive.mean())}  # fmt: skip
    if criterion == "allen":
        attrs.update(reference=_ALLEN_REF, n_baseline=int(base.shape[0]))
    return xr.Dataset({"responsive": ((C.NEUROID,), responsive), "fraction": ((C.NEUROID,), frac),
                       "preferred": ((C.NEUROID,), classes[pref])},
                      coords=_neuroid_coords(m.da), attrs=attrs)  # fmt: skip


def describe_criterion(criterion: str = "active", *, threshold: float = 0.0, min_fraction: float = 0.25,
                       alpha: float = 0.05) -> str:
    """One line naming a responsiveness criterion and its parameters (the ``criterion`` column of the tables)."""
    check_choice("criterion", criterion, RESPONSIVE_CRITERIA)
    if criterion == "active":
        return (f"active (> {threshold:g}) on >= {min_fraction:.0%} of the preferred condition's presentations"
                + (" (at least one)" if min_fraction == 0 else ""))
    return (f"allen: >= {min_fraction:.0%} of the preferred condition's trials significant (p < {alpha:g} against "
            "the spontaneous responses; de Vries et al. 2020)")
