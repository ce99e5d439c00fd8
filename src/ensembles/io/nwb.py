"""Neurodata Without Borders (NWB) in and out: model recordings as NWB files, NWB sessions as recordings.

Needs the optional extra ``nwb`` (``pip install "ensembles-toolkit[nwb]"``: pynwb, nwbinspector); pynwb is imported
only when a function here is called.

Layout written by :func:`export_nwb` (one file per recording):

``processing/ensembles/neuroids``
    ``DynamicTable``, one row per neuroid: ``neuroid_id``, ``layer``, ``unit`` and every other neuroid coord.
``processing/ensembles/activity``
    ``RoiResponseSeries`` (time × neuroids, float32, unit ``"a.u."``, or ``"spikes/s"`` for imported rates) whose
    ``rois`` region points at ``neuroids``: column j = row j, and pynapple's ``nap.load_file`` reads the neuroid
    coords as the TsdFrame's column metadata.  A synthetic clock: presentation k starts at k·d with d =
    ``presentation_duration`` (1 s); its response is held and sampled ``m`` times per presentation (m ≥ n_neuroids /
    n_presentations, so that time stays the longest axis, which nwbinspector requires).
``intervals/presentations``
    ``TimeIntervals`` with ``start_time`` = k·d and ``stop_time`` = k·d + d − d/(2m) (half a sample before the next
    onset: intervals never touch, so pynapple keeps them exactly, and each holds exactly its m samples), and every
    presentation coord (``stimulus_id``, ``label``, ``label_name``, ...).  A coord whose name is a pynapple
    attribute (:data:`PYNAPPLE_RESERVED`, e.g. ``split``) is written as ``presentation_split`` (``neuroid_<name>``
    in the neuroid table); the column description keeps the coord name and :func:`import_nwb` restores it.
file metadata
    ``session_description``, ``notes`` (all recording attrs as JSON: config, seed, package version, ...),
    ``source_script``, ``keywords`` and the caller's session fields (:data:`SESSION_FIELDS`); a ``Subject`` from the
    caller's subject fields (:data:`SUBJECT_FIELDS`), the species an imported recording carries, or for a model
    a description of the network.  ``dandi=True`` enforces :data:`DANDI_SUBJECT_FIELDS`.

:func:`import_nwb` reads such files back exactly, and builds recordings from real sessions: spike counts or rates
of a ``Units`` table in a window after each presentation onset, or the mean of a response series (ΔF/F,
deconvolved events of ROIs) in that window.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import re
import tempfile
import uuid
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from ensembles._validation import EnsemblesWarning, check_choice, param_error
from ensembles.errors import DataFileError, InputTypeError, ParameterError
from ensembles.conventions import SCHEMA_VERSION

__all__ = [
    "export_nwb", "import_nwb", "NWBFileError", "NWBImportWarning", "PROCESSING_MODULE", "SUBJECT_FIELDS",
    "SESSION_FIELDS", "DANDI_SUBJECT_FIELDS", "PYNAPPLE_RESERVED",
]  # fmt: skip


class NWBFileError(DataFileError):
    """A file given to :func:`import_nwb` cannot be read as NWB: not HDF5, truncated/corrupt, or HDF5 without NWB
    metadata.  A :class:`~ensembles.errors.DataFileError` (a ``ValueError``; one line in the CLI); ``path`` is the file, the message names it."""

    def __init__(self, path: str | os.PathLike, message: str):
        self.path = str(path)
        super().__init__(message)


class NWBImportWarning(EnsemblesWarning):
    """Something in an imported NWB file that changes the numbers without stopping the import: units without
    spikes, spike times sorted on request, a response window reaching into the next presentation."""


def _unreadable(path: Path, err: BaseException) -> NWBFileError:
    detail = f"{type(err).__name__}: {err}"
    if isinstance(err, TypeError) and "NWB version" in str(err):
        return NWBFileError(
            path,
            f"{str(path)!r} is not a valid NWB file (an HDF5 file without NWB metadata; was it written by "
            f"save_recording? use load_recording for .h5 recordings): {detail}",
        )
    return NWBFileError(path, f"{str(path)!r} is not a readable NWB file (truncated or corrupt): {detail}")


PROCESSING_MODULE = "ensembles"
_NEUROID_TABLE = "neuroids"
_SERIES = "activity"
_PRESENTATIONS = "presentations"
_STIMULUS_ID_CANDIDATES = ("stimulus_id", "image_name", "image_id", "stimulus_name", "frame")
_RESERVED_INTERVAL_COLUMNS = {"start_time", "stop_time", "tags", "timeseries"}


def _require_pynwb():
    try:
        import pynwb
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise ImportError(
            "NWB support needs pynwb, which is not installed. Install the 'nwb' extra: "
            "pip install 'ensembles-toolkit[nwb]'"
        ) from err
    return pynwb


# ------------------------------------------------------------------------------------------------------------------
# export
# ------------------------------------------------------------------------------------------------------------------
def _parse_time(value: Any, *, strict: str | None = None) -> _dt.datetime:
    """A timezone-aware datetime from an ISO string or datetime; ``strict`` (the field name) raises on bad input,
    otherwise a bad or missing value gives "now" (the creation time of a model recording)."""
    now = _dt.datetime.now(_dt.timezone.utc)
    if isinstance(value, _dt.datetime):
        t = value
    elif isinstance(value, str):
        try:
            t = _dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError as err:
            if strict:
                raise ParameterError(
                    f"The {strict!r} must be an ISO 8601 date/time such as '2024-05-01T10:00:00+00:00'. "
                    f"Got {value!r} instead."
                ) from err
            return now
    else:
        if strict:
            raise ParameterError(f"The {strict!r} must be an ISO 8601 date/time. Got {value!r} instead.")
        return now
    if t.tzinfo is None:
        t = t.replace(tzinfo=_dt.timezone.utc)
    return t if strict else min(t, now)


def _safe_id(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.+-]+", "-", text).strip("-") or "recording"


def _column_values(arr: np.ndarray) -> np.ndarray | list:
    if arr.dtype.kind == "U":
        return arr.astype(object).tolist()
    return arr


#: Subject fields accepted by :func:`export_nwb` (those of ``pynwb.file.Subject``).
SUBJECT_FIELDS = (
    "subject_id", "species", "sex", "age", "age__reference", "date_of_birth", "description", "strain",
    "genotype", "weight",
)  # fmt: skip
#: Session fields accepted by :func:`export_nwb` (keyword arguments of ``pynwb.NWBFile``).
SESSION_FIELDS = (
    "session_description", "session_id", "session_start_time", "identifier", "experimenter", "institution",
    "lab", "experiment_description", "keywords", "related_publications", "protocol", "stimulus_notes",
)  # fmt: skip
#: The subject fields DANDI requires (``nwbinspector --config dandi`` reports their absence as CRITICAL); age may be
#: given as ``date_of_birth`` instead.
DANDI_SUBJECT_FIELDS = ("subject_id", "species", "sex", "age")
_SEXES = ("M", "F", "U", "O")
_AGE = re.compile(r"^P(?!$)(\d+Y)?(\d+M)?(\d+W)?(\d+D)?(T(?=\d)(\d+H)?(\d+M)?(\d+(\.\d+)?S)?)?(/P.*)?$")
_SPECIES = re.compile(r"^([A-Z][a-z]+ [a-z]+( [a-z]+)?|https?://identifiers\.org/taxonomy:\d+|NCBITaxon:\d+)$")

#: Public attribute names of pynapple's ``IntervalSet`` and ``TsdFrame`` (pynapple 0.11): a metadata column of that
#: name cannot be reached as an attribute in pynapple (``iset.split`` is the method), so :func:`export_nwb` writes
#: such a coord as ``presentation_<name>`` / ``neuroid_<name>`` and :func:`import_nwb` restores the name.
PYNAPPLE_RESERVED = frozenset({
    "as_array", "as_dataframe", "as_units", "bin_average", "columns", "convolve", "copy", "count", "d", "data",
    "decimate", "derivative", "drop_info", "drop_long_intervals", "drop_short_intervals", "dropna", "dtype", "end",
    "end_time", "ends", "find_peaks", "find_support", "get", "get_info", "get_intervals_center", "get_slice",
    "groupby", "groupby_apply", "in_interval", "index", "interpolate", "intersect", "loc", "merge_close_intervals",
    "metadata", "metadata_columns", "name", "ndim", "rate", "restrict", "restrict_info", "save", "set_diff",
    "set_info", "shape", "size", "smooth", "split", "start", "start_time", "starts", "t", "time_diff",
    "time_span", "time_support", "times", "to_numpy", "to_trial_tensor", "tot_length", "union", "value_from",
    "values",
})  # fmt: skip
_ORIGINAL_NAME = re.compile(r"^(presentation|neuroid) coord '([^']+)'")


def _column_name(name: str, table: str) -> str:
    return f"{table}_{name}" if name in PYNAPPLE_RESERVED else name


def _check_fields(name: str, given: Any, allowed: tuple[str, ...]) -> dict:
    if given is None:
        return {}
    if not isinstance(given, dict):
        try:
            given = dict(given)
        except (TypeError, ValueError) as err:
            raise InputTypeError(
                f"The {name!r} parameter must be a mapping of field -> value (fields: {', '.join(allowed)}). "
                f"Got {type(given).__name__} instead."
            ) from err
    unknown = sorted(k for k in given if k not in allowed)
    if unknown:
        raise ParameterError(
            f"The {name!r} parameter has unknown field(s) {unknown}; accepted: {', '.join(allowed)}."
        )
    return {k: v for k, v in given.items() if v is not None and v != ""}


def _subject_metadata(subject: dict, attrs: dict, start: _dt.datetime, neural: bool, dandi: bool) -> dict:
    """Subject fields: the caller's, else what an imported recording carries; for a model, its description."""
    out = dict(subject)
    if "species" not in out and attrs.get("species"):
        out["species"] = str(attrs["species"])
    model, seed = str(attrs.get("model", "")), attrs.get("seed", -1)
    if not neural:
        out.setdefault("subject_id", _safe_id(f"{model}-seed{seed}"))
        out.setdefault(
            "description",
            f"Artificial neural network (model '{model}', seed {seed}); not an animal. Sex 'U' = not applicable"
            + ("; date_of_birth = the time the recording was made." if "age" not in out else "."),
        )
        out.setdefault("sex", "U")
        if "age" not in out:
            out.setdefault("date_of_birth", start)
    elif attrs.get("subject_id"):
        out.setdefault("subject_id", str(attrs["subject_id"]))
    if "sex" in out and out["sex"] not in _SEXES:
        raise ParameterError(
            f"The subject 'sex' must be one of {', '.join(_SEXES)} (M male, F female, U unknown, O other; the "
            f"NWB/DANDI vocabulary). Got {out['sex']!r} instead."
        )
    if "age" in out and not _AGE.match(str(out["age"])):
        raise ParameterError(
            f"The subject 'age' must be an ISO 8601 duration such as 'P90D' (90 days) or 'P12W'. "
            f"Got {out['age']!r} instead."
        )
    if "species" in out and not _SPECIES.match(str(out["species"])):
        raise ParameterError(
            "The subject 'species' must be a Latin binomial such as 'Mus musculus' or an NCBI taxonomy id such as "
            f"'http://identifiers.org/taxonomy:10090' (DANDI's form). Got {out['species']!r} instead."
        )
    if isinstance(out.get("date_of_birth"), str):
        out["date_of_birth"] = _parse_time(out["date_of_birth"], strict="subject date_of_birth")
    if dandi:
        missing = [k for k in ("subject_id", "species", "sex") if k not in out]
        if "age" not in out and "date_of_birth" not in out:
            missing.append("age (or date_of_birth)")
        if missing:
            raise ParameterError(
                f"DANDI requires the subject fields {missing}, which are missing. Pass them in 'subject', e.g. "
                "subject={'subject_id': 'mouse1', 'species': 'Mus musculus', 'sex': 'F', 'age': 'P90D'} "
                "(command line: --subject-id, --species, --sex, --age)."
            )
    return out


