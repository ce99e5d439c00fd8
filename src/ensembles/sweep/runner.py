"""Running a sweep: one Dask task per run, restartable, with retries and per-run logs.

Layout of a sweep directory::

    OUT/
      sweep.toml            copy of the sweep file
      sweep_manifest.json   every run: id, name, directory, grid values, resolved config
      sweep.json            outcome of the last submission (counts, failed runs and their errors)
      .ensembles.lock       the claim of the running sweep process (ensembles._lock; released by the OS if it is
                            killed); .ensembles.json names the command that owns the directory
      runs/<name>-<id8>/    one run directory per run, exactly as `ensembles train` writes it (config.toml,
                            history.json, metrics.json, checkpoints/, recording.h5, DONE last)
      logs/<name>-<id8>/    the sweep's bookkeeping of that run (kept apart because the trainer refuses
                            foreign files in a run directory):
                              log.txt      everything the run printed or logged, all attempts, appended
                              status.json  state, attempt, host, pid, times (atomic)
                              error.json / error.txt   the last failure (removed when the run succeeds)
      combined/             summary.csv, runs.csv, recording.h5 (see ensembles.sweep.combine)

**Completion** is the trainer's ``DONE`` marker, written last: a run is complete iff ``DONE`` exists.  A run
interrupted at any point (process killed, node lost) has no ``DONE``; on re-submission it is trained again with
``resume=True``, so the trainer continues from its last checkpoint, and runs with ``DONE`` are skipped.  Failed runs
(an exception in the trainer or a lost worker) are resubmitted up to ``retries`` times, then reported with their
error in ``error.json``/``error.txt`` and in ``sweep.json``.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import io
import logging
import os
import socket
import sys
import threading
import time
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ensembles import layout as L
from ensembles._io import atomic_write_json, atomic_write_text
from ensembles._lock import MARKER_NAME, claim_output_dir, dir_in_use
from ensembles.errors import OutputDirError, ParameterError
from ensembles.layout import DONE, RunLayout, SweepLayout
from ensembles.sweep.combine import combine_sweep
from ensembles.sweep.spec import RunSpec, SweepSpec, expand_sweep, load_sweep

log = logging.getLogger("ensembles.sweep")


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


# ----------------------------------------------------------------------------------------------------------------
# per-thread routing of stdout/stderr into the run's log.txt (a worker may run several runs in threads)


class _RoutedStream(io.TextIOBase):
    """A stand-in for sys.stdout/sys.stderr that sends each thread's writes to that thread's target, if any."""

    def __init__(self, original):
        self.original = original
        self.targets: dict[int, Any] = {}

    def write(self, s):  # type: ignore[override]
        target = self.targets.get(threading.get_ident())
        return (target or self.original).write(s)

    def flush(self):  # type: ignore[override]
        target = self.targets.get(threading.get_ident())
        (target or self.original).flush()

    def isatty(self):  # type: ignore[override]
        return False

    @property
    def encoding(self):  # type: ignore[override]
        return getattr(self.original, "encoding", "utf-8")


_route_lock = threading.Lock()


def _routed(name: str) -> _RoutedStream:
    with _route_lock:
        stream = getattr(sys, name)
        if not isinstance(stream, _RoutedStream):
            stream = _RoutedStream(stream)
            setattr(sys, name, stream)
        return stream


class _ThreadFilter(logging.Filter):
    def __init__(self, ident: int):
        super().__init__()
        self.ident = ident

    def filter(self, record):
        return record.thread == self.ident


@contextlib.contextmanager
def _capture_to(logfile: Path):
    """Send this thread's stdout, stderr and log records to ``logfile`` (appending) for the duration."""
    ident = threading.get_ident()
    with open(logfile, "a", encoding="utf-8", buffering=1) as fh:
        out, err = _routed("stdout"), _routed("stderr")
        out.targets[ident] = fh
        err.targets[ident] = fh
        handler = logging.StreamHandler(fh)
        handler.addFilter(_ThreadFilter(ident))
        handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s: %(message)s"))
        root = logging.getLogger()
        root.addHandler(handler)
        old_level = root.level
        if root.level > logging.INFO:
            root.setLevel(logging.INFO)
        try:
            yield fh
        finally:
            root.removeHandler(handler)
            root.setLevel(old_level)
            out.targets.pop(ident, None)
            err.targets.pop(ident, None)


