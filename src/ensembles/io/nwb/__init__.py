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
    n_presentations, so that time stays the longest axis, which nwbinspector requires; m = 1 whenever the
    presentations are at least as many as the neuroids, or on request).  ``nap.load_file`` then counts each
    presentation m times in statistics over samples: :func:`ensembles.io.to_pynapple` reads the file with one
    sample per presentation.
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

Modules (private; everything public is imported from here): ``_common`` (errors, warning, layout names, pynwb
import), ``_metadata`` (session/subject fields, DANDI checks), ``_export`` (:func:`export_nwb`), ``_tables``
(reading columns, choosing the presentation table and response series, labels), ``_responses`` (spike counts and
window means per presentation), ``_import`` (:func:`import_nwb`).
"""

from __future__ import annotations

from ._common import PROCESSING_MODULE, PYNAPPLE_RESERVED, NWBFileError, NWBImportWarning
from ._export import export_nwb
from ._import import import_nwb
from ._metadata import DANDI_SUBJECT_FIELDS, SESSION_FIELDS, SUBJECT_FIELDS

__all__ = [
    "export_nwb", "import_nwb", "NWBFileError", "NWBImportWarning", "PROCESSING_MODULE", "SUBJECT_FIELDS",
    "SESSION_FIELDS", "DANDI_SUBJECT_FIELDS", "PYNAPPLE_RESERVED",
]  # fmt: skip