def export_nwb(
    rec: xr.Dataset,
    path: str | os.PathLike,
    *,
    presentation_duration: float = 1.0,
    overwrite: bool = True,
    subject: dict | None = None,
    session: dict | None = None,
    dandi: bool = False,
) -> str:
    """Write a recording to one NWB file (layout in the module docstring); atomic (temporary file + rename).

    Parameters
    ----------
    rec : xr.Dataset
        A recording (:func:`ensembles.record.make_recording`) with activity dims ``("presentation", "neuroid")``.
        A recording with a ``checkpoint`` dim must be reduced to one checkpoint first
        (``rec.isel(checkpoint=-1)``).
    path : str or path-like
        Destination, conventionally ending in ``.nwb``.
    presentation_duration : float
        Period in seconds of the synthetic clock: presentation k starts at k·d.  Its interval ends half a sample
        before the next onset, so that consecutive intervals do not touch (pynapple would shorten touching
        intervals) and each holds exactly its own samples.
    overwrite : bool
        Replace an existing file at ``path`` (otherwise FileExistsError).
    subject : dict, optional
        Subject fields (:data:`SUBJECT_FIELDS`): ``subject_id``, ``species`` (Latin binomial or NCBI taxonomy
        id), ``sex`` (M/F/U/O), ``age`` (ISO 8601 duration, e.g. ``"P90D"``) or ``date_of_birth``, ``strain``,
        ``genotype``, ``description``, ``weight``.  A recording imported from NWB brings its species along.
        A model recording gets a subject describing the network (sex ``U``, no species) unless given.
    session : dict, optional
        Session fields (:data:`SESSION_FIELDS`): ``experimenter``, ``institution``, ``lab``, ``session_id``,
        ``session_description``, ``session_start_time``, ``experiment_description``, ``keywords``,
        ``related_publications``, ...  Defaults describe the model recording.
    dandi : bool
        Enforce what DANDI requires (:data:`DANDI_SUBJECT_FIELDS`: subject id, species, sex, age or date of
        birth): a ParameterError names the missing fields instead of writing a file that
        ``nwbinspector --config dandi`` rejects.

    Returns
    -------
    str
        The path written.

    The activity is a ``RoiResponseSeries`` whose ``rois`` region points at the ``neuroids`` table: pynapple
    (``nap.load_file``) then reads it as a ``TsdFrame`` with the neuroid coords as column metadata.
    ``nwbinspector`` reports no CRITICAL or ERROR message (tested, also with ``--config dandi`` when the DANDI
    subject fields are given); its one BEST_PRACTICE_VIOLATION is that the rois region points at the neuroid table
    rather than an imaging ``PlaneSegmentation`` (model units and imported units are not imaged ROIs), plus the
    missing species for a model recording without one.
    """
    pynwb = _require_pynwb()
    from hdmf.backends.hdf5 import H5DataIO
    from hdmf.common import DynamicTable, DynamicTableRegion, VectorData
    from pynwb.epoch import TimeIntervals
    from pynwb.file import Subject
    from pynwb.ophys import RoiResponseSeries

    from ensembles.record import validate_recording

    if not isinstance(rec, xr.Dataset):
        raise param_error("rec", "a recording (xr.Dataset with an 'activity' variable)", rec, exc=InputTypeError)
    if "checkpoint" in rec.dims:
        raise ParameterError(
            f"The 'rec' parameter has a 'checkpoint' dim ({rec.sizes['checkpoint']} checkpoints); NWB export takes "
            "one checkpoint: pass rec.isel(checkpoint=-1) (or the epoch you want)."
        )
    rec = validate_recording(rec)
    if not (
        isinstance(presentation_duration, (int, float))
        and not isinstance(presentation_duration, bool)
        and np.isfinite(presentation_duration)
        and presentation_duration > 0
    ):
        raise param_error("presentation_duration", "a positive number of seconds", presentation_duration)
    subject = _check_fields("subject", subject, SUBJECT_FIELDS)
    session = _check_fields("session", session, SESSION_FIELDS)
    path = Path(path)
    if path.exists() and not overwrite:
        raise FileExistsError(f"{str(path)!r} exists; pass overwrite=True to replace it.")

    act = rec["activity"].transpose("presentation", "neuroid").values.astype(np.float32, copy=False)
    n_pres, n_neur = act.shape
    reps = max(1, int(np.ceil(n_neur / n_pres)))
    data = np.repeat(act, reps, axis=0) if reps > 1 else act
    attrs = {k: (v.item() if isinstance(v, np.generic) else v) for k, v in rec.attrs.items()}
    model, dataset, site = (
        str(attrs.get("model", "")),
        str(attrs.get("dataset", "")),
        str(attrs.get("site", "")),
    )
    neural = model.startswith("neural:")
    start = (
        _parse_time(session.pop("session_start_time"), strict="session_start_time")
        if "session_start_time" in session
        else _parse_time(attrs.get("created"))
    )
    subj = _subject_metadata(subject, attrs, start, neural, dandi)
    what = "Recorded neural responses" if neural else f"Activity of model '{model}'"
    file_kwargs = {
        "session_description": (
            f"{what} on dataset '{dataset}' (site '{site}'), exported by ensembles. Synthetic clock: one "
            f"presentation per {presentation_duration:g} s."
        ),
        "identifier": str(uuid.uuid4()),
        "session_id": _safe_id(f"{model}-{dataset}-seed{attrs.get('seed', -1)}"),
        "keywords": ["ensembles", *(["artificial neural network"] if not neural else []), model, dataset],
        "experiment_description": (
            "Responses treated as neuroids (presentation x neuroid)"
            + ("" if neural else " of artificial neural network units, after Tosato et al. (arXiv 2305.18353)")
            + "."
        ),
    }
    file_kwargs.update(session)
    if isinstance(file_kwargs.get("experimenter"), str):
        file_kwargs["experimenter"] = [file_kwargs["experimenter"]]
    if isinstance(file_kwargs.get("keywords"), str):
        file_kwargs["keywords"] = [k.strip() for k in file_kwargs["keywords"].split(",") if k.strip()]
    nwbfile = pynwb.NWBFile(
        session_start_time=start,
        notes=json.dumps(attrs, sort_keys=True, default=str),
        source_script=f"ensembles {attrs.get('package_version', '')} export_nwb",
        source_script_file_name="ensembles/io/nwb.py",
        **file_kwargs,
    )
    nwbfile.subject = Subject(**subj)

    columns = []
    for name in rec.coords:
        var = rec.coords[name]
        if var.dims != ("neuroid",):
            continue
        vals = np.asarray(var.values)
        if vals.dtype.kind not in "Uifb":
            continue
        columns.append(
            VectorData(
                name=_column_name(name, "neuroid"),
                description=f"neuroid coord {name!r}",
                data=_column_values(vals),
            )
        )
    neuroids = DynamicTable(
        name=_NEUROID_TABLE,
        description="One row per neuroid (model unit) in the column order of the 'activity' series.",
        columns=columns,
    )
    module = nwbfile.create_processing_module(
        name=PROCESSING_MODULE,
        description="Network recording exported by ensembles (neuroids and their activity).",
    )
    module.add(neuroids)
    series = RoiResponseSeries(
        name=_SERIES,
        description=(
            f"Responses (time x neuroids) of {n_neur} neuroids; column j is row j of "
            f"processing/{PROCESSING_MODULE}/{_NEUROID_TABLE} (the 'rois' region). Each presentation's response is "
            f"held for its {presentation_duration:g} s bin and sampled {reps} time(s) per bin."
        ),
        data=H5DataIO(
            data, compression="gzip", compression_opts=4, chunks=(min(data.shape[0], 1024), n_neur)
        ),
        rois=DynamicTableRegion(
            name="rois",
            data=list(range(n_neur)),
            description=f"the neuroids (rows of processing/{PROCESSING_MODULE}/{_NEUROID_TABLE})",
            table=neuroids,
        ),
        unit="spikes/s" if "spikes/s" in str(attrs.get("response_variable", "")) else "a.u.",
        starting_time=0.0,
        rate=reps / float(presentation_duration),
        comments=f"recording site: {site}",
    )
    module.add(series)

    starts = np.arange(n_pres, dtype=np.float64) * float(presentation_duration)
    stops = starts + float(presentation_duration) * (1.0 - 0.5 / reps)
    icols = [
        VectorData(name="start_time", description="Onset of the presentation (s).", data=starts),
        VectorData(
            name="stop_time",
            description="End of the presentation (s): half a sample before the next onset.",
            data=stops,
        ),
    ]
    for name in rec.coords:
        var = rec.coords[name]
        if var.dims != ("presentation",) or name in _RESERVED_INTERVAL_COLUMNS:
            continue
        vals = np.asarray(var.values)
        if vals.dtype.kind not in "Uifb":
            continue
        icols.append(
            VectorData(
                name=_column_name(name, "presentation"),
                description=f"presentation coord {name!r}",
                data=_column_values(vals),
            )
        )
    nwbfile.add_time_intervals(
        TimeIntervals(
            name=_PRESENTATIONS,
            description="One row per presentation (stimulus shown to the network), on the synthetic clock.",
            columns=icols,
        )
    )

    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".partial.nwb", dir=path.parent)
    os.close(fd)
    try:
        with pynwb.NWBHDF5IO(tmp, mode="w") as io:
            io.write(nwbfile)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
    return str(path)


