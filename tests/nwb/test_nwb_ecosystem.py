"""NWB as the ecosystem sees it: ``nwbinspector --config dandi``, pynapple's ``nap.load_file``, and the
``ensembles import-nwb`` / ``export-nwb`` commands on files written here with pynwb (no downloads).

Reference values come from outside this package: DANDI's rules are nwbinspector's own ``dandi`` configuration;
pynapple reads the files with its own NWB reader; spike counts of the Allen-style session are recounted here from
the spike trains with plain numpy.
"""

import datetime as dt
import warnings

import numpy as np
import pytest
import xarray as xr

pynwb = pytest.importorskip("pynwb", reason="NWB support is the optional 'nwb' extra (pynwb)")

from _nwb_helpers import model_recording  # noqa: E402
from ensembles.cli import main  # noqa: E402
from ensembles.io.nwb import export_nwb, import_nwb  # noqa: E402
from ensembles.record import load_recording  # noqa: E402

START = dt.datetime(2024, 3, 1, 9, 30, tzinfo=dt.timezone.utc)
SUBJECT = {"subject_id": "mouse-17", "species": "Mus musculus", "sex": "F", "age": "P95D"}


def _critical(path, config=None):
    from nwbinspector import Importance, inspect_nwbfile, load_config

    cfg = load_config(config) if config else None
    msgs = [m for m in inspect_nwbfile(nwbfile_path=str(path), config=cfg) if m is not None]
    return [f"{m.check_function_name}: {m.message}" for m in msgs
            if m.importance in (Importance.CRITICAL, Importance.ERROR)]  # fmt: skip


def _allen_session(path, rng, *, n_units=12, n_images=6, reps=5, spikes=None, species="Mus musculus", session=None):
    """An Allen-style session: a Units table and a 'natural_scenes_presentations' table with string image names,
    250 ms presentations back to back, as in the Brain Observatory (``session``: more NWBFile fields)."""
    from pynwb.epoch import TimeIntervals
    from pynwb.file import Subject

    names = [f"natural_scene_{k:03d}" for k in rng.permutation(np.repeat(np.arange(n_images), reps))]
    onsets = 10.0 + 0.25 * np.arange(len(names))
    if spikes is None:
        spikes = [np.sort(rng.uniform(9.0, onsets[-1] + 1.0, rng.integers(20, 200))) for _ in range(n_units)]
    f = pynwb.NWBFile(session_description="Allen-style natural scenes", identifier="allen-like-1",
                      session_start_time=START, session_id="715093703", **(session or {}))  # fmt: skip
    if species:
        f.subject = Subject(subject_id="mouse-17", species=species, sex="F", age="P95D")
    f.add_unit_column(name="location", description="brain area")
    for st in spikes:
        f.add_unit(spike_times=np.asarray(st, dtype=float), location="VISp")
    table = TimeIntervals(name="natural_scenes_presentations", description="natural scenes")
    table.add_column(name="image_name", description="image")
    for t, name in zip(onsets, names, strict=True):
        table.add_row(start_time=t, stop_time=t + 0.25, image_name=name)
    f.add_time_intervals(table)
    with pynwb.NWBHDF5IO(str(path), "w") as io:
        io.write(f)
    return path, spikes, onsets, names


# ---------------------------------------------------------------- DANDI
def test_export_passes_nwbinspector_dandi_config(rng, tmp_path):
    rec = model_recording(rng, n=24, predicted=False)
    # without the subject fields the file is not DANDI-ready: nwbinspector's dandi config says so ...
    plain = export_nwb(rec, tmp_path / "plain.nwb")
    assert any(c.startswith("check_subject_species_exists") for c in _critical(plain, "dandi"))
    # ... and dandi=True refuses to write it, naming the missing field
    with pytest.raises(ValueError, match=r"DANDI requires the subject fields \['species'\]"):
        export_nwb(rec, tmp_path / "refused.nwb", dandi=True)
    assert not (tmp_path / "refused.nwb").exists()
    path = export_nwb(
        rec, tmp_path / "dandi.nwb", dandi=True, subject=SUBJECT,
        session={"experimenter": "Tosato, Niccolo", "institution": "University of Trieste", "lab": "AREA"},
    )  # fmt: skip
    assert _critical(path, "dandi") == []
    with pynwb.NWBHDF5IO(path, "r") as io:
        f = io.read()
        assert (f.subject.species, f.subject.sex, f.subject.age, f.subject.subject_id) == (
            "Mus musculus", "F", "P95D", "mouse-17")  # fmt: skip
        assert list(f.experimenter) == ["Tosato, Niccolo"] and f.institution == "University of Trieste"


