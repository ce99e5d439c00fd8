"""Import: an NWB file -> a recording (presentation x neuroid), from the ensembles layout or a real session."""

from __future__ import annotations

import json
import os
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from ensembles._validation import check_choice, param_error
from ensembles.conventions import SCHEMA_VERSION
from ensembles.errors import DataFileError, ParameterError

from ._common import (
    _NEUROID_TABLE,
    _RESERVED_INTERVAL_COLUMNS,
    _SERIES,
    _STIMULUS_ID_CANDIDATES,
    PROCESSING_MODULE,
    NWBFileError,
    NWBImportWarning,
    _require_pynwb,
    _safe_id,
    _unreadable,
)
from ._responses import _check_window, _spike_counts, _window_means
from ._tables import (
    _coord_values,
    _extra_coords,
    _find_intervals,
    _find_series,
    _labels,
    _original_names,
    _read_column,
    _simple_columns,
)


def _plain(value: Any) -> Any:
    """A JSON value of an NWB metadata field (datetimes as ISO 8601, arrays and tuples as lists)."""
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if not isinstance(value, (str, bytes, np.ndarray, np.generic)) and hasattr(value, "shape"):
        value = np.asarray(value[()])  # an HDF5 dataset (keywords are stored as one)
    if isinstance(value, (list, tuple, np.ndarray)):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, bytes):
        return value.decode()
    return value


#: Session fields carried from an imported file to the files exported from it (the file's own description and
#: identifier are not: an export is a new file describing responses).
_CARRIED_SESSION = ("experimenter", "institution", "lab", "session_id", "session_start_time",
                    "experiment_description", "keywords", "related_publications", "protocol", "stimulus_notes")


def _session_fields(nwbfile: Any) -> dict:
    out = {k: _plain(getattr(nwbfile, k, None)) for k in _CARRIED_SESSION}
    return {k: v for k, v in out.items() if v not in (None, "", [])}


def _subject_fields(nwbfile: Any) -> dict:
    subject = nwbfile.subject
    if subject is None:
        return {}
    names = ("subject_id", "species", "sex", "age", "date_of_birth", "description", "strain", "genotype", "weight")
    out = {k: _plain(getattr(subject, k, None)) for k in names}
    out = {k: v for k, v in out.items() if v not in (None, "", [])}
    if "age" in out and getattr(subject, "age__reference", None):
        out["age__reference"] = str(subject.age__reference)
    return out


