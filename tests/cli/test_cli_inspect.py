"""``ensembles inspect REC.h5``."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from ensembles.cli import main
from ensembles.record import RecordingWriter, example_recording, save_recording


@pytest.fixture
def rec_path(tmp_path):
    rec = example_recording(n_presentations=12, layer_sizes=(5, 3), epochs=[1, 4], seed=7, model="bp_ff")
    path = tmp_path / "rec.h5"
    save_recording(rec, path)
    return path, rec


def test_inspect_text(rec_path, capsys):
    path, rec = rec_path
    assert main(["inspect", str(path)]) == 0
    out = capsys.readouterr().out
    lines = {line.split()[0]: line for line in out.splitlines() if line.strip()}
    assert lines["model"].split()[1] == "bp_ff" and lines["seed"].split()[1] == "7"
    assert lines["dataset"].split()[1] == "synthetic"
    assert "checkpoint=2, presentation=12, neuroid=8" in lines["dims"]
    assert "2 (1: 5, 2: 3 neuroids)" in lines["layers"]
    assert "epochs [1, 4]" in lines["checkpoints"]
    # 12 presentations cycling through 3 classes: 4 each (example_recording's documented labels)
    assert "class0: 4, class1: 4, class2: 4" in lines["labels"]
    acc = rec["correct"].values.mean(axis=1)
    assert f"epoch 1: {acc[0]:.4f}, epoch 4: {acc[1]:.4f}" in lines["accuracy"]
    assert lines["complete"].split()[1] == "yes"
    assert lines["schema"].split()[1] == "1.0"
    assert f"({path.stat().st_size} bytes)" in lines["file"]


def test_inspect_json(rec_path, capsys):
    path, rec = rec_path
    assert main(["inspect", str(path), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["dims"] == {"checkpoint": 2, "presentation": 12, "neuroid": 8}
    assert info["layers"] == {"1": 5, "2": 3}
    assert info["epochs"] == [1, 4]
    assert info["attrs"]["model"] == "bp_ff" and info["attrs"]["seed"] == 7
    np.testing.assert_allclose(info["accuracy"], rec["correct"].values.mean(axis=1))
    assert info["complete"] is True and info["problems"] == []
    assert info["file_size_bytes"] == path.stat().st_size


def test_inspect_incomplete_file(tmp_path, capsys):
    rec = example_recording(n_presentations=10, layer_sizes=(4,))
    pres = {k: rec[k].values for k in ("stimulus_id", "label", "label_name", "split")}
    w = RecordingWriter(tmp_path / "r.h5", presentation=pres, layer_sizes=[4], attrs=dict(rec.attrs))
    w.append(rec["activity"].values[:3])
    w.abort()
    assert main(["inspect", str(w.partial_path)]) == 1
    out = capsys.readouterr().out
    assert "complete    NO" in out and "presentation=10" in out


@pytest.mark.parametrize(
    ("content", "match"),
    [(None, "no such recording file"), (b"not hdf5", "is not an ensembles recording: not an HDF5 file")],
)
def test_inspect_bad_file(tmp_path, capsys, content, match):
    path = tmp_path / "bad.h5"
    if content is not None:
        path.write_bytes(content)
    assert main(["inspect", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("ensembles inspect: error: ") and match in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_inspect_truncated_file_subprocess(rec_path):
    path, _ = rec_path
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    proc = subprocess.run([sys.executable, "-m", "ensembles", "inspect", str(path)], capture_output=True, text=True)
    assert proc.returncode == 2
    assert "truncated or corrupt" in proc.stderr and "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


def test_inspect_help(capsys):
    with pytest.raises(SystemExit) as info:
        main(["inspect", "--help"])
    assert info.value.code == 0
    assert "--json" in capsys.readouterr().out
