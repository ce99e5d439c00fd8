"""Shared helpers of the robustness suite (fault injection, bad input, untrusted input)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]


def small_recording(rng, n=24, layer_sizes=(6, 4), epochs=None, activity=None):
    """A small valid recording (3 classes) built with ensembles.record.make_recording."""
    from ensembles.record import make_recording

    labels = rng.integers(0, 3, n)
    presentation = {"stimulus_id": [f"syn/test/{i:05d}" for i in range(n)], "label": labels,
                    "label_name": [f"class{lab}" for lab in labels], "split": ["test"] * n}
    shape = (n, sum(layer_sizes)) if epochs is None else (len(epochs), n, sum(layer_sizes))
    if activity is None:
        activity = np.maximum(rng.normal(size=shape), 0).astype(np.float32)
    return make_recording(activity, presentation=presentation, layer_sizes=list(layer_sizes), epochs=epochs,
                          attrs={"model": "ff", "dataset": "synthetic", "seed": 0, "config": {"k": 1},
                                 "site": "post-relu"})


def run_python(code: str, *, timeout: float = 60, env: dict | None = None, check: bool = True):
    """Run ``code`` in a fresh interpreter (cwd = repo root, torch limited to 1 thread); return the CompletedProcess."""
    full_env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", **(env or {})}
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                          timeout=timeout, cwd=REPO, env=full_env)
    if check and proc.returncode != 0:
        raise AssertionError(f"subprocess failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc


def popen_python(code: str, *, env: dict | None = None, **kw):
    """Start ``code`` in a fresh interpreter without waiting (for kill -9 tests)."""
    full_env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", **(env or {})}
    return subprocess.Popen([sys.executable, "-c", textwrap.dedent(code)], cwd=REPO, env=full_env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)


def wait_for(predicate, timeout: float, what: str, proc=None, interval: float = 0.05):
    """Poll ``predicate`` until true; fail with ``what`` (and the process output) on timeout or early exit."""
    import time

    t0 = time.time()
    while time.time() - t0 < timeout:
        if predicate():
            return
        if proc is not None and proc.poll() is not None:
            out, err = proc.communicate()
            raise AssertionError(f"process exited ({proc.returncode}) before {what}:\n{out}\n{err}")
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")
