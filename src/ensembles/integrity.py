"""Checksums of what a finished run and the reproduction's statistics caches hold, and their verification.

A training run's ``DONE`` marker, written last, is its *seal*: a small JSON object holding the SHA-256 of every
small file the run wrote (``config.toml``, ``history.json``, ``metrics.json``, ``weights.npz``) and of itself.
(The recording and the checkpoints carry checksums of their own, verified whenever they are loaded.)  A run is

- ``"ok"``: sealed, and every sealed file has its checksum;
- ``"unsealed"``: finished by an earlier version, whose ``DONE`` holds only a time stamp (nothing to verify);
- ``"incomplete"``: no ``DONE`` and no ``metrics.json`` (training has not finished: a killed or running job);
- ``"damaged"``: a sealed file changed or is missing, the seal itself is not what was written, or ``DONE`` is
  missing while the run's final files exist (it was deleted).

The reproduction's per-run statistics cache (``<run>.csv`` and its extras ``<run>.json``) records the SHA-256 of the
CSV and of the run's seal in the extras file, with the extras' own checksum: a cache that was edited, truncated or
written for another state of its run is recomputed from the run.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from pathlib import Path
from typing import Any

from ensembles._io import atomic_write_text
from ensembles.layout import RunLayout

__all__ = ["seal_text", "run_state", "check_runs", "write_stats_cache", "stats_cache_valid", "sha256_file"]

_KEY = "_integrity"


def sha256_file(path: str | os.PathLike) -> str:
    """The SHA-256 (hex) of a file's bytes (never through a symbolic link at its last component)."""
    h = hashlib.sha256()
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    with os.fdopen(fd, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _self_sum(obj: dict) -> str:
    body = {k: v for k, v in obj.items() if k != "sha256"}
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


def _sealed_files(lay: RunLayout) -> list[Path]:
    return [p for p in (lay.config, lay.history, lay.metrics, lay.weights) if p.is_file()]


def seal_text(run_dir: str | os.PathLike) -> str:
    """The text of a finished run's ``DONE``: the finishing time and the checksums of its files (module docstring)."""
    lay = RunLayout(run_dir)
    seal: dict[str, Any] = {"finished": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                            "files": {p.name: sha256_file(p) for p in _sealed_files(lay)}}
    seal["sha256"] = _self_sum(seal)
    return json.dumps(seal, indent=1) + "\n"


def run_state(run_dir: str | os.PathLike) -> tuple[str, str]:
    """``(state, detail)`` of a run directory: ``state`` is ``"ok"``, ``"unsealed"``, ``"incomplete"`` or
    ``"damaged"`` (module docstring); ``detail`` says what was found, in words."""
    lay = RunLayout(run_dir)
    if not os.path.lexists(lay.done):
        if lay.metrics.exists() or lay.recording.exists():
            return "damaged", f"its final files exist but its {lay.done.name} marker is missing"
        return "incomplete", "training has not finished"
    try:
        text = lay.done.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        return "damaged", f"its {lay.done.name} marker is unreadable ({err})"
    try:
        seal = json.loads(text)
    except ValueError:
        seal = None
    if not isinstance(seal, dict):
        if text.strip() and text.strip()[0].isdigit() and len(text) < 64:  # a time stamp: an earlier version
            return "unsealed", "finished by an earlier version (no checksums to verify)"
        return "damaged", f"its {lay.done.name} marker is not what ensembles writes"
    files = seal.get("files")
    if seal.get("sha256") != _self_sum(seal) or not isinstance(files, dict):
        return "damaged", f"its {lay.done.name} marker was changed"
    for name, digest in sorted(files.items()):
        path = lay.root / name
        if not path.is_file():
            return "damaged", f"{name} is missing"
        try:
            if sha256_file(path) != digest:
                return "damaged", f"{name} changed after the run finished"
        except OSError as err:
            return "damaged", f"{name} is unreadable ({err.strerror or err})"
    for path in _sealed_files(lay):
        if path.name not in files:
            return "damaged", f"{path.name} appeared after the run finished"
    return "ok", "verified"


def check_runs(run_dirs: list[Path]) -> dict[str, list[tuple[Path, str]]]:
    """The runs of ``run_dirs`` grouped by :func:`run_state`: ``{state: [(run_dir, detail), ...]}``."""
    out: dict[str, list[tuple[Path, str]]] = {"ok": [], "unsealed": [], "incomplete": [], "damaged": []}
    for d in run_dirs:
        state, detail = run_state(d)
        out[state].append((d, detail))
    return out


def _run_seal(run_dir: Path) -> str | None:
    try:
        return sha256_file(RunLayout(run_dir).done)
    except OSError:
        return None


def write_stats_cache(cache: Path, extras_path: Path, csv_text: str, extras: dict, run_dir: Path) -> None:
    """Write a run's statistics cache: the CSV, then the extras with the checksums of the CSV and of the run's
    seal (each file atomically; the extras last, so a cache killed in between is not valid)."""
    atomic_write_text(cache, csv_text)
    record = {**extras, _KEY: {"csv_sha256": hashlib.sha256(csv_text.encode("utf-8")).hexdigest(),
                               "run_seal": _run_seal(run_dir)}}
    record[_KEY]["sha256"] = _self_sum({k: v for k, v in record.items() if k != _KEY} | {
        _KEY: {k: v for k, v in record[_KEY].items() if k != "sha256"}})
    atomic_write_text(extras_path, json.dumps(record))


def stats_cache_valid(cache: Path, extras_path: Path, run_dir: Path) -> bool:
    """True when the statistics cache of ``run_dir`` is the one written for the run as it is now."""
    try:
        record = json.loads(extras_path.read_text(encoding="utf-8"))
        info = record[_KEY]
        csv_sum = sha256_file(cache)
    except (OSError, ValueError, UnicodeDecodeError, KeyError, TypeError):
        return False
    if not isinstance(info, dict):
        return False
    body = {k: v for k, v in record.items() if k != _KEY} | {_KEY: {k: v for k, v in info.items() if k != "sha256"}}
    return (info.get("sha256") == _self_sum(body) and info.get("csv_sha256") == csv_sum
            and info.get("run_seal") == _run_seal(run_dir))


def _manifest_runs(manifest: Path) -> list[str]:
    """The run directory names listed in a sweep manifest; a manifest that is not one is one-line error."""
    from ensembles._io import read_json_object
    from ensembles.errors import DataFileError

    data = read_json_object(manifest, prefix="The sweep manifest ",
                            fix="delete the sweep directory and train it again")
    runs = data.get("runs")
    if not isinstance(runs, list):
        raise DataFileError(f"The sweep manifest {str(manifest)!r} has no list of runs; delete the sweep directory "
                            "and train it again.")
    names = []
    for i, r in enumerate(runs):
        d = r.get("dir") if isinstance(r, dict) else None
        name = Path(d).name if isinstance(d, str) and "\x00" not in d else None
        if not name or name in (".", "..") or d != f"runs/{name}":
            raise DataFileError(f"The sweep manifest {str(manifest)!r} names run {i} with the directory {d!r}; "
                                "expected 'runs/<name>'. Delete the sweep directory and train it again.")
        names.append(name)
    return names


def verified_sweep_runs(sweeps: list, echo=print) -> list[tuple[str, Path]]:
    """``(sweep name, run directory)`` of every finished run listed in the manifests of ``sweeps``
    (:class:`~ensembles.layout.SweepLayout`), after verifying each (:func:`run_state`).

    A damaged run stops everything with :class:`~ensembles.errors.DataFileError` naming every damaged run and what
    is wrong; runs still training (incomplete) and runs of earlier versions (unsealed) are named in a note through
    ``echo`` and, respectively, left out and used unverified.
    """
    from ensembles.errors import DataFileError

    listed: list[tuple[str, Path]] = []
    for lay in sweeps:
        listed += [(lay.root.name, lay.run(name).root) for name in _manifest_runs(lay.manifest)]
    groups = check_runs([d for _, d in listed])
    rel = {d: f"{s}/{d.name}" for s, d in listed}
    if groups["damaged"]:
        what = "; ".join(f"{rel[d]} ({detail})" for d, detail in groups["damaged"])
        raise DataFileError(f"{len(groups['damaged'])} run(s) of the reproduction are damaged: {what}. Restore them "
                            "from a backup, or delete those run directories and run 'ensembles reproduce' again to "
                            "retrain them.")
    if groups["incomplete"]:
        echo(f"note: {len(groups['incomplete'])} run(s) have not finished training and are left out: "
             + ", ".join(rel[d] for d, _ in groups["incomplete"]))
    if groups["unsealed"]:
        echo(f"note: {len(groups['unsealed'])} run(s) were finished by an earlier version and carry no checksums; "
             "their files are used unverified")
    usable = {d for d, _ in groups["ok"] + groups["unsealed"]}
    return [(s, d) for s, d in listed if d in usable]
