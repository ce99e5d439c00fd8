"""The command line reports user and environment mistakes as one line, and bugs with their traceback.

``ensembles.cli.main`` turns only :class:`ensembles.errors.EnsemblesError` (with ``UsageError``) and the operating
system's own errors about a path the user gave (FileNotFoundError, PermissionError, IsADirectoryError,
NotADirectoryError, FileExistsError) into ``ensembles COMMAND: error: ...`` on stderr with exit status 2.  Anything
else -- a plain ValueError, TypeError, KeyError or ZeroDivisionError raised by our code -- is a bug and must reach
the user with its traceback, not be disguised as a usage message.
"""

from __future__ import annotations

import importlib

import h5py
import numpy as np
import pytest

from ensembles import cli
from ensembles.errors import EnsemblesError, ParameterError
from robustness._train_helpers import write_tiny_toml


@pytest.fixture(autouse=True)
def _no_debug(monkeypatch):
    monkeypatch.delenv("ENSEMBLES_DEBUG", raising=False)


@pytest.fixture
def files(tmp_path):
    write_tiny_toml(tmp_path / "tiny.toml")
    (tmp_path / "bad.toml").write_text("[sweep\n")
    (tmp_path / "notes.txt").write_text("not a recording\n")
    (tmp_path / "noise.bin").write_bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    with h5py.File(tmp_path / "other.h5", "w") as fh:  # valid HDF5, but not an ensembles recording
        fh["x"] = np.arange(5)
    (tmp_path / "empty").mkdir()
    return tmp_path


# (argv, a fragment the one-line message must contain); paths are relative to the fixture's directory
USER_MISTAKES = [
    (["train", "tiny.toml", "--out", "r", "--set", "train.epochs=-1"], "'train.epochs' parameter"),
    (["train", "tiny.toml", "--out", "r", "--set", "nosuch.key=1"], "Unknown config key 'nosuch.key'"),
    (["train", "tiny.toml", "--out", "r", "--set", "garbage"], "section.key=value"),
    (["train", "tiny.toml", "--out", "r", "--set", "data.dataset=nosuch"], "'data.dataset' parameter must be one of 'digits'"),
    (["train", "tiny.toml", "--out", "r", "--device", "tpu9"], "'device' parameter"),
    (["train", "bad.toml", "--out", "r"], "not valid TOML"),
    (["train", "missing.toml", "--out", "r"], "not found"),
    (["analyze", "missing.h5", "--out", "a"], "not found"),
    (["analyze", "notes.txt", "--out", "a"], "not a readable recording"),
    (["inspect", "notes.txt"], "not an ensembles recording"),
    (["inspect", "noise.bin"], "not an ensembles recording"),
    (["inspect", "other.h5"], "other.h5"),
    (["inspect", "missing.h5"], "missing.h5"),
    (["inspect", "empty"], "directory"),
    (["report", "empty"], "holds neither"),
    (["sweep", "bad.toml"], "not valid TOML"),
    (["sweep-status", "empty"], "not a sweep directory"),
    (["export-nwb", "notes.txt", "--out", "x.nwb"], "not an ensembles recording"),
    (["demo", "--out", "d", "--dataset", "nosuch"], "unknown dataset 'nosuch'"),
    (["demo", "--out", "d", "--held-out", "x"], "--held-out"),
]


@pytest.mark.parametrize("argv, fragment", USER_MISTAKES, ids=[" ".join(a[:2]) + f" #{i}"
                                                               for i, (a, _) in enumerate(USER_MISTAKES)])
def test_a_user_mistake_is_one_line_and_exit_2(files, monkeypatch, capsys, argv, fragment):
    monkeypatch.chdir(files)
    assert cli.main(argv) == 2
    out, err = capsys.readouterr()
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(f"ensembles {argv[0]}: error: "), err
    assert fragment in lines[0], err
    assert "Traceback" not in err and out == ""


def _command_module(name: str):
    return importlib.import_module(f"ensembles.commands.{name}")


def _boom_zero(args):
    n_classes = 0
    return len(vars(args)) // n_classes  # ZeroDivisionError from our code


def _boom_type(args):
    return len(None)  # a plain TypeError: a bug, not a user's mistake


def _boom_value(args):
    raise ValueError("internal invariant broken")  # a plain ValueError is a bug too now


def _boom_key(args):
    return {}["missing"]


@pytest.mark.parametrize("boom, exc", [(_boom_zero, ZeroDivisionError), (_boom_type, TypeError),
                                       (_boom_value, ValueError), (_boom_key, KeyError)])
def test_a_bug_propagates_with_its_traceback(files, monkeypatch, capsys, boom, exc):
    monkeypatch.chdir(files)
    monkeypatch.setattr(_command_module("inspect"), "run", boom)  # build_parser() binds run at each main() call
    with pytest.raises(exc) as info:
        cli.main(["inspect", "other.h5"])
    assert not isinstance(info.value, EnsemblesError)
    assert info.traceback[-1].name == boom.__name__  # the traceback points at the faulty code
    assert "error:" not in capsys.readouterr().err  # nothing disguised as a usage message


def test_our_errors_and_usage_error_are_one_line(files, monkeypatch, capsys):
    monkeypatch.chdir(files)

    def usage(args):
        raise cli.UsageError("the --x option needs --y")

    def param(args):
        raise ParameterError("The 'tau' parameter must be >= 0. Got -1 instead.")

    for fn, text in ((usage, "the --x option needs --y"), (param, "'tau' parameter")):
        monkeypatch.setattr(_command_module("inspect"), "run", fn)
        assert cli.main(["inspect", "other.h5"]) == 2
        err = capsys.readouterr().err
        assert err.startswith("ensembles inspect: error: "), err
        assert text in err and err.count("\n") == 1
    assert issubclass(cli.UsageError, EnsemblesError)


def test_debug_env_shows_the_traceback_of_a_user_error(files, monkeypatch):
    monkeypatch.chdir(files)
    monkeypatch.setenv("ENSEMBLES_DEBUG", "1")
    with pytest.raises(EnsemblesError):
        cli.main(["inspect", "notes.txt"])