# ----------------------------------------------------------------------------------------------------------------
# the task


def default_train_fn(config: Any, out_dir: str | os.PathLike, *, resume: bool, device: str, progress: bool) -> Any:
    """``ensembles.train.train_run`` (imported in the worker)."""
    from ensembles.train import train_run

    return train_run(config, out_dir, resume=resume, device=device, progress=progress)


def _has_partial_state(run_dir: Path) -> bool:
    ckpt = RunLayout(run_dir).checkpoints
    return ckpt.is_dir() and any(ckpt.iterdir())


def execute_run(run_dir: str, config: Any, *, log_dir: str | None = None, attempt: int = 1, device: str = "cpu",
                torch_threads: int = 1, train_fn: Callable[..., Any] | None = None) -> dict:
    """Train one run of a sweep into ``run_dir`` (runs on a Dask worker).

    Skips the run if ``DONE`` exists; resumes it if the trainer left checkpoints.  Output, warnings and log records
    go to ``log_dir/log.txt`` (default ``log_dir``: ``run_dir`` + ``.log``).  Returns ``{"state": "done" |
    "failed", ...}``; a failure also writes ``log_dir/error.json`` and ``error.txt`` (type, message, traceback,
    attempt, host).  The exception is not re-raised: the sweep decides whether to retry.  A finished run's
    ``status.json`` and return value carry ``seconds`` (wall) and ``cpu_seconds`` (CPU time of the worker process
    during the run, :func:`time.process_time`).
    """
    run_dir = Path(run_dir)
    log_dir = Path(log_dir) if log_dir is not None else Path(str(run_dir) + ".log")
    if RunLayout(run_dir).is_done():
        return {"state": "done", "skipped": True, "attempt": attempt}
    run_dir.parent.mkdir(parents=True, exist_ok=True)
    log_dir.mkdir(parents=True, exist_ok=True)
    train_fn = train_fn or default_train_fn
    started, cpu0 = time.time(), time.process_time()
    info = {"attempt": attempt, "host": socket.gethostname(), "pid": os.getpid(), "started": _now()}
    atomic_write_json(log_dir / L.STATUS, {"state": "running", **info})
    with _capture_to(log_dir / L.LOG_TEXT) as fh:
        resume = _has_partial_state(run_dir)
        print(f"=== {_now()} attempt {attempt} on {info['host']} (pid {info['pid']}), "
              f"{'resuming' if resume else 'starting'} ===", file=fh, flush=True)
        try:
            try:
                import torch

                torch.set_num_threads(max(1, int(torch_threads)))
            except ImportError:  # pragma: no cover - torch is a dependency
                pass
            import warnings

            with warnings.catch_warnings():
                warnings.simplefilter("default")
                result = train_fn(config, run_dir, resume=resume, device=device, progress=False)
            if not RunLayout(run_dir).is_done():
                raise RuntimeError(f"the trainer returned without writing the {DONE} marker in {run_dir}")
        except Exception as err:  # noqa: BLE001 - every failure is reported, then retried or listed
            tb = traceback.format_exc()
            fh.write(tb)
            error = {"state": "failed", "type": type(err).__name__, "message": str(err), "traceback": tb,
                     **info, "finished": _now(), "seconds": round(time.time() - started, 3)}
            atomic_write_json(log_dir / L.ERROR_JSON, error)
            atomic_write_text(log_dir / L.ERROR_TEXT, f"{type(err).__name__}: {err}\n\n{tb}")
            atomic_write_json(log_dir / L.STATUS, error)
            return {"state": "failed", "error": f"{type(err).__name__}: {err}", "attempt": attempt}
        seconds = round(time.time() - started, 3)
        # CPU seconds of the whole worker process while the run trained (training threads plus the worker's own
        # event loop): comparable with the run's CPU time in a plain process, so a sweep whose runs cost more CPU
        # than they should (e.g. from an allocator setting in the workers) shows it in status.json
        cpu_seconds = round(time.process_time() - cpu0, 3)
        print(f"=== {_now()} done in {seconds:.1f} s ({cpu_seconds:.1f} CPU s) ===", file=fh, flush=True)
    for stale in (L.ERROR_JSON, L.ERROR_TEXT):
        with contextlib.suppress(FileNotFoundError):
            (log_dir / stale).unlink()
    atomic_write_json(log_dir / L.STATUS, {"state": "done", **info, "finished": _now(), "seconds": seconds,
                                                "cpu_seconds": cpu_seconds})
    summary = result if isinstance(result, Mapping) else {}
    acc = summary.get("test_accuracy", summary.get("accuracy"))
    return {"state": "done", "attempt": attempt, "seconds": seconds, "cpu_seconds": cpu_seconds,
            "accuracy": acc if isinstance(acc, (int, float)) else None}


