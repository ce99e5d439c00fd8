"""Damaged, incomplete and hostile recording files; a full disk; non-finite activity.

Every case must end with a clear error (a ValueError subclass naming the file and what is wrong) and leave no
damaged output behind.
"""

from __future__ import annotations

import os
import shutil
import signal

import h5py
import numpy as np
import pytest
import xarray as xr

from ensembles.record import (
    RecordingError,
    RecordingIncompleteError,
    load_recording,
    save_recording,
)

from ._helpers import popen_python, run_python, wait_for


@pytest.fixture
def saved(tmp_path, make_rec, rng):
    rec = make_rec(rng, n=400, layer_sizes=(50, 50))
    path = tmp_path / "rec.h5"
    save_recording(rec, path)
    return rec, path


def test_truncated_files_are_refused(saved, tmp_path):
    rec, path = saved
    data = path.read_bytes()
    for frac in (0.0, 0.01, 0.5, 0.9, 0.999):
        bad = tmp_path / f"trunc{frac}.h5"
        bad.write_bytes(data[: int(len(data) * frac)])
        with pytest.raises(RecordingError, match=r"trunc.*(empty file|not an HDF5 file|truncated or corrupt|not a "
                                                 r"readable)"):
            load_recording(bad)


@pytest.mark.slow
def test_corrupted_bytes_never_give_wrong_data(saved, tmp_path, rng):
    """Overwrite 64 random bytes at 10 places spread over the file: loading raises, or (damage in unused space, or
    in a deflate stream that still decodes) returns exactly the original activity; it never returns wrong data."""
    rec, path = saved
    data = bytearray(path.read_bytes())
    outcomes = set()
    for k, start in enumerate(np.linspace(0, len(data) - 64, 10).astype(int)):
        bad = bytearray(data)
        bad[start:start + 64] = rng.integers(0, 256, 64, dtype=np.uint8).tobytes()
        p = tmp_path / f"corrupt{k}.h5"
        p.write_bytes(bytes(bad))
        try:
            got = load_recording(p)
        except Exception:  # noqa: BLE001 - the type is checked by the next test
            outcomes.add("error")
            continue
        np.testing.assert_array_equal(got["activity"].values, rec["activity"].values)
        outcomes.add("intact")
    assert "error" in outcomes


def test_corrupted_metadata_raises_recording_error(saved, tmp_path):
    """Damage to the HDF5 metadata (superblock, object headers, attribute heaps: the first 8 KiB) must give a
    RecordingError ("truncated or corrupt"), whatever h5py raises internally."""
    rec, path = saved
    data = bytearray(path.read_bytes())
    for start in range(0, 8192, 64):
        bad = bytearray(data)
        bad[start:start + 64] = b"\xff" * 64
        p = tmp_path / "meta.h5"
        p.write_bytes(bytes(bad))
        try:
            got = load_recording(p)
        except RecordingError:
            continue
        np.testing.assert_array_equal(got["activity"].values, rec["activity"].values)


def test_not_a_recording(tmp_path):
    p = tmp_path / "other.h5"
    with h5py.File(p, "w") as f:
        f["x"] = np.arange(3)
    with pytest.raises(RecordingError, match="is not an ensembles recording: .*'schema_version'"):
        load_recording(p)
    text = tmp_path / "notes.h5"
    text.write_text("hello")
    with pytest.raises(RecordingError, match="not an HDF5 file"):
        load_recording(text)
    with pytest.raises(FileNotFoundError, match="no such recording file"):
        load_recording(tmp_path / "missing.h5")
    with pytest.raises(IsADirectoryError):
        load_recording(tmp_path)


