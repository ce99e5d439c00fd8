"""Mutated recording files (hypothesis): every mutation -- a flipped bit, overwritten bytes, a truncation, or an edit
with h5py (a shortened, changed, retyped or deleted coord, a deleted or changed attribute) -- ends in
RecordingError or in exactly the original recording; never an unhandled exception, never a silent change
(issue #11, item 6 and "integrity of everything we read back")."""

from __future__ import annotations

import shutil
import tempfile
import warnings
from pathlib import Path

import h5py
import numpy as np
import pytest
import xarray as xr
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ensembles.record import (
    RecordingError,
    RecordingWriter,
    load_recording,
    recording_info,
    save_recording,
    validate_recording,
)

from ._helpers import small_recording


def _write_streamed(rec, path, level):
    pres = {k: rec[k].values for k in ("stimulus_id", "label", "label_name", "split")}
    attrs = {k: rec.attrs[k] for k in ("model", "dataset", "seed", "config", "site")}
    epochs = [int(e) for e in rec["epoch"].values]
    with RecordingWriter(path, presentation=pres, layer_sizes=[6, 4], epochs=epochs, attrs=attrs,
                         compression_level=level) as w:
        for k in range(len(epochs)):
            w.append(rec["activity"].values[k], checkpoint=k)
            w.set_presentation_coord("predicted", rec["predicted"].values[k], checkpoint=k)
    return load_recording(path)  # the writer stamps its own 'created'


@pytest.fixture(scope="module")
def originals(tmp_path_factory):
    """Four files: saved and streamed, zlib-compressed and uncompressed; with their in-memory recordings."""
    rng = np.random.default_rng(11)
    d = tmp_path_factory.mktemp("fuzz")
    out = {}
    flat = small_recording(rng, n=120)
    for level in (1, 0):
        path = d / f"saved{level}.h5"
        save_recording(flat, path, compression_level=level)
        out[f"saved{level}"] = (path, flat)
    ck = small_recording(rng, n=120, epochs=[3, 7])
    ck = ck.assign_coords(predicted=(("checkpoint", "presentation"), rng.integers(0, 3, (2, 120))))
    for level in (1, 0):
        path = d / f"streamed{level}.h5"
        out[f"streamed{level}"] = (path, _write_streamed(ck, path, level))
    return out


def _replace(f, name, transform):
    """Rewrite the dataset ``name`` with ``transform(values)``, keeping its attributes and dimension scales (what an
    edit with h5py looks like)."""
    d = f[name]
    attrs = {k: v for k, v in d.attrs.items() if k not in ("DIMENSION_LIST", "REFERENCE_LIST")}
    scales = [d.dims[i][0] for i in range(d.ndim)]
    data = transform(d[...])
    del f[name]
    new = f.create_dataset(name, data=data, dtype=data.dtype)
    for k, v in attrs.items():
        new.attrs[k] = v
    for i, s in enumerate(scales):
        new.dims[i].attach_scale(s)


def _shorten(f, name):
    _replace(f, name, lambda v: v[..., :-1])


def _retype(f, name):
    _replace(f, name, lambda v: v.astype(np.float64) if v.dtype.kind in "iu" else v.astype("S"))


def _change(f, name):
    d = f[name]
    v = d[(0,) * d.ndim]
    if isinstance(v, bytes):
        d[(0,) * d.ndim] = v + b"x"
    else:
        d[(0,) * d.ndim] = v + 1


COORDS = ["stimulus_id", "label", "label_name", "split", "neuroid_id", "layer", "unit"]
ATTRS = ["model", "dataset", "seed", "config", "site", "created", "schema_version", "complete", "metadata_sha256"]


def _h5_edit(path: Path, op: str, target: str) -> None:
    with h5py.File(path, "a") as f:
        if op == "shorten":
            _shorten(f, target)
        elif op == "retype":
            _retype(f, target)
        elif op == "change":
            _change(f, target)
        elif op == "delete_var":
            del f[target]
        elif op == "delete_attr":
            if target in f.attrs:
                del f.attrs[target]
        elif op == "set_attr":
            f.attrs[target] = "edited"


