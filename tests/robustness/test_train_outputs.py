"""`ensembles train` owns its output directory: no writing over other files, one writer at a time, nothing left
behind by a failed start, and files with the permissions of the process umask (issue #11, items 2, 9, 10, 11)."""

from __future__ import annotations

import json
import os
import stat
import time

import pytest

from ensembles._lock import dir_in_use
from ensembles.errors import OutputDirError, ParameterError

from ._train_helpers import (
    cli,
    cli_popen,
    interrupted_run,
    one_line_error,
    patch_trainer,
    tiny_config,
    write_tiny_toml,
)

torch = pytest.importorskip("torch")
torch.set_num_threads(1)


def test_a_users_recording_is_not_overwritten_without_force(tmp_path):
    from ensembles.train import train_run

    out = tmp_path / "mine"
    out.mkdir()
    (out / "recording.h5").write_bytes(b"the user's own data")
    with pytest.raises(OutputDirError, match=r"did not write \(e\.g\. 'recording\.h5'\).*--force"):
        train_run(tiny_config(), out, progress=False)
    assert sorted(os.listdir(out)) == ["recording.h5"]  # the refusal wrote nothing
    assert (out / "recording.h5").read_bytes() == b"the user's own data"
    train_run(tiny_config(), out, progress=False, force=True)  # --force: the user asked for it
    assert (out / "DONE").exists() and (out / "recording.h5").stat().st_size > 1000


def test_the_config_file_in_the_output_directory_is_not_overwritten(tmp_path):
    d = tmp_path / "d"
    d.mkdir()
    cfg = write_tiny_toml(d / "config.toml", "# the user's comment\n")
    before = cfg.read_bytes()
    msg = one_line_error(cli("train", str(cfg), "--out", str(d), "--quiet"))
    assert "did not write (e.g. 'config.toml')" in msg and "--force" in msg
    assert cfg.read_bytes() == before and sorted(os.listdir(d)) == ["config.toml"]


def test_a_second_train_into_a_busy_directory_is_refused_naming_the_holder(tmp_path):
    """One `ensembles train` holds the directory; a second one (here in-process) gets one line naming its pid; the
    first finishes undisturbed with a complete recording."""
    from ensembles.record import load_recording
    from ensembles.train import train_run

    cfg = write_tiny_toml(tmp_path / "c.toml")
    out = tmp_path / "run"
    proc = cli_popen("train", str(cfg), "--out", str(out), "--quiet", "--set", "train.epochs=40")
    try:
        t0 = time.time()
        while not dir_in_use(out):
            assert proc.poll() is None, proc.communicate()
            assert time.time() - t0 < 120, "the first train never claimed its directory"
            time.sleep(0.02)
        with pytest.raises(OutputDirError, match=rf"in use by pid {proc.pid} on .*ensembles train"):
            train_run(tiny_config(**{"train.epochs": 40}), out, progress=False)
        with pytest.raises(OutputDirError, match="in use"):
            train_run(tiny_config(**{"train.epochs": 40}), out, progress=False, resume=True)
    finally:
        stdout, stderr = proc.communicate(timeout=300)
    assert proc.returncode == 0, stderr
    assert (out / "DONE").exists()
    rec = load_recording(out / "recording.h5")
    # default record epochs of the greedy FF schedule: the middle and the end of each layer's stage (2 layers x 40)
    assert list(rec["epoch"].values) == [20, 40, 60, 80]
    assert json.loads(stdout.strip().splitlines()[-1])["test_accuracy"] > 0.5


def test_two_trains_started_together_never_mix(tmp_path):
    """Two `ensembles train` processes started at the same moment on one directory: exactly one trains; the other
    exits 2 with one line (the directory is in use, or -- if the first already finished -- holds a finished run).
    benchmarks/bench_concurrent_train.py repeats this >= 10 times and reports the counts."""
    from ensembles.record import load_recording

    cfg = write_tiny_toml(tmp_path / "c.toml")
    for trial in range(1):
        out = tmp_path / f"run{trial}"
        procs = [cli_popen("train", str(cfg), "--out", str(out), "--quiet") for _ in range(2)]
        results = [(p.wait(timeout=300), *p.communicate()) for p in procs]
        codes = sorted(r[0] for r in results)
        assert codes == [0, 2], results
        loser = next(r for r in results if r[0] == 2)[2]
        assert "Traceback" not in loser
        assert "is in use by pid" in loser or "holds a finished run" in loser, loser
        load_recording(out / "recording.h5")
        assert not (out / "recording.h5.partial").exists()