@pytest.mark.parametrize(
    "subject, match",
    [
        ({"sex": "female"}, r"subject 'sex' must be one of M, F, U, O"),
        ({"age": "95 days"}, r"ISO 8601 duration such as 'P90D'"),
        ({"species": "mouse"}, r"Latin binomial such as 'Mus musculus'"),
        ({"weight_kg": 1}, r"unknown field\(s\) \['weight_kg'\]"),
    ],
)
def test_export_subject_errors_name_the_field(rng, tmp_path, subject, match):
    with pytest.raises(ValueError, match=match):
        export_nwb(model_recording(rng, n=24, predicted=False), tmp_path / "x.nwb", subject=subject)


def test_imported_session_keeps_its_species_through_export(rng, tmp_path):
    path, *_ = _allen_session(tmp_path / "s.nwb", rng)
    rec = import_nwb(path, intervals="natural_scenes_presentations", label_column="image_name")
    out = export_nwb(rec, tmp_path / "again.nwb", dandi=True,
                     subject={"subject_id": "mouse-17", "sex": "F", "age": "P95D"})  # fmt: skip
    assert _critical(out, "dandi") == []
    with pynwb.NWBHDF5IO(out, "r") as io:
        assert io.read().subject.species == "Mus musculus"


# ---------------------------------------------------------------- pynapple
def test_pynapple_reads_activity_intervals_and_neuroid_metadata(rng, tmp_path):
    nap = pytest.importorskip("pynapple", reason="pynapple cross-check (the 'pynapple' extra)")
    rec = model_recording(rng, n=24, predicted=False)  # 50 neuroids > 24 presentations: 3 samples per presentation
    path = export_nwb(rec, tmp_path / "rec.nwb", presentation_duration=0.5)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # pynapple warns when it shortens intervals or a column shadows a method
        data = nap.load_file(str(path))
        act = data["activity"]
        iset = data["presentations"]
    assert isinstance(act, nap.TsdFrame) and isinstance(iset, nap.IntervalSet)
    # neuroid metadata as pynapple column metadata
    assert act.metadata["neuroid_id"].tolist() == rec["neuroid_id"].values.tolist()
    assert act.metadata["layer"].tolist() == rec["layer"].values.tolist()
    assert act.metadata["unit"].tolist() == rec["unit"].values.tolist()
    # intervals exactly as written: onsets every 0.5 s, ends half a sample (1/12 s) before the next onset
    np.testing.assert_array_equal(iset.start, 0.5 * np.arange(24))
    np.testing.assert_allclose(iset.end, 0.5 * np.arange(24) + 0.5 - 0.5 / 6, rtol=0, atol=1e-9)
    # presentation metadata, 'split' reachable (written as presentation_split, not shadowing IntervalSet.split)
    assert iset.label.tolist() == rec["label"].values.tolist()
    assert iset.presentation_split.tolist() == ["test"] * 24
    assert iset.stimulus_id.tolist() == rec["stimulus_id"].values.tolist()
    # activity: restricting the TsdFrame to each presentation gives exactly that presentation's response
    for k in (0, 7, 23):
        block = act.restrict(iset[k]).values
        assert block.shape == (3, 50)
        np.testing.assert_array_equal(block, np.repeat(rec["activity"].values[k : k + 1], 3, axis=0))
    # and the file still comes back into ensembles exactly
    import xarray as xr

    xr.testing.assert_identical(import_nwb(path), rec)


def _pynapple_class_statistics(nap, act, iset, labels):
    """Per class: pynapple's number of samples (``count`` over the class's presentations), its mean response per
    class (``compute_response_per_epoch``) and the standard error over the class's samples."""
    epochs = {int(c): iset[np.asarray(iset.label) == c] for c in labels}
    occupancy = np.array([np.asarray(act.count(ep=ep)).sum() for ep in epochs.values()])
    means = np.asarray(nap.compute_response_per_epoch(act, epochs, return_pandas=True).loc[list(epochs)])
    sems = np.array([np.std(act.restrict(ep).values, axis=0, ddof=1) / np.sqrt(len(act.restrict(ep)))
                     for ep in epochs.values()])
    return occupancy, means, sems


