"""NWB export/import (ensembles.io.nwb). Every NWB file here is built with pynwb in the test; no downloads."""

import datetime as dt
import json
import os
import stat

import numpy as np
import pytest
import xarray as xr

pynwb = pytest.importorskip("pynwb", reason="NWB support is the optional 'nwb' extra (pynwb)")

from _nwb_helpers import model_recording  # noqa: E402
from ensembles.io.nwb import NWBImportWarning, export_nwb, import_nwb  # noqa: E402
from ensembles.record import validate_recording  # noqa: E402

START = dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc)


def _problems(path):
    from nwbinspector import Importance, inspect_nwbfile

    msgs = list(inspect_nwbfile(nwbfile_path=str(path)))
    errors = [m for m in msgs if m.importance in (Importance.CRITICAL, Importance.ERROR)]
    violations = [m for m in msgs if m.importance == Importance.BEST_PRACTICE_VIOLATION]
    return errors, violations


@pytest.mark.parametrize("n", [20, 120])  # fewer presentations than neuroids (held samples) and more
def test_export_passes_nwbinspector_and_round_trips_exactly(rng, tmp_path, n):
    rec = model_recording(rng, n=n)
    path = export_nwb(rec, tmp_path / "rec.nwb")
    errors, violations = _problems(path)
    assert errors == [], [m.message for m in errors]
    # an artificial network has no species, and its units are not imaged ROIs (the rois region of the activity
    # series points at the neuroid table, which is what gives pynapple the neuroid metadata); nothing else
    assert sorted(m.check_function_name for m in violations) == [
        "check_roi_response_series_link_to_plane_segmentation",
        "check_subject_species_exists",
    ]
    back = import_nwb(path)
    xr.testing.assert_identical(back, rec)
    assert not list(tmp_path.glob("*.partial*"))  # atomic write leaves no temporary file


def test_export_metadata_and_layout(rng, tmp_path):
    rec = model_recording(rng)
    path = export_nwb(rec, tmp_path / "rec.nwb")
    with pynwb.NWBHDF5IO(path, "r") as io:
        f = io.read()
        assert json.loads(f.notes)["config"] == '{"lr": 0.01}'
        assert "ff" in f.session_description and "mnist" in f.session_description
        table = f.processing["ensembles"]["neuroids"]
        assert list(table["neuroid_id"].data[:3]) == ["layer1.0000", "layer1.0001", "layer1.0002"]
        series = f.processing["ensembles"]["activity"]
        assert series.data.shape[1] == 50 and series.data.shape[0] >= 50  # time is the longest axis
        pres = f.intervals["presentations"]
        # 'split' would shadow pynapple's IntervalSet.split: written as presentation_split, read back as split
        assert set(pres.colnames) >= {"stimulus_id", "label", "label_name", "presentation_split", "correct"}
        assert "split" not in pres.colnames
        np.testing.assert_array_equal(pres["start_time"].data[:], np.arange(20.0))
        # 50 neuroids > 20 presentations: 3 samples per presentation; each interval ends half a sample (1/6 s)
        # before the next onset, so intervals never touch
        np.testing.assert_allclose(pres["stop_time"].data[:], np.arange(20.0) + 1 - 1 / 6)


def test_export_bad_input(rng, tmp_path):
    rec = model_recording(rng)
    stacked = xr.concat([rec, rec], dim="checkpoint").assign_coords(epoch=("checkpoint", [1, 2]))
    with pytest.raises(ValueError, match=r"checkpoint.*isel\(checkpoint=-1\)"):
        export_nwb(stacked, tmp_path / "x.nwb")
    with pytest.raises(TypeError, match="'rec' parameter"):
        export_nwb(rec["activity"], tmp_path / "x.nwb")
    export_nwb(rec, tmp_path / "x.nwb")
    with pytest.raises(FileExistsError):
        export_nwb(rec, tmp_path / "x.nwb", overwrite=False)


def test_export_file_mode_follows_the_umask(rng, tmp_path):
    """The file gets the mode open() would give it (0o666 less the umask: 0o644 under umask 0o022), not the 0o600
    of its temporary name, and no temporary file is left (hidden names included)."""
    old = os.umask(0o022)
    try:
        path = export_nwb(model_recording(rng), tmp_path / "rec.nwb")
    finally:
        os.umask(old)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o644
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rec.nwb"]


