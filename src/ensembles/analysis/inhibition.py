"""Inhibition mechanisms: weight/bias statistics and the excitatory/inhibitory split of input currents.

Protocol: docs/methods.md §A3.7 (our protocol for the claim of Tosato et al. 2023 that FF and BP reach
sparsity through different inhibition mechanisms).  Everything here works on plain numpy arrays taken from saved
weights, so it needs no deep-learning framework (this module never imports torch).

Conventions
-----------
* ``weight`` has shape ``(n_out, n_in)`` (the layout of ``torch.nn.Linear.weight``), ``bias`` shape ``(n_out,)``.
* ``inputs`` has shape ``(n_presentations, n_in)``: the layer's input (the previous layer's post-ReLU activity,
  or the image for layer 1).
* ``normalize="l2"`` divides every input row by ``max(||x||_2, 1e-12)`` before the weights are applied, as every
  FF and BP/FF layer does (docs/methods.md §M1.2); BP layers use ``normalize="none"``.

For a unit ``i`` and a presentation with normalised input ``x̂`` the currents are

    E_i = Σ_j max(W_ij · x̂_j, 0),   I_i = Σ_j min(W_ij · x̂_j, 0),   pre-activation = E_i + I_i + b_i.

For non-negative inputs (every hidden layer after a ReLU) this is exactly docs/methods.md §A3.7 (c),
``E = Σ_j max(W_ij, 0)·x̂_j`` and ``I = Σ_j min(W_ij, 0)·x̂_j``.  For inputs that can be negative (a normalised
image) the sign of the *product* decides whether a synapse excites or inhibits, which keeps ``E ≥ 0 ≥ I`` and
``E + I = W·x̂``.  A unit is *silenced by inhibition* on a presentation when ``E + b > 0`` but ``E + I + b ≤ 0``.

Split by the sign of the weight (:func:`ei_currents`, docs/reproduction-v2.md section 5)
-----------------------------------------------------------------------------------------
With a signed input the product split above calls a positive weight on a negative pixel "inhibitory". The
alternative split writes the layer's actual input ``x`` (before its own normalisation) as a non-negative quantity
``u = x - f ≥ 0``, ``f`` the input that means "nothing" (0 after a ReLU; the standardised value of a black pixel
for a standardised image), and splits by the sign of the weight alone:

    E_i = s Σ_j max(W_ij, 0) u_j ≥ 0,   I_i = s Σ_j min(W_ij, 0) u_j ≤ 0,   b'_i = b_i + s Σ_j W_ij f_j,

with ``s = 1 / ||x||_2`` where the layer L2-normalises its input and ``s = 1`` otherwise, so that
``E + I + b'`` is exactly the pre-activation. :func:`silence_causes` then asks, of the silent (presentation, unit)
pairs, which are silenced by net inhibitory input (``E + I ≤ 0``) and which by a negative (effective) bias
(``E + I > 0 ≥ E + I + b'``), and gives the distribution of the I/E ratio ``|I| / E``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from ensembles import conventions as C
from ensembles._validation import describe
from ensembles.analysis._contract import Result, keeps_labels
from ensembles.analysis._input import check_finite, matrix, resolve_labels, unwrap
from ensembles.errors import InputTypeError, ParameterError

__all__ = [
    "currents_summary",
    "weight_statistics",
    "input_currents",
    "fraction_silenced",
    "currents_by_ensemble",
    "silenced_share",
    "ei_currents",
    "silence_causes",
]


def _as_weight(weight: Any) -> np.ndarray:
    w = unwrap(weight, name="weight", ndim=None)
    w = np.asarray(w.values if isinstance(w, xr.DataArray) else w, dtype=np.float64)
    if w.ndim != 2 or w.size == 0:
        raise ParameterError(
            f"The 'weight' parameter must be a non-empty 2-D array of shape (n_out, n_in). Got {describe(w)} instead."
        )
    w, _ = check_finite(w, allow_nan=False, name="weight")
    return w


def _as_bias(bias: Any, n_out: int) -> np.ndarray:
    if bias is None:
        return np.zeros(n_out)
    b = np.asarray(bias, dtype=np.float64)
    if b.shape != (n_out,):
        raise ParameterError(f"The 'bias' parameter must have shape ({n_out},) to match 'weight'. Got {describe(b)} instead.")
    return b


@keeps_labels("weight")
def weight_statistics(weight: Any, bias: Any = None) -> Result | xr.Dataset:
    """Summary statistics of one layer's weights and biases (docs/methods.md §A3.7 a-b).

    Parameters
    ----------
    weight : array-like of shape (n_out, n_in)
    bias : array-like of shape (n_out,), optional

    Returns
    -------
    Result (a mapping of numbers; an xr.Dataset of 0-d variables for a DataArray ``weight``)
        ``fraction_negative`` (share of weights < 0), ``mean_positive``/``sd_positive`` and
        ``mean_negative``/``sd_negative`` (the positive and negative parts), ``mean_weight``,
        ``sum_positive_per_unit``/``sum_negative_per_unit`` (mean over units of the summed positive/negative
        fan-in), and, when ``bias`` is given, ``mean_bias``, ``sd_bias``, ``fraction_bias_negative``.
    """
    w = _as_weight(weight)
    pos, neg = w[w > 0], w[w < 0]
    out = {
        "n_out": float(w.shape[0]),
        "n_in": float(w.shape[1]),
        "fraction_negative": float((w < 0).mean()),
        "mean_weight": float(w.mean()),
        "mean_positive": float(pos.mean()) if pos.size else np.nan,
        "sd_positive": float(pos.std(ddof=1)) if pos.size > 1 else np.nan,
        "mean_negative": float(neg.mean()) if neg.size else np.nan,
        "sd_negative": float(neg.std(ddof=1)) if neg.size > 1 else np.nan,
        "sum_positive_per_unit": float(np.clip(w, 0, None).sum(axis=1).mean()),
        "sum_negative_per_unit": float(np.clip(w, None, 0).sum(axis=1).mean()),
    }
    if bias is not None:
        b = _as_bias(bias, w.shape[0])
        out.update(
            mean_bias=float(b.mean()),
            sd_bias=float(b.std(ddof=1)) if b.size > 1 else np.nan,
            fraction_bias_negative=float((b < 0).mean()),
        )
    return xr.Dataset({k: ((), v) for k, v in out.items()}, attrs={"statistic": "weight_statistics"})


@keeps_labels("inputs")
def input_currents(
    weight: Any, inputs: Any, *, normalize: str = "l2", batch_size: int = 1024
) -> Result | xr.Dataset:
    """Excitatory and inhibitory input currents of every unit on every presentation.

    Parameters
    ----------
    weight : array-like of shape (n_out, n_in)
    inputs : array-like of shape (n_presentations, n_in), or a DataArray (presentation, neuroid) / recording
    normalize : {"l2", "none"}
        ``"l2"``: divide each input row by ``max(||x||_2, 1e-12)`` first (FF and BP/FF layers).
    batch_size : int
        Presentations processed at once (memory is ``batch_size × n_out × n_in`` floats only for
        inputs with negative entries; non-negative inputs use two matrix products).

    Returns
    -------
    :class:`~ensembles.analysis.Result` with ``excitatory`` and ``inhibitory``, each an ndarray of shape
    (n_presentations, n_out); an xr.Dataset with these variables (presentation, neuroid) and the presentation coords
    for labelled ``inputs``
        ``E = Σ_j max(W_ij x̂_j, 0) ≥ 0`` and ``I = Σ_j min(W_ij x̂_j, 0) ≤ 0`` (module docstring).

    References
    ----------
    docs/methods.md §A3.7 (c) (our protocol).
    """
    w = _as_weight(weight)
    m = matrix(inputs, name="inputs", float64=True)
    x = m.values
    if x.shape[1] != w.shape[1]:
        raise ParameterError(
            f"The 'inputs' parameter must have n_in={w.shape[1]} columns to match 'weight'. Got {describe(x)} instead."
        )
    if normalize == "l2":
        x = x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
    elif normalize != "none":
        raise ParameterError(f"The 'normalize' parameter must be one of 'l2', 'none'. Got {normalize!r} instead.")
    wp, wn = np.clip(w, 0, None), np.clip(w, None, 0)
    if np.all(x >= 0):
        exc, inh = x @ wp.T, x @ wn.T
    else:  # signed inputs: split on the sign of the product W_ij * x_j
        xp, xn = np.clip(x, 0, None), np.clip(x, None, 0)
        exc = xp @ wp.T + xn @ wn.T
        inh = xp @ wn.T + xn @ wp.T
    coords = {k: c.variable for k, c in m.da.coords.items() if c.dims == (C.PRESENTATION,)} if m.da is not None else {}
    dims = (C.PRESENTATION, C.NEUROID)
    return xr.Dataset({"excitatory": (dims, exc), "inhibitory": (dims, inh)}, coords=coords,
                      attrs={"statistic": "input_currents", "normalize": normalize})


@keeps_labels("exc")
def fraction_silenced(exc: Any, inh: Any, bias: Any = None) -> np.ndarray | xr.DataArray:
    """Per unit, the fraction of presentations on which inhibition silences it.

    Silenced means ``E + b > 0`` (excitation alone would drive the ReLU) but ``E + I + b ≤ 0`` (it is off).

    Parameters
    ----------
    exc, inh : array-like of shape (n_presentations, n_out)
    bias : array-like of shape (n_out,), optional

    Returns
    -------
    ndarray of shape (n_out,), or a DataArray along ``neuroid`` for labelled ``exc``
    """
    me, mi = matrix(exc, name="exc"), matrix(inh, name="inh")
    e, i = me.values, mi.values
    if e.shape != i.shape:
        raise ParameterError(f"The 'inh' parameter must have the shape of 'exc' {e.shape}. Got {describe(i)} instead.")
    b = _as_bias(bias, e.shape[1])
    out = ((e + b > 0) & (e + i + b <= 0)).mean(axis=0)
    coords = {k: c.variable for k, c in me.da.coords.items() if c.dims == (C.NEUROID,)} if me.da is not None else {}
    return xr.DataArray(out, dims=(C.NEUROID,), coords=coords, name="fraction_silenced",
                        attrs={"statistic": "fraction_silenced", "definition": "E + b > 0 >= E + I + b"})


@keeps_labels("exc")
def currents_by_ensemble(
    exc: Any, inh: Any, bias: Any, labels: Any, membership: Any, *, classes: Any = None
) -> Result | xr.Dataset:
    """Mean currents of units inside vs outside each class's ensemble, on that class's presentations.

    Parameters
    ----------
    exc, inh : array-like of shape (n_presentations, n_out)
    bias : array-like of shape (n_out,) or None
    labels : array-like of shape (n_presentations,)
    membership : array-like of bool, shape (n_classes, n_out)
        Row ``k`` is the ensemble of ``classes[k]`` (e.g. from ``category_ensembles``).
    classes : sequence, optional
        Class value of each membership row; defaults to the sorted unique labels.

    Returns
    -------
    Result of columns (plain arrays; ``pandas.DataFrame(result)`` is the table) or xr.Dataset along ``record``
    (labelled ``exc``)
        One record per (class, member): ``class``, ``member``, ``n_units``, ``n_presentations``, ``excitatory`` (mean E),
        ``inhibitory`` (mean I), ``bias`` (mean b), ``net`` (mean E + I + b), ``fraction_active``
        (share with E + I + b > 0) and ``fraction_silenced`` (E + b > 0 ≥ E + I + b), averaged over units and
        the class's presentations.  Records with no units are omitted.
    """
    me = matrix(exc, name="exc")
    e, i = me.values, matrix(inh, name="inh").values
    b = _as_bias(bias, e.shape[1])
    y = resolve_labels(me.da if me.da is not None else e, labels, e.shape[0])
    m = np.asarray(membership, dtype=bool)
    if classes is None:
        classes = np.unique(y)
    classes = list(classes)
    if m.shape != (len(classes), e.shape[1]):
        raise ParameterError(
            f"The 'membership' parameter must have shape ({len(classes)}, {e.shape[1]}). Got {describe(m)} instead."
        )
    out: list[dict[str, Any]] = []
    for k, c in enumerate(classes):
        rows = y == c
        if not rows.any():
            continue
        ec, ic = e[rows], i[rows]
        net = ec + ic + b
        for member in (True, False):
            cols = m[k] if member else ~m[k]
            if not cols.any():
                continue
            out.append(
                {
                    "class": c,
                    "member": member,
                    "n_units": int(cols.sum()),
                    "n_presentations": int(rows.sum()),
                    "excitatory": float(ec[:, cols].mean()),
                    "inhibitory": float(ic[:, cols].mean()),
                    "bias": float(b[cols].mean()),
                    "net": float(net[:, cols].mean()),
                    "fraction_active": float((net[:, cols] > 0).mean()),
                    "fraction_silenced": float(((ec[:, cols] + b[cols] > 0) & (net[:, cols] <= 0)).mean()),
                }
            )
    columns = ("class", "member", "n_units", "n_presentations", "excitatory", "inhibitory", "bias", "net",
               "fraction_active", "fraction_silenced")
    table = {k: np.asarray([r[k] for r in out]) for k in columns}
    attrs = {"statistic": "currents_by_ensemble", "definition": "mean currents of ensemble members vs non-members "
             "on the presentations of the ensemble's class"}
    return xr.Dataset({k: (("record",), v) for k, v in table.items()}, attrs=attrs)


@keeps_labels("exc")
def silenced_share(exc: Any, inh: Any, bias: Any = None) -> float | xr.DataArray:
    """Of all silent (presentation, unit) pairs (``E + I + b <= 0``), the fraction silenced by inhibition.

    A silent pair is silenced *by inhibition* when excitation alone would drive the unit (``E + b > 0``); the rest
    are silent because their excitation does not overcome the bias. NaN when nothing is silent. One number for the
    whole layer: a float for numpy input, a 0-d DataArray (``n_silent`` in ``attrs``) for labelled input.
    """
    me, mi = matrix(exc, name="exc"), matrix(inh, name="inh")
    e, i = me.values, mi.values
    if e.shape != i.shape:
        raise ParameterError(f"The 'inh' parameter must have the shape of 'exc' {e.shape}. Got {describe(i)} instead.")
    b = _as_bias(bias, e.shape[1])
    silent = e + i + b <= 0
    n = int(silent.sum())
    value = float(((e + b > 0) & silent).sum() / n) if n else float("nan")
    return xr.DataArray(value, name="silenced_share", attrs={"statistic": "silenced_share", "n_silent": n,
                                                              "definition": "share of E + I + b <= 0 with E + b > 0"})


@keeps_labels("x")
def ei_currents(x: Any, weight: Any, bias: Any = None, *, floor: Any = 0.0, normalize: str = "none"
                ) -> Result | xr.Dataset:
    """Excitatory and inhibitory currents split by the sign of the weight on a non-negative input (module docstring).

    Parameters
    ----------
    x : array-like (n_presentations, n_in), DataArray (presentation, neuroid) or recording
        The layer's actual input before its own normalisation: the previous layer's activity, or the image (with
        the label embedded where the model embeds it).
    weight : array-like of shape (n_out, n_in)
    bias : array-like of shape (n_out,), optional
    floor : float or array-like of shape (n_in,)
        The input value that means "no input" (``x >= floor`` everywhere is required): 0 for post-ReLU activity,
        the standardised value of a black pixel for a standardised image.
    normalize : {"none", "l2"}
        ``"l2"``: the layer divides its input by ``max(||x||_2, 1e-12)`` (FF and BP/FF layers); the currents and
        the constant part ``W f`` are scaled by the same factor.

    Returns
    -------
    Result (plain arrays) or xr.Dataset (labelled ``x``) with ``excitatory`` (>= 0), ``inhibitory`` (<= 0) and
    ``bias`` (the effective bias ``b + s W f``), each (presentation, neuroid): their sum is the pre-activation.
    """
    m = matrix(x, name="x", float64=True)
    xa = m.values
    w = _as_weight(weight)
    if xa.shape[1] != w.shape[1]:
        raise ParameterError(
            f"The 'x' parameter must have n_in={w.shape[1]} columns to match 'weight'. Got {describe(xa)} instead.")
    b = _as_bias(bias, w.shape[0])
    f = np.asarray(floor, dtype=np.float64)
    if f.ndim == 0:
        f = np.full(xa.shape[1], float(f))
    if f.shape != (xa.shape[1],) or not np.all(np.isfinite(f)):
        raise ParameterError(f"The 'floor' parameter must be a finite number or an array of shape ({xa.shape[1]},). "
                             f"Got {describe(f)} instead.")
    u = xa - f
    tol = 1e-6 * max(1.0, float(np.abs(xa).max(initial=0.0)))
    below = int((u < -tol).sum())
    if below:
        raise ParameterError(f"The 'x' parameter must be >= 'floor' everywhere (the input as a non-negative quantity). "
                             f"Got {below} value(s) below it (smallest x - floor = {float(u.min()):.4g}).")
    u = np.clip(u, 0.0, None)
    if normalize == "l2":
        s = 1.0 / np.maximum(np.linalg.norm(xa, axis=1, keepdims=True), 1e-12)
    elif normalize == "none":
        s = np.ones((xa.shape[0], 1))
    else:
        raise ParameterError(f"The 'normalize' parameter must be one of 'none', 'l2'. Got {normalize!r} instead.")
    exc = s * (u @ np.clip(w, 0, None).T)
    inh = s * (u @ np.clip(w, None, 0).T)
    eff = b[None, :] + s * (w @ f)[None, :]
    dims = (C.PRESENTATION, C.NEUROID)
    coords = ({k: c.variable for k, c in m.da.coords.items() if c.dims == (C.PRESENTATION,)}
              if m.da is not None else None)
    return xr.Dataset({"excitatory": (dims, exc), "inhibitory": (dims, inh), "bias": (dims, eff)},
                       coords=coords, attrs={"statistic": "ei_currents", "normalize": normalize,
                                             "definition": "split by the sign of the weight on x - floor >= 0"})


@keeps_labels("currents")
def silence_causes(currents: Any) -> Result | xr.Dataset:
    """Why silent units are silent, and the I/E ratio, from :func:`ei_currents` (module docstring).

    Parameters
    ----------
    currents : the result of :func:`ei_currents` (a Result or an xr.Dataset with ``excitatory``, ``inhibitory``
        and ``bias``, each (presentation, neuroid))

    Returns
    -------
    Result of numbers (plain input) or xr.Dataset of 0-d variables (labelled input):
    ``n_pairs``, ``n_silent`` (pairs with ``E + I + b <= 0``), ``fraction_silent``, ``by_inhibition`` (share of the
    silent pairs with ``E + I <= 0``: silenced by net inhibitory input), ``by_bias`` (``E + I > 0``: silenced by a
    negative bias; ``by_inhibition + by_bias = 1``; both NaN when nothing is silent), and the I/E ratio ``|I| / E``
    over the pairs with ``E > 0``: ``ie_median``, ``ie_q25``, ``ie_q75``, ``ie_median_silent``, ``ie_median_active``.
    """
    try:
        e, i, b = (np.asarray(getattr(currents[k], "values", currents[k]), dtype=np.float64)
                   for k in ("excitatory", "inhibitory", "bias"))
    except (KeyError, TypeError):
        raise ParameterError("The 'currents' parameter must be the result of ei_currents (with 'excitatory', "
                             f"'inhibitory' and 'bias'). Got {type(currents).__name__}.") from None
    if not (e.shape == i.shape == b.shape) or e.ndim != 2:
        raise ParameterError(f"The 'currents' parameter must hold three (presentation, neuroid) arrays of one shape. "
                             f"Got {e.shape}, {i.shape}, {b.shape}.")
    net = e + i
    silent = net + b <= 0
    n_silent = int(silent.sum())
    by_inh = float((silent & (net <= 0)).sum() / n_silent) if n_silent else float("nan")
    pos = e > 0
    ratio = np.where(pos, -i / np.where(pos, e, 1.0), np.nan)

    def med(mask: np.ndarray, q: float = 50.0) -> float:
        v = ratio[mask & pos]
        return float(np.percentile(v, q)) if v.size else float("nan")

    out = {"n_pairs": float(e.size), "n_silent": float(n_silent), "fraction_silent": n_silent / e.size if e.size else
           float("nan"), "by_inhibition": by_inh, "by_bias": 1.0 - by_inh if n_silent else float("nan"),
           "ie_median": med(pos), "ie_q25": med(pos, 25.0), "ie_q75": med(pos, 75.0),
           "ie_median_silent": med(silent), "ie_median_active": med(~silent)}
    return xr.Dataset({k: ((), v) for k, v in out.items()},
                      attrs={"statistic": "silence_causes", "definition": "silent: E + I + b <= 0; by inhibition: "
                              "E + I <= 0; by bias: E + I > 0"})


CURRENT_MEASURES = ("excitatory", "inhibitory", "bias", "net", "fraction_active", "fraction_silenced",
                    "reconstruction_error")


def currents_summary(currents: Any, *, by: Sequence[str] = ("model", "layer", "member")) -> pd.DataFrame:
    """The currents of units inside vs outside the class ensembles, averaged over classes (figure 9's bars).

    Parameters
    ----------
    currents : DataFrame
        Rows of :func:`currents_by_ensemble` (one per class and membership), with the grouping columns ``by``
        added (e.g. ``model`` and ``layer``).
    by : the columns that identify a group; ``member`` among them keeps inside and outside apart.

    Returns
    -------
    pandas.DataFrame
        One row per group: the mean over classes of every current column present (``excitatory``,
        ``inhibitory``, ``bias``, ``net``, ``fraction_active``, ``fraction_silenced``, ``reconstruction_error``)
        and ``n_classes``, the number of classes averaged.
    """
    if not isinstance(currents, pd.DataFrame):
        raise InputTypeError(f"The 'currents' parameter must be a pandas DataFrame (rows of currents_by_ensemble). "
                             f"Got {type(currents).__name__} instead.")
    by = list(by)
    missing = [c for c in by if c not in currents.columns]
    if missing:
        raise ParameterError(f"The 'currents' table lacks the grouping column(s) {missing}; it has "
                             f"{list(currents.columns)}.")
    cols = [c for c in CURRENT_MEASURES if c in currents.columns]
    grouped = currents.groupby(by, as_index=False, sort=False)
    out = grouped[cols].mean()
    out["n_classes"] = grouped.size()["size"].to_numpy()
    return out