@pytest.mark.parametrize("damage, match", [
    ("drop_coord", "label"),
    ("wrong_dtype", "label"),
    ("drop_attr", "model"),
    ("future_schema", "schema 9.0"),
])
def test_schema_violations_are_listed(saved, tmp_path, damage, match):
    """Files that are valid HDF5/netCDF but break the recording schema: the error names the violation."""
    rec, _ = saved
    bad = rec.copy()
    if damage == "drop_coord":
        bad = bad.drop_vars("label")
    elif damage == "wrong_dtype":
        bad = bad.assign_coords(label=("presentation", np.asarray(bad["label"].values, dtype=float) + 0.5))
    elif damage == "drop_attr":
        bad.attrs.pop("model")
    elif damage == "future_schema":
        bad.attrs["schema_version"] = "9.0"
    p = tmp_path / f"{damage}.h5"
    bad.to_netcdf(p, engine="h5netcdf")  # written behind the validator's back
    with pytest.raises(RecordingError, match=match):
        load_recording(p)


def test_writer_killed_mid_write_is_incomplete(tmp_path):
    """kill -9 a process streaming with RecordingWriter: nothing at the final path; both names load as incomplete."""
    final = tmp_path / "stream.h5"
    code = f"""
        import numpy as np, time, sys
        sys.path.insert(0, "tests/robustness")
        from _helpers import small_recording
        from ensembles.record import RecordingWriter
        n = 4000
        labels = np.arange(n) % 3
        pres = {{"stimulus_id": [f"s/{{i:05d}}" for i in range(n)], "label": labels,
                 "label_name": [f"c{{l}}" for l in labels], "split": ["test"] * n}}
        with RecordingWriter({str(final)!r}, presentation=pres, layer_sizes=[100, 100], chunk_presentations=100,
                             attrs={{"model": "ff", "dataset": "syn", "seed": 0, "config": {{}}, "site": "post-relu"}}) as w:
            for i in range(0, n, 100):
                w.append(np.ones((100, 200), dtype=np.float32) * i)
                if i == 1000:
                    print("HALFWAY", flush=True)
                    time.sleep(60)
    """
    proc = popen_python(code)
    try:
        line = proc.stdout.readline()
        assert line.strip() == "HALFWAY", proc.stderr.read()
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert not final.exists()
    partial = tmp_path / "stream.h5.partial"
    assert partial.exists()
    with pytest.raises(FileNotFoundError, match="incomplete one at"):
        load_recording(final)
    # the partial file itself is refused as incomplete
    with pytest.raises(RecordingIncompleteError, match="incomplete"):
        load_recording(partial)


FULL_DISK = """
    import resource, signal, sys
    import numpy as np
    sys.path.insert(0, "tests/robustness")
    from _helpers import small_recording
    from ensembles.record import save_recording
    rec = small_recording(np.random.default_rng(1), n=5000, layer_sizes=(200, 200))
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)   # get EFBIG instead of being killed
    resource.setrlimit(resource.RLIMIT_FSIZE, (64 * 1024, 64 * 1024))
    try:
        save_recording(rec, {path!r})
    except Exception as err:
        print("ERROR", type(err).__name__, err, flush=True)
    else:
        print("NO ERROR", flush=True)
"""


def test_full_disk_never_damages_existing_output(saved, tmp_path):
    """A file-size limit (RLIMIT_FSIZE) makes writes fail with EFBIG, like a full disk.  Whatever happens to the
    writing process, the previous file at the target is untouched and still loads, and nothing but a hidden
    temporary name (never the target name) may be left behind."""
    rec, path = saved
    before = path.read_bytes()
    proc = run_python(FULL_DISK.format(path=str(path)), timeout=60, check=False)
    assert "NO ERROR" not in proc.stdout
    assert path.read_bytes() == before
    leftovers = [f for f in os.listdir(tmp_path) if f != "rec.h5"]
    assert all(f.startswith(".rec.h5.") and f.endswith(".tmp") for f in leftovers), leftovers
    xr.testing.assert_identical(load_recording(path), rec)


