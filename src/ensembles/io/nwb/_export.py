"""Export: one recording -> one NWB file (the layout is described in :mod:`ensembles.io.nwb`)."""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path

import numpy as np
import xarray as xr

from ensembles._io import atomic_write
from ensembles._validation import param_error
from ensembles.errors import InputTypeError, ParameterError

from ._common import (
    _NEUROID_TABLE,
    _PRESENTATIONS,
    _RESERVED_INTERVAL_COLUMNS,
    _SERIES,
    PROCESSING_MODULE,
    _column_name,
    _require_pynwb,
    _safe_id,
)
from ._metadata import SESSION_FIELDS, SUBJECT_FIELDS, _check_fields, _parse_time, _subject_metadata


def _column_values(arr: np.ndarray) -> np.ndarray | list:
    if arr.dtype.kind == "U":
        return arr.astype(object).tolist()
    return arr


def _coord_columns(rec: xr.Dataset, dim: str, *, skip: frozenset[str] | set[str] = frozenset()) -> list:
    """One ``VectorData`` per coord of ``rec`` on ``dim`` alone with string, number or bool values (``skip`` left
    out): named by :func:`_column_name` (``<dim>_<name>`` for a pynapple attribute) and described as
    ``"<dim> coord '<name>'"``, the description from which :func:`import_nwb` restores the coord name."""
    from hdmf.common import VectorData

    columns = []
    for name in rec.coords:
        var = rec.coords[name]
        if var.dims != (dim,) or name in skip:
            continue
        vals = np.asarray(var.values)
        if vals.dtype.kind not in "Uifb":
            continue
        columns.append(
            VectorData(name=_column_name(name, dim), description=f"{dim} coord {name!r}", data=_column_values(vals))
        )
    return columns


def _carried(rec: xr.Dataset, attr: str, allowed: tuple[str, ...]) -> dict:
    """The session or subject fields an import from NWB stored in ``rec.attrs[attr]`` (JSON), unknown keys left
    out (a recording written by another version of the toolkit)."""
    raw = rec.attrs.get(attr)
    if not raw:
        return {}
    try:
        fields = json.loads(raw) if isinstance(raw, str) else dict(raw)
    except (TypeError, ValueError) as err:
        raise ParameterError(f"The recording's {attr!r} attr is not a JSON object of NWB fields: {raw!r}.") from err
    return {k: v for k, v in fields.items() if k in allowed and v not in (None, "", [])}


def export_nwb(
    rec: xr.Dataset,
    path: str | os.PathLike,
    *,
    presentation_duration: float = 1.0,
    samples_per_presentation: int | None = None,
    overwrite: bool = True,
    subject: dict | None = None,
    session: dict | None = None,
    dandi: bool = False,
) -> str:
    """Write a recording to one NWB file (layout: see :mod:`ensembles.io.nwb`); atomic (temporary file + rename).

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
    samples_per_presentation : int, optional
        How many identical samples hold each presentation's response.  Default: 1 when the presentations are at
        least as many as the neuroids, otherwise the fewest that keep time the longest axis of the series (which
        nwbinspector requires, CRITICAL otherwise).  Read with ``nap.load_file``, a file with m > 1 counts each
        presentation m times in statistics over samples; :func:`ensembles.io.to_pynapple` reads any export with one
        sample per presentation.  1 writes one sample per presentation whatever the shape (nwbinspector then
        reports the orientation of a series with more neuroids than presentations).
    overwrite : bool
        Replace an existing file at ``path`` (otherwise FileExistsError).
    subject : dict, optional
        Subject fields (:data:`SUBJECT_FIELDS`): ``subject_id``, ``species`` (Latin binomial or NCBI taxonomy
        id), ``sex`` (M/F/U/O), ``age`` (ISO 8601 duration, e.g. ``"P90D"``) or ``date_of_birth``, ``strain``,
        ``genotype``, ``description``, ``weight``.  A recording imported from NWB brings its subject along
        (``attrs["nwb_subject"]``); a field given here replaces the carried one.  A model recording gets a subject
        describing the network (sex ``U``, no species) unless given.
    session : dict, optional
        Session fields (:data:`SESSION_FIELDS`): ``experimenter``, ``institution``, ``lab``, ``session_id``,
        ``session_description``, ``session_start_time``, ``experiment_description``, ``keywords``,
        ``related_publications``, ...  A recording imported from NWB brings its session's fields along
        (``attrs["nwb_session"]``: experimenter, institution, lab, session id and start time, ...); a field given
        here replaces the carried one.  Defaults describe the model recording.
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
    if samples_per_presentation is not None and not (
        isinstance(samples_per_presentation, (int, np.integer))
        and not isinstance(samples_per_presentation, bool)
        and samples_per_presentation >= 1
    ):
        raise param_error("samples_per_presentation", "a positive integer or None", samples_per_presentation)
    subject = {**_carried(rec, "nwb_subject", SUBJECT_FIELDS), **_check_fields("subject", subject, SUBJECT_FIELDS)}
    session = {**_carried(rec, "nwb_session", SESSION_FIELDS), **_check_fields("session", session, SESSION_FIELDS)}
    path = Path(path)
    if path.exists() and not overwrite:
        raise FileExistsError(f"{str(path)!r} exists; pass overwrite=True to replace it.")

    act = rec["activity"].transpose("presentation", "neuroid").values.astype(np.float32, copy=False)
    n_pres, n_neur = act.shape
    reps = max(1, int(np.ceil(n_neur / n_pres))) if samples_per_presentation is None else int(samples_per_presentation)
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
        source_script_file_name="ensembles/io/nwb/_export.py",
        **file_kwargs,
    )
    nwbfile.subject = Subject(**subj)

    neuroids = DynamicTable(
        name=_NEUROID_TABLE,
        description="One row per neuroid (model unit) in the column order of the 'activity' series.",
        columns=_coord_columns(rec, "neuroid"),
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
        *_coord_columns(rec, "presentation", skip=_RESERVED_INTERVAL_COLUMNS),
    ]
    nwbfile.add_time_intervals(
        TimeIntervals(
            name=_PRESENTATIONS,
            description="One row per presentation (stimulus shown to the network), on the synthetic clock.",
            columns=icols,
        )
    )

    image = _nwb_image(pynwb, nwbfile)
    path.parent.mkdir(parents=True, exist_ok=True)
    _ensure_room(path, len(image))

    def _write(tmp: Path) -> None:
        with open(tmp, "wb") as fh:
            fh.write(image)

    # the one atomic writer (fsync, the umask's file mode, rename); ".partial" marks the temporary name
    atomic_write(path, _write, suffix=".partial.nwb")
    return str(path)


def _nwb_image(pynwb, nwbfile) -> bytes:
    """The bytes of the NWB file, built in memory.  HDF5 does not recover from a write that fails (a full disk, a
    file-size limit): the library then crashes the process (SIGSEGV) when it closes the file at exit.  Built in
    memory, the file reaches the disk through an ordinary write, whose failure is an ``OSError`` like any other."""
    import io

    import h5py

    buf = io.BytesIO()
    with h5py.File(buf, "w") as h5, pynwb.NWBHDF5IO(file=h5, mode="w") as nwbio:
        nwbio.write(nwbfile)
    return buf.getvalue()


def _ensure_room(path: Path, nbytes: int) -> None:
    """Refuse before writing when ``nbytes`` exceed the file-size limit or the free space of ``path``'s disk."""
    from ensembles.record.io import ensure_space

    ensure_space(path.parent, nbytes, what=f"the NWB file {str(path)!r}", size="{nbytes} bytes", hint="")