def test_pynapple_statistics_on_an_export_equal_the_toolkits(rng, tmp_path, capsys):
    """pynapple computes the toolkit's per-class statistics (AllenSDK-style ``conditionwise_statistics``: mean,
    standard error, number of presentations) from an export read with ``to_pynapple``: one sample per
    presentation.  The same file read with ``nap.load_file`` holds 3 samples per presentation (50 neuroids > 24
    presentations), which inflates the occupancy 3-fold and shrinks the standard errors: the check fails there."""
    nap = pytest.importorskip("pynapple", reason="pynapple cross-check (the 'pynapple' extra)")
    from ensembles.io import to_allen_tables, to_pynapple

    rec = model_recording(rng, n=24, predicted=False)
    stats = to_allen_tables(rec, condition="label")["conditionwise_statistics"]
    labels = np.unique(rec["label"].values)
    want_n = stats.groupby("label")["n"].first().to_numpy()
    want_mean = stats.pivot(index="label", columns="unit_id", values="spike_mean")[rec["neuroid_id"].values]
    want_sem = stats.pivot(index="label", columns="unit_id", values="spike_sem")[rec["neuroid_id"].values]
    path = export_nwb(rec, tmp_path / "rec.nwb", presentation_duration=0.5)

    one = to_pynapple(path)
    act, iset = one["activity"], one["presentations"]
    assert isinstance(act, nap.TsdFrame) and act.shape == (24, 50)
    np.testing.assert_array_equal(np.asarray(act.count(ep=iset)).ravel(), np.ones(24))
    np.testing.assert_array_equal(act.values, rec["activity"].values)
    assert act.metadata["neuroid_id"].tolist() == rec["neuroid_id"].values.tolist()
    occupancy, means, sems = _pynapple_class_statistics(nap, act, iset, labels)
    np.testing.assert_array_equal(occupancy, want_n)
    np.testing.assert_allclose(means, want_mean.to_numpy(), rtol=1e-6)
    np.testing.assert_allclose(sems, want_sem.to_numpy(), rtol=1e-5)

    # the same from the recording itself, without a file
    direct = to_pynapple(rec, presentation_duration=0.5)
    np.testing.assert_array_equal(direct["activity"].values, act.values)
    np.testing.assert_array_equal(direct["activity"].t, act.t)
    assert direct["presentations"].label.tolist() == rec["label"].values.tolist()

    # nap.load_file on the same export: 3 identical samples per presentation, so the checks above fail
    raw = nap.load_file(str(path))
    r_act, r_iset = raw["activity"], raw["presentations"]
    np.testing.assert_array_equal(np.asarray(r_act.count(ep=r_iset)).ravel(), np.full(24, 3))
    r_occupancy, r_means, r_sems = _pynapple_class_statistics(nap, r_act, r_iset, labels)
    np.testing.assert_array_equal(r_occupancy, 3 * want_n)
    np.testing.assert_allclose(r_means, want_mean.to_numpy(), rtol=1e-6)  # means survive the repetition
    assert np.all(r_sems < 0.8 * want_sem.to_numpy())

    # the command says so when it repeats samples
    from ensembles.record import save_recording

    save_recording(rec, tmp_path / "rec.h5")
    assert main(["export-nwb", str(tmp_path / "rec.h5"), "--out", str(tmp_path / "cli.nwb")]) == 0
    assert "held for 3 identical samples" in capsys.readouterr().out
    # one sample per presentation in the file itself, on request (nap.load_file then agrees too)
    single = export_nwb(rec, tmp_path / "single.nwb", presentation_duration=0.5, samples_per_presentation=1)
    s_act = nap.load_file(str(single))["activity"]
    np.testing.assert_array_equal(s_act.values, rec["activity"].values)
    xr.testing.assert_identical(import_nwb(single), rec)


def test_to_pynapple_bad_input(rng, tmp_path):
    pytest.importorskip("pynapple", reason="pynapple cross-check (the 'pynapple' extra)")
    from ensembles.errors import ParameterError
    from ensembles.io import to_pynapple

    rec = model_recording(rng, n=6)
    with pytest.raises(FileNotFoundError, match="'source'.*nosuch.nwb"):
        to_pynapple(tmp_path / "nosuch.nwb")
    with pytest.raises(ParameterError, match="'presentation_duration'"):
        to_pynapple(rec, presentation_duration=0)
    with pytest.raises(ParameterError, match="'samples_per_presentation'"):
        export_nwb(rec, tmp_path / "x.nwb", samples_per_presentation=0)
    _allen_session(tmp_path / "allen.nwb", rng)
    with pytest.raises(ParameterError, match="not an ensembles NWB export"):
        to_pynapple(tmp_path / "allen.nwb")


