"""The run directory of :func:`ensembles.train.train_run`: what state it is in (fresh, unfinished, finished), undoing
a failed start, checking a stored config against a new one, and reading a run's history and metrics.

File names come from :class:`ensembles.layout.RunLayout`.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from ensembles._io import read_json_object
from ensembles._lock import LOCK_NAME, MARKER_NAME
from ensembles.errors import OutputDirError, ParameterError
from ensembles.layout import RunLayout
from ensembles.train.config import RunConfig, load_config

__all__ = ["RunDirError", "check_run_dir", "legacy_run", "remove_failed_start", "same_config", "finished_metrics",
           "read_history", "read_metrics"]

_OWN = RunLayout.OWN


class RunDirError(OutputDirError):
    """The run directory holds a finished or unfinished run and neither resume nor force was given."""


def legacy_run(out: Path) -> bool:
    """A run directory written before run directories carried an ownership marker (it is ours all the same).

    Such a directory holds ``config.toml`` *and* ``checkpoints/`` (created together by every version) and nothing
    but the names of a run; a directory holding only a ``config.toml`` (the user's own file) is not one.
    """
    if not out.is_dir() or (out / MARKER_NAME).exists():
        return False
    try:
        names = set(os.listdir(out)) - {LOCK_NAME}
    except OSError:
        return False
    lay = RunLayout(out)
    return lay.config.is_file() and lay.checkpoints.is_dir() and names <= set(_OWN)


def _remove(path: Path) -> None:
    try:
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        elif path.exists() or path.is_symlink():
            path.unlink()
    except FileNotFoundError:
        pass


def check_run_dir(out: Path, resume: bool, force: bool) -> str:
    """Return "fresh", "resume" or "done" (called while holding the directory's claim)."""
    if force:
        for n in _OWN:
            _remove(out / n)
        return "fresh"
    lay = RunLayout(out)
    if lay.is_done():
        if resume:
            return "done"
        raise RunDirError(f"The run directory {str(out)!r} holds a finished run; pass --force to overwrite it "
                          "(or --resume to keep it).")
    if lay.resume_state.exists():
        if resume:
            return "resume"
        raise RunDirError(f"The run directory {str(out)!r} holds an unfinished run; pass --resume to continue it "
                          "or --force to start over.")
    return "fresh"


def remove_failed_start(out: Path, existed: bool, had_marker: bool, had_lock: bool) -> None:
    """Undo a fresh run that failed before its first resumable checkpoint: nothing that looks like a run stays."""
    for n in _OWN:
        _remove(out / n)
    if not had_marker:
        _remove(out / MARKER_NAME)
    if not had_lock:
        _remove(out / LOCK_NAME)
    if not existed:
        try:
            out.rmdir()
        except OSError:
            pass


def same_config(stored: RunConfig, new: RunConfig) -> list[str]:
    """The keys in which ``new`` differs from the ``stored`` config of a run (an unset label value M matches any)."""
    a, b = stored.to_dict(), new.to_dict()
    diffs = []
    for sec, v in a.items():
        if isinstance(v, dict):
            for k, vv in v.items():
                if (sec, k) == ("ff", "label_value") and b[sec][k] is None:
                    continue
                if b[sec][k] != vv:
                    diffs.append(f"{sec}.{k}: {vv!r} (stored) vs {b[sec][k]!r}")
        elif b[sec] != v:
            diffs.append(f"{sec}: {v!r} (stored) vs {b[sec]!r}")
    return diffs


def finished_metrics(out: Path, cfg: RunConfig) -> dict:
    """The metrics of a finished run, after checking that ``cfg`` is the config it was trained with."""
    diffs = same_config(load_config(RunLayout(out).config), cfg)
    if diffs:
        raise ParameterError(
            f"The run directory {str(out)!r} holds a finished run trained with a different config ("
            + "; ".join(diffs) + "). A finished run is never changed: choose another --out, or pass --force to "
            "replace it.")
    return read_json_object(RunLayout(out).metrics, prefix="The finished run's ", fix="retrain with --force")


def read_history(run_dir: str | os.PathLike) -> list[dict]:
    """The per-epoch history of a run."""
    return json.loads(RunLayout(run_dir).history.read_text())


def read_metrics(run_dir: str | os.PathLike) -> dict:
    """The metrics of a finished run."""
    return json.loads(RunLayout(run_dir).metrics.read_text())
