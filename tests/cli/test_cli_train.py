"""`ensembles train`: the command line, its errors, and resume after the process is killed (SIGKILL)."""

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import torch

from ensembles.cli import main
from ensembles.record import load_recording
from ensembles.train import load_config, train_run
from robustness._train_helpers import tiny_toml

torch.set_num_threads(1)

#: the quick scale's network (3 layers of 64 units, 20 epochs per layer) on `digits`, recorded at epoch 5 and the last
CONFIG = tiny_toml(hidden=None, epochs=None, threads=None, record_epochs=[5])


@pytest.fixture
def config(tmp_path):
    p = tmp_path / "ff.toml"
    p.write_text(CONFIG)
    return p


def test_train_command_writes_a_run_and_refuses_to_overwrite(tmp_path, config, capsys):
    out = tmp_path / "run"
    args = ["train", str(config), "--out", str(out), "--set", "train.epochs=3", "--quiet", "--threads", "1"]
    assert main(args) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert (out / "DONE").exists()
    assert summary["model"] == "ff"
    assert summary["test_accuracy"] == json.loads((out / "metrics.json").read_text())["test_accuracy"]
    assert load_config(out / "config.toml").train.epochs == 3  # the override is in the resolved config
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "finished run; pass --force" in err and "Traceback" not in err
    assert main(args + ["--force"]) == 0


def test_train_command_reports_config_typos(tmp_path, config, capsys):
    assert main(["train", str(config), "--out", str(tmp_path / "r"), "--set", "train.lrr=0.1"]) == 2
    err = capsys.readouterr().err
    assert "Unknown config key 'train.lrr'. Did you mean 'train.lr'?" in err
    assert not (tmp_path / "r").exists()
    assert main(["train", str(tmp_path / "missing.toml"), "--out", str(tmp_path / "r")]) == 2
    assert "Config file not found" in capsys.readouterr().err


def test_resume_after_sigkill_equals_an_uninterrupted_run(tmp_path, config):
    sets = ["--set", "train.epochs=15"]
    ref = tmp_path / "ref"
    train_run(load_config(config, ["train.epochs=15"]), ref, progress=False)

    cut = tmp_path / "cut"
    cmd = [sys.executable, "-m", "ensembles", "train", str(config), "--out", str(cut), "--quiet",
           "--threads", "1", *sets]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    ckpt = cut / "checkpoints" / "resume.pt"
    deadline = time.time() + 120
    while not ckpt.exists() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.02)
    time.sleep(0.1)  # somewhere inside a later epoch, possibly while writing a checkpoint
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, "the run finished before it could be killed"
    assert not (cut / "DONE").exists()

    res = subprocess.run(cmd[:-2] + ["--resume", *sets], env=env, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    a = torch.load(ref / "checkpoints" / "model.pt", weights_only=True)["state_dict"]
    b = torch.load(cut / "checkpoints" / "model.pt", weights_only=True)["state_dict"]
    assert all(torch.equal(a[k], b[k]) for k in a)
    np.testing.assert_array_equal(load_recording(ref / "recording.h5")["activity"].values,
                                  load_recording(cut / "recording.h5")["activity"].values)
