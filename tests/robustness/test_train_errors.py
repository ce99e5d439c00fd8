"""User and environment errors of `ensembles train`: one clear line naming the parameter or file, never a traceback
or a crash, and never a silent acceptance (issue #11, items 5, 6, 7, 9)."""

from __future__ import annotations

import json

import pytest

from ensembles.errors import ParameterError

from ._train_helpers import (
    main_in_process,
    one_line_error,
    tiny_config,
    write_tiny_toml,
)

torch = pytest.importorskip("torch")
torch.set_num_threads(1)


def test_a_finished_run_is_immutable(finished, tmp_path, capsys):
    """`--resume` on a finished run with another config used to print the old metrics and exit 0."""
    from ensembles.train import train_run

    before = {p.name: p.read_bytes() for p in finished.iterdir() if p.is_file() and not p.name.startswith(".")}
    with pytest.raises(ParameterError, match=r"finished run trained with a different config \(model: 'ff' "
                                             r"\(stored\) vs 'bp';.*train\.lr: 0\.03 \(stored\) vs 0\.5.*--force"):
        train_run(tiny_config(model="bp", **{"train.lr": 0.5}), finished, progress=False, resume=True)
    cfg = write_tiny_toml(tmp_path / "c.toml")
    msg = one_line_error(main_in_process(capsys, "train", str(cfg), "--out", str(finished), "--resume",
                                         "--set", "seed=3"))
    assert "seed: 2 (stored) vs 3" in msg
    after = {p.name: p.read_bytes() for p in finished.iterdir() if p.is_file() and not p.name.startswith(".")}
    assert after == before
    # the same config: the finished run's metrics, unchanged
    proc = main_in_process(capsys, "train", str(cfg), "--out", str(finished), "--resume", "--quiet")
    assert proc.returncode == 0
    assert json.loads(proc.stdout.strip().splitlines()[-1])["test_accuracy"] == \
        json.loads((finished / "metrics.json").read_text())["test_accuracy"]


@pytest.mark.parametrize("args, match", [
    (["--device", "bogus"], r"The 'device' parameter must be 'cpu', 'cuda' or 'cuda:N'. Got 'bogus'"),
    (["--device", "mps"], r"The 'device' parameter must be 'cpu', 'cuda' or 'cuda:N'. Got 'mps'"),
    (["--threads", "100000"], r"The '--threads' parameter must be between 1 and \d+ \(the CPUs available"),
    (["--threads", "0"], r"The '--threads' parameter must be between 1 and"),
    (["--set", "train.threads=100000"], r"The 'train.threads' parameter must be between 1 and"),
])
def test_bad_devices_and_thread_counts_are_refused(tmp_path, capsys, args, match):
    """`--device bogus` was a traceback and `--threads 100000` a segmentation fault (exit 139)."""
    import re

    cfg = write_tiny_toml(tmp_path / "c.toml")
    out = tmp_path / "run"
    msg = one_line_error(main_in_process(capsys, "train", str(cfg), "--out", str(out), "--quiet", *args))
    assert re.search(match, msg), msg
    assert not out.exists()


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_cuda_without_cuda_is_an_environment_error(tmp_path, capsys):
    from ensembles.errors import ResourceError
    from ensembles.train import train_run

    with pytest.raises(ResourceError, match="CUDA is not available on this machine; use --device cpu"):
        train_run(tiny_config(), tmp_path / "run", device="cuda", progress=False)
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("key, value", [
    ("network.hidden", [True, True]),
    ("network.hidden", [16, False]),
    ("data.held_out", [True]),
    ("record.epochs", [True]),
    ("record.epochs", 2),
    ("ff.threshold", True),
    ("train.epochs", True),
    ("data.train_subsample", True),
    ("train.lr", False),
    ("data.dataset", 5),
    ("data.root", 3),
])
def test_booleans_are_not_integers(key, value):
    """`network.hidden=[true,true]` used to become two 1-unit layers."""
    from ensembles.train import load_config

    with pytest.raises(ValueError, match=rf"The '{key}' parameter must be"):
        load_config({}, {key: value})


def test_the_command_line_refuses_boolean_widths(tmp_path, capsys):
    cfg = write_tiny_toml(tmp_path / "c.toml")
    msg = one_line_error(main_in_process(capsys, "train", str(cfg), "--out", str(tmp_path / "r"),
                                         "--set", "network.hidden=[true,true]"))
    assert "The 'network.hidden' parameter must be a non-empty list of positive ints. Got [True, True]" in msg
    assert not (tmp_path / "r").exists()


def test_a_config_that_is_not_utf8_names_the_file(tmp_path, capsys):
    """A Latin-1 config used to give a bare codec error without the file name."""
    cfg = tmp_path / "latin1.toml"
    cfg.write_bytes('model = "ff"\n# café\n'.encode("latin-1"))
    msg = one_line_error(main_in_process(capsys, "train", str(cfg), "--out", str(tmp_path / "r")))
    assert f"Config file {str(cfg)!r} is not UTF-8 text" in msg and "save it as UTF-8" in msg


def test_too_few_classes_names_the_subsample_not_the_held_out_classes(tmp_path):
    from ensembles.train import train_run

    with pytest.raises(ParameterError) as info:
        train_run(tiny_config(**{"data.train_subsample": 1}), tmp_path / "r", progress=False)
    assert "held-out" not in str(info.value) and "data.train_subsample=1" in str(info.value)
    with pytest.raises(ParameterError, match=r"removing the held-out classes \[0, 1, 2, 3, 4, 5, 6, 7, 8\] leaves 1"):
        train_run(tiny_config(**{"data.held_out": list(range(9))}), tmp_path / "r", progress=False)