# ---------------------------------------------------------------- real-data layout: Units + presentations
def _units_file(path, spikes, onsets, labels, *, extra_columns=None, trials=False):
    f = pynwb.NWBFile(session_description="test session", identifier="sess-001", session_start_time=START)
    for st in spikes:
        f.add_unit(spike_times=np.asarray(st, dtype=float))
    extra = extra_columns or {}
    if trials:
        add_column, add_row = f.add_trial_column, f.add_trial
    else:
        from pynwb.epoch import TimeIntervals

        table = TimeIntervals(name="natural_scenes_presentations", description="images")
        add_column, add_row = table.add_column, table.add_row
    for name, desc in [("image_name", "image")] + [(c, c) for c in extra]:
        add_column(name=name, description=desc)
    for k, t in enumerate(onsets):
        add_row(start_time=t, stop_time=t + 0.25, image_name=labels[k], **{c: v[k] for c, v in extra.items()})
    if not trials:
        f.add_time_intervals(table)
    with pynwb.NWBHDF5IO(str(path), "w") as io:
        io.write(f)
    return path


@pytest.mark.filterwarnings("ignore:1 of 3 unit:ensembles.io.nwb.NWBImportWarning")
def test_import_units_counts_by_hand(tmp_path):
    # 3 units, 4 presentations at 0, 1, 2, 3 s; window [0, 0.25) after onset; counts worked out by hand:
    spikes = [
        [0.01, 0.10, 0.24, 0.25, 1.30, 2.00, 2.249, 3.5],  # 3 (0.25 excluded), 0, 2, 0
        [0.5, 1.0, 1.1, 1.2, 1.249, 3.0, 3.1],  # 0, 4, 0, 2
        [],  # silent
    ]
    expected = np.array([[3, 0, 0], [0, 4, 0], [2, 0, 0], [0, 2, 0]], dtype=np.float32)
    labels = ["cat", "dog", "cat", "bird"]
    path = _units_file(tmp_path / "units.nwb", spikes, [0.0, 1.0, 2.0, 3.0], labels)
    with pytest.warns(NWBImportWarning, match=r"1 of 3 unit\(s\) have no spikes at all \(unit ids \[2\]\)"):
        rec = import_nwb(path, label_column="image_name")
    validate_recording(rec)
    np.testing.assert_array_equal(rec["activity"].values, expected)
    assert rec["label"].values.tolist() == [1, 2, 1, 0]  # sorted codes: bird, cat, dog
    assert rec["label_name"].values.tolist() == labels
    assert rec["stimulus_id"].values.tolist() == [
        "image_name=cat",
        "image_name=dog",
        "image_name=cat",
        "image_name=bird",
    ]
    assert rec["repetition"].values.tolist() == [0, 0, 1, 0]
    assert rec["neuroid_id"].values.tolist() == ["unit0", "unit1", "unit2"]
    assert rec.attrs["model"] == "neural:sess-001" and rec.attrs["seed"] == -1
    cfg = json.loads(rec.attrs["config"])
    assert cfg["window"] == [0.0, 0.25] and cfg["intervals"] == "natural_scenes_presentations"
    rate = import_nwb(path, label_column="image_name", response="rate")
    np.testing.assert_allclose(rate["activity"].values, expected / 0.25)
    late = import_nwb(path, label_column="image_name", window=(0.2, 0.3))  # [t+0.2, t+0.3)
    np.testing.assert_array_equal(late["activity"].values[:, 0], [2, 0, 1, 0])


def test_import_trials_table_and_numeric_labels(tmp_path):
    spikes = [[0.1, 1.1, 1.2], [2.1]]
    path = _units_file(
        tmp_path / "t.nwb",
        spikes,
        [0.0, 1.0, 2.0],
        ["a", "b", "c"],
        extra_columns={"orientation": [0.0, 90.0, 0.0]},
        trials=True,
    )
    rec = import_nwb(path, label_column="orientation", intervals="trials")
    assert rec["label"].values.tolist() == [0, 90, 0]
    np.testing.assert_array_equal(rec["activity"].values, [[1, 0], [2, 0], [0, 1]])


