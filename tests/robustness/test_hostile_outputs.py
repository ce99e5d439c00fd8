"""Output directories under attack: other people's files, planted links and odd file types, names leading outside
the directory, and refusals that leave nothing behind."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from ensembles._lock import LOCK_NAME, MARKER_NAME, claim_output_dir, dir_in_use
from ensembles.errors import OutputDirError

from ._helpers import small_recording
from ._train_helpers import cli, main_in_process, one_line_error, tiny_config, write_tiny_toml

torch = pytest.importorskip("torch")
torch.set_num_threads(1)


def _tree(root):
    return {str(p.relative_to(root)): (p.read_bytes() if p.is_file() else None) for p in sorted(root.rglob("*"))}


def _users_dir(tmp_path):
    """A directory laid out like a run by hand: the user's config.toml, checkpoints/notes.txt and recording.h5."""
    d = tmp_path / "d"
    (d / "checkpoints").mkdir(parents=True)
    write_tiny_toml(d / "config.toml", "# the user's own copy\n")
    (d / "recording.h5").write_text("mine\n")
    (d / "checkpoints" / "notes.txt").write_text("my notes\n")
    return d


def test_a_directory_shaped_like_a_run_with_users_files_is_not_written_into(tmp_path):
    d = _users_dir(tmp_path)
    before = _tree(d)
    msg = one_line_error(cli("train", str(d / "config.toml"), "--out", str(d), "--quiet"))
    assert "did not write" in msg and "--force" in msg
    assert _tree(d) == before


def test_a_failed_start_with_a_users_directory_empties_nothing(tmp_path):
    d = _users_dir(tmp_path)
    before = _tree(d)
    proc = cli("train", str(d / "config.toml"), "--out", str(d), "--quiet", "--set", "data.dataset=svhn")
    one_line_error(proc)
    assert _tree(d) == before


def test_cleanup_after_a_failed_start_removes_only_what_the_run_created(tmp_path, monkeypatch):
    """A directory of ours (marker of `train`) where the user has put a file of their own into checkpoints/: a start
    that fails after creating checkpoints/ and config.toml removes those and keeps the user's file."""
    import ensembles.train.run as run_mod
    from ensembles.errors import ResourceError
    from ensembles.train import train_run

    out = tmp_path / "run"
    claim_output_dir(out, command="train").release()
    (out / "checkpoints").mkdir()
    (out / "checkpoints" / "notes.txt").write_text("my notes\n")
    real_save = run_mod._atomic_torch_save

    def full_disk(obj, path):
        real_save(obj, path)
        raise ResourceError("Cannot write the checkpoint (No space left on device)")

    monkeypatch.setattr(run_mod, "_atomic_torch_save", full_disk)
    with pytest.raises(ResourceError):
        train_run(tiny_config(), out, progress=False)
    assert sorted(str(p.relative_to(out)) for p in out.rglob("*")) == sorted([
        LOCK_NAME, MARKER_NAME, "checkpoints", "checkpoints/notes.txt"])
    assert (out / "checkpoints" / "notes.txt").read_text() == "my notes\n"


def test_a_lock_file_that_is_a_symbolic_link_is_refused_and_its_target_untouched(tmp_path, capsys):
    victim = tmp_path / "v.txt"
    victim.write_text("precious\n")
    out = tmp_path / "out"
    out.mkdir()
    (out / LOCK_NAME).symlink_to(victim)
    with pytest.raises(OutputDirError, match="symbolic link"):
        claim_output_dir(out, command="analyze")
    assert victim.read_text() == "precious\n"
    assert dir_in_use(out) is False and victim.read_text() == "precious\n"
    rec = tmp_path / "rec.h5"
    from ensembles.record import save_recording
    save_recording(small_recording(np.random.default_rng(0)), rec)
    proc = main_in_process(capsys, "analyze", str(rec), "--out", str(out), "--no-report", "--quiet")
    assert "symbolic link" in one_line_error(proc)
    assert victim.read_text() == "precious\n"
    # train too
    train_out = tmp_path / "run"
    train_out.mkdir()
    (train_out / LOCK_NAME).symlink_to(victim)
    cfg = write_tiny_toml(tmp_path / "c.toml")
    assert "symbolic link" in one_line_error(main_in_process(capsys, "train", str(cfg), "--out", str(train_out),
                                                             "--quiet"))
    assert victim.read_text() == "precious\n"


