"""Train the runs of the reproduction on the Dask sweep engine (resumable; finished runs are reused).

Layout: ``OUT/sweeps/<sweep name>/`` per sweep of :func:`ensembles.reproduction.plan.reproduction_sweeps`, each a
normal sweep directory (``ensembles sweep-status`` works on it). One cluster serves every sweep: the baseline
first, then the other conditions together, so that both workers stay busy. Each run uses one torch thread and there
is one worker per core (never more torch threads than cores: several processes that each take every core slow
each other down by up to an order of magnitude).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ensembles.reproduction.plan import DEFAULT_CONDITIONS, reproduction_sweeps

__all__ = ["train_reproduction"]


def train_reproduction(dataset: str, out: str | Path, *, seeds: tuple[int, ...] = (0, 1, 2),
                       conditions: tuple[str, ...] = DEFAULT_CONDITIONS, scheduler: str = "local",
                       n_workers: int | None = None, echo: Callable[[str], None] = print,
                       dry_run: bool = False, scale: str = "cpu", overrides: dict | None = None,
                       device: str = "cpu") -> dict[str, Any]:
    """Run (or resume) every sweep of the protocol into ``out/sweeps``; returns ``{sweep: SweepResult}``.

    ``dry_run`` only lists the runs and their state (complete / resume / new) and writes nothing.
    """
    from ensembles.sweep.cluster import check_scheduler, connect
    from ensembles.sweep.runner import run_sweep

    sweeps = reproduction_sweeps(dataset, seeds, conditions=conditions, n_workers=n_workers, scale=scale,
                                 overrides=overrides, device=device)
    out = Path(out)
    results: dict[str, Any] = {}
    if dry_run:
        for name, spec in sweeps.items():
            results[name] = run_sweep(spec, out / "sweeps" / name, dry_run=True, progress=False,
                                      combine=False, echo=echo)
        return results
    check_scheduler(scheduler)
    options = {"local": {"threads_per_worker": 1, **({"n_workers": n_workers} if n_workers else {})}}
    handle = connect(scheduler, options, n_runs=None)
    echo(f"reproduction on {dataset}: {len(sweeps)} sweeps; {handle.description}")
    errors: list[BaseException] = []
    stopping = threading.Event()  # set when the command is interrupted: the client is closed under the threads

    def go(name: str, spec: dict) -> None:
        t0 = time.time()
        try:
            res = run_sweep(spec, out / "sweeps" / name, client=handle.client, progress=False, combine=False,
                            echo=lambda m: echo(f"[{name}] {m}"))
        except Exception as err:  # reported below, after the other sweeps finish (a Ctrl-C is not caught)
            if not stopping.is_set():
                errors.append(err)
            return
        except BaseException:  # asyncio.CancelledError: the client was closed under this thread by a Ctrl-C
            if stopping.is_set():
                return
            raise
        results[name] = res
        echo(f"[{name}] {len(res.done) + len(res.skipped)}/{len(res.runs)} runs complete, {len(res.failed)} failed "
             f"({time.time() - t0:.0f} s)")

    try:
        if "baseline" in sweeps:
            go("baseline", sweeps.pop("baseline"))
        threads = [threading.Thread(target=go, args=item, daemon=True) for item in sweeps.items()]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
    except BaseException:
        stopping.set()
        raise
    finally:
        handle.close()
    if errors:
        raise errors[0]
    return results