def test_full_disk_gives_a_clear_error_and_cleans_up(saved, tmp_path):
    """The write fails with a Python exception (EFBIG, errno 27) and the temporary file is removed."""
    rec, path = saved
    proc = run_python(FULL_DISK.format(path=str(path)), timeout=60, check=False)
    assert proc.returncode == 0 and proc.stdout.startswith("ERROR"), (proc.returncode, proc.stdout)
    assert "File too large" in proc.stdout or "Errno 27" in proc.stdout
    assert sorted(os.listdir(tmp_path)) == ["rec.h5"]


def test_full_disk_during_sweep_bookkeeping(tmp_path):
    """The sweep's own files are written atomically too: a failed write keeps the previous content."""
    from ensembles._io import atomic_write_json, read_json

    target = tmp_path / "status.json"
    atomic_write_json(target, {"state": "running"})
    code = f"""
        import resource, signal
        from ensembles._io import atomic_write_json
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (1024, 1024))
        try:
            atomic_write_json({str(target)!r}, {{"state": "done", "pad": "x" * 100000}})
        except OSError as err:
            print("ERROR", err.errno)
    """
    assert run_python(code).stdout.split() == ["ERROR", "27"]
    assert read_json(target) == {"state": "running"}
    assert sorted(os.listdir(tmp_path)) == ["status.json"]


def test_nonfinite_activity_documented_behaviour(make_rec, rng, tmp_path):
    """NaN/inf activity is stored and read back unchanged (a recording is raw data); the analysis functions follow
    their documented nan_policy: 'propagate' gives NaN for the affected vectors only, 'omit' ignores the NaN
    entries, 'raise' refuses NaN and inf with a message naming the parameter."""
    from ensembles.analysis.sparsity import hoyer_sparseness

    rec = make_rec(rng, n=10, layer_sizes=(5, 5))
    act = rec["activity"].values.copy()
    act[0, 0] = np.nan
    act[1, 1] = np.inf
    act[2] = 0.0
    act[3] = np.abs(act[3]) + 0.1
    rec = rec.assign(activity=(rec["activity"].dims, act))
    p = tmp_path / "nan.h5"
    save_recording(rec, p)
    back = load_recording(p)["activity"].values
    np.testing.assert_array_equal(back, act)  # NaN == NaN positions, inf kept

    # +inf and -inf are both an error by default, naming the counts (issue #11: -inf is not silently clipped)
    with pytest.raises(ValueError, match="infinite value"):
        hoyer_sparseness(back, nan_policy="propagate")
    h = np.asarray(hoyer_sparseness(np.delete(back, 1, axis=0), nan_policy="propagate"))
    assert np.isnan(h[0]) and np.isnan(h[1])  # NaN row, silent row
    assert np.all(np.isfinite(h[2:])) and np.all((h[2:] >= 0) & (h[2:] <= 1))
    omit = np.asarray(hoyer_sparseness(back[:1], nan_policy="omit"))
    row = back[0, 1:].astype(np.float64)
    n = row.size
    expected = (np.sqrt(n) - np.abs(row).sum() / np.sqrt((row ** 2).sum())) / (np.sqrt(n) - 1)
    if np.any(row != 0):
        np.testing.assert_allclose(omit[0], expected, rtol=1e-6)
    with pytest.raises(ValueError, match="'x' parameter must contain only finite values"):
        hoyer_sparseness(back, nan_policy="raise")


def test_readonly_target_directory(saved, tmp_path):
    """Writing into a directory without write permission fails cleanly (skipped when running as root)."""
    if os.geteuid() == 0:
        pytest.skip("root ignores directory permissions")
    rec, _ = saved
    ro = tmp_path / "ro"
    ro.mkdir()
    os.chmod(ro, 0o500)
    try:
        with pytest.raises(PermissionError):
            save_recording(rec, ro / "x.h5")
        assert os.listdir(ro) == []
    finally:
        os.chmod(ro, 0o700)
        shutil.rmtree(ro)


def test_wait_helper_reports_early_exit():
    proc = popen_python("import sys; sys.exit(3)")
    with pytest.raises(AssertionError, match=r"exited \(3\)"):
        wait_for(lambda: False, 10, "never", proc=proc)