def test_export_keeps_the_imported_session_and_subject(rng, tmp_path, capsys):
    """An Allen-style session with its experimenter, institution, lab and subject, imported and exported again
    (API and command line): the new file carries them, read back with pynwb; a field given to the export wins."""
    session = {"experimenter": ["Doe, Jane", "Roe, Richard"], "institution": "Allen Institute",
               "lab": "Brain Observatory", "experiment_description": "natural scenes, passive viewing",
               "keywords": ["visual cortex", "natural scenes"], "related_publications": ["doi:10.1038/s41586-020"]}
    path = _allen_session(tmp_path / "allen.nwb", rng, session=session)[0]
    rec = import_nwb(path, intervals="natural_scenes_presentations", label_column="image_name")
    out = export_nwb(rec, tmp_path / "again.nwb", dandi=True)  # DANDI's subject fields come from the import
    with pynwb.NWBHDF5IO(out, "r") as io:
        f = io.read()
        assert list(f.experimenter) == session["experimenter"]
        assert (f.institution, f.lab) == ("Allen Institute", "Brain Observatory")
        assert f.experiment_description == session["experiment_description"]
        assert list(f.keywords) == session["keywords"]
        assert list(f.related_publications) == session["related_publications"]
        assert f.session_id == "715093703" and f.session_start_time == START
        assert f.identifier != "allen-like-1"  # a new file
        assert (f.subject.subject_id, f.subject.species, f.subject.sex, f.subject.age) == (
            "mouse-17", "Mus musculus", "F", "P95D")
    assert _critical(out, "dandi") == []

    # command line: import-nwb to HDF5, export-nwb with one field replaced
    rec_path = tmp_path / "rec.h5"
    assert main(["import-nwb", str(path), "--intervals", "natural_scenes_presentations", "--label-column",
                 "image_name", "--out", str(rec_path)]) == 0
    assert main(["export-nwb", str(rec_path), "--out", str(tmp_path / "cli.nwb"), "--institution", "Elsewhere"]) == 0
    assert "identical samples" not in capsys.readouterr().out  # 30 presentations > 12 units: one sample each
    with pynwb.NWBHDF5IO(str(tmp_path / "cli.nwb"), "r") as io:
        f = io.read()
        assert (list(f.experimenter), f.institution, f.lab) == (session["experimenter"], "Elsewhere",
                                                                "Brain Observatory")
        assert f.subject.subject_id == "mouse-17"


# ---------------------------------------------------------------- command line
def _run(capsys, *argv):
    rc = main(list(argv))
    out, err = capsys.readouterr()
    return rc, out, err


def test_cli_import_allen_style_then_analyze(rng, tmp_path, capsys):
    path, spikes, onsets, names = _allen_session(tmp_path / "allen.nwb", rng)
    rec_path = tmp_path / "rec.h5"
    rc, out, err = _run(capsys, "import-nwb", str(path), "--intervals", "natural_scenes_presentations",
                        "--label-column", "image_name", "--window", "0.05", "0.25", "--out", str(rec_path))  # fmt: skip
    assert rc == 0, err
    assert "30 presentations x 12 neuroids" in out and err == ""
    rec = load_recording(rec_path)
    direct = np.array([[np.sum((s >= t + 0.05) & (s < t + 0.25)) for s in spikes] for t in onsets])
    np.testing.assert_array_equal(rec["activity"].values, direct)  # recounted from the spike trains
    assert rec["label_name"].values.tolist() == names
    assert rec.attrs["species"] == "Mus musculus"
    # the existing analysis command takes it and writes the report
    rc, out, err = _run(capsys, "analyze", str(rec_path), "--out", str(tmp_path / "results"), "--quiet")
    assert rc == 0, err
    assert (tmp_path / "results" / "report.html").is_file()
    # refuses to overwrite without --force
    rc, _, err = _run(capsys, "import-nwb", str(path), "--out", str(rec_path), "--label-column", "image_name")
    assert rc == 2 and "exists; pass --force" in err