# ------------------------------------------------------------------------------------------------------------------
# import
# ------------------------------------------------------------------------------------------------------------------

def _coord_values(arr: np.ndarray) -> np.ndarray | None:
    """A table column as coordinate values (strings, numbers, bools), or None if it cannot be one (NaN, objects)."""
    if arr.dtype.kind == "f" and np.any(np.isnan(arr)):
        return None
    if arr.dtype.kind in "OUS":
        return arr.astype(str)
    return arr if arr.dtype.kind in "iufb" else None

def _read_column(table, name: str) -> np.ndarray:
    col = table[name]
    data = col.data[:] if hasattr(col, "data") else col[:]
    arr = np.asarray(data)
    if arr.dtype.kind == "S":
        arr = np.char.decode(arr, "utf-8")
    elif arr.dtype.kind == "O":
        flat = arr.ravel()
        if flat.size and all(isinstance(v, (bytes, np.bytes_)) for v in flat):
            arr = np.array([v.decode("utf-8") for v in flat]).reshape(arr.shape)
        elif flat.size and all(isinstance(v, str) for v in flat):
            arr = arr.astype(str)
    return arr


def _simple_columns(table) -> list[str]:
    """Names of the scalar (non-ragged, 1-D, simple dtype) columns of a DynamicTable."""
    from hdmf.common import VectorIndex

    out = []
    for name in table.colnames:
        col = table[name]
        if isinstance(col, VectorIndex) or not hasattr(col, "data"):
            continue
        try:
            first = np.asarray(col.data[:1])
        except Exception:  # pragma: no cover - exotic column types
            continue
        if first.ndim != 1 or first.dtype.names is not None:
            continue
        out.append(name)
    return out


