"""`ensembles datasets`: table and JSON listing of the six datasets, exit codes, --help."""

from __future__ import annotations

import gzip
import json
import os

import numpy as np
import pytest

from ensembles.cli import main
from ensembles.data import DATASETS
from ensembles.data import registry as reg


@pytest.fixture
def isolated(tmp_path, monkeypatch):
    monkeypatch.delenv("ENSEMBLES_DATA", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))
    monkeypatch.setattr(reg, "SYSTEM_DIRS", {})
    return tmp_path


def _write_tiny_mnist(d):
    os.makedirs(d)
    for img, lab in reg.IDX_FILES.values():
        n = 3
        x = np.zeros((n, 28, 28), np.uint8)
        head = bytes([0, 0, 8, 3]) + np.asarray(x.shape, ">u4").tobytes()
        with open(os.path.join(d, img + ".gz"), "wb") as fh:
            fh.write(gzip.compress(head + x.tobytes()))
        with open(os.path.join(d, lab + ".gz"), "wb") as fh:
            fh.write(gzip.compress(bytes([0, 0, 8, 1]) + np.asarray([n], ">u4").tobytes() + bytes(n)))


def _rows(out: str) -> dict[str, list[str]]:
    return {line.split()[0]: line.split() for line in out.splitlines() if line.split() and line.split()[0] in DATASETS}


def test_table_lists_all_six(isolated, capsys):
    assert main(["datasets"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].split()[:3] == ["NAME", "AVAILABLE", "TRAIN"]
    rows = _rows(out)
    assert list(rows) == list(DATASETS)
    assert rows["digits"][1] == "yes" and rows["mnist-5k"][1] == "yes"
    for name in ("fashion-mnist", "mnist", "cifar10", "svhn"):  # isolated: nothing local
        assert rows[name][1] == "no", rows[name]
    assert rows["svhn"][2:5] == ["73,257", "26,032", "3x32x32"]
    assert "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz" in out
    assert "2 of 6 datasets available here" in out


def test_root_option_finds_local_files(isolated, capsys):
    _write_tiny_mnist(isolated / "data" / "mnist")
    assert main(["datasets", "--root", str(isolated / "data")]) == 0
    row = _rows(capsys.readouterr().out)["mnist"]
    assert row[1] == "yes" and str(isolated / "data" / "mnist") in " ".join(row)


def test_json(isolated, capsys):
    assert main(["datasets", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [d["name"] for d in data] == list(DATASETS)
    by = {d["name"]: d for d in data}
    assert by["mnist-5k"]["available"] is True and by["mnist-5k"]["n_train"] == 4000
    assert by["mnist"]["available"] is False and by["mnist"]["location"] is None and by["mnist"]["reason"]
    assert by["cifar10"]["image_shape"] == [3, 32, 32]


@pytest.mark.skipif(not os.path.isdir("/usr/share/datasets/fashion-mnist"),
                    reason="Fashion-MNIST not installed (apt-get install dataset-fashion-mnist)")
def test_debian_fashion_mnist_shown(monkeypatch, capsys):
    monkeypatch.delenv("ENSEMBLES_DATA", raising=False)
    assert main(["datasets"]) == 0
    row = _rows(capsys.readouterr().out)["fashion-mnist"]
    assert row[1] == "yes" and "/usr/share/datasets/fashion-mnist" in row


def test_help_and_bad_option(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["datasets", "--help"])
    assert exc.value.code == 0
    assert "--json" in capsys.readouterr().out
    with pytest.raises(SystemExit) as exc:
        main(["datasets", "--bogus"])
    assert exc.value.code == 2