def _one_line_error(capsys, *argv):
    rc, _, err = _run(capsys, *argv)
    assert rc == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"ensembles {argv[0]}: error: "), err
    return lines[0]


def test_cli_import_errors_are_one_line(rng, tmp_path, capsys):
    path, *_ = _allen_session(tmp_path / "allen.nwb", rng)
    out = str(tmp_path / "rec.h5")
    common = ("--label-column", "image_name", "--out", out)
    # not an NWB file
    (tmp_path / "junk.nwb").write_bytes(b"not hdf5 at all")
    assert "is not a readable NWB file" in _one_line_error(capsys, "import-nwb", str(tmp_path / "junk.nwb"), *common)
    # missing interval table: the available ones are listed
    msg = _one_line_error(capsys, "import-nwb", str(path), "--intervals", "trials", *common)
    assert "'trials', which the file lacks" in msg and "natural_scenes_presentations" in msg
    # a window that starts after every 250 ms presentation has ended
    msg = _one_line_error(capsys, "import-nwb", str(path), "--window", "0.3", "0.5", *common)
    assert "starts after every presentation" in msg
    assert not (tmp_path / "rec.h5").exists()


def test_cli_import_unsorted_spikes_and_empty_units(rng, tmp_path, capsys):
    spikes = [np.sort(rng.uniform(9.0, 19.0, 80)) for _ in range(4)]
    spikes[1] = spikes[1][::-1].copy()  # descending: not allowed by NWB best practice
    spikes[3] = np.array([])  # a unit without spikes
    path, *_ = _allen_session(tmp_path / "bad.nwb", rng, n_units=4, spikes=spikes)
    common = ("--intervals", "natural_scenes_presentations", "--label-column", "image_name")
    msg = _one_line_error(capsys, "import-nwb", str(path), *common, "--out", str(tmp_path / "a.h5"))
    assert "1 unit(s)" in msg and "unit ids [1]" in msg and "--sort-spikes" in msg
    rc, out, err = _run(capsys, "import-nwb", str(path), *common, "--sort-spikes", "--out", str(tmp_path / "b.h5"))
    assert rc == 0
    warn = [line for line in err.splitlines() if "warning (NWBImportWarning)" in line]
    assert len(warn) == 2
    assert "Sorted the spike times of 1 unit(s)" in warn[0] and "unit ids [1]" in warn[0]
    assert "1 of 4 unit(s) have no spikes at all (unit ids [3])" in warn[1]
    rec = load_recording(tmp_path / "b.h5")
    assert np.all(rec["activity"].values[:, 3] == 0) and rec["activity"].values[:, 1].sum() > 0


def test_cli_import_window_into_next_presentation_warns(rng, tmp_path, capsys):
    path, *_ = _allen_session(tmp_path / "allen.nwb", rng)
    rc, _, err = _run(capsys, "import-nwb", str(path), "--label-column", "image_name", "--window", "0", "0.4",
                      "--out", str(tmp_path / "r.h5"))  # fmt: skip
    assert rc == 0
    assert "reaches into the next presentation's onset for 29 of 30 presentations" in err


def test_cli_export_nwb(rng, tmp_path, capsys):
    from ensembles.record import save_recording

    rec = model_recording(rng, n=24, predicted=False)
    save_recording(rec, tmp_path / "rec.h5")
    nwb = tmp_path / "rec.nwb"
    msg = _one_line_error(capsys, "export-nwb", str(tmp_path / "rec.h5"), "--out", str(nwb), "--dandi")
    assert "DANDI requires the subject fields ['species']" in msg and "--species" in msg
    rc, out, err = _run(capsys, "export-nwb", str(tmp_path / "rec.h5"), "--out", str(nwb), "--dandi",
                        "--subject-id", "net-ff-3", "--species", "Mus musculus", "--sex", "U", "--age", "P1D",
                        "--experimenter", "Doe, Jane", "--institution", "Somewhere", "--keywords", "ff, mnist")  # fmt: skip
    assert rc == 0, err
    assert "wrote" in out and _critical(nwb, "dandi") == []
    with pynwb.NWBHDF5IO(str(nwb), "r") as io:
        f = io.read()
        assert list(f.keywords[:]) == ["ff", "mnist"] and list(f.experimenter) == ["Doe, Jane"]
    rc, _, err = _run(capsys, "export-nwb", str(tmp_path / "rec.h5"), "--out", str(nwb))
    assert rc == 2 and "--force" in err
