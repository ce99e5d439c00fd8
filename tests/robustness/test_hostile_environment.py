"""The environment refuses, every command says so in one line: a full disk or a file-size limit (EFBIG, tried with
RLIMIT_FSIZE in a child process), file names at the file system's limit, memory, absurd parameters, and paths in
files that are not file names.  No traceback, no segfault, exit status 2, nothing half-written left behind."""

from __future__ import annotations

import os
import resource
import signal
import subprocess
import sys

import numpy as np
import pytest

from ._helpers import REPO, small_recording
from ._train_helpers import main_in_process, one_line_error, write_tiny_toml

SWEEP = """
[sweep]
name = "full"
preset = "paper"
scale = "quick"
retries = 0
[base]
dataset = "digits"
hidden = [8, 8]
epochs = 1
[grid]
model = ["bp"]
seed = [0]
[scheduler.local]
processes = false
n_workers = 1
"""


def _limited(*args, fsize: int, timeout: float = 240) -> subprocess.CompletedProcess:
    """``python -m ensembles ARGS`` with a file-size limit of ``fsize`` bytes (what a full disk does to a writer:
    EFBIG instead of ENOSPC); SIGXFSZ ignored, as Python does by default."""
    def limit():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (fsize, fsize))

    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    env.pop("ENSEMBLES_DEBUG", None)
    return subprocess.run([sys.executable, "-m", "ensembles", *map(str, args)], capture_output=True, text=True,
                          timeout=timeout, cwd=REPO, env=env, preexec_fn=limit)


@pytest.fixture(scope="module")
def rec_file(tmp_path_factory):
    from ensembles.record import save_recording

    path = tmp_path_factory.mktemp("rec") / "rec.h5"
    save_recording(small_recording(np.random.default_rng(0), n=400, layer_sizes=(60, 40)), path)
    return path


def _no_temporary_files(directory):
    return [p.name for p in directory.rglob("*") if ".tmp" in p.name or p.name.endswith(".partial")]


def test_analyze_under_a_file_size_limit_is_one_line_and_leaves_nothing(rec_file, tmp_path):
    out = tmp_path / "an"
    msg = one_line_error(_limited("analyze", rec_file, "--out", out, "--quiet", fsize=20_000))
    assert "file-size limit" in msg
    assert not out.exists()


@pytest.fixture(scope="module")
def analyzed(rec_file, tmp_path_factory):
    from ensembles.record import load_recording
    from ensembles.workflows import analyze

    out = tmp_path_factory.mktemp("an") / "an"
    analyze([load_recording(rec_file)], out, n_bootstrap=20, n_shuffles=0, progress=False, figures=False)
    return out


def test_analyze_force_under_a_file_size_limit_keeps_the_previous_results(rec_file, analyzed, tmp_path):
    import shutil

    out = tmp_path / "an"
    shutil.copytree(analyzed, out)
    before = {p.name: p.read_bytes() for p in (out / "tables").iterdir()}
    one_line_error(_limited("analyze", rec_file, "--out", out, "--quiet", "--force", fsize=20_000))
    assert {p.name: p.read_bytes() for p in (out / "tables").iterdir()} == before
    assert (out / "manifest.json").exists() and _no_temporary_files(out) == []


def test_report_out_under_a_file_size_limit_is_one_line(analyzed, tmp_path):
    one_line_error(_limited("report", analyzed, "--out", tmp_path / "r.html", fsize=2_000))
    assert not (tmp_path / "r.html").exists() and _no_temporary_files(tmp_path) == []


def test_export_nwb_under_a_file_size_limit_is_one_line_not_a_segfault(rec_file, tmp_path):
    pytest.importorskip("pynwb")
    msg = one_line_error(_limited("export-nwb", rec_file, "--out", tmp_path / "x.nwb", fsize=50_000))
    assert "file-size limit" in msg and "x.nwb" in msg
    assert os.listdir(tmp_path) == []