def test_a_lock_file_that_is_a_fifo_is_refused_with_one_line(tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    os.mkfifo(out / LOCK_NAME)
    with pytest.raises(OutputDirError, match="not a regular file"):
        claim_output_dir(out, command="analyze")
    assert dir_in_use(out) is False


def test_a_symlinked_marker_does_not_make_a_directory_ours(tmp_path):
    elsewhere = tmp_path / "elsewhere.json"
    elsewhere.write_text(json.dumps({"command": "analyze"}))
    out = tmp_path / "out"
    out.mkdir()
    (out / "mine.csv").write_text("1,2\n")
    (out / MARKER_NAME).symlink_to(elsewhere)
    with pytest.raises(OutputDirError, match="did not write"):
        claim_output_dir(out, command="analyze")


def test_an_all_zero_recording_is_refused_and_leaves_nothing_behind(tmp_path, capsys):
    from ensembles.record import save_recording

    rng = np.random.default_rng(0)
    rec = tmp_path / "zero.h5"
    save_recording(small_recording(rng, activity=np.zeros((24, 10), np.float32)), rec)
    out = tmp_path / "res"
    msg = one_line_error(main_in_process(capsys, "analyze", str(rec), "--out", str(out), "--no-report", "--quiet"))
    assert "every activity value is zero" in msg
    assert not out.exists()
    existing = tmp_path / "existing"
    existing.mkdir()
    one_line_error(main_in_process(capsys, "analyze", str(rec), "--out", str(existing), "--no-report", "--quiet"))
    assert os.listdir(existing) == []


@pytest.mark.parametrize("name", ["..", ".", ".hidden", "a..b"])
def test_a_sweep_name_that_would_leave_its_directory_is_refused(name):
    from ensembles.sweep.spec import parse_sweep

    with pytest.raises(ValueError, match="name must be"):
        parse_sweep({"sweep": {"name": name}, "grid": {"seed": [0]}})


def test_a_sweep_named_dotdot_is_one_line_and_writes_nothing(tmp_path):
    sweep = tmp_path / "s.toml"
    sweep.write_text('[sweep]\nname = ".."\n\n[grid]\nseed = [0]\n')
    work = tmp_path / "work"  # the default output directory is results/sweeps/<name> under the working directory
    work.mkdir()
    before = _tree(tmp_path)
    proc = subprocess.run([sys.executable, "-m", "ensembles", "sweep", str(sweep)], cwd=work, capture_output=True,
                          text=True, timeout=120, env=dict(os.environ))
    assert "name must be" in one_line_error(proc)
    assert _tree(tmp_path) == before


def test_a_results_manifest_linked_to_a_file_elsewhere_is_not_read(tmp_path):
    from ensembles.errors import DataFileError
    from ensembles.report import build_report
    from ensembles.workflows import analyze

    out = tmp_path / "an"
    analyze([small_recording(np.random.default_rng(1), n=30)], out, n_bootstrap=20, n_shuffles=0, progress=False,
            figures=False)
    elsewhere = tmp_path / "elsewhere.json"
    elsewhere.write_bytes((out / "manifest.json").read_bytes())
    (out / "manifest.json").unlink()
    (out / "manifest.json").symlink_to(elsewhere)
    with pytest.raises(DataFileError, match="leaves that directory"):
        build_report(out)
    assert not (out / "report.html").exists()


def test_a_sweep_manifest_linked_elsewhere_is_not_read(tmp_path):
    from ensembles._io import read_json, read_json_object

    target = tmp_path / "t.json"
    target.write_text('{"runs": []}')
    link = tmp_path / "sweep_manifest.json"
    link.symlink_to(target)
    assert read_json(link, "absent") == "absent"
    from ensembles.errors import DataFileError

    with pytest.raises(DataFileError, match="symbolic link"):
        read_json_object(link)