def test_a_failed_start_leaves_nothing_behind(tmp_path):
    """A run that fails before its first checkpoint (here: the data check) removes everything it wrote: a new
    directory disappears, an existing empty one is left empty."""
    from ensembles.train import train_run

    new = tmp_path / "new"
    with pytest.raises(ParameterError, match=r"data\.train_subsample=1 image\(s\) leaves 1 class;"):
        train_run(tiny_config(**{"data.train_subsample": 1}), new, progress=False)
    assert not new.exists()
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ParameterError):
        train_run(tiny_config(**{"data.train_subsample": 1}), empty, progress=False)
    assert os.listdir(empty) == []
    # the command line: exit 2, one line, and still nothing left
    cfg = write_tiny_toml(tmp_path / "c.toml")
    msg = one_line_error(cli("train", str(cfg), "--out", str(new), "--set", "data.train_subsample=1"))
    assert "train_subsample" in msg and "held-out" not in msg
    assert not new.exists()


def test_a_failed_resume_keeps_the_run(tmp_path, monkeypatch):
    """An interrupted run that fails again on resume is left as it was (it can still be resumed)."""
    from ensembles.train import train_run

    out = interrupted_run(tmp_path / "run", monkeypatch, after_epoch=2)
    files = sorted(os.listdir(out / "checkpoints"))
    assert "resume.pt" in files

    def fail(trainer, epoch, stats):
        raise KeyboardInterrupt

    patch_trainer(monkeypatch, fail)
    with pytest.raises(KeyboardInterrupt):
        train_run(tiny_config(), out, progress=False, resume=True)
    assert sorted(os.listdir(out / "checkpoints")) == files
    monkeypatch.undo()
    metrics = train_run(tiny_config(), out, progress=False, resume=True)
    assert metrics["resumed_at_epoch"] == 2 and (out / "DONE").exists()


@pytest.mark.parametrize("umask", [0o022, 0o077])
def test_run_files_get_the_umask_permissions(tmp_path, umask):
    """Every file of a run (config, metrics, history, DONE, checkpoints, recording) gets 0o666 & ~umask, like the
    files of any other program (temporary files from mkstemp are 0o600 and used to keep that mode)."""
    from ensembles.train import train_run

    old = os.umask(umask)
    try:
        out = tmp_path / "run"
        train_run(tiny_config(), out, progress=False)
    finally:
        os.umask(old)
    expected = 0o666 & ~umask
    modes = {str(p.relative_to(out)): stat.S_IMODE(p.stat().st_mode) for p in out.rglob("*")
             if p.is_file() and not p.name.startswith(".")}  # hidden: the lock and marker of ensembles._lock
    for name in ("config.toml", "metrics.json", "history.json", "DONE", "recording.h5", "checkpoints/resume.pt",
                 "checkpoints/model.pt", "checkpoints/model_epoch0002.pt"):
        assert name in modes
    assert {k: oct(v) for k, v in modes.items() if v != expected} == {}


def test_runs_written_before_ownership_markers_still_resume(tmp_path, monkeypatch):
    """A run directory of an earlier version (no .ensembles.json marker) is recognised as a run: interrupted ones
    resume, finished ones answer --resume, so runs in progress survive the upgrade."""
    from ensembles._lock import LOCK_NAME, MARKER_NAME
    from ensembles.train import train_run

    out = interrupted_run(tmp_path / "old", monkeypatch, after_epoch=2)
    for name in (MARKER_NAME, LOCK_NAME):
        (out / name).unlink()
    metrics = train_run(tiny_config(), out, progress=False, resume=True)
    assert metrics["resumed_at_epoch"] == 2
    (out / MARKER_NAME).unlink()
    assert train_run(tiny_config(), out, progress=False, resume=True) == metrics
    # config.toml and an empty checkpoints/ but no checkpoint: nothing shows that ensembles wrote it (a user can
    # lay out a directory so), so it is not written into without --force
    young = tmp_path / "young"
    (young / "checkpoints").mkdir(parents=True)
    (young / "config.toml").write_text(tiny_config().to_toml())
    with pytest.raises(OutputDirError, match="did not write"):
        train_run(tiny_config(), young, progress=False)
    train_run(tiny_config(), young, progress=False, force=True)
    assert (young / "DONE").exists()
