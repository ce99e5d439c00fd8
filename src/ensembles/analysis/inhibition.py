"""Inhibition mechanisms: weight/bias statistics and the excitatory/inhibitory split of input currents.

Protocol: paper-spec.md §3.7 ([proposed] protocol for the claim of Tosato et al. 2023 that FF and BP reach
sparsity through different inhibition mechanisms).  Everything here works on plain numpy arrays taken from saved
weights, so it needs no deep-learning framework (this module never imports torch).

Conventions
-----------
* ``weight`` has shape ``(n_out, n_in)`` (the layout of ``torch.nn.Linear.weight``), ``bias`` shape ``(n_out,)``.
* ``inputs`` has shape ``(n_presentations, n_in)``: the layer's input (the previous layer's post-ReLU activity,
  or the image for layer 1).
* ``normalize="l2"`` divides every input row by ``max(||x||_2, 1e-12)`` before the weights are applied, as every
  FF and BP/FF layer does (paper-spec.md §1.2); BP layers use ``normalize="none"``.

For a unit ``i`` and a presentation with normalised input ``x̂`` the currents are

    E_i = Σ_j max(W_ij · x̂_j, 0),   I_i = Σ_j min(W_ij · x̂_j, 0),   pre-activation = E_i + I_i + b_i.

For non-negative inputs (every hidden layer after a ReLU) this is exactly paper-spec.md §3.7(c),
``E = Σ_j max(W_ij, 0)·x̂_j`` and ``I = Σ_j min(W_ij, 0)·x̂_j``.  For inputs that can be negative (a normalised
image) the sign of the *product* decides whether a synapse excites or inhibits, which keeps ``E ≥ 0 ≥ I`` and
``E + I = W·x̂``.  A unit is *silenced by inhibition* on a presentation when ``E + b > 0`` but ``E + I + b ≤ 0``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ensembles._validation import as_activity, describe

__all__ = [
    "weight_statistics",
    "input_currents",
    "fraction_silenced",
    "currents_by_ensemble",
    "silenced_share",
]


def _as_weight(weight: Any) -> np.ndarray:
    w = np.asarray(weight, dtype=np.float64)
    if w.ndim != 2 or w.size == 0:
        raise ValueError(
            f"The 'weight' parameter must be a non-empty 2-D array of shape (n_out, n_in). Got {describe(w)} instead."
        )
    if not np.all(np.isfinite(w)):
        raise ValueError("The 'weight' parameter must contain only finite values; it contains NaN or inf.")
    return w


def _as_bias(bias: Any, n_out: int) -> np.ndarray:
    if bias is None:
        return np.zeros(n_out)
    b = np.asarray(bias, dtype=np.float64)
    if b.shape != (n_out,):
        raise ValueError(f"The 'bias' parameter must have shape ({n_out},) to match 'weight'. Got {describe(b)} instead.")
    return b


def weight_statistics(weight: Any, bias: Any = None) -> dict[str, float]:
    """Summary statistics of one layer's weights and biases (paper-spec.md §3.7 a-b).

    Parameters
    ----------
    weight : array-like of shape (n_out, n_in)
    bias : array-like of shape (n_out,), optional

    Returns
    -------
    dict
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
    return out


