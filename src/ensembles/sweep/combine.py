"""Combined results of the finished runs of a sweep (``OUT/combined/``).

Files (each written atomically; a run joins once it has its ``DONE`` marker):

- ``runs.csv``: one row per finished run: ``run`` (id), ``name``, ``dir``, one column per sweep parameter
  (``model``, ``dataset``, ``seed``, every grid key), then the scalar entries of the run's ``metrics.json``.
- ``summary.csv``: tidy table, one row per (run, statistic): ``run``, ``name``, the sweep-parameter columns, then
  the columns of ``ensembles.analysis.summary.summarize(recording)`` when that function is available; otherwise
  the fallback columns ``layer``, ``statistic``, ``value`` with statistics ``hoyer`` (mean over presentations of
  the Hoyer sparseness of each presentation's population vector, Hoyer 2004, paper-spec §3.2; all-zero rows
  dropped as NaN like the authors' ``nanmean``), ``zero_fraction`` (fraction of all-zero rows) and ``accuracy``
  (``layer`` = 0, from ``metrics.json``).  ``ensembles report`` groups it by the parameter columns other than
  ``seed`` to draw across-seed error bars.
- ``recording.h5``: ``ensembles.record.combine_recordings`` of the runs' recordings (last checkpoint of each) along a
  ``run`` dim whose coords are ``run_id``, ``run_name``, ``final_epoch``, the per-run attrs that differ (``model``, ``seed``,
  ``config``, ...) and the other sweep parameters.  It is a multi-run analysis container, not a single schema-valid
  recording: open it with ``xarray.open_dataset(path, engine="h5netcdf")`` (``ensembles.analysis.summary.summarize``
  accepts the ``run`` dim).  Written only when the recordings are compatible (same presentations and neuroids),
  else the reason goes to ``combined/README.txt``.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

import numpy as np

from ensembles.sweep._io import atomic_write_text, read_json
from ensembles.sweep.runner import DONE


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
    """Manifest entries of the runs of ``out`` that have their ``DONE`` marker."""
    out = Path(out)
    manifest = read_json(out / "sweep_manifest.json", None)
    if manifest is None:
        raise ValueError(f"{out} is not a sweep directory (no readable sweep_manifest.json)")
    return [r for r in manifest.get("runs", []) if (out / r["dir"] / DONE).exists()]


def hoyer_rows(activity: np.ndarray) -> np.ndarray:
    """Hoyer sparseness of each row: (sqrt(n) - |x|_1/|x|_2) / (sqrt(n) - 1) (Hoyer 2004); NaN for all-zero rows."""
    x = np.asarray(activity, dtype=np.float64)
    n = x.shape[1]
    l1 = np.abs(x).sum(axis=1)
    l2 = np.sqrt((x * x).sum(axis=1))
    with np.errstate(invalid="ignore", divide="ignore"):
        return (math.sqrt(n) - l1 / l2) / (math.sqrt(n) - 1)


def _last_checkpoint(rec):
    if "checkpoint" in rec["activity"].dims:
        rec = rec.isel(checkpoint=-1)
    return rec


def fallback_summary(rec, metrics: dict) -> list[dict]:
    """Per-layer Hoyer and all-zero fraction from a recording, plus the accuracy (see the module docstring)."""
    rows = []
    rec = _last_checkpoint(rec)
    act = rec["activity"]
    layers = np.asarray(act["layer"].values)
    values = np.asarray(act.values)
    for layer in np.unique(layers):
        block = values[:, layers == layer]
        h = hoyer_rows(block)
        rows.append({"layer": int(layer), "statistic": "hoyer", "value": float(np.nanmean(h)) if np.isfinite(h).any()
                     else float("nan")})
        rows.append({"layer": int(layer), "statistic": "zero_fraction",
                     "value": float(np.mean(~np.any(block != 0, axis=1)))})
    acc = metrics.get("test_accuracy", metrics.get("accuracy"))
    if isinstance(acc, dict):
        acc = acc.get("overall", acc.get("total"))
    if isinstance(acc, (int, float)):
        rows.append({"layer": 0, "statistic": "accuracy", "value": float(acc)})
    return rows


def write_netcdf_atomic(ds, path: Path) -> None:
    """``ds.to_netcdf`` (h5netcdf engine) to a temporary name in the same directory, then rename."""
    import tempfile

    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        ds.to_netcdf(tmp, engine="h5netcdf")
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def combine_sweep(out: str | os.PathLike, *, recording: bool = True) -> dict:
    """Write ``OUT/combined/{runs.csv, summary.csv, recording.h5}`` from the finished runs; return their paths."""
    import pandas as pd

    out = Path(out)
    runs = finished_runs(out)
    combined = out / "combined"
    combined.mkdir(parents=True, exist_ok=True)
    notes: list[str] = []
    if not runs:
        return {}
    try:
        from ensembles.record import load_recording
    except ImportError as err:  # pragma: no cover - depends on the build
        load_recording = None
        notes.append(f"ensembles.record unavailable ({err}); no per-layer statistics")
    try:
        from ensembles.analysis.summary import summarize
    except ImportError:
        summarize = None
    run_rows, summary_frames, recs, rec_coords = [], [], [], []
    for r in runs:
        run_dir = out / r["dir"]
        params = {k: _param_value(v) for k, v in r.get("params", {}).items()}
        metrics = read_json(run_dir / "metrics.json", {}) or {}
        run_rows.append({"run": r["id"], "name": r["name"], "dir": r["dir"], **params, **_flatten_metrics(metrics)})
        rec = None
        rec_path = run_dir / "recording.h5"
        if load_recording is not None and rec_path.exists():
            try:
                rec = load_recording(rec_path)
            except Exception as err:  # noqa: BLE001 - one unreadable recording must not hide the others
                notes.append(f"{r['dir']}: recording not readable: {type(err).__name__}: {err}")
        if rec is not None:
            frame = None
            if summarize is not None:
                try:
                    frame = summarize(rec)
                except Exception as err:  # noqa: BLE001
                    notes.append(f"{r['dir']}: summarize failed ({type(err).__name__}: {err}); numpy fallback used")
            if frame is None:
                frame = pd.DataFrame(fallback_summary(rec, metrics))
            frame = frame.copy()
            lead = pd.DataFrame([{"run": r["id"], "name": r["name"], **params}] * len(frame), index=frame.index)
            frame = pd.concat([lead, frame.drop(columns=[c for c in lead.columns if c in frame.columns])], axis=1)
            summary_frames.append(frame)
            if recording:
                last = _last_checkpoint(rec)
                final_epoch = int(last["epoch"].values) if "epoch" in last.coords else -1
                # runs of different rules stop at different epochs: keep the epoch as a per-run coord
                recs.append(last.drop_vars("epoch") if "epoch" in last.coords else last)
                rec_coords.append({"run_id": r["id"], "run_name": r["name"], "final_epoch": final_epoch, **params})
    paths: dict[str, Path] = {}
    atomic_write_text(combined / "runs.csv", pd.DataFrame(run_rows).to_csv(index=False))
    paths["runs"] = combined / "runs.csv"
    if summary_frames:
        atomic_write_text(combined / "summary.csv", pd.concat(summary_frames, ignore_index=True).to_csv(index=False))
        paths["summary"] = combined / "summary.csv"
    if recording and recs:
        try:
            from ensembles.record import combine_recordings

            # per-run attrs that differ (model, seed, config, ...) become coords inside combine_recordings
            taken = set(recs[0].attrs) | set(recs[0].coords)
            keys = [k for k in rec_coords[0] if k not in taken]
            coords = {k: [c.get(k) for c in rec_coords] for k in keys}
            both = combine_recordings(recs, dim="run", coords=coords)
            write_netcdf_atomic(both, combined / "recording.h5")
            paths["recording"] = combined / "recording.h5"
        except Exception as err:  # noqa: BLE001 - incompatible recordings: the csv files are still valid
            notes.append(f"combined recording not written: {type(err).__name__}: {err}")
    if notes:
        atomic_write_text(combined / "README.txt", "\n".join(notes) + "\n")
    else:
        try:
            (combined / "README.txt").unlink()
        except FileNotFoundError:
            pass
    return paths
