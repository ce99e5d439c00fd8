"""Shared by the benchmarks: timing, child processes that report one JSON line, writing a result file atomically,
and an older revision's ``src`` tree for before/after comparisons.

A benchmark that measures in a fresh process runs itself with ``--worker``: the child does the work and prints its
result as the last line of stdout (:func:`serve_worker`), the parent reads it (:func:`run_worker`).
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent


def timed(fn: Callable[[], Any], repeat: int = 1) -> tuple[float, Any]:
    """(best wall time in seconds over ``repeat`` calls of ``fn``, the last call's result)."""
    best, out = float("inf"), None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
    return best, out


def thread_env(threads: int = 1, pythonpath: str | None = None, **extra: str) -> dict[str, str]:
    """This process's environment with ``OMP_NUM_THREADS``/``MKL_NUM_THREADS`` = ``threads`` (and ``PYTHONPATH``)."""
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads), **extra}
    if pythonpath is not None:
        env["PYTHONPATH"] = pythonpath
    return env


def run_worker(cmd: list[str], what: str, env: Mapping[str, str] | None = None) -> Any:
    """Run ``cmd`` and return the JSON of its last stdout line; exit with its output when it fails."""
    proc = subprocess.run(cmd, capture_output=True, text=True, env=None if env is None else dict(env))
    if proc.returncode != 0:
        raise SystemExit(f"{what} failed (exit status {proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def serve_worker(args, workers: Callable | Mapping[str, Callable], flag: str = "worker") -> bool:
    """In a worker child (option ``flag`` set): run the worker (``workers[<its value>]`` for a mapping) on ``args``,
    print its result as one JSON line and return True; in the parent return False."""
    role = getattr(args, flag)
    if not role:
        return False
    fn = workers[role] if isinstance(workers, Mapping) else workers
    print(json.dumps(fn(args)))
    return True


def write_json(path: str | os.PathLike, payload: Any, **dump_kw: Any) -> Path:
    """Write ``payload`` as JSON (``indent=1`` unless given) via a temporary file in the same directory, renamed into
    place, so an interrupted benchmark never leaves a truncated result; print and return the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    dump_kw.setdefault("indent", 1)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as fh:
            json.dump(payload, fh, **dump_kw)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise
    print(f"wrote {path}")
    return path


def extract_src(rev: str, into: str | Path) -> str:
    """Extract ``src/`` of git revision ``rev`` of this repository into ``into``; return the path for PYTHONPATH."""
    arch = subprocess.run(["git", "-C", str(REPO), "archive", rev, "src"], capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=arch, check=True)
    return str(Path(into) / "src")


def short_rev(rev: str) -> str:
    """The abbreviated commit id of ``rev``."""
    return subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", rev], capture_output=True,
                          text=True).stdout.strip()