def test_import_response_series_mean_in_window(tmp_path):
    # A 2-D response series (time x ROIs), 10 Hz; window [0, 0.3) covers 3 samples per onset.
    f = pynwb.NWBFile(session_description="2p", identifier="2p-001", session_start_time=START)
    t = np.arange(60) / 10.0
    data = np.stack([np.arange(60.0), 100.0 + np.arange(60.0) ** 2], axis=1)
    mod = f.create_processing_module("ophys", "dF/F")
    mod.add(pynwb.TimeSeries(name="dff", data=data, unit="dF/F", timestamps=t))
    for onset in [0.0, 2.0, 4.0]:
        f.add_trial(start_time=onset, stop_time=onset + 0.5)
    f.add_trial_column(name="label", description="class", data=[0, 1, 0])
    with pynwb.NWBHDF5IO(str(tmp_path / "s.nwb"), "w") as io:
        io.write(f)
    rec = import_nwb(tmp_path / "s.nwb", window=(0.0, 0.3))
    # onset 2.0 s -> samples 20, 21, 22
    np.testing.assert_allclose(rec["activity"].values[1], [21.0, 100 + (400 + 441 + 484) / 3], rtol=1e-6)
    assert rec["neuroid_id"].values.tolist() == ["dff.0000", "dff.0001"]
    assert rec.attrs["site"] == "series:ophys/dff"


def test_import_errors(tmp_path):
    path = _units_file(tmp_path / "u.nwb", [[0.1]], [0.0, 1.0], ["x", ""])
    with pytest.raises(ValueError, match=r"no column 'label'.*Available columns: \['image_name'\]"):
        import_nwb(path)
    with pytest.raises(ValueError, match=r"1 of 2 presentations .* have no label in column 'image_name'"):
        import_nwb(path, label_column="image_name")
    rec = import_nwb(path, label_column="image_name", drop_unlabeled=True)
    assert rec.sizes["presentation"] == 1
    with pytest.raises(
        ValueError, match=r"intervals.*'trials'.*Available interval tables: \['natural_scenes_"
    ):
        import_nwb(path, label_column="image_name", intervals="trials")
    with pytest.raises(ValueError, match="no response to import"):
        import_nwb(path, label_column="image_name", source="series", drop_unlabeled=True)
    with pytest.raises(ValueError, match="'window' parameter"):
        import_nwb(path, window=(0.3, 0.1))
    with pytest.raises(ValueError, match="'source' parameter must be one of"):
        import_nwb(path, source="lfp")
    with pytest.raises(ValueError, match=r"no column 'frame' \(stimulus_column\)"):
        import_nwb(path, label_column="image_name", stimulus_column="frame", drop_unlabeled=True)
    # no Units at all
    f = pynwb.NWBFile(session_description="empty", identifier="e", session_start_time=START)
    f.add_trial(start_time=0.0, stop_time=1.0)
    f.add_trial_column(name="label", description="c", data=[1])
    with pynwb.NWBHDF5IO(str(tmp_path / "e.nwb"), "w") as io:
        io.write(f)
    with pytest.raises(ValueError, match="source='units' needs a Units table"):
        import_nwb(tmp_path / "e.nwb", source="units")


