"""The runs of the reproduction protocol (docs/reproduction.md, section 1) as sweep specifications.

Each condition is one or more sweeps (a sweep is a cartesian grid; the conditions are not), run by the Dask sweep
engine into ``OUT/sweeps/<sweep name>/``: resumable, finished runs reused (a run's directory is named by the hash
of its resolved config). Every run uses the ``cpu`` scale profile, i.e. the authors' learning rate, batch size and
optimiser with fewer epochs (``ensembles.train.config``); grid learning rates other than the authors' are extra,
labelled conditions.

Protocol v2 (docs/reproduction-v2.md, section 1) adds two opt-in conditions: ``zero_shot`` (three held-out classes
per dataset, :data:`ZERO_SHOT_CLASSES`, each held out alone; FF and BP/FF strict, BP) and ``reference`` (the ten-class
models on the held-out runs' training images, recorded along their training trajectories,
:func:`trajectory_epochs`). Both record FF-style models with the true label and with no label. They are configured
with the trainer's ``record.epochs`` and ``record.conditions``; nothing about training changes.
"""

from __future__ import annotations

import math
from typing import Any

from ensembles.errors import ParameterError

__all__ = ["CONDITIONS", "DEFAULT_CONDITIONS", "HELD_OUT_CLASS", "LR_GRID", "SUBSAMPLE", "reproduction_sweeps",
           "grid_lrs", "with_baseline_grid_points", "V1_CONDITIONS", "V2_CONDITIONS", "ZERO_SHOT_CLASSES", "trajectory_epochs"]

# v2's conditions are named so that no sweep name of one starts with another condition's name plus "_" (the
# workflow tells a sweep's condition by that prefix): "zero_shot", not "held_out_...".
V1_CONDITIONS = ("baseline", "held_out", "lr_grid")
V2_CONDITIONS = ("zero_shot", "reference")
CONDITIONS = (*V1_CONDITIONS, *V2_CONDITIONS)
# what `ensembles reproduce` trains unless told otherwise: the runs of the paper's claims (C1-C8). The learning-rate
# grid (claim C9 and the sparsity-vs-accuracy figure across learning rates) is opt-in: it is our test of a question
# the paper raises, not one of its claims, and it adds about half as much training again (docs/reproduction.md, §1)
DEFAULT_CONDITIONS = ("baseline", "held_out")
MODELS = ("ff", "bp_ff", "bp")
# fixed in advance as the last class (F-MNIST "Ankle boot", MNIST digit 9), not for any property of it
HELD_OUT_CLASS = 9
# learning rates of the sparsity-vs-accuracy grid; the authors' values (FF 1e-2, BP/FF 1e-4, BP 1e-4) included
LR_GRID = {"ff": [1e-3, 1e-2], "bp_ff": [1e-4, 1e-3], "bp": [1e-4, 1e-3, 1e-2]}
# training images of the held-out and grid conditions (the baseline always uses the whole training set)
SUBSAMPLE = {"fashion-mnist": 12000, "mnist": 12000}
# protocol v2's held-out classes, chosen in advance from the correlation of the class-mean training images
# (docs/reproduction-v2.md, section 1): two close neighbours (>= 0.80), one, none. Class 9 is v1's.
ZERO_SHOT_CLASSES = {"mnist-5k": (9, 4, 1), "fashion-mnist": (4, 9, 8)}
# label conditions recorded by FF-style models in the v2 conditions: the true label embedded, and no label
V2_RECORD_CONDITIONS = ["true", "none"]


def trajectory_epochs(model: str, epochs: int, *, n_layers: int = 3) -> list[int]:
    """The recorded epochs of a ``reference`` run (docs/reproduction-v2.md, section 1): at least 8 per run.

    Greedy FF (``epochs`` per layer): in every layer's stage after round(e q) epochs, q in 1/8, 1/4, 1/2, 3/4, 1.
    BP/FF and BP (``epochs`` in total): round(E^(i/9)), i = 0..9, plus round(E/3) and round(2E/3). Fewer than 8
    only when the run itself has fewer distinct epochs.
    """
    if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1:
        raise ParameterError(f"The 'epochs' parameter must be a positive integer. Got {epochs!r} instead.")
    if model == "ff":
        per = sorted({max(1, round(epochs * q)) for q in (1 / 8, 1 / 4, 1 / 2, 3 / 4, 1)})
        return [s * epochs + e for s in range(n_layers) for e in per]
    if model in ("bp_ff", "bp"):
        return sorted({max(1, round(epochs ** (i / 9))) for i in range(10)}
                      | {max(1, round(epochs / 3)), max(1, round(2 * epochs / 3))})
    raise ParameterError(f"The 'model' parameter must be one of {MODELS}. Got {model!r} instead.")