# ----------------------------------------------------------------------------------------------------------------
# the sweep


@dataclass
class SweepResult:
    """Outcome of :func:`run_sweep`: run names by state, and the error of each failed run."""

    out: Path
    runs: list[RunSpec]
    done: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    combined: dict = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.failed


def is_locked(out: str | os.PathLike) -> bool:
    """True if a live sweep process holds the sweep directory ``out``: its claim (:mod:`ensembles._lock`), or, for a
    sweep started by an older version, the process named in its ``.sweep.lock`` on this host is alive."""
    if dir_in_use(out):
        return True
    try:
        words = SweepLayout(out).legacy_lock.read_text(encoding="utf-8").split()  # "pid N on HOST since ..."
        pid, host = int(words[1]), words[3]
    except (OSError, ValueError, IndexError):
        return False
    if host != socket.gethostname():
        return True  # another node: cannot tell, assume it runs
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def default_out(spec: SweepSpec) -> Path:
    """Default output directory of a sweep: ``results/sweeps/<name>``."""
    return Path("results") / "sweeps" / spec.name


def write_manifest(out: Path, spec: SweepSpec, runs: list[RunSpec]) -> None:
    """Write ``sweep.toml`` (copy of the sweep file) and ``sweep_manifest.json`` (every run) atomically."""
    lay = SweepLayout(out)
    if spec.text is not None:
        atomic_write_text(lay.spec_copy, spec.text)
    manifest = {
        "name": spec.name, "preset": spec.preset, "scale": spec.scale, "retries": spec.retries,
        "grid_keys": list(spec.grid), "created": _now(),
        "runs": [{"id": r.run_id, "name": r.name, "dir": lay.run_rel(r.dirname), "log_dir": lay.log_rel(r.dirname),
                  "params": r.params, "config": r.config_dict} for r in runs],
    }
    # runs of an earlier, different submission to the same directory stay on disk under runs/ but are not listed
    atomic_write_json(lay.manifest, manifest, indent=2)


def claim_sweep_dir(out: str | os.PathLike, *, force: bool = False):
    """Claim a sweep directory for ``ensembles sweep`` (:func:`ensembles._lock.claim_output_dir`).

    A sweep directory written before directories were claimed (it holds ``sweep_manifest.json`` but no ownership
    marker) is adopted; any other directory with files in it is refused unless ``force``.
    """
    lay = SweepLayout(out)
    legacy = lay.is_sweep() and not (lay.root / MARKER_NAME).exists()
    if lay.legacy_lock.exists() and is_locked(out):
        raise OutputDirError(f"The sweep directory {str(out)!r} is in use by a running sweep (an older version of "
                             "ensembles); wait for it to finish or choose another directory.")
    return claim_output_dir(out, command="sweep", force=force or legacy)


