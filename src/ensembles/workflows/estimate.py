"""How long the demo and the reproduction will take on this machine: an estimate printed before they start.

Reference figures: the CPU-seconds of the default training runs, measured on an idle 2-core x86-64 machine at
one thread per run (:data:`REFERENCE_RUNS`).  A run with other settings (epochs, training images, layer widths,
image size) is scaled by its training work, epochs x training images x weights, from the reference run of the
same model.  A calibration of about half a second (single-threaded float32 matrix products, the bulk of training)
measures how much slower this machine is now than the reference machine was idle: its speed and its current load
together.  The result is an estimate, not a promise: the load can change while the command runs.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["REFERENCE_RUNS", "Calibration", "calibrate", "run_cpu_seconds", "format_duration", "demo_seconds",
           "reproduction_seconds", "demo_estimate", "reproduction_estimate"]

#: CPU-seconds of one training run at the ``cpu`` scale on the idle 2-core reference machine, one thread per run:
#: ``(dataset, model, held out) -> (CPU-s, epochs, training images)``; the medians over seeds (and held-out
#: modes) of ``docs/results/<dataset>/default-job/training_cost.csv`` (the default ``ensembles reproduce`` measured
#: as one job each; the held-out runs of Fashion-MNIST use 12,000 training images).  Layers 1000-1000-1000.
REFERENCE_RUNS: dict[tuple[str, str, bool], tuple[float, int, int]] = {
    ("mnist-5k", "ff", False): (79.0, 60, 4000),
    ("mnist-5k", "bp_ff", False): (153.0, 100, 4000),
    ("mnist-5k", "bp", False): (153.0, 200, 4000),
    ("mnist-5k", "ff", True): (65.0, 60, 4000),
    ("mnist-5k", "bp_ff", True): (142.0, 100, 4000),
    ("mnist-5k", "bp", True): (142.0, 200, 4000),
    ("fashion-mnist", "ff", False): (522.0, 30, 60000),
    ("fashion-mnist", "bp_ff", False): (684.0, 30, 60000),
    ("fashion-mnist", "bp", False): (214.0, 20, 60000),
    ("fashion-mnist", "ff", True): (141.0, 30, 12000),
    ("fashion-mnist", "bp_ff", True): (162.0, 30, 12000),
    ("fashion-mnist", "bp", True): (61.0, 20, 12000),
}
_REFERENCE_WEIGHTS = 784 * 1000 + 1000 * 1000 + 1000 * 1000
#: Seconds of the analysis and report on the reference machine: the demo's (mnist-5k) and the reproduction's
#: (``docs/results/<dataset>/default-job/timing.json``); other datasets are scaled by their test-set size.
REFERENCE_ANALYSIS_S = {"demo": {"mnist-5k": 19.0}, "reproduce": {"mnist-5k": 15.0, "fashion-mnist": 91.0}}
#: Speed-up of one run that uses the two cores of the reference machine (torch threads) over one core: the demo's
#: runs took 43, 85 and 87 s for 79, 153 and 153 CPU-s.
TWO_THREAD_SPEEDUP = 1.8
#: Wall time of a whole reproduction over (CPU-s / workers + analysis) on the reference machine: 1.08 (mnist-5k,
#: 25 min 51 s) and 1.05 (Fashion-MNIST, 56 min 26 s); start-up, scheduling and runs of unequal length.
PARALLEL_OVERHEAD = 1.07
#: CPU-seconds of one calibration step (:func:`_step`) on the reference machine, one thread.
REFERENCE_STEP_S = 0.0083


@dataclass(frozen=True)
class Calibration:
    """``factor``: wall time here now / CPU time on the reference machine for the same work (> 1 = slower)."""

    factor: float
    seconds: float

    def describe(self) -> str:
        if self.factor >= 1.15:
            speed = f"this machine {self.factor:.1f}x slower than that one right now"
        elif self.factor <= 0.87:
            speed = f"this machine {1 / self.factor:.1f}x faster than that one right now"
        else:
            speed = "this machine about as fast as that one right now"
        return f"a {self.seconds:.1f} s calibration finds {speed}"


def _step(a: np.ndarray, w1: np.ndarray, w2: np.ndarray) -> None:
    np.maximum(a @ w1, 0.0) @ w2


def calibrate(min_seconds: float = 0.4) -> Calibration:
    """Time single-threaded float32 matrix products (a 256-image batch through 784-1000-1000 layers) for at least
    ``min_seconds`` of wall time and compare with :data:`REFERENCE_STEP_S`."""
    from threadpoolctl import threadpool_limits

    rng = np.random.default_rng(0)
    a = rng.standard_normal((256, 784), dtype=np.float32)
    w1 = rng.standard_normal((784, 1000), dtype=np.float32)
    w2 = rng.standard_normal((1000, 1000), dtype=np.float32)
    with threadpool_limits(limits=1):
        _step(a, w1, w2)  # warm-up
        n, t0 = 0, time.perf_counter()
        while (elapsed := time.perf_counter() - t0) < min_seconds or n < 5:
            _step(a, w1, w2)
            n += 1
    return Calibration(factor=max(elapsed / n / REFERENCE_STEP_S, 0.05), seconds=elapsed)


def _n_train(cfg: Any) -> int:
    from ensembles.data.registry import SPECS

    n = SPECS[cfg.data.dataset].n["train"]
    return min(n, cfg.data.train_subsample) if cfg.data.train_subsample else n


def _weights(cfg: Any) -> int:
    from ensembles.data.registry import SPECS

    sizes = [math.prod(SPECS[cfg.data.dataset].image_shape), *cfg.network.hidden]
    return sum(a * b for a, b in zip(sizes[:-1], sizes[1:], strict=True))


def run_cpu_seconds(cfg: Any) -> float:
    """CPU-seconds of one training run (a ``RunConfig``) on the reference machine: a reference run of the same
    dataset (else mnist-5k) and model, scaled by the training work."""
    held, n = bool(cfg.data.held_out), _n_train(cfg)
    dataset = cfg.data.dataset if (cfg.data.dataset, cfg.model, held) in REFERENCE_RUNS else "mnist-5k"
    # of the dataset's reference runs of this model, the one with the nearest number of training images (the
    # evaluation and recording of the test split weigh more in a run on fewer images), then the same condition
    key = min(((dataset, cfg.model, h) for h in (held, not held)),
              key=lambda k: (abs(math.log(REFERENCE_RUNS[k][2] / n)), k[2] != held))
    cpu, epochs, n_train = REFERENCE_RUNS[key]
    work = cfg.train.epochs * n * _weights(cfg)
    return cpu * work / (epochs * n_train * _REFERENCE_WEIGHTS)


def _analysis_seconds(kind: str, dataset: str) -> float:
    from ensembles.data.registry import SPECS

    table = REFERENCE_ANALYSIS_S[kind]
    if dataset in table:
        return table[dataset]
    return table["mnist-5k"] * SPECS[dataset].n["test"] / SPECS["mnist-5k"].n["test"]


def format_duration(seconds: float) -> str:
    """``"45 s"``, ``"6 min"``, ``"1 h 05 min"`` (rounded: an estimate)."""
    if seconds < 90:
        return f"{max(5, round(seconds / 5) * 5):.0f} s"
    minutes = round(seconds / 60)
    return f"{minutes} min" if minutes < 60 else f"{minutes // 60} h {minutes % 60:02d} min"


def _estimated(seconds: float, cal: Calibration) -> str:
    return (f"estimated duration on this machine: about {format_duration(seconds)} (an estimate from runs measured "
            f"on an idle 2-core machine; {cal.describe()}; it changes with the load)")


def demo_seconds(configs: Iterable[Any], dataset: str, *, cores: int, factor: float = 1.0) -> float:
    """Wall seconds of the demo's training runs ``configs`` (one after the other, torch using ``cores``) and its
    analysis and report, on the reference machine times ``factor``."""
    speedup = min(TWO_THREAD_SPEEDUP, 0.9 * cores) if cores > 1 else 1.0
    train = sum(run_cpu_seconds(c) for c in configs) / speedup
    return (train + _analysis_seconds("demo", dataset)) * factor


def reproduction_seconds(configs: Iterable[Any], dataset: str, *, workers: int, analyze: bool = True,
                         factor: float = 1.0) -> float:
    """Wall seconds of the reproduction's training runs ``configs`` on ``workers`` single-threaded workers and
    its analysis, on the reference machine times ``factor``."""
    cpu = [run_cpu_seconds(c) for c in configs]
    train = max(sum(cpu) / max(workers, 1), max(cpu, default=0.0)) * PARALLEL_OVERHEAD
    return (train + (_analysis_seconds("reproduce", dataset) if analyze else 0.0)) * factor


def demo_estimate(plan: dict[str, Any], dataset: str, *, to_train: Iterable[str], cores: int,
                  calibration: Calibration | None = None) -> str:
    """The demo's plan and its estimated wall time: the runs of ``plan`` named in ``to_train`` (the others are
    reused), one after the other with torch using the cores, then the analysis and report."""
    todo = [n for n in plan if n in set(to_train)]
    cal = calibration or calibrate()
    total = demo_seconds([plan[n] for n in todo], dataset, cores=cores, factor=cal.factor)
    reused = len(plan) - len(todo)
    runs = f"{len(todo)} training run(s) ({', '.join(todo)})" if todo else "no training"
    return (f"plan: {runs}{f', {reused} finished run(s) reused' if reused else ''}, then the analysis and the "
            f"report\n{_estimated(total, cal)}")


def reproduction_estimate(configs: list[Any], dataset: str, *, n_reused: int, workers: int, analyze: bool = True,
                          calibration: Calibration | None = None) -> str:
    """The reproduction's plan and its estimated wall time: ``configs`` (the runs left to train) on ``workers``
    single-threaded workers, then the analysis."""
    cal = calibration or calibrate()
    total = reproduction_seconds(configs, dataset, workers=workers, analyze=analyze, factor=cal.factor)
    reused = f", {n_reused} finished run(s) reused" if n_reused else ""
    return (f"plan: {len(configs)} training run(s) on {workers} worker(s){reused}, then the analysis and the "
            f"verdicts\n{_estimated(total, cal)}")
