"""save_recording / load_recording: round trips, the on-disk layout, atomic writes, clear errors on bad files."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys

import dask.array as da
import h5netcdf
import h5py
import numpy as np
import pytest
import xarray as xr

from ensembles.record import (
    RecordingError,
    RecordingIncompleteError,
    example_recording,
    load_recording,
    make_recording,
    save_recording,
    select_layer,
)


def _rich_recording(epochs=None):
    """A recording exercising every dtype the format must preserve."""
    rec = example_recording(n_presentations=40, layer_sizes=(7, 5, 3), epochs=epochs, seed=2)
    rec = rec.assign_coords(
        held_out=("presentation", np.arange(40) % 7 == 0),  # bool
        repetition=("presentation", (np.arange(40) // 20).astype(np.int32)),  # int32 stays int32
        contrast=("presentation", np.linspace(0, 1, 40)),  # float coord
        area=("neuroid", np.array(["V1"] * 7 + ["V2é"] * 5 + ["IT"] * 3)),  # non-ASCII unicode
    )
    rec["activity"][0, 0] = np.nan if epochs is None else 0.0  # NaN in activity is data, kept as such
    rec.attrs.update(lr=np.float32(0.25), n_layers=np.int64(3), note="unicode ✓", threshold=2.0, flag=1)
    rec["activity"].attrs["units"] = "a.u."
    return rec


def _check_dtypes(loaded, rec):
    for name, var in rec.variables.items():
        assert loaded[name].dtype == var.dtype, name
        assert loaded[name].dims == var.dims, name


@pytest.mark.parametrize("epochs", [None, [0, 3]], ids=["2d", "checkpoints"])
def test_round_trip_in_memory(tmp_path, epochs):
    rec = _rich_recording(epochs)
    path = tmp_path / "rec.h5"
    digest = save_recording(rec, path)
    assert digest == hashlib.sha256(path.read_bytes()).hexdigest()
    loaded = load_recording(path)
    xr.testing.assert_identical(loaded, rec)
    _check_dtypes(loaded, rec)
    assert not isinstance(loaded["activity"].data, da.Array)
    assert [p.name for p in tmp_path.iterdir()] == ["rec.h5"]  # no temp file left behind


@pytest.mark.parametrize("chunks", [{"presentation": 16}, "auto"])
def test_round_trip_lazy(tmp_path, chunks):
    rec = _rich_recording([1, 2])
    save_recording(rec, tmp_path / "rec.h5", chunk_presentations=8)
    lazy = load_recording(tmp_path / "rec.h5", chunks=chunks)
    assert isinstance(lazy["activity"].data, da.Array)
    if chunks != "auto":
        assert lazy["activity"].data.chunks[1][0] == 16
    # coords are in memory even when activity is lazy
    assert all(not isinstance(c.data, da.Array) for c in lazy.coords.values())
    xr.testing.assert_identical(lazy, rec)
    # a dask-backed recording saves (chunk by chunk) and round-trips too
    save_recording(lazy, tmp_path / "again.h5")
    xr.testing.assert_identical(load_recording(tmp_path / "again.h5"), rec)
    lazy.close()


def test_round_trip_dask_built(tmp_path):
    rec = example_recording(n_presentations=30, layer_sizes=(4, 4))
    lazy = rec.assign(activity=(rec["activity"].dims, da.from_array(rec["activity"].values, chunks=(7, 8))))
    save_recording(lazy, tmp_path / "r.h5", compression_level=0, chunk_presentations=10)
    xr.testing.assert_identical(load_recording(tmp_path / "r.h5"), rec)


def test_subset_of_loaded_recording_saves(tmp_path):
    # a loaded recording carries on-disk encodings (chunk sizes) that do not fit a subset: they are dropped
    rec = example_recording(n_presentations=30, layer_sizes=(4, 4))
    save_recording(rec, tmp_path / "r.h5", chunk_presentations=30)
    part = select_layer(load_recording(tmp_path / "r.h5"), 2).isel(presentation=slice(0, 5))
    save_recording(part, tmp_path / "part.h5")
    xr.testing.assert_identical(load_recording(tmp_path / "part.h5"), part)


def test_file_is_plain_hdf5_netcdf(tmp_path):
    rec = _rich_recording()
    path = tmp_path / "rec.h5"
    save_recording(rec, path, compression_level=4, chunk_presentations=8)
    with h5py.File(path, "r") as f:
        act = f["activity"]
        assert act.shape == (40, 15) and act.dtype == np.float32
        assert act.chunks == (8, 15) and act.compression == "gzip" and act.compression_opts == 4 and act.shuffle
        np.testing.assert_array_equal(act[1:], rec["activity"].values[1:])
        assert act.dims[0][0].name == "/presentation" and act.dims[1][0].name == "/neuroid"  # dimension scales
        assert [s.decode() for s in f["stimulus_id"][:3]] == list(rec["stimulus_id"].values[:3])
        assert h5py.check_string_dtype(f["area"].dtype).encoding == "utf-8"
        assert f["held_out"].dtype == np.int8 and f["held_out"].attrs["dtype"] == "bool"
        assert f.attrs["model"] == "ff"
        assert np.asarray(f.attrs["complete"]).item() == 1 and np.asarray(f.attrs["seed"]).item() == 2
    # h5netcdf's own netCDF-4 reader (independent of xarray)
    with h5netcdf.File(path, "r") as f:
        assert dict(f.dimensions) and f.dimensions["presentation"].size == 40
        assert f.variables["activity"].dimensions == ("presentation", "neuroid")
        assert list(f.variables["layer"][:]) == list(rec["layer"].values)


def test_save_is_atomic_and_never_drops_attrs(tmp_path):
    good = example_recording(n_presentations=10, layer_sizes=(3,))
    path = tmp_path / "rec.h5"
    digest = save_recording(good, path)
    bad = good.copy()
    bad.attrs["extra"] = {"nested": True}
    with pytest.raises(ValueError, match="attribute 'extra' has non-serialisable value"):
        save_recording(bad, path)
    assert hashlib.sha256(path.read_bytes()).hexdigest() == digest  # the old file is untouched
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rec.h5"]


def test_save_failure_midway_leaves_target_untouched(tmp_path, monkeypatch):
    good = example_recording(n_presentations=10, layer_sizes=(3,))
    path = tmp_path / "rec.h5"
    digest = save_recording(good, path)
    original = xr.Dataset.to_netcdf

    def failing(self, target, *args, **kwargs):
        original(self, target, *args, **kwargs)  # the temp file is fully written ...
        raise OSError("disk full (simulated)")  # ... then the write "fails"

    monkeypatch.setattr(xr.Dataset, "to_netcdf", failing)
    with pytest.raises(OSError, match="disk full"):
        save_recording(good.assign(activity=good["activity"] + 1), path)
    assert hashlib.sha256(path.read_bytes()).hexdigest() == digest
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rec.h5"]


def test_save_errors(tmp_path):
    rec = example_recording(n_presentations=5, layer_sizes=(2,))
    with pytest.raises(FileNotFoundError, match="directory .*nope' does not exist"):
        save_recording(rec, tmp_path / "nope" / "rec.h5")
    with pytest.raises(IsADirectoryError, match="is a directory"):
        save_recording(rec, tmp_path)
    with pytest.raises(ValueError, match=r"'compression_level' parameter must be an int in 0..9"):
        save_recording(rec, tmp_path / "r.h5", compression_level=11)
    with pytest.raises(TypeError, match="got DataArray"):
        save_recording(rec["activity"], tmp_path / "r.h5")


# --------------------------------------------------------------------------------------------------------------
# bad files


@pytest.fixture
def saved(tmp_path):
    rec = example_recording(n_presentations=200, layer_sizes=(50, 30))
    path = tmp_path / "rec.h5"
    save_recording(rec, path, compression_level=0)
    return path


def test_load_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"no such recording file: '.*absent\.h5'"):
        load_recording(tmp_path / "absent.h5")


def test_load_directory(tmp_path):
    with pytest.raises(IsADirectoryError, match="is a directory, not a recording file"):
        load_recording(tmp_path)


@pytest.mark.parametrize(("content", "match"), [(b"", "an empty file"), (b"a,b\n1,2\n" * 50, "not an HDF5 file")])
def test_load_not_hdf5(tmp_path, content, match):
    path = tmp_path / "x.h5"
    path.write_bytes(content)
    with pytest.raises(RecordingError, match=rf"x\.h5' is not an ensembles recording: {match}"):
        load_recording(path)


@pytest.mark.parametrize("keep", [0.9, 0.5, 0.02])
def test_load_truncated(saved, keep):
    data = saved.read_bytes()
    saved.write_bytes(data[: int(len(data) * keep)])
    with pytest.raises(RecordingError, match="truncated or corrupt"):
        load_recording(saved)


def test_load_plain_hdf5_is_not_a_recording(tmp_path):
    path = tmp_path / "plain.h5"
    with h5py.File(path, "w") as f:
        f["x"] = np.arange(3)
    with pytest.raises(
        RecordingError, match="is not an ensembles recording: it lacks the 'schema_version' attribute and the 'activity'"
    ):
        load_recording(path)


def test_load_incomplete_marker_and_partial_name(saved):
    with h5py.File(saved, "r+") as f:
        f.attrs["complete"] = np.int64(0)
    with pytest.raises(RecordingIncompleteError, match=r"is an incomplete recording: its writer never finished"):
        load_recording(saved)
    partial = saved.with_name("rec.h5.partial")
    saved.rename(partial)
    with pytest.raises(RecordingIncompleteError, match=r"\.partial' is an incomplete recording"):
        load_recording(partial)
    with pytest.raises(FileNotFoundError, match=r"there is an incomplete one at .*rec\.h5\.partial"):
        load_recording(saved)


def test_load_future_schema(saved):
    with h5py.File(saved, "r+") as f:
        f.attrs["schema_version"] = "2.0"
    with pytest.raises(RecordingError, match=r"written with recording schema 2\.0; this version of ensembles reads schema 1\."):
        load_recording(saved)


def test_load_schema_invalid_file(saved):
    with h5py.File(saved, "r+") as f:
        del f.attrs["model"]
        del f.attrs["site"]
    with pytest.raises(RecordingError, match=r"(?s)is not a valid ensembles recording: invalid recording \(1 problem\).*'model', 'site'"):
        load_recording(saved)


def test_make_then_save_then_load_keeps_float_nan_activity(tmp_path):
    act = np.full((3, 2), np.nan, dtype=np.float32)
    act[1, 1] = 1.5
    rec = make_recording(
        act,
        presentation={"stimulus_id": ["a", "b", "c"], "label": [0, 1, 0], "label_name": ["x", "y", "x"], "split": ["test"] * 3},
        layer_sizes=[2],
        attrs={"model": "neural:test", "dataset": "none", "seed": -1, "config": "{}", "site": "spikes"},
    )
    save_recording(rec, tmp_path / "r.h5")
    loaded = load_recording(tmp_path / "r.h5")
    xr.testing.assert_identical(loaded, rec)
    assert np.isnan(loaded["activity"].values).sum() == 5


def test_sha256_helper_matches(tmp_path):
    from ensembles.record import file_sha256

    p = tmp_path / "f.bin"
    p.write_bytes(os.urandom(5 * 2**20 + 3))
    assert file_sha256(p) == hashlib.sha256(p.read_bytes()).hexdigest()


def test_default_chunks_are_round_and_align_with_dask_chunks(tmp_path):
    import warnings

    from ensembles.record.io import activity_chunks

    # 4 MiB / (4 B x 3000) = 349.5 rows -> largest divisor of 1000 below it: 250; 4 MiB / (4 B x 784) = 1337 -> 1000
    assert activity_chunks((170_000, 3000)) == (250, 3000)
    assert activity_chunks((60_000, 784)) == (1000, 784)
    assert activity_chunks((3, 60_000, 784)) == (1, 1000, 784)
    assert activity_chunks((7, 784)) == (7, 784)
    assert activity_chunks((100, 10), chunk_presentations=30) == (30, 10)
    rec = example_recording(n_presentations=1000, layer_sizes=(3000,))
    save_recording(rec, tmp_path / "r.h5", compression_level=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # xarray warns when dask chunks split stored chunks
        lazy = load_recording(tmp_path / "r.h5", chunks={"presentation": 500})
    assert lazy["activity"].data.chunks[0] == (500, 500)
    lazy.close()


def test_corrupted_metadata_gives_recording_error(saved, tmp_path):
    # damage to the superblock / object headers / attribute heaps (first 8 KiB): whatever h5py raises inside
    # (OSError, KeyError, RuntimeError...), the caller gets a RecordingError or the intact data
    rec = load_recording(saved)
    data = saved.read_bytes()
    bad_path = tmp_path / "damaged.h5"
    for start in range(0, 8192, 256):
        bad_path.write_bytes(data[:start] + b"\xff" * 64 + data[start + 64 :])
        try:
            got = load_recording(bad_path)
        except RecordingError as err:
            assert "damaged.h5" in str(err)
            continue
        np.testing.assert_array_equal(got["activity"].values, rec["activity"].values)


FULL_DISK = """
import resource, signal, sys
from ensembles.record import RecordingWriter, example_recording, save_recording
rec = example_recording(n_presentations=2000, layer_sizes=(100, 100))
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # EFBIG instead of being killed
resource.setrlimit(resource.RLIMIT_FSIZE, (64 * 1024, 64 * 1024))
for what in ("save", "writer"):
    try:
        if what == "save":
            save_recording(rec, sys.argv[1])
        else:
            pres = {k: rec[k].values for k in ("stimulus_id", "label", "label_name", "split")}
            RecordingWriter(sys.argv[1], presentation=pres, layer_sizes=[100, 100], attrs=dict(rec.attrs))
    except OSError as err:
        print(what, "ERROR", err.errno, err, flush=True)