def run_sweep(sweep: str | os.PathLike | Mapping | SweepSpec, out: str | os.PathLike | None = None, *,
              scheduler: str = "local", retries: int | None = None, dry_run: bool = False, progress: bool = True,
              make_config: Callable[..., Any] | None = None, train_fn: Callable[..., Any] | None = None,
              client: Any = None, combine: bool = True, echo: Callable[[str], None] | None = None,
              force: bool = False) -> SweepResult:
    """Run (or resume) a sweep.

    Parameters
    ----------
    sweep : path, dict or SweepSpec
        The sweep file (see :mod:`ensembles.sweep.spec`).
    out : path, optional
        Output directory (default ``results/sweeps/<name>``).  Re-using it resumes the sweep.  It is claimed for
        the duration (:mod:`ensembles._lock`): a second sweep on the same directory is refused with
        :class:`~ensembles.errors.OutputDirError`.
    scheduler : str
        ``"local"``, ``"slurm"`` or a scheduler address (see :mod:`ensembles.sweep.cluster`).
    retries : int, optional
        Resubmissions of a failed run (default: the sweep file's ``retries``, else 2).
    dry_run : bool
        Only expand the grid and print what would run (with the state of every run); writes nothing.
    make_config, train_fn : callable, optional
        Resolver of a grid point and trainer (defaults: ``ensembles.train.make_config`` / ``train_run``).
    client : distributed.Client, optional
        Use this client instead of starting a cluster (then ``scheduler`` is ignored).
    combine : bool
        Write ``combined/`` (summary and recording of all finished runs) at the end.
    force : bool
        Write into ``out`` even if it holds files that ``ensembles sweep`` did not write.
    """
    t0 = time.time()
    if client is None:  # checked on a dry run too: it validates what the run would
        from ensembles.sweep.cluster import check_scheduler

        check_scheduler(scheduler)
    spec = sweep if isinstance(sweep, SweepSpec) else load_sweep(sweep)
    retries = spec.retries if retries is None else retries
    if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
        raise ParameterError(f"The 'retries' parameter must be a non-negative integer. Got {retries!r} instead.")
    echo = echo or (lambda msg: print(msg, file=sys.stderr))
    out = Path(out) if out is not None else default_out(spec)
    if not str(out).strip():
        raise ParameterError("The 'out' parameter must name a directory. Got an empty path instead.")
    runs = expand_sweep(spec, make_config=make_config)
    result = SweepResult(out=out, runs=runs)
    if out.exists() and not out.is_dir():
        raise NotADirectoryError(f"The sweep output {out} exists and is not a directory")
    lay = SweepLayout(out)

    def state_of(r: RunSpec) -> str:
        if lay.run(r.dirname).is_done():
            return "complete"
        return "resume" if _has_partial_state(lay.run(r.dirname).root) else "new"

    if dry_run:  # read-only: nothing is created, written or locked
        states = {r.name: state_of(r) for r in runs}
        result.skipped = [n for n, st in states.items() if st == "complete"]
        echo(f"sweep {spec.name!r}: {len(runs)} runs, {len(result.skipped)} already complete, "
             f"{len(runs) - len(result.skipped)} to run -> {out} (dry run: nothing written)")
        for r in runs:
            echo(f"  {r.dirname:<48} {states[r.name]}")
        return result
    claim = claim_sweep_dir(out, force=force)
    failed = True
    try:
        note = claim.note_stale()
        if note:
            echo(note)
        write_manifest(out, spec, runs)
        todo = []
        for r in runs:
            if lay.run(r.dirname).is_done():
                result.skipped.append(r.name)
            else:
                todo.append(r)
        echo(f"sweep {spec.name!r}: {len(runs)} runs, {len(result.skipped)} already complete, "
             f"{len(todo)} to run -> {out}")
        if todo:
            _execute(todo, out, spec, result, scheduler=scheduler, retries=retries, progress=progress,
                     train_fn=train_fn, client=client, total=len(runs), echo=echo)
        if combine and (result.done or result.skipped):
            try:
                result.combined = combine_sweep(out)
            except Exception as err:  # noqa: BLE001 - the runs themselves are safe; report and go on
                echo(f"warning: could not write the combined summary: {type(err).__name__}: {err}")
                result.combined = {"error": f"{type(err).__name__}: {err}"}
        result.seconds = round(time.time() - t0, 3)
        atomic_write_json(lay.outcome, {
            "name": spec.name, "finished": _now(), "seconds": result.seconds, "n_runs": len(runs),
            "n_done": len(result.done) + len(result.skipped), "n_failed": len(result.failed),
            "done": result.done, "skipped": result.skipped, "failed": result.failed,
            "combined": {k: str(v) for k, v in result.combined.items()},
        }, indent=2)
        failed = False
    finally:
        claim.release(failed=failed)
    return result