def _sweep(name: str, dataset: str, grid: dict[str, list], base: dict[str, Any], *, scale: str,
           n_workers: int | None, device: str) -> dict[str, Any]:
    local: dict[str, Any] = {"threads_per_worker": 1}
    if n_workers is not None:
        local["n_workers"] = n_workers
    return {"sweep": {"name": name, "preset": "paper", "scale": scale, "retries": 1, "device": device,
                      "description": f"reproduction of Tosato et al. 2023, {dataset}: {name}"},
            "base": {"dataset": dataset, **base}, "grid": grid, "scheduler": {"local": local}}


def reproduction_sweeps(dataset: str = "mnist-5k", seeds: list[int] | tuple[int, ...] = (0, 1, 2), *,
                        conditions: tuple[str, ...] = V1_CONDITIONS, scale: str = "cpu",
                        n_workers: int | None = None, overrides: dict[str, Any] | None = None,
                        device: str = "cpu") -> dict[str, dict[str, Any]]:
    """``{sweep name: sweep dict}`` for the requested conditions (dicts in the layout of a sweep TOML file).

    Sweeps: ``baseline`` (3 models x seeds, all training images); ``held_out_ff`` (FF and BP/FF x strict/loose x
    seeds) and ``held_out_bp`` (BP x seeds), class :data:`HELD_OUT_CLASS` removed from training;
    ``lr_grid_<model>`` (that model x :data:`LR_GRID` x seeds). Held-out and grid runs use
    :data:`SUBSAMPLE` training images where the dataset has an entry. Protocol v2 (opt-in):
    ``zero_shot_ff_<k>`` (FF and BP/FF strict x seeds) and ``zero_shot_bp_<k>`` (BP x seeds) for every class k of
    :data:`ZERO_SHOT_CLASSES`; ``reference_<model>`` (that model x seeds, ten classes, recorded at
    :func:`trajectory_epochs`); both on the held-out condition's training images. ``overrides``: dotted config keys added to
    every run (e.g. ``{"network.hidden": [16, 16, 16]}`` for a smoke test); never use them to change the authors'
    settings of a baseline.
    """
    seeds = list(seeds)
    if not seeds or any(isinstance(s, bool) or not isinstance(s, int) or s < 0 for s in seeds):
        raise ParameterError(f"The 'seeds' parameter must be a non-empty list of non-negative integers. Got {seeds!r}.")
    if len(set(seeds)) != len(seeds):
        raise ParameterError(f"The 'seeds' parameter must not repeat a seed. Got {seeds!r}.")
    for c in conditions:
        if c not in CONDITIONS:
            raise ParameterError(f"The 'conditions' parameter must contain only {CONDITIONS}. Got {c!r}.")
    sub = {"data.train_subsample": SUBSAMPLE[dataset]} if dataset in SUBSAMPLE else {}
    extra = dict(overrides or {})
    out: dict[str, dict[str, Any]] = {}
    if scale not in ("cpu", "full", "quick"):
        raise ParameterError(f"The 'scale' parameter must be 'quick', 'cpu' or 'full'. Got {scale!r} instead.")
    kw = {"scale": scale, "n_workers": n_workers, "device": device}
    if "baseline" in conditions:
        out["baseline"] = _sweep("baseline", dataset, {"model": list(MODELS), "seed": seeds}, dict(extra), **kw)
    if "held_out" in conditions:
        held = {"data.held_out": [HELD_OUT_CLASS], **sub, **extra}
        out["held_out_ff"] = _sweep("held_out_ff", dataset, {"model": ["ff", "bp_ff"], "data.held_out_mode":
                                                             ["strict", "loose"], "seed": seeds}, held, **kw)
        out["held_out_bp"] = _sweep("held_out_bp", dataset, {"model": ["bp"], "seed": seeds}, held, **kw)
    if "lr_grid" in conditions:
        for model in MODELS:
            lrs = grid_lrs(model, dataset, scale=scale, overrides=extra)
            if lrs:
                out[f"lr_grid_{model}"] = _sweep(f"lr_grid_{model}", dataset, {"model": [model], "train.lr": lrs,
                                                                             "seed": seeds}, {**sub, **extra}, **kw)
    if "zero_shot" in conditions:
        if dataset not in ZERO_SHOT_CLASSES:
            raise ParameterError(f"The 'zero_shot' condition has held-out classes chosen in advance only for "
                                 f"{sorted(ZERO_SHOT_CLASSES)}. Got dataset {dataset!r}.")
        for k in ZERO_SHOT_CLASSES[dataset]:
            held = {"data.held_out": [k], **sub, **extra}
            out[f"zero_shot_ff_{k}"] = _sweep(
                f"zero_shot_ff_{k}", dataset, {"model": ["ff", "bp_ff"], "seed": seeds},
                {**held, "data.held_out_mode": "strict", "record.conditions": list(V2_RECORD_CONDITIONS)}, **kw)
            out[f"zero_shot_bp_{k}"] = _sweep(f"zero_shot_bp_{k}", dataset, {"model": ["bp"], "seed": seeds}, held,
                                              **kw)
    if "reference" in conditions:
        for model in MODELS:
            eps = trajectory_epochs(model, _epochs(model, dataset, scale, extra),
                                    n_layers=len(extra.get("network.hidden", [0, 0, 0])))
            base = {**sub, **extra, "record.epochs": eps}
            if model != "bp":
                base["record.conditions"] = list(V2_RECORD_CONDITIONS)
            out[f"reference_{model}"] = _sweep(f"reference_{model}", dataset, {"model": [model], "seed": seeds},
                                               base, **kw)
    return out


