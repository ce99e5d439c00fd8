"""Ctrl-C during ``ensembles reproduce``: the terminal's SIGINT reaches the whole process group (the command and its
Dask workers). The command says it was interrupted, exits 130, prints no traceback and none of Dask's shutdown
warnings, starts no further sweep, and leaves no worker process behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from ._helpers import REPO, wait_for

pytest.importorskip("distributed")


def _sigint_default() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.mark.slow
def test_ctrl_c_during_a_reproduction_is_a_clean_interruption(tmp_path):
    out = tmp_path / "rep"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    env.pop("ENSEMBLES_DEBUG", None)
    # digits, 16-unit layers, far more epochs than the test waits for: the runs are mid-training at the Ctrl-C
    cmd = [sys.executable, "-m", "ensembles", "reproduce", "--dataset", "digits", "--seeds", "0", "--conditions",
           "baseline", "held_out", "--out", str(out), "--set", "network.hidden=[16,16,16]", "--set",
           "train.epochs=100000", "--workers", "2"]
    # its own process group with SIGINT at its default, as a terminal's foreground job (a test suite started in the
    # background of a non-interactive shell inherits SIGINT ignored, and Python then installs no Ctrl-C handler)
    proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True, preexec_fn=_sigint_default)
    try:
        runs = out / "sweeps" / "baseline" / "runs"
        wait_for(lambda: runs.is_dir() and any((d / "config.toml").exists() for d in runs.iterdir()), 120,
                 "the baseline runs started", proc=proc)
        time.sleep(2)
        os.killpg(proc.pid, signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 130, (stdout, stderr)
    assert "ensembles: interrupted" in stderr
    for noise in ("Traceback", "Exception ignored", "distributed.", "CancelledError", "CommClosedError",
                  "IOLoop is closed", "AssertionError"):
        assert noise not in stderr, stderr
    assert not (out / "sweeps" / "held_out_ff").exists()  # nothing started after the interruption
    # no worker of this command's process group is left running (an exited worker may linger as a zombie for a
    # moment until init reaps it)
    def group_gone() -> bool:
        try:
            os.killpg(proc.pid, 0)
        except ProcessLookupError:
            return True
        return False

    wait_for(group_gone, 20, "the command's worker processes to end")


def test_a_dask_object_finalised_after_its_loop_closed_prints_nothing():
    """What a Client finalised at the shutdown of an interrupted command raises ("IOLoop is closed") is not printed
    as an ignored exception; any other unraisable exception still is."""
    code = textwrap.dedent("""
        import gc
        from ensembles.sweep.cluster import ignore_closed_loop_errors
        ignore_closed_loop_errors()
        class FromDask:
            def __del__(self):
                raise RuntimeError("IOLoop is closed")
        FromDask.__del__.__module__ = "distributed.client"
        class Ours:
            def __del__(self):
                raise RuntimeError("another problem")
        FromDask(); Ours(); gc.collect()
    """)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=REPO)
    assert proc.returncode == 0, proc.stderr
    assert "IOLoop is closed" not in proc.stderr and "another problem" in proc.stderr