def _execute(todo: list[RunSpec], out: Path, spec: SweepSpec, result: SweepResult, *, scheduler: str, retries: int,
             progress: bool, train_fn, client, total: int, echo) -> None:
    from distributed import as_completed
    from tqdm.auto import tqdm

    from ensembles.sweep.cluster import connect

    handle = None
    if client is None:
        handle = connect(scheduler, spec.scheduler, n_runs=len(todo))
        client = handle.client
        torch_threads = handle.torch_threads
        echo(f"using {handle.description}")
    else:
        torch_threads = 1
    by_key: dict[str, tuple[RunSpec, int]] = {}

    def submit(run: RunSpec, attempt: int):
        fut = client.submit(execute_run, str(SweepLayout(out).run(run.dirname).root), run.config,
                            log_dir=str(SweepLayout(out).log_dir(run.dirname)), attempt=attempt,
                            device=spec.device, torch_threads=torch_threads, train_fn=train_fn,
                            key=f"run-{run.run_id}-attempt{attempt}-{os.getpid()}-{time.time_ns()}", pure=False)
        by_key[fut.key] = (run, attempt)
        return fut

    bar = tqdm(total=total, initial=total - len(todo), desc=f"sweep {spec.name}", unit="run",
               disable=not progress, file=sys.stderr)
    try:
        pending = as_completed([submit(r, 1) for r in todo])
        for fut in pending:
            run, attempt = by_key.pop(fut.key)
            log_dir = SweepLayout(out).log_dir(run.dirname)
            try:
                res = fut.result()
            except Exception as err:  # noqa: BLE001 - a lost worker (KilledWorker) or a pickling error
                msg = f"{type(err).__name__}: {err}"
                atomic_write_json(log_dir / L.ERROR_JSON, {"state": "failed", "type": type(err).__name__,
                                                           "message": str(err), "attempt": attempt,
                                                           "finished": _now(), "where": "scheduler"})
                atomic_write_text(log_dir / L.ERROR_TEXT, msg + "\n")
                res = {"state": "failed", "error": msg}
            if res["state"] == "done":
                result.done.append(run.name)
                result.failed.pop(run.name, None)
                bar.update(1)
                continue
            if attempt <= retries:
                echo(f"run {run.dirname} failed (attempt {attempt}/{retries + 1}): {res['error']}; retrying")
                pending.add(submit(run, attempt + 1))
            else:
                result.failed[run.name] = res["error"]
                echo(f"run {run.dirname} FAILED after {attempt} attempt(s): {res['error']} "
                     f"(see {log_dir / L.ERROR_TEXT})")
                bar.update(1)
    finally:
        bar.close()
        if handle is not None:
            handle.close()