def import_nwb(
    path: str | os.PathLike,
    *,
    label_column: str = "label",
    window: Sequence[float] = (0.0, 0.25),
    source: str = "auto",
    intervals: str | None = "auto",
    response: str = "count",
    series: str | None = None,
    stimulus_column: str | None = None,
    drop_unlabeled: bool = False,
    dataset: str | None = None,
    sort_spikes: bool = False,
    drop_nonfinite: bool = False,
) -> xr.Dataset:
    """Build a recording (presentation × neuroid) from an NWB file.

    Parameters
    ----------
    path : str or path-like
        An NWB file: one written by :func:`export_nwb` (read back exactly), or a session with a ``Units`` table of
        spike times or a 2-D response series, plus a table of stimulus presentations.
    label_column : str
        Column of the presentation table holding the stimulus class.  Strings become integer codes (sorted) with
        the strings as ``label_name``; numbers are used as they are.
    window : (float, float)
        Response window in seconds relative to each presentation onset (``start_time``), half-open
        [onset + w0, onset + w1).
    source : {"auto", "units", "series"}
        ``"units"``: spike counts (or rates) of every unit of ``nwbfile.units`` in the window;
        ``"series"``: mean of a response series (e.g. a ``RoiResponseSeries`` of ΔF/F or deconvolved events)
        over the samples in the window; ``"auto"``: the file's ensembles layout, else units with spike times, else a
        response series.
    intervals : str or "auto"
        Name of the presentation table (``"trials"`` or an intervals table such as
        ``"natural_scenes_presentations"``); ``"auto"`` takes ``trials``, else ``presentations``, else the one table
        whose name ends in ``presentations``.
    response : {"count", "rate"}
        For units: spike count, or rate in spikes/s (count / window length).
    series : str, optional
        The response series (name, or ``container/name``) when the file has several.
    stimulus_column : str, optional
        Column identifying the stimulus (repeats share it).  Default: the first of ``stimulus_id``, ``image_name``,
        ``image_id``, ``stimulus_name``, ``frame`` that exists, else one id per presentation.
    drop_unlabeled : bool
        Leave out presentations with an empty/NaN label instead of raising.
    dataset : str, optional
        Value of the ``dataset`` attr (default: the file's ``session_id`` or file name).
    sort_spikes : bool
        Sort spike trains that are not in ascending order (with an :class:`NWBImportWarning` naming the units)
        instead of raising a :class:`~ensembles.errors.DataFileError`.

    Warns
    -----
    NWBImportWarning
        Units without spikes; spike trains sorted on request; a window reaching into the next presentation.

    drop_nonfinite : bool
        Spike times and presentation bounds (``start_time``, ``stop_time``) that are NaN or infinite cannot be
        counted or placed: by default they stop the import with a :class:`NWBFileError` naming them; True drops
        those spikes and presentations with an :class:`NWBImportWarning` that counts them.
    Returns
    -------
    xr.Dataset
        A validated recording; ``attrs["model"] = "neural:<NWB identifier>"``, ``seed = -1``, the import
        parameters in ``config``, the session's metadata (experimenter, institution, lab, session id and start
        time, ...) in ``nwb_session`` and its subject's (subject id, species, sex, age, ...) in ``nwb_subject``
        (JSON objects, which :func:`export_nwb` writes again).  Files written by :func:`export_nwb` come back with
        their original coords and attrs.  A ``repetition`` coord (0-based repeat index per ``stimulus_id``) is added when stimuli repeat.

    Raises
    ------
    ValueError
        A missing label/stimulus column (the available ones are listed), presentations without labels, no units or
        response series, or a window that contains no sample.
    NWBFileError
        (a ``ValueError``) ``path`` is not a readable NWB file: not HDF5, truncated or corrupt (h5py's bare
        ``OSError`` is wrapped with the file name), or an HDF5 file without NWB metadata.
    FileNotFoundError
        No file at ``path``.
    """
    pynwb = _require_pynwb()

    check_choice("source", source, ("auto", "units", "series"))
    check_choice("response", response, ("count", "rate"))
    try:
        w0, w1 = (float(v) for v in window)
    except (TypeError, ValueError) as err:  # not a pair, or not numbers
        raise param_error("window", "a pair of floats (start, stop) in seconds", window) from err
    if not w1 > w0:
        raise param_error("window", "a pair (start, stop) with stop > start", window)
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"No NWB file at {str(path)!r}.")

    try:
        io = pynwb.NWBHDF5IO(str(path), mode="r")
    except (OSError, KeyError, TypeError, ValueError, RuntimeError) as err:
        # h5py raises a bare OSError ("file signature not found", "truncated file: eof = ...") without the path.
        raise _unreadable(path, err) from err
    try:
        with io:
            try:
                nwbfile = io.read()
            except (OSError, KeyError, TypeError, ValueError, RuntimeError, _construct_error()) as err:
                raise _unreadable(path, err) from err
            return _import_from(
                nwbfile,
                path,
                label_column=label_column,
                w0=w0,
                w1=w1,
                source=source,
                intervals=intervals,
                response=response,
                series=series,
                stimulus_column=stimulus_column,
                drop_unlabeled=drop_unlabeled,
                dataset=dataset,
                sort_spikes=bool(sort_spikes),
                drop_nonfinite=bool(drop_nonfinite),
            )
    except OSError as err:
        # Data read lazily from a damaged file (our own checks never raise OSError).
        if isinstance(err, PermissionError | FileNotFoundError):
            raise
        raise _unreadable(path, err) from err


def _construct_error() -> type[Exception]:
    """hdmf's error for a file whose tables cannot be built (columns of different lengths, missing attributes)."""
    try:
        from hdmf.build.errors import ConstructError
    except ImportError:  # pragma: no cover - an hdmf without it
        return RuntimeError
    return ConstructError