def test_export_nwb_whose_write_fails_after_the_space_check_is_one_line(rec_file, tmp_path):
    """The space check passed (or the disk filled in the meantime): the write of the file built in memory fails
    like any other write -- one line, no segfault, no temporary file (HDF5 itself never meets the full disk)."""
    pytest.importorskip("pynwb")
    code = ("import sys, resource, signal; signal.signal(signal.SIGXFSZ, signal.SIG_IGN)\n"
            "import ensembles.io.nwb._export as e; e._ensure_room = lambda path, n: None\n"
            "resource.setrlimit(resource.RLIMIT_FSIZE, (50000, 50000))\n"
            "from ensembles.cli import main; sys.exit(main(sys.argv[1:]))\n")
    proc = subprocess.run([sys.executable, "-c", code, "export-nwb", str(rec_file), "--out", str(tmp_path / "x.nwb")],
                          capture_output=True, text=True, timeout=120, cwd=REPO,
                          env=dict(os.environ))
    assert proc.returncode != -signal.SIGSEGV
    assert "file-size limit" in one_line_error(proc)
    assert os.listdir(tmp_path) == []


def test_import_nwb_under_a_file_size_limit_is_one_line(rec_file, tmp_path):
    pytest.importorskip("pynwb")
    from ensembles.io.nwb import export_nwb
    from ensembles.record import load_recording

    nwb = export_nwb(load_recording(rec_file), tmp_path / "x.nwb")
    out = tmp_path / "back.h5"
    one_line_error(_limited("import-nwb", nwb, "--out", out, fsize=20_000))
    assert not out.exists() and _no_temporary_files(tmp_path) == []


def test_sweep_under_a_file_size_limit_is_one_line(tmp_path):
    spec = tmp_path / "s.toml"
    spec.write_text(SWEEP)
    one_line_error(_limited("sweep", spec, "--out", tmp_path / "sw", "--quiet", fsize=1_500))


def test_reproduce_under_a_file_size_limit_is_one_line(tmp_path):
    pytest.importorskip("distributed")
    one_line_error(_limited("reproduce", "--dataset", "digits", "--seeds", "0", "--conditions", "baseline", "--out",
                            tmp_path / "rep", "--set", "network.hidden=[8]", "--set", "train.epochs=1", "--workers",
                            "1", fsize=2_048))


def test_demo_under_a_file_size_limit_is_one_line(tmp_path):
    one_line_error(_limited("demo", "--dataset", "digits", "--scale", "quick", "--models", "bp", "--out",
                            tmp_path / "demo", fsize=8_192))


def test_train_under_a_file_size_limit_is_one_line(tmp_path):
    cfg = write_tiny_toml(tmp_path / "c.toml")
    one_line_error(_limited("train", cfg, "--out", tmp_path / "run", "--quiet", fsize=2_000))
    assert not (tmp_path / "run").exists()


def test_legal_long_file_names_are_written(rec_file, tmp_path, capsys):
    """A name of NAME_MAX (255) bytes is legal; the temporary name must not be longer than the file system allows."""
    pytest.importorskip("pynwb")
    from ensembles._io import name_max

    longest = name_max(tmp_path)
    nwb = tmp_path / ("n" * (longest - 4) + ".nwb")
    assert main_in_process(capsys, "export-nwb", str(rec_file), "--out", str(nwb)).returncode == 0
    back = tmp_path / ("b" * (longest - 3) + ".h5")
    assert main_in_process(capsys, "import-nwb", str(nwb), "--out", str(back)).returncode == 0
    assert back.exists() and _no_temporary_files(tmp_path) == []


def test_a_file_name_beyond_the_limit_is_one_line(rec_file, tmp_path, capsys):
    from ensembles._io import name_max

    out = tmp_path / ("n" * (name_max(tmp_path) + 1) + ".nwb")
    pytest.importorskip("pynwb")
    assert "file name is longer" in one_line_error(main_in_process(capsys, "export-nwb", str(rec_file), "--out",
                                                                   str(out)))


