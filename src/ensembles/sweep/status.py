"""State of every run of a sweep directory (``ensembles sweep-status DIR``).

States:

- ``complete``: the trainer's ``DONE`` marker exists;
- ``running``: the run's ``status.json`` says running and a live sweep process holds the directory's lock;
- ``failed``: the last attempt failed (``logs/<run>/error.json`` holds the error); a running sweep may still retry it;
- ``interrupted``: the run started but its sweep is gone (killed) before it finished; the next submission resumes it
  from its last checkpoint;
- ``pending``: not started.
"""

from __future__ import annotations

import os
from pathlib import Path

from ensembles import layout as L
from ensembles._io import read_json
from ensembles.errors import DataFileError
from ensembles.layout import RunLayout, SweepLayout
from ensembles.sweep.runner import is_locked

STATES = ("complete", "running", "failed", "interrupted", "pending")


def run_state(run_dir: Path, log_dir: Path, *, sweep_alive: bool) -> tuple[str, dict]:
    """State of one run (its run directory and its sweep log directory) and the status record behind it."""
    if RunLayout(run_dir).is_done():
        return "complete", read_json(log_dir / L.STATUS, {}) or {}
    status = read_json(log_dir / L.STATUS, {}) or {}
    error = read_json(log_dir / L.ERROR_JSON, None)
    if status.get("state") == "running":
        if sweep_alive:
            return "running", status
        return "interrupted", status
    if error is not None or status.get("state") == "failed":
        return "failed", {**status, **(error or {})}
    if run_dir.exists() and any(run_dir.iterdir()):
        return "interrupted", status
    return "pending", status


def sweep_status(out: str | os.PathLike):
    """Per-run status of a sweep directory as a pandas DataFrame.

    Columns: ``name``, ``run`` (id), ``state`` (one of :data:`STATES`), ``attempt``, ``seconds`` (wall),
    ``cpu_seconds`` (CPU time of the worker process), ``error``,
    ``dir``, then one column per grid key.
    """
    import pandas as pd

    out = Path(out)
    lay = SweepLayout(out)
    manifest = read_json(lay.manifest, None)
    if manifest is None:
        if not out.exists():
            raise FileNotFoundError(f"Sweep directory not found: {out}")
        raise DataFileError(f"{out} is not a sweep directory (no readable sweep_manifest.json); "
                         "expected the --out directory of `ensembles sweep`")
    alive = is_locked(out)
    rows = []
    for r in manifest.get("runs", []):
        run_dir = lay.resolve(r["dir"])
        state, info = run_state(run_dir, lay.resolve(r.get("log_dir", r["dir"])), sweep_alive=alive)
        err = ""
        if state == "failed":
            err = f"{info.get('type', 'Error')}: {info.get('message', '')}".strip()
        rows.append({"name": r["name"], "run": r["id"], "state": state, "attempt": info.get("attempt"),
                     "seconds": info.get("seconds"),
                     "cpu_seconds": info.get("cpu_seconds"), "error": err, "dir": r["dir"],
                     **{k: _cell(v) for k, v in r.get("params", {}).items()}})
    df = pd.DataFrame(rows)
    if len(df):
        df["attempt"] = pd.array(df["attempt"].tolist(), dtype="Int64")
    df.attrs["sweep_alive"] = alive
    df.attrs["name"] = manifest.get("name")
    return df


def _cell(v):
    return str(v) if isinstance(v, (list, dict)) else v


def format_status(df) -> str:
    """Plain-text table of :func:`sweep_status` plus a one-line count per state."""
    counts = {s: int((df["state"] == s).sum()) if len(df) else 0 for s in STATES}
    head = (f"sweep {df.attrs.get('name')!r}: {len(df)} runs: "
            + ", ".join(f"{n} {s}" for s, n in counts.items() if n)
            + ("" if df.attrs.get("sweep_alive") else "  (no sweep process running)"))
    if not len(df):
        return head
    cols = ["name", "run", "state", "attempt", "seconds", "error"]
    lines = [head, ""]
    table = df[cols].copy()
    table["error"] = table["error"].str.slice(0, 70)
    table = table.astype(object).where(table.notna(), "-")
    lines.append(table.to_string(index=False, na_rep="-"))
    return "\n".join(lines)
