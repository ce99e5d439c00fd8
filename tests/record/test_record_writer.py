"""RecordingWriter: streamed files identical to in-memory ones; incomplete, crashed and killed writers."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import tracemalloc

import h5py
import numpy as np
import pytest
import xarray as xr

from ensembles.record import (
    RecordingIncompleteError,
    RecordingWriter,
    example_recording,
    load_recording,
    save_recording,
)

PRESENTATION_BEFORE = ("stimulus_id", "label", "label_name", "split", "embedded_label")


def _writer_args(rec):
    pres = {k: rec[k].values for k in PRESENTATION_BEFORE}
    attrs = dict(rec.attrs)
    return {"presentation": pres, "layer_sizes": [int((rec["layer"] == la).sum()) for la in np.unique(rec["layer"])],
            "attrs": attrs}


def _random_batches(n, rng, max_batch=23):
    i = 0
    while i < n:
        b = int(rng.integers(1, max_batch))
        yield i, min(n, i + b)
        i += b


@pytest.mark.parametrize("chunk", [None, 8, 1])
def test_streamed_equals_in_memory(tmp_path, rng, chunk):
    rec = example_recording(n_presentations=101, layer_sizes=(9, 4), seed=1)
    path = tmp_path / "stream.h5"
    with RecordingWriter(path, chunk_presentations=chunk, **_writer_args(rec)) as w:
        for a, b in _random_batches(101, rng):
            w.append(rec["activity"].values[a:b])
            assert not path.exists() and w.partial_path.exists()  # invisible until closed
        w.set_presentation_coord("predicted", rec["predicted"].values)
        w.set_presentation_coord("correct", list(rec["correct"].values))
    assert path.exists() and not w.partial_path.exists()
    loaded = load_recording(path)
    xr.testing.assert_identical(loaded, rec)
    assert loaded["correct"].dtype == bool and loaded["stimulus_id"].dtype.kind == "U"
    # and identical to what save_recording writes for the same data
    save_recording(rec, tmp_path / "saved.h5")
    xr.testing.assert_identical(load_recording(tmp_path / "saved.h5"), loaded)
    if chunk is not None:
        with h5py.File(path) as f:
            assert f["activity"].chunks == (chunk, 13)


def test_streamed_checkpoints_interleaved(tmp_path, rng):
    rec = example_recording(n_presentations=50, layer_sizes=(6, 3), epochs=[1, 4, 9], seed=3)
    path = tmp_path / "stream.h5"
    act = rec["activity"].values
    gens = [list(_random_batches(50, rng, 9)) for _ in range(3)]
    with RecordingWriter(path, epochs=[1, 4, 9], chunk_presentations=4, **_writer_args(rec)) as w:
        while any(gens):  # checkpoints interleaved batch by batch
            k = int(rng.choice([i for i in range(3) if gens[i]]))
            a, b = gens[k].pop(0)
            w.append(act[k, a:b], checkpoint=k)
        for k in (2, 0, 1):
            w.set_presentation_coord("predicted", rec["predicted"].values[k], checkpoint=k)
        w.set_presentation_coord("correct", rec["correct"].values)  # all checkpoints at once
    xr.testing.assert_identical(load_recording(path), rec)
    lazy = load_recording(path, chunks={"checkpoint": 1})
    xr.testing.assert_identical(lazy, rec)
    lazy.close()


def test_close_returns_sha_and_is_idempotent(tmp_path):
    import hashlib

    rec = example_recording(n_presentations=10, layer_sizes=(3,))
    w = RecordingWriter(tmp_path / "r.h5", **_writer_args(rec))
    w.append(rec["activity"].values)
    digest = w.close()
    assert digest == hashlib.sha256((tmp_path / "r.h5").read_bytes()).hexdigest() == w.close()
    with pytest.raises(ValueError, match="is closed"):
        w.append(rec["activity"].values[:1])


def test_incomplete_rows_raise_and_stay_partial(tmp_path):
    rec = example_recording(n_presentations=30, layer_sizes=(4,), epochs=[1, 2])
    path = tmp_path / "r.h5"
    w = RecordingWriter(path, epochs=[1, 2], chunk_presentations=8, **_writer_args(rec))
    w.append(rec["activity"].values[0], checkpoint=0)
    w.append(rec["activity"].values[1, :17], checkpoint=1)
    w.set_presentation_coord("predicted", rec["predicted"].values[0], checkpoint=0)
    with pytest.raises(
        RecordingIncompleteError,
        match=r"checkpoint 1 \(epoch 2\): 17 of 30 presentations written; coord 'predicted' not set for checkpoint\(s\) \[1\]",
    ):
        w.close()
    assert not path.exists() and w.partial_path.exists()
    with pytest.raises(RecordingIncompleteError, match="incomplete recording"):
        load_recording(w.partial_path)
    with pytest.raises(FileNotFoundError, match="there is an incomplete one"):
        load_recording(path)
    # no data already written is lost: rows 0..16 of checkpoint 1 are on disk
    with h5py.File(w.partial_path) as f:
        np.testing.assert_array_equal(f["activity"][1, :17], rec["activity"].values[1, :17])
        assert np.isnan(f["activity"][1, 17:]).all()
        assert np.asarray(f.attrs["complete"]).item() == 0


def test_exception_in_with_leaves_partial_and_keeps_old_file(tmp_path):
    rec = example_recording(n_presentations=20, layer_sizes=(4,))
    path = tmp_path / "r.h5"
    old_digest = save_recording(rec, path)
    with pytest.raises(RuntimeError, match="model crashed"):
        with RecordingWriter(path, **_writer_args(rec)) as w:
            w.append(rec["activity"].values[:10] + 1)
            raise RuntimeError("model crashed")
    from ensembles.record import file_sha256

    assert file_sha256(path) == old_digest  # the previous file at `path` is untouched
    assert w.partial_path.exists()
    with pytest.raises(RecordingIncompleteError):
        load_recording(w.partial_path)
    # a new writer on the same path starts over and finishes
    with RecordingWriter(path, **_writer_args(rec)) as w2:
        w2.append(rec["activity"].values)
    assert not w2.partial_path.exists()
    np.testing.assert_array_equal(load_recording(path)["activity"].values, rec["activity"].values)


def test_append_errors_write_nothing(tmp_path):
    rec = example_recording(n_presentations=10, layer_sizes=(4,))
    w = RecordingWriter(tmp_path / "r.h5", **_writer_args(rec))
    w.append(rec["activity"].values[:6])
    with pytest.raises(ValueError, match=r"has 5 rows, but only 4 of the 10 presentations remain to be written; nothing was written"):
        w.append(rec["activity"].values[:5])
    assert w.rows_written == [6]
    with pytest.raises(ValueError, match=r"shape \(n_rows, 4\). Got array of shape \(2, 3\)"):
        w.append(np.zeros((2, 3)))
    with pytest.raises(ValueError, match=r"shape \(n_rows, 4\). Got array of shape \(4,\)"):
        w.append(np.zeros(4))
    with pytest.raises(ValueError, match="'checkpoint' parameter must be None: this recording has no checkpoint dim"):
        w.append(np.zeros((1, 4)), checkpoint=0)
    with pytest.raises(TypeError, match="'batch' parameter must be numeric"):
        w.append(np.array([["a"] * 4]))
    w.abort()


def test_checkpoint_errors(tmp_path):
    rec = example_recording(n_presentations=10, layer_sizes=(4,), epochs=[5, 6])
    w = RecordingWriter(tmp_path / "r.h5", epochs=[5, 6], **_writer_args(rec))
    for bad in (None, 2, -1, 1.0, True):
        with pytest.raises(ValueError, match=r"'checkpoint' parameter must be an int in 0..1"):
            w.append(np.zeros((1, 4)), checkpoint=bad)
    w.abort()


def test_set_presentation_coord_errors(tmp_path):
    rec = example_recording(n_presentations=10, layer_sizes=(4,), epochs=[5, 6])
    w = RecordingWriter(tmp_path / "r.h5", epochs=[5, 6], **_writer_args(rec))
    with pytest.raises(ValueError, match="'label' is already in the recording"):
        w.set_presentation_coord("label", np.zeros(10, dtype=int))
    with pytest.raises(ValueError, match="coord 'predicted' must hold signed integers"):
        w.set_presentation_coord("predicted", np.zeros(10))
    with pytest.raises(ValueError, match="coord 'correct' must hold booleans"):
        w.set_presentation_coord("correct", np.zeros(10, dtype=int), checkpoint=0)
    with pytest.raises(ValueError, match=r"must have shape \(10,\) or \(2, 10\)"):
        w.set_presentation_coord("predicted", np.zeros(9, dtype=int))
    with pytest.raises(ValueError, match="must not contain NaN"):
        w.set_presentation_coord("contrast", np.full(10, np.nan))
    w.set_presentation_coord("predicted", np.zeros(10, dtype=int), checkpoint=0)
    with pytest.raises(ValueError, match="was set per checkpoint"):
        w.set_presentation_coord("predicted", np.zeros(10, dtype=int))
    w.abort()


def test_constructor_validates_like_make_recording(tmp_path):
    rec = example_recording(n_presentations=10, layer_sizes=(4,))
    args = _writer_args(rec)
    args["attrs"] = {**args["attrs"], "bad": [1, 2]}
    with pytest.raises(ValueError, match="attribute 'bad' has non-serialisable value"):
        RecordingWriter(tmp_path / "r.h5", **args)
    args = _writer_args(rec)
    del args["presentation"]["label"]
    with pytest.raises(ValueError, match="missing presentation coord 'label'"):
        RecordingWriter(tmp_path / "r.h5", **args)
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(FileNotFoundError, match="does not exist"):
        RecordingWriter(tmp_path / "no" / "r.h5", **_writer_args(rec))


def test_memory_is_bounded_by_a_chunk(tmp_path):
    # 48 MB of activity streamed in batches; Python-side allocations stay at a few chunks, not the recording
    n, m = 4000, 3000
    rec = example_recording(n_presentations=n, layer_sizes=(1,))  # only for the coords and attrs
    args = _writer_args(rec)
    args["layer_sizes"] = [2000, 1000]
    batch = np.ones((250, m), dtype=np.float32)
    tracemalloc.start()
    try:
        with RecordingWriter(tmp_path / "big.h5", compression_level=0, **args) as w:
            for i in range(n // 250):
                w.append(batch * i)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 16 * 2**20, f"peak traced memory {peak / 2**20:.1f} MiB for a {n * m * 4 / 2**20:.0f} MiB recording"
    with h5py.File(tmp_path / "big.h5") as f:
        assert f["activity"][3999, 0] == 15.0 and f["activity"].shape == (n, m)


KILLED_WRITER = textwrap.dedent(
    """
    import sys, time, numpy as np
    from ensembles.record import RecordingWriter, example_recording
    rec = example_recording(n_presentations=400, layer_sizes=(16,))
    pres = {k: rec[k].values for k in ("stimulus_id", "label", "label_name", "split")}
    w = RecordingWriter(sys.argv[1], presentation=pres, layer_sizes=[16], attrs=dict(rec.attrs), chunk_presentations=50)
    for i in range(3):
        w.append(np.full((50, 16), float(i), dtype=np.float32))
    print("written", flush=True)
    if sys.argv[2] == "exit":
        import os; os._exit(0)
    time.sleep(60)
    """
)


@pytest.mark.parametrize("how", ["exit", "sigkill"])
def test_writer_killed_mid_write(tmp_path, how):
    path = tmp_path / "killed.h5"
    proc = subprocess.Popen([sys.executable, "-c", KILLED_WRITER, str(path), how], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "written"
        if how == "sigkill":
            os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    partial = tmp_path / "killed.h5.partial"
    assert not path.exists() and partial.exists()
    with pytest.raises(FileNotFoundError, match=r"incomplete one at .*killed\.h5\.partial"):
        load_recording(path)
    with pytest.raises(RecordingIncompleteError, match=r"killed\.h5\.partial' is an incomplete recording"):
        load_recording(partial)
    # renamed to look finished, the file still says it is incomplete (complete=0)
    renamed = tmp_path / "renamed.h5"
    partial.rename(renamed)
    with pytest.raises(RecordingIncompleteError, match="complete=0"):
        load_recording(renamed)
    # the batches written before the kill are on disk
    with h5py.File(renamed) as f:
        np.testing.assert_array_equal(f["activity"][:150, 0], np.repeat([0.0, 1.0, 2.0], 50))