def _find_intervals(nwbfile, intervals: str | None, exported: bool):
    available = {}
    if nwbfile.intervals is not None:
        available.update({name: t for name, t in nwbfile.intervals.items()})
    if nwbfile.trials is not None:
        available["trials"] = nwbfile.trials
    if intervals not in (None, "auto"):
        if intervals not in available:
            raise ParameterError(
                f"The 'intervals' parameter names the table {intervals!r}, which the file lacks. "
                f"Available interval tables: {sorted(available) or 'none'}."
            )
        return intervals, available[intervals]
    if exported and _PRESENTATIONS in available:
        return _PRESENTATIONS, available[_PRESENTATIONS]
    for name in ("trials", _PRESENTATIONS):
        if name in available:
            return name, available[name]
    cands = [n for n in available if n.endswith("presentations")]
    if len(cands) == 1:
        return cands[0], available[cands[0]]
    raise DataFileError(
        "Could not choose the table of stimulus presentations: "
        + (
            f"several candidates {sorted(cands)}"
            if cands
            else f"available interval tables: {sorted(available) or 'none'}"
        )
        + ". Name it with intervals=<table name>."
    )


def _find_series(nwbfile, series: str | None, exported: bool):
    from pynwb import TimeSeries

    if exported and series is None:
        return _SERIES, nwbfile.processing[PROCESSING_MODULE][_SERIES]
    found = {}
    for obj in nwbfile.objects.values():
        if isinstance(obj, TimeSeries) and obj.data is not None and len(getattr(obj.data, "shape", ())) == 2:
            parent = obj.parent.name if obj.parent is not None else ""
            found[f"{parent}/{obj.name}"] = obj
    if series is not None:
        hits = [
            k for k in found if k == series or k.split("/", 1)[1] == series or k.split("/", 1)[0] == series
        ]
        if len(hits) != 1:
            raise ParameterError(
                f"The 'series' parameter {series!r} matches {len(hits)} 2-D response series. "
                f"Available (container/name): {sorted(found) or 'none'}."
            )
        return hits[0], found[hits[0]]
    if not found:
        return None, None
    roi = {k: v for k, v in found.items() if type(v).__name__ == "RoiResponseSeries"}
    pool = roi or found
    if len(pool) == 1:
        return next(iter(pool.items()))
    raise ParameterError(
        f"The file has several 2-D response series {sorted(pool)}; choose one with series=<container/name or name>."
    )