def test_unreadable_files_raise_nwb_file_error_naming_the_file(tmp_path):
    """Truncated NWB files, a text file and an HDF5 file that is not NWB: h5py/pynwb raise a bare OSError
    ("Unable to synchronously open file (truncated file: eof = ...)") or TypeError without the path; import_nwb
    turns them into NWBFileError (a ValueError) whose message names the file, keeping the cause chained."""
    import h5py

    from ensembles.io.nwb import NWBFileError

    good = _units_file(tmp_path / "u.nwb", [[0.1, 0.6]], [0.0, 0.5], ["a", "b"])
    data = good.read_bytes()
    assert import_nwb(good, label_column="image_name").sizes["presentation"] == 2  # the intact file reads
    for frac in (0.0, 0.3, 0.9):
        bad = tmp_path / f"trunc{frac}.nwb"
        bad.write_bytes(data[: int(len(data) * frac)])
        with pytest.raises(NWBFileError, match=r"not a readable NWB file \(truncated or corrupt\)") as info:
            import_nwb(bad, label_column="image_name")
        assert str(bad) in str(info.value) and info.value.path == str(bad)
        assert isinstance(info.value, ValueError) and isinstance(info.value.__cause__, OSError)
    text = tmp_path / "notes.nwb"
    text.write_text("not hdf5")
    with pytest.raises(NWBFileError, match=r"notes\.nwb.*not a readable NWB file.*signature"):
        import_nwb(text)
    plain = tmp_path / "plain.h5"
    with h5py.File(plain, "w") as f:
        f["x"] = np.arange(3)
    with pytest.raises(NWBFileError, match=r"plain\.h5.*not a valid NWB file.*Missing NWB version"):
        import_nwb(plain)
    with pytest.raises(FileNotFoundError, match="missing.nwb"):
        import_nwb(tmp_path / "missing.nwb")


# ---------------------------------------------------------------- synthetic cortex, Poisson spike trains
def test_synthetic_cortex_round_trip_recovers_ensembles_and_sparseness(rng, tmp_path):
    """Class-driven Poisson population: 5 classes x 8 member units each (disjoint), 20 Hz for the preferred class
    and 2 Hz otherwise, 40 presentations per class of 0.25 s every 0.5 s.  Spike trains are generated in continuous
    time, written as an NWB Units table, imported, and analysed with the package's functions."""
    from ensembles.analysis.ensembles import category_ensembles
    from ensembles.analysis.sparsity import condition_means, lifetime_sparseness

    n_classes, per_unit, reps, win = 5, 8, 40, 0.25
    n_units = n_classes * per_unit
    pref = np.repeat(np.arange(n_classes), per_unit)
    labels = rng.permutation(np.repeat(np.arange(n_classes), reps))
    onsets = np.arange(labels.size) * 0.5
    hi, lo = 20.0, 2.0
    spikes = []
    for u in range(n_units):
        st = []
        for k, t0 in enumerate(onsets):  # piecewise-constant rate: stimulus for 0.25 s, then baseline 0.25 s
            for a, b, r in ((t0, t0 + win, hi if labels[k] == pref[u] else lo), (t0 + win, t0 + 0.5, lo)):
                st.append(rng.uniform(a, b, rng.poisson(r * (b - a))))
        spikes.append(np.sort(np.concatenate(st)))
    names = [f"class{c}" for c in labels]
    path = _units_file(tmp_path / "cortex.nwb", spikes, onsets, names)
    rec = import_nwb(path, label_column="image_name", window=(0.0, win))
    # exact counts, checked against the spike trains directly
    direct = np.array([[np.sum((s >= t) & (s < t + win)) for s in spikes] for t in onsets])
    np.testing.assert_array_equal(rec["activity"].values, direct)
    # planted class ensembles recovered exactly with the paper's rule
    members = category_ensembles(rec["activity"], "label", rule="paper", tau=1.0)
    np.testing.assert_array_equal(members.values, pref[None, :] == np.arange(n_classes)[:, None])
    # lifetime sparseness (Vinje-Gallant) of class means: analytic value for rates [5, .5, .5, .5, .5] counts
    r = np.array([hi * win] + [lo * win] * (n_classes - 1))
    a = r.mean() ** 2 / np.mean(r**2)
    s_true = (1 - a) / (1 - 1 / n_classes)  # = 0.7788
    s = lifetime_sparseness(condition_means(rec["activity"], "label"), dim="stimulus")
    assert float(np.median(s)) == pytest.approx(s_true, abs=0.06)
    # the imported recording goes through the tidy summary unchanged (no 'correct' coord: all presentations used)
    from ensembles.analysis.summary import summarize

    table = summarize(rec, measures=["lifetime"], n_shuffles=0)
    assert set(table["model"]) == {"neural:sess-001"} and set(table["layer"]) == {1}
    # and it survives a second trip through NWB (now as an ensembles-layout file)
    again = import_nwb(export_nwb(rec, tmp_path / "again.nwb"))
    xr.testing.assert_identical(again, rec)