def test_a_recording_declaring_more_activity_than_memory_is_refused_before_loading(rec_file, monkeypatch, capsys,
                                                                                     tmp_path):
    import ensembles.record.reading as reading
    from ensembles.errors import ResourceError
    from ensembles.record import load_recording

    monkeypatch.setattr(reading, "available_memory", lambda: 1000)  # 400 x 100 float32 = 160,000 bytes declared
    with pytest.raises(ResourceError, match=r"declares 0 MiB of activity but only 0 MiB .* chunks='auto'"):
        load_recording(rec_file)
    assert load_recording(rec_file, chunks="auto").sizes["presentation"] == 400  # lazily: fine
    one_line_error(main_in_process(capsys, "analyze", str(rec_file), "--out", str(tmp_path / "an"), "--quiet"))
    assert not (tmp_path / "an").exists()


def test_memory_error_anywhere_is_one_line(rec_file, monkeypatch, capsys, tmp_path):
    import ensembles.workflows as wf

    def out_of_memory(*a, **k):
        raise MemoryError

    monkeypatch.setattr(wf, "analyze", out_of_memory)
    assert "out of memory" in one_line_error(main_in_process(capsys, "analyze", str(rec_file), "--out",
                                                             str(tmp_path / "an")))


@pytest.mark.parametrize("code", ["ENOSPC", "EFBIG", "EDQUOT", "EROFS", "ENAMETOOLONG", "EMFILE", "ENFILE", "EIO"])
def test_environment_errors_anywhere_are_one_line(rec_file, monkeypatch, capsys, tmp_path, code):
    import errno

    import ensembles.workflows as wf

    def refused(*a, **k):
        raise OSError(getattr(errno, code), os.strerror(getattr(errno, code)), str(tmp_path / "an" / "t.csv"))

    monkeypatch.setattr(wf, "analyze", refused)
    msg = one_line_error(main_in_process(capsys, "analyze", str(rec_file), "--out", str(tmp_path / "an")))
    assert "t.csv" in msg and os.strerror(getattr(errno, code)) in msg


def test_other_os_errors_keep_their_traceback(rec_file, monkeypatch, tmp_path):
    import errno

    import ensembles.workflows as wf
    from ensembles.cli import main

    def bug(*a, **k):
        raise OSError(errno.EBADF, "Bad file descriptor")

    monkeypatch.setattr(wf, "analyze", bug)
    with pytest.raises(OSError, match="Bad file descriptor"):
        main(["analyze", str(rec_file), "--out", str(tmp_path / "an")])


@pytest.mark.parametrize("setting, match", [
    ("seed=18446744073709551616", "'seed' parameter must be an integer between 0 and 2\\*\\*62"),
    ("seed=-1", "'seed' parameter"),
    ("network.hidden=[100000000]", "'network.hidden' parameter \\[100000000\\] needs at least"),
])
def test_absurd_training_parameters_are_one_line(tmp_path, capsys, setting, match):
    import re

    cfg = write_tiny_toml(tmp_path / "c.toml")
    msg = one_line_error(main_in_process(capsys, "train", str(cfg), "--out", str(tmp_path / "run"), "--quiet",
                                         "--set", setting))
    assert re.search(match, msg), msg
    assert not (tmp_path / "run").exists()


def test_labels_sharing_one_label_name_are_refused_naming_them(tmp_path):
    from ensembles.record import RecordingError, make_recording, save_recording

    rec = small_recording(np.random.default_rng(0), n=60)
    rec = rec.assign_coords(label_name=("presentation", np.full(60, "same")))
    with pytest.raises(RecordingError, match=r"labels \['0', '1', '2'\] share the name 'same'"):
        save_recording(rec, tmp_path / "dup.h5")
    pres = {k: rec[k].values for k in ("stimulus_id", "label", "label_name", "split")}
    with pytest.raises(RecordingError, match="share the name"):
        make_recording(rec["activity"].values, presentation=pres, layer_sizes=[6, 4],
                       attrs={"model": "ff", "dataset": "d", "seed": 0, "config": {}, "site": "s"})
    assert not (tmp_path / "dup.h5").exists()


@pytest.mark.parametrize("bad", [5, ["figures/x.png"], "figures/a\x00b.png"])
def test_paths_in_a_manifest_that_are_not_file_names_are_one_line(bad, tmp_path):
    from ensembles.errors import DataFileError
    from ensembles.layout import inside

    with pytest.raises(DataFileError, match="is not a file name"):
        inside(tmp_path, bad)