def _labels(values: np.ndarray, column: str, table_name: str, drop_unlabeled: bool):
    """(keep mask, label ints, label_name strings) from a label column."""
    n = values.shape[0]
    if values.dtype.kind in "US" or values.dtype.kind == "O":
        sv = np.array(["" if v is None else str(v) for v in values.ravel()])
        missing = (sv == "") | (np.char.lower(sv) == "nan")
    elif values.dtype.kind == "f":
        missing = np.isnan(values)
        sv = None
    elif values.dtype.kind in "iub":
        missing = np.zeros(n, dtype=bool)
        sv = None
    else:
        raise InputTypeError(
            f"The label column {column!r} of {table_name!r} must hold strings or numbers. Got dtype {values.dtype}."
        )
    if missing.any():
        if not drop_unlabeled:
            rows = np.flatnonzero(missing)
            raise DataFileError(
                f"{rows.size} of {n} presentations in {table_name!r} have no label in column {column!r} "
                f"(e.g. rows {rows[:5].tolist()}). Pass drop_unlabeled=True to leave them out, or choose another "
                "label_column."
            )
        if missing.all():
            raise DataFileError(f"No presentation in {table_name!r} has a label in column {column!r}.")
    keep = ~missing
    if sv is not None:
        names, codes = np.unique(sv[keep], return_inverse=True)
        return keep, codes.astype(np.int64), names[codes].astype(str)
    v = values[keep]
    if v.dtype.kind == "f":
        if not np.all(v == np.round(v)):
            names, codes = np.unique(v, return_inverse=True)
            return keep, codes.astype(np.int64), np.array([f"{x:g}" for x in names])[codes]
        v = v.astype(np.int64)
    v = v.astype(np.int64)
    return keep, v, np.array([str(x) for x in v])