def _import_from(
    nwbfile,
    path: Path,
    *,
    label_column,
    w0,
    w1,
    source,
    intervals,
    response,
    series,
    stimulus_column,
    drop_unlabeled,
    dataset,
    sort_spikes=False,
    drop_nonfinite=False,
) -> xr.Dataset:
    from ensembles.record import make_recording

    exported = (
        PROCESSING_MODULE in nwbfile.processing
        and _NEUROID_TABLE in nwbfile.processing[PROCESSING_MODULE].data_interfaces
        and _SERIES in nwbfile.processing[PROCESSING_MODULE].data_interfaces
    )
    has_units = nwbfile.units is not None and "spike_times" in nwbfile.units.colnames
    if source == "auto":
        source = "series" if exported else ("units" if has_units else "series")
    table_name, table = _find_intervals(nwbfile, intervals, exported and source == "series")
    colmap = _original_names(table) if exported else {}
    columns = [colmap.get(c, c) for c in _simple_columns(table)]
    rename = {v: k for k, v in colmap.items()}

    def _read(name: str) -> np.ndarray:
        return _read_column(table, rename.get(name, name))

    data_columns = [c for c in columns if c not in _RESERVED_INTERVAL_COLUMNS]
    if label_column not in columns:
        raise ParameterError(
            f"The presentation table {table_name!r} has no column {label_column!r} (label_column). "
            f"Available columns: {data_columns}."
        )
    onsets = np.asarray(table["start_time"].data[:], dtype=np.float64)
    stops = np.asarray(table["stop_time"].data[:], dtype=np.float64)
    keep, label, label_name = _labels(_read(label_column), label_column, table_name, drop_unlabeled)
    if onsets.shape != keep.shape or stops.shape != keep.shape:
        raise NWBFileError(path, f"The presentation table {table_name!r} of {str(path)!r} has columns of different "
                                 f"lengths ({onsets.size} start times, {keep.size} rows of {label_column!r}).")
    bounds_ok = np.isfinite(onsets) & np.isfinite(stops)
    if not bounds_ok[keep].all():
        n_bad = int((~bounds_ok & keep).sum())
        if not drop_nonfinite:
            raise NWBFileError(path, f"{n_bad} presentation(s) of {table_name!r} in {str(path)!r} have a NaN or "
                                     "infinite start_time or stop_time (rows "
                                     f"{np.flatnonzero(~bounds_ok & keep)[:10].tolist()}); pass drop_nonfinite=True "
                                     "(command line: --drop-nonfinite) to leave them out.")
        warnings.warn(f"Left out {n_bad} presentation(s) of {table_name!r} with a NaN or infinite start_time or "
                      "stop_time.", NWBImportWarning, stacklevel=3)
        drop = ~bounds_ok[keep]
        label, label_name = np.asarray(label)[~drop], np.asarray(label_name)[~drop]
        keep = keep & bounds_ok
    if label_column == "label" and "label_name" in columns and label.dtype.kind == "i":
        label_name = _read("label_name")[keep].astype(str)
    if not exported:
        _check_window(onsets[keep], stops[keep], w0, w1, table_name)

    # ---- responses and neuroid coords
    neuroid: dict[str, np.ndarray] = {}
    if source == "units":
        if not has_units:
            raise DataFileError(
                "source='units' needs a Units table with spike_times; the file has "
                + ("no Units table." if nwbfile.units is None else "a Units table without spike_times.")
            )
        units = nwbfile.units
        values = _spike_counts(units, onsets[keep], (w0, w1), sort_spikes=sort_spikes, path=path,
                               drop_nonfinite=drop_nonfinite)
        if response == "rate":
            values = values / (w1 - w0)
        ids = np.asarray(units.id.data[:])
        ucols = _simple_columns(units)
        neuroid["neuroid_id"] = (
            _read_column(units, "neuroid_id").astype(str)
            if "neuroid_id" in ucols
            else np.array([f"unit{int(i)}" for i in ids])
        )
        layer = _read_column(units, "layer") if "layer" in ucols else None
        neuroid["layer"] = (
            layer.astype(np.int64)
            if layer is not None and layer.dtype.kind in "iu"
            else np.ones(ids.size, np.int64)
        )
        neuroid["unit"] = np.arange(ids.size, dtype=np.int64)
        neuroid["unit_id"] = ids.astype(np.int64)
        _extra_coords(units, ucols, neuroid, skip={"spike_times", "obs_intervals", "electrodes"})
        site = f"units:spike_{response}"
        response_variable = "spike count" if response == "count" else "spike rate (spikes/s)"
    else:
        sname, ts = _find_series(nwbfile, series, exported)
        if ts is None:
            raise DataFileError(
                "The file has no response to import: no Units table with spike_times and no 2-D response "
                "series (e.g. a RoiResponseSeries of ΔF/F). Looked in acquisition and processing."
            )
        n_t = ts.data.shape[0]
        times = (
            np.asarray(ts.timestamps[:], dtype=np.float64)
            if ts.timestamps is not None
            else float(ts.starting_time or 0.0) + np.arange(n_t) / float(ts.rate)
        )
        values = _window_means(times, ts.data, onsets[keep], (w0, w1))
        n_ch = values.shape[1]
        if exported:
            ntab = nwbfile.processing[PROCESSING_MODULE][_NEUROID_TABLE]
            nmap = _original_names(ntab)
            for name in _simple_columns(ntab):
                arr = _read_column(ntab, name)
                neuroid[nmap.get(name, name)] = arr.astype(str) if arr.dtype.kind in "OUS" else arr
        else:
            rois = getattr(ts, "rois", None)
            rid = np.asarray(rois.data[:], dtype=np.int64) if rois is not None else np.arange(n_ch)
            if rois is not None:
                rid = np.asarray(rois.table.id.data[:], dtype=np.int64)[rid]
            base = _safe_id(ts.name)
            neuroid["neuroid_id"] = np.array([f"{base}.{int(i):04d}" for i in rid])
            neuroid["layer"] = np.ones(n_ch, dtype=np.int64)
            neuroid["unit"] = np.arange(n_ch, dtype=np.int64)
            neuroid["roi_id"] = rid
        site = f"series:{sname}"
        response_variable = f"mean of {ts.name} ({ts.unit}) in window"

    # ---- presentation coords
    pres: dict[str, np.ndarray] = {"label": label, "label_name": np.asarray(label_name).astype(str)}
    if stimulus_column is not None and stimulus_column not in columns:
        raise ParameterError(
            f"The presentation table {table_name!r} has no column {stimulus_column!r} (stimulus_column). "
            f"Available columns: {data_columns}."
        )
    scol = stimulus_column or next((c for c in _STIMULUS_ID_CANDIDATES if c in columns), None)
    if scol is not None:
        sv = _read(scol)[keep]
        if sv.dtype.kind == "f" and np.all(sv == np.round(sv)):
            sv = sv.astype(np.int64)
        pres["stimulus_id"] = (
            sv.astype(str) if scol == "stimulus_id" else np.array([f"{scol}={v}" for v in sv])
        )
    else:
        rows = np.flatnonzero(keep)
        pres["stimulus_id"] = np.array([f"{table_name}/{int(r):06d}" for r in rows])
    pres["split"] = (
        _read("split")[keep].astype(str) if "split" in columns else np.full(keep.sum(), "all")
    )
    for name in columns:
        if name in pres or name in _RESERVED_INTERVAL_COLUMNS or name in (label_column, scol):
            continue
        arr = _coord_values(_read(name)[keep])
        if arr is not None:
            pres[name] = arr
    if "repetition" not in pres:
        sid = pres["stimulus_id"]
        if np.unique(sid).size < sid.size:
            _, inv = np.unique(sid, return_inverse=True)
            rep = np.zeros(sid.size, dtype=np.int64)
            seen: dict[int, int] = {}
            for k, c in enumerate(inv):
                rep[k] = seen.get(c, 0)
                seen[c] = rep[k] + 1
            pres["repetition"] = rep

    if exported:
        try:
            attrs = json.loads(nwbfile.notes or "{}")
        except ValueError as err:
            raise NWBFileError(path, f"The notes of the NWB file {str(path)!r} are not the JSON that export_nwb "
                                     f"writes ({err}).") from None
        if not isinstance(attrs, dict):
            raise NWBFileError(path, f"The notes of the NWB file {str(path)!r} hold a JSON "
                                     f"{type(attrs).__name__}, not the object that export_nwb writes.")
        # the schema version is filled in by make_recording; an exported recording of the same major version (e.g.
        # "1", which validate_recording accepts) is read as the current schema, another major version is refused
        stored = str(attrs.pop("schema_version", SCHEMA_VERSION))
        if stored.split(".")[0] != SCHEMA_VERSION.split(".")[0]:
            raise NWBFileError(path, f"The NWB file {str(path)!r} holds a recording of schema {stored!r}; this "
                                     f"version of ensembles reads schema {SCHEMA_VERSION} (major version "
                                     f"{SCHEMA_VERSION.split('.')[0]}).")
    else:
        config = {
            "source": source,
            "file": path.name,
            "intervals": table_name,
            "label_column": label_column,
            "stimulus_column": scol,
            "window": [w0, w1],
            "response": response if source == "units" else "mean",
            "series": None if source == "units" else site.split(":", 1)[1],
            "drop_unlabeled": bool(drop_unlabeled),
        }
        attrs = {
            "model": f"neural:{nwbfile.identifier}",
            "dataset": dataset or (nwbfile.session_id or path.stem),
            "seed": -1,
            "config": json.dumps(config, sort_keys=True),
            "site": site,
            "response_variable": response_variable,
            "session_description": str(nwbfile.session_description),
            "source_file": path.name,
        }
        if nwbfile.subject is not None and nwbfile.subject.species:
            attrs["species"] = str(nwbfile.subject.species)
        # the session's and subject's metadata, which export_nwb writes again into the files it makes of this one
        for key, fields in (("nwb_session", _session_fields(nwbfile)), ("nwb_subject", _subject_fields(nwbfile))):
            if fields:
                attrs[key] = json.dumps(fields, sort_keys=True)
    if dataset is not None:
        attrs["dataset"] = dataset
    activity = values.astype(np.float32)
    try:
        return make_recording(activity, presentation=pres, neuroid=neuroid, attrs=attrs)
    except ValueError as err:
        raise DataFileError(f"The NWB file {str(path)!r} did not give a valid recording: {err}") from err
