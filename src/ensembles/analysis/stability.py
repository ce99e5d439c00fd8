"""Has a statistic stopped changing? Its change between two checkpoints against its bootstrap interval.

Training shortened to fit a CPU budget may stop before a representation has settled. For a statistic computed on
the presentations of two checkpoints (e.g. the last two recorded while a layer was trained), the change
``last - previous`` is compared with the half-width of the percentile bootstrap interval of the statistic at the
last checkpoint (presentations resampled with replacement, within each category for ensemble statistics; Efron &
Tibshirani 1993, ch. 13): the statistic is *stable* when ``|change| <= half_width``. With thousands of
presentations the interval is narrow, so this flags any change that is large against sampling noise.

Sampling noise of the presentations is rarely what matters: :func:`relative_stability` compares the drift of a
statistic over seeds with what a conclusion rests on, its spread across seeds (independent training runs) or the
effect it supports (docs/reproduction-v2.md, section 6).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from ensembles import conventions as C
from ensembles.analysis._contract import Result, named_result
from ensembles.analysis.ensembles import category_ensembles
from ensembles.analysis.sparsity import population_sparseness
from ensembles.errors import InputTypeError, ParameterError

__all__ = ["STABILITY_STATISTICS", "checkpoint_stability", "stability_checkpoints", "relative_stability"]

STABILITY_STATISTICS = ("hoyer", "ensemble_median_fraction")


def _as_activity(x: Any, name: str) -> xr.DataArray:
    if isinstance(x, xr.Dataset):
        if C.ACTIVITY not in x.data_vars:
            raise ParameterError(f"The {name!r} parameter must be a recording with an 'activity' variable.")
        x = x[C.ACTIVITY]
    if not isinstance(x, xr.DataArray):
        raise InputTypeError(f"The {name!r} parameter must be an xarray DataArray (presentation, neuroid) with "
                             f"'layer' and 'label' coords, or a recording. Got {type(x).__name__} instead.")
    if C.CHECKPOINT in x.dims:
        raise ParameterError(f"The {name!r} parameter must hold one checkpoint (select it with "
                             "ensembles.select_presentations). Got a 'checkpoint' dim.")
    for coord in ("layer", "label"):
        if coord not in x.coords:
            raise ParameterError(f"The {name!r} parameter needs a {coord!r} coord.")
    return x.transpose(C.PRESENTATION, C.NEUROID)


def _hoyer_values(a: np.ndarray) -> np.ndarray:
    da = xr.DataArray(a, dims=(C.PRESENTATION, C.NEUROID))
    return np.asarray(population_sparseness(da, "hoyer").values, dtype=float)


def _median_fraction(member: np.ndarray) -> float:
    return float(np.median(member.sum(axis=1) / member.shape[1]))


def _ensemble_fraction(a: np.ndarray, labels: np.ndarray) -> float:
    m = category_ensembles(a, labels, rule="paper", tau=1.0, by_layer=False)
    return _median_fraction(np.asarray(getattr(m, "values", m), dtype=bool))


def _boot_hoyer(a: np.ndarray, n_bootstrap: int, rng: np.random.Generator) -> tuple[float, np.ndarray]:
    h = _hoyer_values(a)
    h = h[np.isfinite(h)]  # all-zero presentations have no Hoyer value (the authors' nanmean drops them)
    if h.size == 0:
        return float("nan"), np.full(n_bootstrap, np.nan)
    idx = rng.integers(0, h.size, size=(n_bootstrap, h.size))
    return float(h.mean()), h[idx].mean(axis=1)


def _boot_ensemble(a: np.ndarray, labels: np.ndarray, n_bootstrap: int, rng: np.random.Generator
                   ) -> tuple[float, np.ndarray]:
    classes, codes = np.unique(labels, return_inverse=True)
    point = _ensemble_fraction(a, labels)
    blocks = [a[codes == k] for k in range(classes.size)]
    own = np.arange(classes.size)  # each row of ``mu`` below is the mean of its own category
    boot = np.empty(n_bootstrap)
    for b in range(n_bootstrap):
        # class means of a within-class resample (with replacement) as count-weighted sums
        mu = np.empty((classes.size, a.shape[1]))
        for k, block in enumerate(blocks):
            counts = np.bincount(rng.integers(0, block.shape[0], block.shape[0]), minlength=block.shape[0])
            mu[k] = counts @ block / block.shape[0]
        # the authors' leave-one-out rule applied to these class means
        m = category_ensembles(mu, own, rule="paper", tau=1.0, by_layer=False)
        boot[b] = _median_fraction(np.asarray(getattr(m, "values", m), dtype=bool))
    return point, boot


def checkpoint_stability(previous: Any, last: Any, *, statistics: tuple[str, ...] = STABILITY_STATISTICS,
                         n_bootstrap: int = 1000, n_bootstrap_ensembles: int = 200, ci: float = 0.95,
                         random_state: int | np.random.Generator | None = 0) -> pd.DataFrame:
    """Per layer and statistic: value at ``previous`` and ``last``, change, bootstrap half-width, and ``stable``.

    Parameters
    ----------
    previous, last : DataArray (presentation, neuroid) with ``layer`` and ``label`` coords, or recordings
        The selected presentations of two checkpoints (e.g. ``select_presentations(rec, checkpoint=-2)`` and
        ``checkpoint=-1``).
    statistics : tuple of {"hoyer", "ensemble_median_fraction"}
        ``"hoyer"``: mean population Hoyer sparseness over presentations (Hoyer 2004; all-zero presentations
        dropped, as Tosato et al. 2023); ``"ensemble_median_fraction"``: median over categories of the
        leave-one-out ensemble size (tau = 1) as a fraction of the layer's units.
    n_bootstrap, n_bootstrap_ensembles : int
        Resamples for the Hoyer and the ensemble intervals.
    ci : float
        Level of the percentile interval.

    Returns
    -------
    pandas.DataFrame with columns ``layer, statistic, previous, last, change, half_width, stable``.
    """
    prev, cur = _as_activity(previous, "previous"), _as_activity(last, "last")
    for s in statistics:
        if s not in STABILITY_STATISTICS:
            raise ParameterError(f"The 'statistics' parameter must contain only {STABILITY_STATISTICS}. Got {s!r}.")
    for name, n in (("n_bootstrap", n_bootstrap), ("n_bootstrap_ensembles", n_bootstrap_ensembles)):
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 2:
            raise ParameterError(f"The {name!r} parameter must be an integer >= 2. Got {n!r} instead.")
    if isinstance(ci, bool) or not isinstance(ci, (int, float)) or not 0 < ci < 1:
        raise ParameterError(f"The 'ci' parameter (confidence level) must be a number in (0, 1). Got {ci!r} instead.")
    rng = np.random.default_rng(random_state)
    q = [(1 - ci) / 2 * 100, (1 + ci) / 2 * 100]
    rows = []
    layers_prev = np.asarray(prev["layer"].values)
    layers_cur = np.asarray(cur["layer"].values)
    for layer in np.unique(layers_cur):
        a_cur = np.asarray(cur.isel({C.NEUROID: np.flatnonzero(layers_cur == layer)}).values, dtype=np.float64)
        a_prev = np.asarray(prev.isel({C.NEUROID: np.flatnonzero(layers_prev == layer)}).values, dtype=np.float64)
        lab_cur, lab_prev = np.asarray(cur["label"].values), np.asarray(prev["label"].values)
        for s in statistics:
            if s == "hoyer":
                before = _boot_hoyer(a_prev, 2, rng)[0]
                value, boot = _boot_hoyer(a_cur, int(n_bootstrap), rng)
            else:
                before = _ensemble_fraction(a_prev, lab_prev)
                value, boot = _boot_ensemble(a_cur, lab_cur, int(n_bootstrap_ensembles), rng)
            fin = boot[np.isfinite(boot)]
            half = float(np.diff(np.percentile(fin, q))[0] / 2) if fin.size else float("nan")
            change = value - before
            rows.append({"layer": int(layer), "statistic": s, "previous": before, "last": value, "change": change,
                         "half_width": half, "stable": bool(np.isfinite(change) and abs(change) <= half)})
    return pd.DataFrame(rows, columns=["layer", "statistic", "previous", "last", "change", "half_width", "stable"])


def stability_checkpoints(epochs: Any, cfg: dict, layer: int) -> tuple[int, int]:
    """Positions (previous, last) of the two checkpoints that judge the stability of ``layer``'s statistics.

    Greedy FF: the middle and the end of that layer's own stage (later stages do not change it); otherwise the last
    two recorded checkpoints.
    """
    epochs = [int(e) for e in epochs]
    if len(epochs) < 2:
        raise ParameterError(f"A stability check needs at least two recorded checkpoints; got epochs {epochs}.")
    e = int((cfg.get("train") or {}).get("epochs", 0) or 0)
    if cfg.get("model") == "ff" and (cfg.get("ff") or {}).get("schedule") == "layerwise" and e > 0:
        end, mid = layer * e, (layer - 1) * e + max(1, e // 2)
        if end in epochs and mid in epochs:
            return epochs.index(mid), epochs.index(end)
    return len(epochs) - 2, len(epochs) - 1


# the fields of the Result of :func:`relative_stability`:
#   drift: largest |last - previous| over seeds
#   spread: SD over seeds (ddof = 1) of the last values
#   effect: |effect| the statistic supports (NaN when not given)
#   scale: what the drift is judged against: max(spread, effect_fraction * |effect|)
#   ratio: drift / scale
#   n: seeds with both values
#   stable
_RELATIVE_STABILITY_FIELDS = ('drift', 'spread', 'effect', 'scale', 'ratio', 'n', 'stable')


def relative_stability(previous: Any, last: Any, *, effect: float | None = None,
                       effect_fraction: float = 0.25) -> Result:
    """Is a statistic's drift between two checkpoints small against its spread across seeds or its effect?

    Parameters
    ----------
    previous, last : 1-D sequences, one value per seed (same order)
        The statistic at the two checkpoints (e.g. the last two recorded, :func:`stability_checkpoints`).
    effect : float, optional
        The difference the statistic supports (e.g. FF − BP mean Hoyer of the layer).
    effect_fraction : float
        Fraction of ``|effect|`` a drift may reach.

    Returns
    -------
    :class:`~ensembles.analysis.Result` of plain values
        ``drift``, ``spread``, ``effect``, ``scale``, ``ratio``, ``n`` and ``stable`` (comments at
        ``_RELATIVE_STABILITY_FIELDS``); ``stable`` when ``max_s |last_s - previous_s| <= max(SD_s(last), effect_fraction * |effect|)``; False when
        fewer than two seeds have both values (no spread).
    """
    p = np.asarray(getattr(previous, "values", previous), dtype=float).ravel()
    q = np.asarray(getattr(last, "values", last), dtype=float).ravel()
    if p.shape != q.shape:
        raise ParameterError(f"The 'last' parameter must have one value per seed of 'previous' ({p.size}). "
                             f"Got {q.size}.")
    if isinstance(effect_fraction, bool) or not isinstance(effect_fraction, (int, float)) or effect_fraction < 0:
        raise ParameterError(f"The 'effect_fraction' parameter must be a number >= 0. Got {effect_fraction!r}.")
    if effect is not None and (isinstance(effect, bool) or not isinstance(effect, (int, float, np.number))):
        raise ParameterError(f"The 'effect' parameter must be a number or None. Got {effect!r} instead.")
    ok = np.isfinite(p) & np.isfinite(q)
    n = int(ok.sum())
    eff = abs(float(effect)) if effect is not None and np.isfinite(effect) else float("nan")
    if n < 2:
        return named_result(_RELATIVE_STABILITY_FIELDS, float("nan"), float("nan"), eff, float("nan"), float("nan"), n, False)
    drift = float(np.max(np.abs(q[ok] - p[ok])))
    spread = float(np.std(q[ok], ddof=1))
    scale = max(spread, effect_fraction * eff) if np.isfinite(eff) else spread
    ratio = drift / scale if scale > 0 else (0.0 if drift == 0 else float("inf"))
    return named_result(_RELATIVE_STABILITY_FIELDS, drift, spread, eff, float(scale), float(ratio), n, bool(drift <= scale))
