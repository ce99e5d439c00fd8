"""The run directory of :func:`ensembles.train.train_run`: what state it is in (fresh, unfinished, finished), undoing
a failed start, checking a stored config against a new one, and reading a run's history and metrics.

File names come from :class:`ensembles.layout.RunLayout`.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

from ensembles._io import read_json_object
from ensembles._lock import LOCK_NAME, MARKER_NAME
from ensembles.errors import DataFileError, OutputDirError, ParameterError
from ensembles.layout import RunLayout
from ensembles.train.config import RunConfig, load_config

__all__ = ["RunDirError", "check_run_dir", "legacy_run", "remove_failed_start", "same_config", "finished_metrics",
           "read_metrics", "snapshot"]

_OWN = RunLayout.OWN


class RunDirError(OutputDirError):
    """The run directory holds a finished or unfinished run and neither resume nor force was given."""


_CHECKPOINT_NAME = re.compile(r"(resume|model|model_epoch\d{4,})\.pt")


def legacy_run(out: Path) -> bool:
    """A run directory written before run directories carried an ownership marker (it is ours all the same).

    Such a directory holds ``config.toml``, ``checkpoints/`` with a resumable ``checkpoints/resume.pt`` or a ``DONE``
    (what every version wrote once a run reached its first checkpoint), nothing but the names of a run, and nothing
    in ``checkpoints/`` but checkpoint files.  Anything else, e.g. a ``config.toml`` and an empty ``checkpoints/``
    made by hand next to one's own ``recording.h5``, is not a run, and is never written into without ``--force``.
    """
    if not out.is_dir() or os.path.lexists(out / MARKER_NAME):
        return False
    try:
        names = set(os.listdir(out)) - {LOCK_NAME}
    except OSError:
        return False
    lay = RunLayout(out)
    if not (names <= set(_OWN) and lay.config.is_file() and not lay.config.is_symlink()
            and lay.checkpoints.is_dir() and not lay.checkpoints.is_symlink()):
        return False
    try:
        ckpts = os.listdir(lay.checkpoints)
    except OSError:
        return False
    if not all(_CHECKPOINT_NAME.fullmatch(n) for n in ckpts):
        return False
    return lay.resume_state.is_file() or lay.done.is_file()


def snapshot(out: Path) -> set[str]:
    """The names of a run that exist in ``out`` now (top level, and inside ``checkpoints/``): what a failed start
    must leave in place."""
    names: set[str] = set()
    for n in _OWN:
        p = out / n
        if os.path.lexists(p):
            names.add(n)
            if p.is_dir() and not p.is_symlink():
                try:
                    names.update(f"{n}/{c}" for c in os.listdir(p))
                except OSError:
                    pass
    return names


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


def remove_failed_start(out: Path, existed: bool, had_marker: bool, had_lock: bool,
                        before: set[str] | None = None) -> None:
    """Undo a fresh run that failed before its first resumable checkpoint: nothing that looks like a run stays, and
    nothing that was there before the start (``before``, from :func:`snapshot`) is removed."""
    before = set() if before is None else before
    for n in _OWN:
        p = out / n
        if n not in before:
            _remove(p)
        elif p.is_dir() and not p.is_symlink():
            try:
                inside = os.listdir(p)
            except OSError:
                continue
            for c in inside:
                if f"{n}/{c}" not in before:
                    _remove(p / c)
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
    from ensembles.integrity import run_state

    state, detail = run_state(out)
    if state == "damaged":
        raise DataFileError(f"The finished run {str(out)!r} is damaged: {detail}. Restore it from a backup, or "
                            "retrain it with --force.")
    diffs = same_config(load_config(RunLayout(out).config), cfg)
    if diffs:
        raise ParameterError(
            f"The run directory {str(out)!r} holds a finished run trained with a different config ("
            + "; ".join(diffs) + "). A finished run is never changed: choose another --out, or pass --force to "
            "replace it.")
    return read_json_object(RunLayout(out).metrics, prefix="The finished run's ", fix="retrain with --force")


def read_metrics(run_dir: str | os.PathLike) -> dict:
    """The metrics of a finished run."""
    return json.loads(RunLayout(run_dir).metrics.read_text())
