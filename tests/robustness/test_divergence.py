"""Diverged training is a failure, not a success: a non-finite loss, weight or recorded activation stops the run
with the epoch, the layer and the last finite loss, keeps the last good checkpoint and writes no DONE; an option
records the diverged run anyway (issue #11, item 4)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from ensembles.errors import DivergenceError

from ._train_helpers import main_in_process, one_line_error, patch_trainer, tiny_config, write_tiny_toml

torch = pytest.importorskip("torch")
torch.set_num_threads(1)


def test_an_absurd_learning_rate_fails_instead_of_writing_done(tmp_path, capsys):
    """`--set train.lr=1e308` used to give NaN losses, an all-NaN recording, DONE and exit status 0."""
    cfg = write_tiny_toml(tmp_path / "c.toml")
    out = tmp_path / "run"
    msg = one_line_error(main_in_process(capsys, "train", str(cfg), "--out", str(out), "--quiet",
                                         "--set", "train.lr=1e308"), rc=1)
    assert "Training diverged at epoch 1 in layer 1" in msg and "no epoch had a finite loss" in msg
    assert "--allow-divergence" in msg and "train.lr" in msg
    assert not out.exists()  # no epoch finished cleanly: nothing that looks like a run is left


def test_divergence_keeps_the_last_good_checkpoint(tmp_path, monkeypatch):
    """A weight of layer 2 becomes NaN during epoch 4 (the second epoch of layer 2): the run stops naming epoch 4,
    layer 2 and the loss of epoch 3; resume.pt still holds the finite state after epoch 3; no recording, no DONE."""
    from ensembles.train import train_run
    from ensembles.train.checkpoints import load_checkpoint

    def poison(trainer, epoch, stats):
        if epoch == 3:
            with torch.no_grad():
                trainer.model.layers[1].linear.weight[0, 0] = float("nan")

    patch_trainer(monkeypatch, poison)
    out = tmp_path / "run"
    with pytest.raises(DivergenceError) as info:
        train_run(tiny_config(), out, progress=False)
    msg = str(info.value)
    ck = load_checkpoint(out / "checkpoints" / "resume.pt", kind="resume")
    assert ck["epoch"] == 3
    assert all(bool(torch.isfinite(v).all()) for v in ck["model"].values())
    last = ck["history"][-1]["loss"]
    assert "Training diverged at epoch 4 in layer 2: non-finite values in the weights of layer 2" in msg
    assert f"the last finite loss was {last:.6g} at epoch 3" in msg
    assert "last good checkpoint is kept" in msg and "resume.pt" in msg
    assert not (out / "DONE").exists() and not (out / "recording.h5").exists()
    assert not (out / "checkpoints" / "model_epoch0004.pt").exists()


def test_nonfinite_activations_with_finite_weights_are_caught_when_recording(tmp_path, monkeypatch):
    """Finite but huge weights overflow float32 in the activations: the recording is not written with them."""
    from ensembles.train import train_run

    def inflate(trainer, epoch, stats):
        if epoch == 1:
            with torch.no_grad():
                trainer.model.layers[0].linear.weight.fill_(3e38)

    patch_trainer(monkeypatch, inflate)
    out = tmp_path / "run"
    with pytest.raises(DivergenceError, match=r"at epoch 2 in layer 1: non-finite values in the recorded "
                                              r"activations"):
        train_run(tiny_config(), out, progress=False)
    assert not (out / "DONE").exists() and not (out / "recording.h5").exists()


def test_allow_divergence_records_the_diverged_run(tmp_path, capsys):
    """For those who study divergence: the run is trained and recorded to the end, and says where it diverged."""
    from ensembles.record import load_recording

    cfg = write_tiny_toml(tmp_path / "c.toml")
    out = tmp_path / "run"
    proc = main_in_process(capsys, "train", str(cfg), "--out", str(out), "--quiet", "--set", "train.lr=1e308",
                           "--allow-divergence")
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout.strip().splitlines()[-1])
    assert summary["diverged"]["epoch"] == 1 and summary["diverged"]["layer"] == 1
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["diverged"] == summary["diverged"]
    assert (out / "DONE").exists()
    act = load_recording(out / "recording.h5")["activity"].values
    assert not np.isfinite(act).all()