"""


def test_full_disk_is_refused_before_writing(saved, tmp_path):
    # HDF5 crashes the process (SIGSEGV) when closing a file whose write failed with EFBIG/ENOSPC, so the
    # size is checked first; the previous file at the target is untouched and no temporary file is left
    before = saved.read_bytes()
    proc = subprocess.run([sys.executable, "-c", FULL_DISK, str(saved)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    lines = proc.stdout.splitlines()
    assert len(lines) == 2 and all(" ERROR 27 " in line and "file-size limit (RLIMIT_FSIZE)" in line for line in lines)
    assert saved.read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == ["rec.h5"]


def test_no_space_left_is_refused(saved, tmp_path, monkeypatch):
    import shutil
    from collections import namedtuple

    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(shutil, "disk_usage", lambda path: usage(10**9, 10**9 - 1000, 1000))
    rec = load_recording(saved)
    with pytest.raises(OSError, match=r"No space left on device: the recording needs up to \d+ bytes .* only 1000 bytes are free"):
        save_recording(rec, tmp_path / "new.h5")
    assert sorted(os.listdir(tmp_path)) == ["rec.h5"]
    save_recording(rec, tmp_path / "new.h5", check_space=False)  # the check can be switched off
    xr.testing.assert_identical(load_recording(tmp_path / "new.h5"), rec)


def test_netcdf_c_reader(tmp_path):
    # the reference netCDF-4 implementation (netCDF-C through netCDF4-python), when installed; verified by hand
    # with netCDF4 1.7.5 for files from save_recording and from RecordingWriter (parallel-compressed chunks)
    netCDF4 = pytest.importorskip("netCDF4")
    from ensembles.record import RecordingWriter

    rec = example_recording(n_presentations=123, layer_sizes=(6, 4), epochs=[1, 2])
    save_recording(rec, tmp_path / "saved.h5")
    pres = {k: rec[k].values for k in ("stimulus_id", "label", "label_name", "split", "embedded_label")}
    with RecordingWriter(tmp_path / "stream.h5", presentation=pres, layer_sizes=[6, 4], epochs=[1, 2],
                         attrs=dict(rec.attrs), chunk_presentations=20) as w:
        for k in range(2):
            w.append(rec["activity"].values[k], checkpoint=k)
        w.set_presentation_coord("predicted", rec["predicted"].values)
        w.set_presentation_coord("correct", rec["correct"].values)
    for name in ("saved.h5", "stream.h5"):
        with netCDF4.Dataset(tmp_path / name) as d:
            np.testing.assert_array_equal(np.asarray(d["activity"][:]), rec["activity"].values)
            assert list(d["stimulus_id"][:3]) == list(rec["stimulus_id"].values[:3])
            assert d["activity"].filters()["zlib"] and d["activity"].filters()["shuffle"]
            assert d.model == "ff"
