"""What every part of :mod:`ensembles.io.nwb` shares: its errors and warning, the names of the layout that
:func:`~ensembles.io.nwb.export_nwb` writes and :func:`~ensembles.io.nwb.import_nwb` recognises, the pynapple names
that a column may not take, and the deferred import of pynwb."""

from __future__ import annotations

import os
import re
from pathlib import Path

from ensembles._validation import EnsemblesWarning
from ensembles.errors import DataFileError


class NWBFileError(DataFileError):
    """A file given to :func:`import_nwb` cannot be read as NWB: not HDF5, truncated/corrupt, or HDF5 without NWB
    metadata.  A :class:`~ensembles.errors.DataFileError` (a ``ValueError``; one line in the CLI); ``path`` is the file, the message names it."""

    __module__ = "ensembles.io.nwb"  # its public home: reprs and pickles name it as before the split

    def __init__(self, path: str | os.PathLike, message: str):
        self.path = str(path)
        super().__init__(message)


class NWBImportWarning(EnsemblesWarning):
    """Something in an imported NWB file that changes the numbers without stopping the import: units without
    spikes, spike times sorted on request, a response window reaching into the next presentation."""

    __module__ = "ensembles.io.nwb"


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


def _safe_id(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.+-]+", "-", text).strip("-") or "recording"


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
