"""Compare models at matched accuracy: a statistic interpolated along each run's training trajectory.

Two training rules reach different accuracies, and many representation statistics change with accuracy while a
network trains (sparseness, ensemble sizes). Comparing their final values confounds the rule with the accuracy.
Here each run is recorded at several checkpoints (its *trajectory*: accuracy and statistic per checkpoint); the
statistic of a run is read off its trajectory at a target accuracy by linear interpolation between the two
consecutive checkpoints where its accuracy first reaches the target. Nothing is extrapolated: a run that starts at or
above the target, or never reaches it, has no matched value. A reference model's final values (at the accuracy that
defines the target) are then compared with every other model's matched values by Welch intervals over seeds.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from ensembles.analysis.runs import difference_interval, seed_interval
from ensembles.errors import ParameterError

__all__ = ["value_at_accuracy", "matched_accuracy"]

STARTS_ABOVE, NEVER_REACHED = "starts_above", "never_reached"


def _vector(x: Any, name: str) -> np.ndarray:
    a = np.asarray(getattr(x, "values", x), dtype=float)
    if a.ndim != 1 or a.size == 0:
        raise ParameterError(f"The {name!r} parameter must be a non-empty 1-D sequence (one value per checkpoint). "
                             f"Got shape {a.shape}.")
    return a


def _crossing(accuracy: np.ndarray, values: np.ndarray, target: float) -> tuple[float, float, str]:
    """(value at target, accuracy step of the bracketing checkpoints, status)."""
    reached = np.flatnonzero(np.nan_to_num(accuracy, nan=-np.inf) >= target)
    if reached.size == 0:
        return float("nan"), float("nan"), NEVER_REACHED
    i = int(reached[0])
    if i == 0:
        return float("nan"), float("nan"), STARTS_ABOVE
    a0, a1, v0, v1 = accuracy[i - 1], accuracy[i], values[i - 1], values[i]
    w = (target - a0) / (a1 - a0)
    return float(v0 + w * (v1 - v0)), float(a1 - a0), "matched"


def value_at_accuracy(accuracy: Any, values: Any, target: float) -> float:
    """A statistic of one run at ``target`` accuracy, interpolated along the run's trajectory.

    Parameters
    ----------
    accuracy, values : 1-D sequences, one entry per checkpoint in training order
        The run's accuracy and the statistic at each checkpoint.
    target : float
        The accuracy at which to read the statistic.

    Returns
    -------
    float
        Linear interpolation between the two consecutive checkpoints ``i-1, i`` where the accuracy first reaches
        ``target`` (``accuracy[i-1] < target <= accuracy[i]``); NaN when the first checkpoint is already at or above
        ``target`` or no checkpoint reaches it (nothing is extrapolated).

    Examples
    --------
    >>> round(value_at_accuracy([0.5, 0.75, 1.0], [0.2, 0.4, 0.6], 0.875), 6)
    0.5
    """
    acc, val = _vector(accuracy, "accuracy"), _vector(values, "values")
    if acc.shape != val.shape:
        raise ParameterError(f"The 'values' parameter must have one value per checkpoint ({acc.size}). "
                             f"Got {val.size}.")
    if isinstance(target, bool) or not isinstance(target, (int, float, np.number)) or not np.isfinite(target):
        raise ParameterError(f"The 'target' parameter must be a finite number. Got {target!r} instead.")
    return _crossing(acc, val, float(target))[0]


TABLE_COLUMNS = ("statistic", "layer", "model", "target", "reference_model", "reference_mean", "reference_low",
                 "reference_high", "reference_accuracy_low", "reference_accuracy_high", "mean", "low", "high",
                 "difference", "difference_low", "difference_high", "n_reference", "n_runs", "n_matched",
                 "n_starts_above", "n_never_reached", "max_accuracy_step")


def matched_accuracy(table: Any, *, reference: str, target: float | None = None,
                     run_columns: Sequence[str] = ("model", "seed"), order: str = "checkpoint",
                     ci: float = 0.95) -> pd.DataFrame:
    """Compare every model with ``reference`` at matched accuracy (module docstring), per statistic and layer.

    Parameters
    ----------
    table : pandas.DataFrame
        One row per run, checkpoint and statistic (tidy): the columns of ``run_columns`` (at least ``model``),
        ``order`` (training order of the checkpoints, e.g. the checkpoint position or the epoch), ``accuracy``
        (the run's accuracy at that checkpoint), ``statistic``, ``value``, and optionally ``layer``.
    reference : str
        The model whose final accuracy defines the target and whose final values are compared.
    target : float, optional
        The matched accuracy; default: the mean over the reference's runs of their final accuracy.
    run_columns : sequence of str
        Columns that identify one run (default model and seed; add e.g. ``"lr"`` for a learning-rate grid).
    order : str
        Column giving the training order of the checkpoints within a run.
    ci : float
        Level of the t-intervals over runs.

    Returns
    -------
    pandas.DataFrame, one row per (statistic, layer, other model), columns :data:`TABLE_COLUMNS`:
    ``reference_*`` the reference's final values (mean and interval) and the interval of its final accuracies
    (the accuracy difference at the matched point is that interval minus ``target``); ``mean``/``low``/``high``
    the other model's values at ``target``; ``difference*`` the Welch interval of reference − other;
    ``n_matched`` runs with a matched value, ``n_starts_above`` / ``n_never_reached`` runs without one;
    ``max_accuracy_step`` the widest accuracy step between the two checkpoints an interpolation used.
    """
    if not isinstance(table, pd.DataFrame):
        raise ParameterError(f"The 'table' parameter must be a pandas DataFrame. Got {type(table).__name__} instead.")
    run_columns = list(run_columns)
    if "model" not in run_columns:
        raise ParameterError(f"The 'run_columns' parameter must include 'model'. Got {run_columns!r}.")
    need = [*run_columns, order, "accuracy", "statistic", "value"]
    missing = [c for c in need if c not in table.columns]
    if missing:
        raise ParameterError(f"The 'table' parameter lacks the columns {missing} (needs {need}).")
    models = set(table["model"])
    if reference not in models:
        raise ParameterError(f"The 'reference' parameter must be one of the models {sorted(map(str, models))}. "
                             f"Got {reference!r}.")
    t = table.copy()
    if "layer" not in t.columns:
        t["layer"] = 0
    finals = t.sort_values(order).groupby(run_columns, sort=True).tail(1)
    ref_final_acc = finals[finals["model"] == reference].drop_duplicates(run_columns)["accuracy"].to_numpy(float)
    if target is None:
        target = float(np.nanmean(ref_final_acc)) if ref_final_acc.size else float("nan")
    elif isinstance(target, bool) or not isinstance(target, (int, float, np.number)) or not np.isfinite(target):
        raise ParameterError(f"The 'target' parameter must be a finite number or None. Got {target!r} instead.")
    acc_iv = seed_interval(ref_final_acc, ci=ci)
    rows = []
    for (stat, layer), grp in t.groupby(["statistic", "layer"], sort=True):
        ref = grp[grp["model"] == reference].sort_values(order).groupby(run_columns, sort=True).tail(1)
        ref_vals = ref["value"].to_numpy(float)
        ref_iv = seed_interval(ref_vals, ci=ci)
        for model in sorted(m for m in set(grp["model"]) if m != reference):
            vals, steps, status = [], [], []
            for _, run in grp[grp["model"] == model].groupby(run_columns, sort=True):
                run = run.sort_values(order)
                v, step, s = _crossing(run["accuracy"].to_numpy(float), run["value"].to_numpy(float), float(target))
                vals.append(v)
                steps.append(step)
                status.append(s)
            vals_a = np.asarray(vals, dtype=float)
            iv = seed_interval(vals_a, ci=ci)
            d = difference_interval(ref_vals, vals_a, ci=ci)
            fin_steps = np.asarray(steps, dtype=float)
            fin_steps = fin_steps[np.isfinite(fin_steps)]
            rows.append({"statistic": stat, "layer": int(layer), "model": model, "target": float(target),
                         "reference_model": reference, "reference_mean": ref_iv.estimate,
                         "reference_low": ref_iv.low, "reference_high": ref_iv.high,
                         "reference_accuracy_low": acc_iv.low, "reference_accuracy_high": acc_iv.high,
                         "mean": iv.estimate, "low": iv.low, "high": iv.high, "difference": d.estimate,
                         "difference_low": d.low, "difference_high": d.high, "n_reference": int(ref_iv.n),
                         "n_runs": len(vals), "n_matched": int(np.isfinite(vals_a).sum()),
                         "n_starts_above": status.count(STARTS_ABOVE), "n_never_reached": status.count(NEVER_REACHED),
                         "max_accuracy_step": float(fin_steps.max()) if fin_steps.size else float("nan")})
    return pd.DataFrame(rows, columns=list(TABLE_COLUMNS))
