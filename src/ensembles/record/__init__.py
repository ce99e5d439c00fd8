"""Recordings: activations stored "as if from neurons" (``presentation`` x ``neuroid``), in memory and on disk.

* :func:`make_recording` builds a validated ``xr.Dataset`` from an activity array and its coords;
* :func:`validate_recording` checks the schema (see :mod:`ensembles.record.schema`), listing every problem;
* :func:`save_recording` / :func:`load_recording` write and read plain HDF5 (netCDF-4) files, atomically,
  chunked and compressed (see :mod:`ensembles.record.io`); :func:`recording_info` summarises a file;
* :class:`RecordingWriter` streams batches of presentations to disk so that a recording never has to fit in
  memory;
* :func:`combine_recordings` stacks runs along a new dim; :func:`select_layer` picks layers;
  :func:`select_presentations` picks a checkpoint and the correctly classified presentations.
"""

from .io import PARTIAL_SUFFIX, file_sha256, load_recording, recording_info, save_recording
from .recording import (
    combine_recordings,
    example_recording,
    make_recording,
    neuroid_coords,
    select_layer,
    select_presentations,
)
from .schema import (
    SCHEMA_VERSION,
    RecordingError,
    RecordingIncompleteError,
    recording_problems,
    validate_recording,
)
from .writer import RecordingWriter

__all__ = [
    "SCHEMA_VERSION",
    "PARTIAL_SUFFIX",
    "RecordingError",
    "RecordingIncompleteError",
    "RecordingWriter",
    "combine_recordings",
    "example_recording",
    "file_sha256",
    "load_recording",
    "make_recording",
    "neuroid_coords",
    "recording_info",
    "recording_problems",
    "save_recording",
    "select_layer",
    "select_presentations",
    "validate_recording",
]