def _epochs(model: str, dataset: str, scale: str, overrides: dict[str, Any]) -> int:
    from ensembles.train import make_config

    e = overrides.get("train.epochs")
    return int(e) if e is not None else int(make_config(model, dataset, scale=scale).train.epochs)


def _baseline_lr(model: str, dataset: str, scale: str, overrides: dict[str, Any] | None) -> float:
    from ensembles.train import make_config

    lr = (overrides or {}).get("train.lr")
    return float(lr) if lr is not None else float(make_config(model, dataset, scale=scale).train.lr)


def grid_lrs(model: str, dataset: str, *, scale: str = "cpu", overrides: dict[str, Any] | None = None) -> list[float]:
    """The learning rates to train for ``model``'s lr grid.

    Where the grid trains on the same images as the baseline (datasets without a :data:`SUBSAMPLE` entry), the grid
    point at the baseline's (the authors') learning rate *is* the baseline run — same config, same seed, and
    training is bitwise reproducible — so it is not trained twice: :func:`with_baseline_grid_points` adds the
    baseline's statistics to the grid when judging and plotting.
    """
    lrs = [float(x) for x in LR_GRID[model]]
    if dataset in SUBSAMPLE:
        return lrs
    base = _baseline_lr(model, dataset, scale, overrides)
    return [lr for lr in lrs if not math.isclose(lr, base, rel_tol=1e-9)]


def with_baseline_grid_points(stats, dataset: str):
    """``stats`` plus, on datasets whose grid is not subsampled, each baseline run again as the lr-grid point at its
    learning rate (for models that have grid runs and no grid run at that rate). Rows are relabelled, not
    recomputed; the per-run statistics table on disk keeps one row per run."""
    import pandas as pd

    if dataset in SUBSAMPLE or stats.empty:
        return stats
    grid = stats[stats["condition"] == "lr_grid"]
    extra = []
    for model in sorted(set(grid["model"])):
        have = {float(x) for x in grid.loc[grid["model"] == model, "lr"]}
        base = stats[(stats["condition"] == "baseline") & (stats["model"] == model)]
        base = base[[not any(math.isclose(float(lr), h, rel_tol=1e-9) for h in have) for lr in base["lr"]]]
        if not base.empty:
            extra.append(base.assign(condition="lr_grid"))
    return pd.concat([stats, *extra], ignore_index=True) if extra else stats


