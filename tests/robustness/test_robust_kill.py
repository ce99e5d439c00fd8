"""kill -9 during training and during a sweep, then resume: nothing finished is lost, nothing incomplete is mistaken
for complete, and the resumed result equals the uninterrupted one."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from ._helpers import REPO, wait_for

torch = pytest.importorskip("torch")

# digits at quick scale: FF layerwise 3 layers x 10 epochs = 30 epochs (~0.2 s each), a checkpoint every epoch;
# the weights after layer 1 (epoch 10) are saved as checkpoints/model_epoch0010.pt
CONFIG = """
model = "ff"
scale = "quick"
seed = 3
[data]
dataset = "digits"
[train]
epochs = 10
checkpoint_every = 1
threads = 1
"""


def _env():
    return {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "ENSEMBLES_DEBUG": "1"}


def _train_cmd(cfg: Path, out: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "ensembles", "train", str(cfg), "--out", str(out), *extra]


def _weights(run: Path) -> dict:
    blob = torch.load(run / "checkpoints" / "model.pt", map_location="cpu", weights_only=True)
    return blob["state_dict"]


@pytest.mark.slow
def test_kill_during_training_then_resume_equals_uninterrupted(tmp_path):
    cfg = tmp_path / "run.toml"
    cfg.write_text(CONFIG)
    killed, clean = tmp_path / "killed", tmp_path / "clean"
    ckpt = killed / "checkpoints" / "resume.pt"
    proc = subprocess.Popen(_train_cmd(cfg, killed), cwd=REPO, env=_env(), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        # wait until layer 1 is trained (its weights and a resume checkpoint are on disk), then kill -9 mid-run
        layer1 = killed / "checkpoints" / "model_epoch0010.pt"
        wait_for(lambda: ckpt.exists() and layer1.exists(), 120, "layer 1 checkpointed", proc=proc)
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == -signal.SIGKILL
    # nothing incomplete looks complete
    assert not (killed / "DONE").exists()
    assert not (killed / "recording.h5").exists()
    from ensembles.cli import main

    assert main(["train", str(cfg), "--out", str(killed)]) == 2  # refuses to silently restart or overwrite
    # resume in a fresh process, and an uninterrupted reference run
    subprocess.run(_train_cmd(cfg, killed, "--resume"), cwd=REPO, env=_env(), check=True, capture_output=True,
                   timeout=300)
    from ensembles.train import load_config, train_run

    train_run(load_config(cfg), clean, progress=False)  # uninterrupted reference, in-process (threads = 1)
    assert (killed / "DONE").exists() and (clean / "DONE").exists()
    a, b = _weights(killed), _weights(clean)
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k  # bitwise: same seed, same single thread
    from ensembles.record import load_recording

    ra, rb = load_recording(killed / "recording.h5"), load_recording(clean / "recording.h5")
    np.testing.assert_array_equal(ra["activity"].values, rb["activity"].values)
    ha = json.loads((killed / "history.json").read_text())
    assert [h.get("epoch") for h in ha] == [h.get("epoch") for h in json.loads((clean / "history.json").read_text())]


# two runs on one (threaded) worker: bp (~1 s) and ff (30 epochs, ~6 s, checkpointed every epoch)
SWEEP = """
[sweep]
name = "killme"
scale = "quick"
retries = 0
[base]
dataset = "digits"
"train.threads" = 1
"train.epochs" = 10
[grid]
model = ["bp", "ff"]
seed = [0]
[scheduler.local]
n_workers = 1
processes = false
"""

DRIVER = """
import sys
from ensembles.sweep import run_sweep
res = run_sweep(sys.argv[1], sys.argv[2], progress=False, combine=False)
print("FINISHED", len(res.done), len(res.skipped), len(res.failed), flush=True)
"""


@pytest.mark.slow
def test_kill_sweep_then_restart_loses_nothing(tmp_path):
    """A 2-run sweep on one worker is killed (-9, with any worker process) once the first run has finished;
    restarting it skips the finished run, resumes the other and ends with both complete."""
    spec = tmp_path / "s.toml"
    spec.write_text(SWEEP)
    out = tmp_path / "out"
    # a new session so that the sweep and its Dask worker processes can be killed together
    proc = subprocess.Popen([sys.executable, "-c", DRIVER, str(spec), str(out)], cwd=REPO, env=_env(),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)

    def n_done():
        return len(list(out.glob("runs/*/DONE")))

    try:
        wait_for(lambda: n_done() >= 1, 180, "the first run to finish", proc=proc)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    time.sleep(0.5)
    finished = sorted(p.parent.name for p in out.glob("runs/*/DONE"))
    assert len(finished) == 1
    mtimes = {name: (out / "runs" / name / "DONE").stat().st_mtime_ns for name in finished}
    from ensembles.sweep import sweep_status

    states = sweep_status(out).set_index("dir")["state"]
    assert all(states[f"runs/{n}"] == "complete" for n in finished)
    assert set(states) <= {"complete", "interrupted", "pending"}  # no "running": the sweep is gone
    # restart (in this process)
    from ensembles.sweep import run_sweep

    res = run_sweep(spec, out, progress=False, combine=False, echo=lambda m: None)
    assert (len(res.done), len(res.skipped), len(res.failed)) == (1, 1, 0)
    assert set(sweep_status(out)["state"]) == {"complete"}
    for name, mtime in mtimes.items():  # finished runs were not redone
        assert (out / "runs" / name / "DONE").stat().st_mtime_ns == mtime
