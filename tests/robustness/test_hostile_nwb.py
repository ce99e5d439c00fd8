"""NWB files under attack: what import-nwb cannot count (NaN or infinite spike times and interval bounds) is
refused or, on request, dropped with a warning that counts it; every malformed export ends in one line naming the
file, the refusal path included."""

from __future__ import annotations

import datetime
import json
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

pynwb = pytest.importorskip("pynwb")
h5py = pytest.importorskip("h5py")

from ensembles.io.nwb import NWBFileError, NWBImportWarning, export_nwb, import_nwb  # noqa: E402

from ._train_helpers import main_in_process, one_line_error  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from _nwb_helpers import model_recording  # noqa: E402

START = datetime.datetime(2024, 1, 1, tzinfo=datetime.timezone.utc)


def _units_file(path, spikes, onsets, labels):
    f = pynwb.NWBFile(session_description="t", identifier="s", session_start_time=START)
    for st in spikes:
        f.add_unit(spike_times=np.asarray(st, dtype=float))
    for t in onsets:
        f.add_trial(start_time=t, stop_time=t + 0.25)
    f.add_trial_column(name="label", description="c", data=labels)
    with pynwb.NWBHDF5IO(str(path), "w") as io:
        io.write(f)
    return path


def test_a_nan_inside_a_sorted_spike_train_is_refused_or_dropped_and_counted(tmp_path, capsys):
    # unit 0 has spikes at 0.1 (window of onset 0) and 1.1 (onset 1), with a NaN between; unit 1 is all NaN.
    path = _units_file(tmp_path / "s.nwb", [[0.1, np.nan, 1.1], [np.nan, np.nan]], [0.0, 1.0], [0, 1])
    with pytest.raises(NWBFileError, match=r"3 spike time\(s\) .* NaN or infinite \(unit ids \[0, 1\]\)"):
        import_nwb(path)
    msg = one_line_error(main_in_process(capsys, "import-nwb", str(path), "--out", str(tmp_path / "r.h5")))
    assert "--drop-nonfinite" in msg and not (tmp_path / "r.h5").exists()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        rec = import_nwb(path, drop_nonfinite=True)
    messages = [str(w.message) for w in caught if issubclass(w.category, NWBImportWarning)]
    assert any("Dropped 3 NaN or infinite spike time(s) of 2 unit(s)" in m for m in messages), messages
    assert any("1 of 2 unit(s) have no spikes at all (unit ids [1])" in m for m in messages), messages
    # counts worked out by hand from the finite spikes: [0.1] in [0, 0.25), [1.1] in [1, 1.25); unit 1 silent
    np.testing.assert_array_equal(rec["activity"].values, [[1, 0], [1, 0]])


def test_infinite_spike_times_are_refused(tmp_path):
    path = _units_file(tmp_path / "s.nwb", [[0.1, 1.1, np.inf]], [0.0, 1.0], [0, 1])
    with pytest.raises(NWBFileError, match="NaN or infinite"):
        import_nwb(path)


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_a_nan_or_infinite_presentation_bound_is_refused_or_left_out(tmp_path, bad):
    path = _units_file(tmp_path / "s.nwb", [[0.1, 1.1, 2.1]], [0.0, bad, 2.0], [0, 1, 1])
    with pytest.raises(NWBFileError, match=r"1 presentation\(s\) of 'trials' .* NaN or infinite start_time"):
        import_nwb(path)
    with pytest.warns(NWBImportWarning, match=r"Left out 1 presentation\(s\)"):
        rec = import_nwb(path, drop_nonfinite=True)
    assert rec["activity"].values.ravel().tolist() == [1, 1]
    assert rec["label"].values.tolist() == [0, 1]


def _edit_notes(path, text):
    with h5py.File(path, "r+") as f:
        del f["general/notes"]
        f["general/notes"] = text


@pytest.fixture
def exported(tmp_path):
    return export_nwb(model_recording(np.random.default_rng(0)), tmp_path / "exp.nwb")


@pytest.mark.parametrize("notes, match", [
    (None, "holds a recording of schema '2.0'"),
    ("{not json", "are not the JSON that export_nwb writes"),
    ("[1, 2]", "hold a JSON list"),
    ('"text"', "hold a JSON str"),
])
def test_edited_export_notes_are_one_line_naming_the_file(exported, capsys, notes, match):
    if notes is None:
        attrs = json.loads(h5py.File(exported, "r")["general/notes"][()])
        attrs["schema_version"] = "2.0"
        notes = json.dumps(attrs)
    _edit_notes(exported, notes)
    with pytest.raises(NWBFileError, match=match) as err:
        import_nwb(exported)
    assert err.value.path == str(exported)
    msg = one_line_error(main_in_process(capsys, "import-nwb", str(exported), "--out", str(exported) + ".h5"))
    assert "exp.nwb" in msg


def test_a_label_column_shorter_than_its_table_is_one_line(exported, capsys):
    with h5py.File(exported, "r+") as f:
        label = f["intervals/presentations/label"][:]
        del f["intervals/presentations/label"]
        f.create_dataset("intervals/presentations/label", data=label[:-3])
    msg = one_line_error(main_in_process(capsys, "import-nwb", str(exported), "--out", str(exported) + ".h5"))
    assert "exp.nwb" in msg


def test_the_nwb_refusal_error_is_constructible_as_documented():
    err = NWBFileError("/x.nwb", "The NWB file '/x.nwb' is bad.")
    assert err.path == "/x.nwb" and str(err) == "The NWB file '/x.nwb' is bad." and isinstance(err, ValueError)
