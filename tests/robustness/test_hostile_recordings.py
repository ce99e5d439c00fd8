"""Recordings that would load wrong without a word: chunks of activity never written (an h5py edit; HDF5 reads them
as NaN rows), and integer activity that float32 cannot hold exactly."""

from __future__ import annotations

import numpy as np
import pytest

h5py = pytest.importorskip("h5py")

from ensembles.errors import ParameterError  # noqa: E402
from ensembles.record import RecordingError, RecordingWriter, load_recording, make_recording, save_recording  # noqa: E402

from ._helpers import small_recording  # noqa: E402


def _rewrite_activity_leaving_chunks_unwritten(path, rows_written):
    """Replace ``activity`` by a dataset of the same shape, chunks, compression and fill value (NaN, as netCDF
    writes it) of which only the first ``rows_written`` rows are written; dims re-attached (a plausible edit)."""
    with h5py.File(path, "r+") as f:
        old = f["activity"]
        data, chunks = old[:], old.chunks
        attrs = {k: v for k, v in old.attrs.items() if k != "DIMENSION_LIST"}
        dims = [old.dims[i][0].name for i in range(old.ndim)]
        for i, name in enumerate(dims):
            old.dims[i].detach_scale(f[name])
        del f["activity"]
        new = f.create_dataset("activity", shape=data.shape, dtype=data.dtype, chunks=chunks, compression="gzip",
                               fillvalue=np.float32(np.nan))
        new[:rows_written] = data[:rows_written]
        for k, v in attrs.items():
            new.attrs[k] = v
        for i, name in enumerate(dims):
            new.dims[i].attach_scale(f[name])


def test_activity_chunks_never_written_are_refused_not_loaded_as_nan_rows(tmp_path):
    rec = small_recording(np.random.default_rng(0), n=3000, layer_sizes=(400, 300))
    path = tmp_path / "r.h5"
    save_recording(rec, path)
    with h5py.File(path, "r") as f:
        rows = f["activity"].chunks[0]
    assert rows < 3000  # several chunks along presentations
    _rewrite_activity_leaving_chunks_unwritten(path, rows)
    with pytest.raises(RecordingError, match=r"chunks of 'activity' were never written"):
        load_recording(path)
    with pytest.raises(RecordingError, match=r"never written"):
        load_recording(path, chunks={"presentation": 500})


def test_a_fully_rewritten_activity_still_loads(tmp_path):
    """The same edit writing every row loads (the check counts unwritten chunks, not the edit)."""
    rec = small_recording(np.random.default_rng(0), n=3000, layer_sizes=(400, 300))
    path = tmp_path / "r.h5"
    save_recording(rec, path)
    _rewrite_activity_leaving_chunks_unwritten(path, 3000)
    np.testing.assert_array_equal(load_recording(path)["activity"].values, rec["activity"].values)


@pytest.mark.parametrize("value, exact", [(2**24, True), (2**24 + 1, False), (-(2**24) - 1, False), (2**40, False)])
def test_integer_activity_above_2_to_the_24_is_refused_not_rounded(value, exact):
    rec = small_recording(np.random.default_rng(0))
    activity = np.zeros((rec.sizes["presentation"], rec.sizes["neuroid"]), dtype=np.int64)
    activity[0, 0] = value
    pres = {k: rec[k].values for k in ("stimulus_id", "label", "label_name", "split")}
    attrs = {"model": "ff", "dataset": "synthetic", "seed": 0, "config": {}, "site": "post-relu"}
    if exact:  # float32 holds every integer up to 2**24 (24-bit significand): kept exactly
        out = make_recording(activity, presentation=pres, layer_sizes=[6, 4], attrs=attrs)
        assert int(out["activity"].values[0, 0]) == value
        return
    assert int(np.float32(value)) != value or abs(value) > 2**24  # the rounding that would happen
    with pytest.raises(ParameterError, match=r"'activity' parameter holds integers up to .*2\*\*24"):
        make_recording(activity, presentation=pres, layer_sizes=[6, 4], attrs=attrs)


def test_the_writer_refuses_integers_it_would_round(tmp_path):
    rec = small_recording(np.random.default_rng(0))
    w = RecordingWriter(tmp_path / "w.h5", presentation={k: rec[k].values for k in ("stimulus_id", "label",
                                                                                    "label_name", "split")},
                        layer_sizes=[6, 4], attrs={"model": "ff", "dataset": "synthetic", "seed": 0, "config": {},
                                                   "site": "post-relu"})
    try:
        with pytest.raises(ParameterError, match=r"'batch' parameter holds integers up to 16777217"):
            w.append(np.full((2, rec.sizes["neuroid"]), 2**24 + 1, dtype=np.int64))
    finally:
        w.abort()