mutations = st.one_of(
    st.tuples(st.just("flip"), st.floats(0, 1, exclude_max=True), st.integers(0, 7)),
    st.tuples(st.just("overwrite"), st.floats(0, 1, exclude_max=True), st.binary(min_size=1, max_size=64)),
    st.tuples(st.just("truncate"), st.floats(0, 1, exclude_max=True), st.just(0)),
    st.tuples(st.sampled_from(["shorten", "retype", "change", "delete_var"]), st.sampled_from(COORDS), st.just(0)),
    st.tuples(st.sampled_from(["delete_attr", "set_attr"]), st.sampled_from(ATTRS), st.just(0)),
)


def _mutate(src: Path, dst: Path, mutation) -> None:
    kind, a, b = mutation
    shutil.copy(src, dst)
    if kind in ("flip", "overwrite", "truncate"):
        data = bytearray(src.read_bytes())
        pos = int(a * len(data))
        if kind == "flip":
            data[pos] ^= 1 << b
        elif kind == "overwrite":
            data[pos:pos + len(b)] = b
            data = data[:len(src.read_bytes())]
        else:
            data = data[:pos]
        dst.write_bytes(bytes(data))
    else:
        _h5_edit(dst, kind, a)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(which=st.sampled_from(["saved1", "saved0", "streamed1", "streamed0"]), mutation=mutations)
def test_mutated_files_never_load_silently_changed(originals, which, mutation):
    src, original = originals[which]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "mutated.h5"
        try:
            _mutate(src, path, mutation)
        except (OSError, KeyError, ValueError, TypeError, RuntimeError):
            return  # h5py could not apply the edit to this file (e.g. a damaged copy): nothing to test
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                loaded = load_recording(path)
            except RecordingError as err:
                assert "mutated.h5" in str(err)
            else:
                xr.testing.assert_identical(loaded, original)
                validate_recording(loaded)
            try:
                info = recording_info(path)
            except RecordingError:
                pass
            else:
                assert isinstance(info["problems"], list)


def test_a_coord_shorter_than_its_dim_is_refused(originals, tmp_path):
    """`label` edited with h5py to 119 values on a dim of 120 used to load, validate and read back with an invented
    0 (the analysis then counted a class with one presentation too many while `inspect` counted correctly)."""
    src, _ = originals["saved1"]
    path = tmp_path / "short.h5"
    shutil.copy(src, path)
    with h5py.File(path, "a") as f:
        _shorten(f, "label")
    with pytest.raises(RecordingError, match=r"variable 'label' has 119 values along dim 'presentation', whose "
                                             r"length is 120"):
        load_recording(path)
    assert any("'label' has 119 values" in p for p in recording_info(path)["problems"])


def test_an_edited_label_or_attribute_is_refused(originals, tmp_path):
    """A flipped bit in an uncompressed coord (a label, a stimulus id) or in an attribute used to load as changed
    data; the stored checksum of coords and attributes turns it into an error."""
    src, original = originals["saved1"]
    for op, target in (("change", "label"), ("change", "stimulus_id"), ("set_attr", "model")):
        path = tmp_path / f"{op}_{target}.h5"
        _mutate(src, path, (op, target, 0))
        # (an edited label may first be caught as a label that now shares its label_name with another)
        with pytest.raises(RecordingError, match=r"coords or attributes differ from those it was written with|"
                                                 r"must name one label each"):
            load_recording(path)
    # removing only the checksum gives back the recording as written (files of earlier versions have none)
    path = tmp_path / "nohash.h5"
    _mutate(src, path, ("delete_attr", "metadata_sha256", 0))
    xr.testing.assert_identical(load_recording(path), original)