def _window_means(times: np.ndarray, data, onsets: np.ndarray, window: tuple[float, float]) -> np.ndarray:
    """Mean of the samples of ``data`` (time x channels) with times in [onset + w0, onset + w1)."""
    lo = np.searchsorted(times, onsets + window[0], side="left")
    hi = np.searchsorted(times, onsets + window[1], side="left")
    arr = np.asarray(data[:])
    out = np.full((onsets.size, arr.shape[1]), np.nan, dtype=np.float64)
    for k in range(onsets.size):
        if hi[k] > lo[k]:
            out[k] = arr[lo[k] : hi[k]].mean(axis=0, dtype=np.float64)
    empty = int(np.sum(hi <= lo))
    if empty == onsets.size:
        raise ParameterError(
            f"No sample of the response series falls in window={tuple(window)} s after any presentation onset "
            f"(series spans {times[0]:.3f}-{times[-1]:.3f} s, onsets {onsets.min():.3f}-{onsets.max():.3f} s). "
            "The window is in seconds relative to each onset."
        )
    if empty:
        warnings.warn(
            f"{empty} of {onsets.size} presentations have no sample in the window; their activity is NaN.",
            EnsemblesWarning,
            stacklevel=3,
        )
    return out


def _spike_counts(
    units, onsets: np.ndarray, window: tuple[float, float], *, sort_spikes: bool, path: Path
) -> np.ndarray:
    """Spike counts (presentations x units) in [onset + w0, onset + w1), vectorised with np.searchsorted.

    Unsorted spike trains (a CRITICAL problem for nwbinspector) raise a DataFileError naming the units unless
    ``sort_spikes``, which sorts them with an :class:`NWBImportWarning` naming them; units without any spike give an
    :class:`NWBImportWarning` (they become silent neuroids)."""
    flat = np.asarray(units.spike_times.data[:], dtype=np.float64)
    ends = np.asarray(units.spike_times_index.data[:], dtype=np.int64)
    ids = np.asarray(units.id.data[:])
    if ends.size == 0:
        raise DataFileError(f"The Units table of {str(path)!r} has no units; there is nothing to import.")
    starts = np.concatenate([[0], ends[:-1]])
    unsorted = [int(ids[u]) for u, (a, b) in enumerate(zip(starts, ends, strict=True))
                if b - a > 1 and np.any(np.diff(flat[a:b]) < 0)]  # fmt: skip
    if unsorted:
        shown = f"{unsorted[:10]}" + (f" and {len(unsorted) - 10} more" if len(unsorted) > 10 else "")
        if not sort_spikes:
            raise DataFileError(
                f"{len(unsorted)} unit(s) of {str(path)!r} have spike times that are not in ascending order "
                f"(unit ids {shown}); nwbinspector calls such a file CRITICAL. Pass sort_spikes=True "
                "(command line: --sort-spikes) to sort them and import anyway."
            )
        warnings.warn(
            f"Sorted the spike times of {len(unsorted)} unit(s) whose spikes were not in ascending order "
            f"(unit ids {shown}).",
            NWBImportWarning,
            stacklevel=4,
        )
    empty = [int(ids[u]) for u in np.flatnonzero(ends - starts == 0)]
    if empty:
        shown = f"{empty[:10]}" + (f" and {len(empty) - 10} more" if len(empty) > 10 else "")
        warnings.warn(
            f"{len(empty)} of {ids.size} unit(s) have no spikes at all (unit ids {shown}); they are imported as "
            "silent neuroids (sparseness measures give NaN for them and count them as silent).",
            NWBImportWarning,
            stacklevel=4,
        )
    lo_t, hi_t = onsets + window[0], onsets + window[1]
    out = np.empty((onsets.size, ends.size), dtype=np.float64)
    for u, (a, b) in enumerate(zip(starts, ends, strict=True)):
        st = flat[a:b]
        if st.size > 1 and np.any(np.diff(st) < 0):
            st = np.sort(st)
        out[:, u] = np.searchsorted(st, hi_t, side="left") - np.searchsorted(st, lo_t, side="left")
    return out