def input_currents(
    weight: Any, inputs: Any, *, normalize: str = "l2", batch_size: int = 1024
) -> tuple[np.ndarray, np.ndarray]:
    """Excitatory and inhibitory input currents of every unit on every presentation.

    Parameters
    ----------
    weight : array-like of shape (n_out, n_in)
    inputs : array-like of shape (n_presentations, n_in)
    normalize : {"l2", "none"}
        ``"l2"``: divide each input row by ``max(||x||_2, 1e-12)`` first (FF and BP/FF layers).
    batch_size : int
        Presentations processed at once (memory is ``batch_size × n_out × n_in`` floats only for
        inputs with negative entries; non-negative inputs use two matrix products).

    Returns
    -------
    E, I : ndarray of shape (n_presentations, n_out)
        ``E = Σ_j max(W_ij x̂_j, 0) ≥ 0`` and ``I = Σ_j min(W_ij x̂_j, 0) ≤ 0`` (module docstring).

    References
    ----------
    paper-spec.md §3.7(c) ([proposed] protocol).
    """
    w = _as_weight(weight)
    x = as_activity(inputs, name="inputs", allow_nan=False).astype(np.float64)
    if x.shape[1] != w.shape[1]:
        raise ValueError(
            f"The 'inputs' parameter must have n_in={w.shape[1]} columns to match 'weight'. Got {describe(x)} instead."
        )
    if normalize == "l2":
        x = x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
    elif normalize != "none":
        raise ValueError(f"The 'normalize' parameter must be one of 'l2', 'none'. Got {normalize!r} instead.")
    wp, wn = np.clip(w, 0, None), np.clip(w, None, 0)
    if np.all(x >= 0):
        return x @ wp.T, x @ wn.T
    # signed inputs: split on the sign of the product W_ij * x_j
    xp, xn = np.clip(x, 0, None), np.clip(x, None, 0)
    exc = xp @ wp.T + xn @ wn.T
    inh = xp @ wn.T + xn @ wp.T
    return exc, inh


def fraction_silenced(exc: Any, inh: Any, bias: Any = None) -> np.ndarray:
    """Per unit, the fraction of presentations on which inhibition silences it.

    Silenced means ``E + b > 0`` (excitation alone would drive the ReLU) but ``E + I + b ≤ 0`` (it is off).

    Parameters
    ----------
    exc, inh : array-like of shape (n_presentations, n_out)
    bias : array-like of shape (n_out,), optional

    Returns
    -------
    ndarray of shape (n_out,)
    """
    e = as_activity(exc, name="exc")
    i = as_activity(inh, name="inh")
    if e.shape != i.shape:
        raise ValueError(f"The 'inh' parameter must have the shape of 'exc' {e.shape}. Got {describe(i)} instead.")
    b = _as_bias(bias, e.shape[1])
    return ((e + b > 0) & (e + i + b <= 0)).mean(axis=0)


def currents_by_ensemble(
    exc: Any, inh: Any, bias: Any, labels: Any, membership: Any, *, classes: Any = None
) -> list[dict[str, Any]]:
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
    list of dict
        One record per (class, member) with ``n_units``, ``n_presentations``, ``excitatory`` (mean E),
        ``inhibitory`` (mean I), ``bias`` (mean b), ``net`` (mean E + I + b), ``fraction_active``
        (share with E + I + b > 0) and ``fraction_silenced`` (E + b > 0 ≥ E + I + b), averaged over units and
        the class's presentations.  Records with no units are omitted.
    """
    e = as_activity(exc, name="exc")
    i = as_activity(inh, name="inh")
    b = _as_bias(bias, e.shape[1])
    y = np.asarray(labels)
    if y.shape != (e.shape[0],):
        raise ValueError(f"The 'labels' parameter must have length {e.shape[0]}. Got {describe(y)} instead.")
    m = np.asarray(membership, dtype=bool)
    if classes is None:
        classes = np.unique(y)
    classes = list(classes)
    if m.shape != (len(classes), e.shape[1]):
        raise ValueError(
            f"The 'membership' parameter must have shape ({len(classes)}, {e.shape[1]}). Got {describe(m)} instead."
        )
    out = []
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
    return out


def silenced_share(exc: Any, inh: Any, bias: Any = None) -> float:
    """Of all silent (presentation, unit) pairs (``E + I + b <= 0``), the fraction silenced by inhibition.

    A silent pair is silenced *by inhibition* when excitation alone would drive the unit (``E + b > 0``); the rest
    are silent because their excitation does not overcome the bias. NaN when nothing is silent.
    """
    e = as_activity(exc, name="exc")
    i = as_activity(inh, name="inh")
    if e.shape != i.shape:
        raise ValueError(f"The 'inh' parameter must have the shape of 'exc' {e.shape}. Got {describe(i)} instead.")
    b = _as_bias(bias, e.shape[1])
    silent = e + i + b <= 0
    n = int(silent.sum())
    return float(((e + b > 0) & silent).sum() / n) if n else float("nan")
