"""Combined results of the finished runs of a sweep (``OUT/combined/``).

Files (each written atomically; a run joins once it has its ``DONE`` marker):

- ``runs.csv``: one row per finished run: ``run`` (id), ``name``, ``dir``, one column per sweep parameter
  (``model``, ``dataset``, ``seed``, every grid key), then the scalar entries of the run's ``metrics.json``.
- ``summary.csv``: tidy table, one row per (run, statistic): ``run``, ``name``, the sweep-parameter columns, then
  the columns of :func:`ensembles.analysis.summary.summarize` (the recording's last checkpoint, the presentations
  chosen by :func:`ensembles.record.select_presentations`: correctly classified ones, plus every presentation of a
  held-out class).  A run whose recording cannot be summarised is listed in ``README.txt`` with the reason and has
  no rows.  ``ensembles report`` groups the table by the parameter columns other than ``seed`` to draw across-seed
  error bars.
- ``recording.h5``: ``ensembles.record.combine_recordings`` of the runs' recordings (last checkpoint of each) along a
  ``run`` dim whose coords are ``run_id``, ``run_name``, ``final_epoch``, the per-run attrs that differ (``model``, ``seed``,
  ``config``, ...) and the other sweep parameters.  It is a multi-run analysis container, not a single schema-valid
  recording: open it with ``xarray.open_dataset(path, engine="h5netcdf")`` (``ensembles.analysis.summary.summarize``
  accepts the ``run`` dim).  Written only when the recordings are compatible (same presentations and neuroids),
  else the reason goes to ``combined/README.txt``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from ensembles._io import atomic_write, atomic_write_text, read_json
from ensembles.errors import DataFileError
from ensembles.layout import RunLayout, SweepLayout

__all__ = ["combine_sweep", "finished_runs"]


def _flatten_metrics(metrics: Any, prefix: str = "") -> dict:
    out: dict = {}
    if isinstance(metrics, dict):
        for k, v in metrics.items():
            key = f"{prefix}{k}"
            if isinstance(v, bool):
                out[key] = v
            elif isinstance(v, (int, float)):
                out[key] = v
            elif isinstance(v, str) and len(v) < 80:
                out[key] = v
            elif isinstance(v, dict) and not prefix:
                out.update(_flatten_metrics(v, prefix=f"{key}."))
    return out


def _param_value(v: Any) -> Any:
    if isinstance(v, (list, tuple, dict)):
        return json.dumps(v)
    return v


def finished_runs(out: str | os.PathLike) -> list[dict]:
    """Manifest entries of the runs of the sweep directory ``out`` that are complete (have their ``DONE`` marker)."""
    lay = SweepLayout(out)
    manifest = read_json(lay.manifest, None)
    if manifest is None:
        raise DataFileError(f"{out} is not a sweep directory (no readable {lay.manifest.name})")
    return [r for r in manifest.get("runs", []) if RunLayout(lay.resolve(r["dir"])).is_done()]


def combine_sweep(out: str | os.PathLike, *, recording: bool = True) -> dict:
    """Write ``OUT/combined/{runs.csv, summary.csv, recording.h5}`` from the finished runs; return their paths."""
    import pandas as pd

    from ensembles.analysis.summary import summarize
    from ensembles.record import combine_recordings, load_recording, select_presentations

    lay = SweepLayout(out)
    runs = finished_runs(out)
    if not runs:
        return {}
    notes: list[str] = []
    run_rows, summary_frames, recs, rec_coords = [], [], [], []
    for r in runs:
        run = RunLayout(lay.resolve(r["dir"]))
        params = {k: _param_value(v) for k, v in r.get("params", {}).items()}
        metrics = read_json(run.metrics, {}) or {}
        run_rows.append({"run": r["id"], "name": r["name"], "dir": r["dir"], **params, **_flatten_metrics(metrics)})
        if not run.recording.exists():
            continue
        try:
            rec = load_recording(run.recording)
        except Exception as err:  # noqa: BLE001 - one unreadable recording must not hide the others
            notes.append(f"{r['dir']}: recording not readable: {type(err).__name__}: {err}")
            continue
        try:
            frame = summarize(rec)
        except Exception as err:  # noqa: BLE001 - listed in README.txt; the other runs are combined
            notes.append(f"{r['dir']}: not summarised ({type(err).__name__}: {err})")
        else:
            lead = pd.DataFrame([{"run": r["id"], "name": r["name"], **params}] * len(frame), index=frame.index)
            summary_frames.append(pd.concat([lead, frame.drop(columns=[c for c in lead.columns if c in frame.columns])],
                                            axis=1))
        if recording:
            last = select_presentations(rec, correct_only=False, checkpoint=-1)
            final_epoch = int(last["epoch"].values) if "epoch" in last.coords else -1
            # runs of different rules stop at different epochs: keep the epoch as a per-run coord
            recs.append(last.drop_vars("epoch") if "epoch" in last.coords else last)
            rec_coords.append({"run_id": r["id"], "run_name": r["name"], "final_epoch": final_epoch, **params})
    paths: dict[str, Path] = {}
    atomic_write_text(lay.combined_runs, pd.DataFrame(run_rows).to_csv(index=False))
    paths["runs"] = lay.combined_runs
    if summary_frames:
        atomic_write_text(lay.combined_summary, pd.concat(summary_frames, ignore_index=True).to_csv(index=False))
        paths["summary"] = lay.combined_summary
    if recording and recs:
        try:
            # per-run attrs that differ (model, seed, config, ...) become coords inside combine_recordings
            taken = set(recs[0].attrs) | set(recs[0].coords)
            keys = [k for k in rec_coords[0] if k not in taken]
            coords = {k: [c.get(k) for c in rec_coords] for k in keys}
            both = combine_recordings(recs, dim="run", coords=coords)
            atomic_write(lay.combined_recording, lambda tmp: both.to_netcdf(tmp, engine="h5netcdf"))
            paths["recording"] = lay.combined_recording
        except Exception as err:  # noqa: BLE001 - incompatible recordings: the csv files are still valid
            notes.append(f"combined recording not written: {type(err).__name__}: {err}")
    if notes:
        atomic_write_text(lay.combined_notes, "\n".join(notes) + "\n")
    else:
        lay.combined_notes.unlink(missing_ok=True)
    return paths