def _check_window(onsets: np.ndarray, stops: np.ndarray, w0: float, w1: float, table_name: str) -> None:
    """A window after every presentation's end is an error; one reaching into the next onset is a warning."""
    durations = stops - onsets
    if onsets.size and np.all(w0 >= durations):
        raise ParameterError(
            f"The 'window' parameter ({w0:g}, {w1:g}) s starts after every presentation of {table_name!r} has ended "
            f"(presentations last {durations.min():.4g}-{durations.max():.4g} s); the window is in seconds "
            "relative to each onset, e.g. (0.05, 0.25)."
        )
    if onsets.size > 1:
        order = np.argsort(onsets, kind="stable")
        nxt = np.full(onsets.size, np.inf)
        nxt[order[:-1]] = onsets[order[1:]]
        over = int(np.sum(onsets + w1 > nxt + 1e-12))
        if over:
            warnings.warn(
                f"The response window ({w0:g}, {w1:g}) s reaches into the next presentation's onset for {over} of "
                f"{onsets.size} presentations of {table_name!r}; their responses mix two stimuli. Shorten the window.",
                NWBImportWarning,
                stacklevel=4,
            )


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

    Returns
    -------
    xr.Dataset
        A validated recording; ``attrs["model"] = "neural:<NWB identifier>"``, ``seed = -1``, the import
        parameters in ``config``.  Files written by :func:`export_nwb` come back with their original coords and
        attrs.  A ``repetition`` coord (0-based repeat index per ``stimulus_id``) is added when stimuli repeat.

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
    except Exception as err:
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
            except (OSError, KeyError, TypeError, ValueError, RuntimeError) as err:
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
            )
    except OSError as err:
        # Data read lazily from a damaged file (our own checks never raise OSError).
        if isinstance(err, PermissionError | FileNotFoundError):
            raise
        raise _unreadable(path, err) from err


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
        values = _spike_counts(units, onsets[keep], (w0, w1), sort_spikes=sort_spikes, path=path)
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
        attrs = json.loads(nwbfile.notes or "{}")
        # the schema version is filled in by make_recording; an exported recording of the same major version (e.g.
        # "1", which validate_recording accepts) is read as the current schema, another major version is refused
        stored = str(attrs.pop("schema_version", SCHEMA_VERSION))
        if stored.split(".")[0] != SCHEMA_VERSION.split(".")[0]:
            raise NWBFileError(f"The NWB file {str(path)!r} holds a recording of schema {stored!r}; this version of "
                               f"ensembles reads schema {SCHEMA_VERSION} (major version {SCHEMA_VERSION.split('.')[0]}).")
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
    if dataset is not None:
        attrs["dataset"] = dataset
    activity = values.astype(np.float32)
    try:
        return make_recording(activity, presentation=pres, neuroid=neuroid, attrs=attrs)
    except ValueError as err:
        raise DataFileError(f"The NWB file {str(path)!r} did not give a valid recording: {err}") from err


def _original_names(table) -> dict[str, str]:
    """Column name -> coord name for tables written by :func:`export_nwb` (``presentation_split`` -> ``split``)."""
    out = {}
    for name in table.colnames:
        m = _ORIGINAL_NAME.match(str(getattr(table[name], "description", "") or ""))
        if m and m.group(2) != name:
            out[name] = m.group(2)
    return out


def _extra_coords(table, cols: list[str], out: dict, *, skip: set[str]) -> None:
    for name in cols:
        if name in out or name in skip or name in ("neuroid_id", "layer", "unit"):
            continue
        try:
            arr = _read_column(table, name)
        except Exception:  # pragma: no cover - exotic column types
            continue
        arr = _coord_values(arr) if arr.ndim == 1 else None
        if arr is not None:
            out[name] = arr
