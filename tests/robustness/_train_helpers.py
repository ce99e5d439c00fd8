"""Helpers of the training-side robustness tests: a tiny run, the command line in a fresh process, fault injection."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

def tiny_toml(*, epochs: int | None = 2, hidden: tuple[int, ...] | None = (16, 16), threads: int | None = 1,
              record_epochs: list[int] | None = None) -> str:
    """The TOML file of a tiny FF run on `digits` (paper preset, quick scale, seed 2).

    Defaults: 2 layers of 16 units, 2 epochs per layer (4 epochs, recorded at epochs 2 and 4), one thread.  A
    ``None`` leaves the key out (the quick scale's value applies: 3 layers of 64 units, 20 epochs per layer).  The
    one tiny config of the training tests, the command-line tests and benchmarks/bench_concurrent_train.py.
    """
    text = 'model = "ff"\npreset = "paper"\nscale = "quick"\nseed = 2\n\n[data]\ndataset = "digits"\n'
    if hidden is not None:
        text += f"\n[network]\nhidden = {list(hidden)}\n"
    train = {k: v for k, v in (("epochs", epochs), ("threads", threads)) if v is not None}
    if train:
        text += "\n[train]\n" + "".join(f"{k} = {v}\n" for k, v in train.items())
    if record_epochs is not None:
        text += f"\n[record]\nepochs = {list(record_epochs)}\n"
    return text


#: a tiny FF run on `digits` (2 layers of 16 units, 2 epochs per layer = 4 epochs, recorded at epochs 2 and 4)
TINY_TOML = tiny_toml()


def tiny_config(**overrides):
    from ensembles.train import make_config

    keys = {"train.epochs": 2, "train.threads": 1, "network.hidden": [16, 16]}
    keys.update({k.replace("__", "."): v for k, v in overrides.items()})
    model = keys.pop("model", "ff")
    return make_config(model=model, dataset="digits", scale="quick", seed=2, **keys)


def write_tiny_toml(path: Path, extra: str = "") -> Path:
    path.write_text(TINY_TOML + extra)
    return path


def cli(*args: str, timeout: float = 240, env: dict | None = None) -> subprocess.CompletedProcess:
    """``python -m ensembles ARGS`` in a fresh process (torch limited to one thread)."""
    full_env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", **(env or {})}
    full_env.pop("ENSEMBLES_DEBUG", None)
    return subprocess.run([sys.executable, "-m", "ensembles", *args], capture_output=True, text=True,
                          timeout=timeout, cwd=REPO, env=full_env)


def cli_popen(*args: str, env: dict | None = None) -> subprocess.Popen:
    full_env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", **(env or {})}
    full_env.pop("ENSEMBLES_DEBUG", None)
    return subprocess.Popen([sys.executable, "-m", "ensembles", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, cwd=REPO, env=full_env)


def main_in_process(capsys, *args: str) -> subprocess.CompletedProcess:
    """``ensembles ARGS`` through :func:`ensembles.cli.main` in this process (fast), as a CompletedProcess."""
    from ensembles.cli import main

    capsys.readouterr()
    os.environ.pop("ENSEMBLES_DEBUG", None)
    rc = main(list(args))
    captured = capsys.readouterr()
    return subprocess.CompletedProcess(["ensembles", *args], rc, captured.out, captured.err)


def one_line_error(proc: subprocess.CompletedProcess, rc: int = 2) -> str:
    """Assert the command failed with exit status ``rc`` and a one-line message, no traceback; return the message."""
    assert proc.returncode == rc, (proc.returncode, proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr, proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.startswith("ensembles ")]
    assert len(lines) == 1 and "\n" not in lines[0], proc.stderr
    return lines[0]


def run_files(out: Path) -> list[str]:
    """Every path under a run directory, relative, sorted (hidden lock/marker files included)."""
    return sorted(str(p.relative_to(out)) for p in out.rglob("*"))


def patch_trainer(monkeypatch, after_epoch):
    """Make every trainer call ``after_epoch(trainer, epoch, stats)`` after each epoch (fault injection).

    ``after_epoch`` may change the model or return replacement stats.
    """
    import ensembles.train.run as run_mod

    original = run_mod._trainer_cls

    def patched(model):
        base = original(model)

        class Faulty(base):
            def run_epoch(self, epoch):
                stats = super().run_epoch(epoch)
                new = after_epoch(self, epoch, stats)
                return stats if new is None else new

        return Faulty

    monkeypatch.setattr(run_mod, "_trainer_cls", patched)


def interrupted_run(out: Path, monkeypatch, *, after_epoch: int = 2, config=None) -> Path:
    """Train into ``out`` and interrupt it (Ctrl-C) after global epoch ``after_epoch``: resume.pt holds that epoch
    (checkpoint_every = 1), and the recorded epochs up to it have their model_epochNNNN.pt."""
    import pytest

    from ensembles.train import train_run

    def stop(trainer, epoch, stats):
        if epoch == after_epoch:  # 0-based: the epoch after ``after_epoch`` is interrupted
            raise KeyboardInterrupt

    patch_trainer(monkeypatch, stop)
    with pytest.raises(KeyboardInterrupt):
        train_run(config if config is not None else tiny_config(), out, progress=False)
    monkeypatch.undo()
    return out



def finished_tiny_run(tmp_path_factory):
    """A finished tiny run (the module-scoped fixture ``finished`` of conftest.py)."""
    from ensembles.train import train_run

    out = tmp_path_factory.mktemp("finished") / "run"
    train_run(tiny_config(), out, progress=False)
    return out