@pytest.mark.slow
def test_truncated_and_foreign_nwb_files_are_refused(make_rec, rng, tmp_path):
    """NWB import (ensembles.io.nwb) of truncated files, a non-HDF5 file and an HDF5 file that is not NWB: an error
    of a user-error type (one line in the CLI), never a half-read recording.  A complete export round-trips."""
    nwb = pytest.importorskip("ensembles.io.nwb")
    pytest.importorskip("pynwb")
    rec = make_rec(rng)
    path = tmp_path / "rec.nwb"
    nwb.export_nwb(rec, path)
    np.testing.assert_allclose(nwb.import_nwb(path)["activity"].values, rec["activity"].values)
    data = path.read_bytes()
    for frac in (0.0, 0.01, 0.5, 0.95):
        bad = tmp_path / f"trunc{frac}.nwb"
        bad.write_bytes(data[: int(len(data) * frac)])
        # a ValueError (user error) naming the file, not h5py's bare OSError
        with pytest.raises(
            ValueError, match=r"trunc.*\.nwb.*not a readable NWB file \(truncated or corrupt\)"
        ):
            nwb.import_nwb(bad)
    text = tmp_path / "notes.nwb"
    text.write_text("hello")
    with pytest.raises(ValueError, match=r"notes\.nwb.*not a readable NWB file"):
        nwb.import_nwb(text)
    h5 = tmp_path / "rec.h5"
    save_recording(rec, h5)
    with pytest.raises(ValueError, match=r"rec\.h5.*not a valid NWB file"):
        nwb.import_nwb(h5)


def test_full_disk_streaming_writer(tmp_path):
    """RecordingWriter under a file-size limit: a clear OSError (errno 27) and nothing at the final path or under
    the .partial name."""
    final = tmp_path / "w.h5"
    code = f"""
        import resource, signal
        import numpy as np
        from ensembles.record import RecordingWriter
        n = 4000
        labels = np.arange(n) % 3
        pres = {{"stimulus_id": [f"s/{{i:05d}}" for i in range(n)], "label": labels,
                 "label_name": [f"c{{l}}" for l in labels], "split": ["test"] * n}}
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (256 * 1024, 256 * 1024))
        try:
            with RecordingWriter({str(final)!r}, presentation=pres, layer_sizes=[100, 100],
                                 attrs={{"model": "ff", "dataset": "syn", "seed": 0, "config": {{}},
                                         "site": "post-relu"}}) as w:
                rng = np.random.default_rng(0)
                for i in range(0, n, 100):
                    w.append(rng.random((100, 200), dtype=np.float32))
        except OSError as err:
            print("ERROR", err.errno, err)
    """
    out = run_python(code, timeout=60).stdout
    assert out.startswith("ERROR 27"), out
    assert os.listdir(tmp_path) == []


def test_nwb_export_of_a_schema_1_recording_imports_back(tmp_path):
    """Issue #11 item 12: a recording whose schema_version attr is "1" (accepted by validate_recording) used to be
    exported fine and then refused on import as another schema version."""
    pytest.importorskip("pynwb")
    from ensembles.io import export_nwb, import_nwb
    from ensembles.record import make_recording, validate_recording

    rng = np.random.default_rng(0)
    lab = np.repeat([0, 1, 2], 4)
    rec = make_recording(rng.random((12, 5)).astype(np.float32), layer_sizes=[3, 2],
                         presentation={"stimulus_id": [f"s{i}" for i in range(12)], "label": lab,
                                       "label_name": [str(v) for v in lab], "split": ["test"] * 12},
                         attrs={"model": "m", "dataset": "d", "seed": 0, "config": {}, "site": "model"})
    rec.attrs["schema_version"] = "1"
    validate_recording(rec)
    export_nwb(rec, tmp_path / "r.nwb")
    back = import_nwb(tmp_path / "r.nwb")
    np.testing.assert_allclose(back["activity"].values, rec["activity"].values, rtol=1e-6)
    assert back.attrs["schema_version"].split(".")[0] == "1"
