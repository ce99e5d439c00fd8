"""make_recording, validate_recording, select_layer, combine_recordings (in memory)."""

from __future__ import annotations

import datetime as dt
import json

import dask.array as da
import numpy as np
import pytest
import xarray as xr

import ensembles
from ensembles import conventions as C
from ensembles.record import (
    SCHEMA_VERSION,
    RecordingError,
    combine_recordings,
    example_recording,
    make_recording,
    select_layer,
    select_presentations,
    validate_recording,
)

ATTRS = {"model": "ff", "dataset": "digits", "seed": 3, "config": {"lr": 0.01, "epochs": 2}, "site": "post-relu"}


def _presentation(n):
    return {
        "stimulus_id": [f"digits/test/{i:05d}" for i in range(n)],
        "label": np.arange(n) % 2,
        "label_name": ["even" if i % 2 == 0 else "odd" for i in range(n)],
        "split": ["test"] * n,
    }


def test_make_recording_builds_coords_and_attrs(rng):
    act = rng.random((4, 5))
    rec = make_recording(act, presentation=_presentation(4), layer_sizes=[3, 2], attrs=ATTRS)
    assert rec["activity"].dims == ("presentation", "neuroid")
    assert rec["activity"].dtype == np.float32
    np.testing.assert_array_equal(rec["activity"].values, act.astype(np.float32))
    # layers of different widths side by side; ids from conventions.neuroid_id (hand-written reference)
    assert list(rec["neuroid_id"].values) == ["layer1.0000", "layer1.0001", "layer1.0002", "layer2.0000", "layer2.0001"]
    assert list(rec["layer"].values) == [1, 1, 1, 2, 2]
    assert list(rec["unit"].values) == [0, 1, 2, 0, 1]
    for name, kind in {**C.PRESENTATION_COORDS_REQUIRED, **C.NEUROID_COORDS_REQUIRED}.items():
        assert rec[name].dtype.kind == kind, name
    assert rec.attrs["schema_version"] == SCHEMA_VERSION
    assert rec.attrs["package_version"] == ensembles.__version__
    created = dt.datetime.fromisoformat(rec.attrs["created"].replace("Z", "+00:00"))
    assert created.tzinfo is not None and abs((dt.datetime.now(dt.timezone.utc) - created).total_seconds()) < 60
    assert rec.attrs["config"] == '{"epochs": 2, "lr": 0.01}'  # JSON, sorted keys
    assert json.loads(rec.attrs["config"]) == ATTRS["config"]
    assert rec.attrs["seed"] == 3


def test_make_recording_checkpoints_and_per_checkpoint_coords(rng):
    act = rng.random((2, 4, 3)).astype(np.float32)
    pred = np.array([[0, 1, 1, 1], [0, 1, 0, 1]])
    pres = {**_presentation(4), "predicted": pred, "correct": pred == np.arange(4) % 2}
    rec = make_recording(act, presentation=pres, layer_sizes=[3], epochs=[1, 5], attrs=ATTRS)
    assert rec["activity"].dims == ("checkpoint", "presentation", "neuroid")
    assert list(rec["epoch"].values) == [1, 5]
    assert rec["predicted"].dims == ("checkpoint", "presentation")
    assert rec["correct"].dtype == bool
    assert rec["correct"].values.tolist() == [[True, True, False, True], [True, True, True, True]]
    # selecting one checkpoint still gives a valid recording (scalar epoch coord)
    validate_recording(rec.isel(checkpoint=1))


def test_make_recording_keeps_dask_lazy():
    act = da.ones((6, 4), chunks=(3, 4), dtype=np.float64)
    rec = make_recording(act, presentation=_presentation(6), layer_sizes=[4], attrs=ATTRS)
    assert isinstance(rec["activity"].data, da.Array)
    assert rec["activity"].dtype == np.float32


def test_make_recording_explicit_neuroid_coords():
    neuroid = {"neuroid_id": ["V1.a", "V1.b", "V4.c"], "layer": [1, 1, 2], "unit": [0, 1, 0], "area": ["V1", "V1", "V4"]}
    rec = make_recording(np.zeros((2, 3)), presentation=_presentation(2), neuroid=neuroid, attrs=ATTRS)
    assert list(rec["area"].values) == ["V1", "V1", "V4"]


@pytest.mark.parametrize(
    ("kwargs", "exc", "match"),
    [
        ({"activity": np.zeros(4)}, ValueError, r"must be 2-D \(presentation, neuroid\) or 3-D"),
        ({"layer_sizes": [3, 3]}, ValueError, r"'layer_sizes' parameter must sum to the number of neuroids \(5"),
        ({"layer_sizes": [5, 0]}, ValueError, "positive ints"),
        ({"layer_sizes": None}, ValueError, "Give the neuroid coords"),
        ({"activity": np.zeros((2, 4, 5))}, ValueError, "'epochs' parameter is required for 3-D"),
        ({"epochs": [1]}, ValueError, "'epochs' parameter is only for activity with a leading checkpoint dim"),
        ({"activity": np.zeros((2, 4, 5)), "epochs": [1, 2, 3]}, ValueError, r"one entry per checkpoint \(2\)"),
        ({"presentation": {**_presentation(4), "label": [0, 1]}}, ValueError, r"coord 'label' must have shape \(4,\)"),
        ({"presentation": [1, 2]}, TypeError, "'presentation' parameter must be a dict"),
        ({"activity": np.array([["a"] * 5] * 4)}, TypeError, "'activity' parameter must be a numeric array"),
        ({"neuroid": {"layer": [1] * 5}}, ValueError, "built from 'layer_sizes'"),
        ({"attrs": {**ATTRS, "schema_version": "0.9"}}, ValueError, "leave schema_version out"),
    ],
)
def test_make_recording_bad_input(kwargs, exc, match):
    args = {"activity": np.zeros((4, 5)), "presentation": _presentation(4), "layer_sizes": [3, 2], "attrs": ATTRS}
    args.update(kwargs)
    activity = args.pop("activity")
    with pytest.raises(exc, match=match):
        make_recording(activity, **args)


# --------------------------------------------------------------------------------------------------------------
# validate_recording: every bad input gets a row (rec -> broken rec, expected fragment of the message)


def _bad(mutate):
    rec = example_recording(n_presentations=6, layer_sizes=(3, 2))
    return mutate(rec.copy(deep=True))


def _set_attr(key, value):
    def f(rec):
        rec.attrs[key] = value
        return rec

    return f


BAD = {
    "transposed activity": (lambda r: r.transpose("neuroid", "presentation"), r"'activity' must have dims"),
    "extra activity dim": (
        lambda r: r.assign(activity=r["activity"].expand_dims(time_bin=2).copy()),
        r"'activity' must have dims",
    ),
    "float64 activity": (lambda r: r.assign(activity=r["activity"].astype("f8")), "dtype float32; got float64"),
    "no activity": (lambda r: r.rename_vars(activity="rates"), "missing data variable 'activity'"),
    "missing label coord": (lambda r: r.drop_vars("label"), "missing presentation coord 'label'"),
    "missing neuroid_id": (lambda r: r.drop_vars("neuroid_id"), "missing neuroid coord 'neuroid_id'"),
    "NaN in a coord": (
        lambda r: r.assign_coords(label=("presentation", np.r_[np.nan, np.arange(5.0)])),
        r"coord 'label' contains NaN/missing values \(1 of 6\)",
    ),
    "NaN in an extra coord": (
        lambda r: r.assign_coords(contrast=("presentation", np.r_[0.5, np.nan, 1, 1, 1, 1])),
        "coord 'contrast' contains NaN",
    ),
    "float label": (lambda r: r.assign_coords(label=r["label"].astype(float)), "'label' must hold signed integers"),
    "object strings": (
        lambda r: r.assign_coords(stimulus_id=r["stimulus_id"].astype(object)),
        r"'stimulus_id' must hold unicode strings.*got dtype object",
    ),
    "int correct": (lambda r: r.assign_coords(correct=r["correct"].astype(int)), "'correct' must hold booleans"),
    "duplicate neuroid_id": (
        lambda r: r.assign_coords(neuroid_id=("neuroid", np.array(["a", "a", "b", "c", "c"]))),
        r"'neuroid_id' must be unique; 2 duplicated, e.g. \['a', 'c'\]",
    ),
    "layer 0": (lambda r: r.assign_coords(layer=r["layer"] - 1), "'layer' is 1-based"),
    "coord on wrong dim": (
        lambda r: r.assign_coords(layer=("presentation", np.ones(6, dtype=int))),
        r"neuroid coord 'layer' must have dims \('neuroid',\)",
    ),
    "missing epoch": (
        lambda r: xr.concat([r, r], dim="checkpoint"),
        "missing checkpoint coord 'epoch'",
    ),
    "dict attr": (_set_attr("extra", {"a": 1}), "attribute 'extra' has non-serialisable value .*dict.*JSON string"),
    "list attr": (_set_attr("layers", [1, 2]), "attribute 'layers' has non-serialisable value"),
    "None attr": (_set_attr("note", None), "attribute 'note' has non-serialisable value None"),
    "bool attr": (_set_attr("flag", True), "booleans are not netCDF-serialisable; store 0/1"),
    "numpy bool attr": (_set_attr("flag", np.True_), "booleans are not netCDF-serialisable"),
    "array attr": (_set_attr("w", np.arange(3)), "attribute 'w' has non-serialisable value"),
    "object attr": (_set_attr("obj", object()), "attribute 'obj' has non-serialisable value"),
    "variable attr": (
        lambda r: r.assign(activity=r["activity"].assign_attrs(units={"a": 1})),
        "variable 'activity' attribute 'units' has non-serialisable",
    ),
    "missing attrs": (lambda r: r.drop_attrs(), r"missing required attrs \['schema_version', 'model'"),
    "string seed": (_set_attr("seed", "3"), "attr 'seed' must be an integer"),
    "bad JSON config": (_set_attr("config", "{lr: 1"), "attr 'config' must be a JSON string"),
    "bad timestamp": (_set_attr("created", "yesterday"), "attr 'created' must be an ISO-8601 timestamp"),
    "future schema": (_set_attr("schema_version", "2.0"), "this version of ensembles reads schema"),
    "reserved complete": (_set_attr("complete", 1), "attribute 'complete' is reserved"),
}


@pytest.mark.parametrize("case", list(BAD))
def test_validate_rejects(case):
    mutate, match = BAD[case]
    rec = _bad(mutate)
    with pytest.raises(ValueError, match=match) as info:
        validate_recording(rec)
    assert isinstance(info.value, RecordingError)
    assert str(info.value).startswith("invalid recording (")


def test_validate_lists_every_problem_in_one_error():
    rec = example_recording(n_presentations=6, layer_sizes=(3, 2)).drop_vars(["label", "unit"])
    rec = rec.assign(activity=rec["activity"].astype("f8"))
    rec.attrs["extra"] = {"a": 1}
    del rec.attrs["site"]
    with pytest.raises(ValueError) as info:
        validate_recording(rec)
    msg = str(info.value)
    assert msg.startswith("invalid recording (5 problems):")
    for fragment in ("'label'", "'unit'", "float64", "'extra'", "'site'"):
        assert fragment in msg


def test_validate_allows_nan_activity_and_returns_input():
    rec = example_recording(n_presentations=6, layer_sizes=(3,))
    rec["activity"][0, 0] = np.nan
    assert validate_recording(rec) is rec


def test_validate_type_error_for_dataarray():
    rec = example_recording(n_presentations=6, layer_sizes=(3,))
    with pytest.raises(TypeError, match=r"got DataArray \(a DataArray: wrap it with .to_dataset\(name='activity'\)\)"):
        validate_recording(rec["activity"])


def test_validate_does_not_compute_dask_activity():
    def boom(block):
        raise AssertionError("activity was computed")

    rec = example_recording(n_presentations=6, layer_sizes=(3,))
    lazy = da.zeros((6, 3), chunks=3, dtype=np.float32).map_blocks(boom, dtype=np.float32)
    validate_recording(rec.assign(activity=(rec["activity"].dims, lazy)))


# --------------------------------------------------------------------------------------------------------------
# select_layer


def test_select_layer():
    rec = example_recording(n_presentations=5, layer_sizes=(3, 2, 4))
    one = select_layer(rec, 2)
    assert list(one["neuroid_id"].values) == ["layer2.0000", "layer2.0001"]
    np.testing.assert_array_equal(one["activity"].values, rec["activity"].values[:, 3:5])
    validate_recording(one)
    two = select_layer(rec["activity"], [3, 1])  # DataArray, original order kept
    assert list(np.unique(two["layer"].values)) == [1, 3] and two.sizes["neuroid"] == 7
    assert list(two["layer"].values[:3]) == [1, 1, 1]
    lazy = select_layer(rec.chunk({"presentation": 2}), 1)
    assert isinstance(lazy["activity"].data, da.Array)


@pytest.mark.parametrize(
    ("layer", "exc", "match"),
    [
        (4, ValueError, r"layer\(s\) \[4\] which are not in the recording; available layers: \[1, 2\]"),
        ([1, 7], ValueError, r"\[7\].*available layers: \[1, 2\]"),
        ("1", TypeError, "must be an int or a non-empty sequence of ints"),
        ([], TypeError, "must be an int or a non-empty sequence of ints"),
        (True, TypeError, "must be an int"),
    ],
)
def test_select_layer_errors(layer, exc, match):
    rec = example_recording(n_presentations=5, layer_sizes=(3, 2))
    with pytest.raises(exc, match=match):
        select_layer(rec, layer)


# --------------------------------------------------------------------------------------------------------------
# select_presentations


def test_select_presentations_checkpoint_then_correct():
    """Per-checkpoint 'correct' (checkpoint, presentation): the checkpoint is selected first, then the presentations
    correct at that checkpoint (reference: boolean indexing with numpy on the same arrays)."""
    rec = example_recording(n_presentations=40, layer_sizes=(3, 2), epochs=[1, 2, 5], seed=4)
    corr = rec["correct"].values  # (3, 40), about 80% true, differing between checkpoints
    assert corr.shape == (3, 40) and not np.array_equal(corr[0], corr[2])
    out = select_presentations(rec)  # last checkpoint, correct only
    assert "checkpoint" not in out.dims and int(out["epoch"]) == 5
    np.testing.assert_array_equal(out["activity"].values, rec["activity"].values[2][corr[2]])
    np.testing.assert_array_equal(out["stimulus_id"].values, rec["stimulus_id"].values[corr[2]])
    assert out["correct"].values.all()
    first = select_presentations(rec["activity"], checkpoint=0)  # DataArray in, DataArray out
    assert isinstance(first, xr.DataArray) and int(first["epoch"]) == 1
    np.testing.assert_array_equal(first.values, rec["activity"].values[0][corr[0]])
    assert select_presentations(rec, checkpoint=-2).sizes["presentation"] == corr[1].sum()
    everything = select_presentations(rec, correct_only=False, checkpoint=1)
    np.testing.assert_array_equal(everything["activity"].values, rec["activity"].values[1])
    for keep in (None, "all"):
        kept = select_presentations(rec, correct_only=False, checkpoint=keep)
        xr.testing.assert_identical(kept, rec)
    lazy = select_presentations(rec.chunk({"presentation": 8}))
    assert isinstance(lazy["activity"].data, da.Array)
    np.testing.assert_array_equal(lazy["activity"].values, out["activity"].values)


def test_select_presentations_without_checkpoint_dim_and_held_out():
    rec = example_recording(n_presentations=30, layer_sizes=(3,), seed=2)
    corr = rec["correct"].values
    out = select_presentations(rec)
    np.testing.assert_array_equal(out["activity"].values, rec["activity"].values[corr])
    assert select_presentations(rec, checkpoint=None).sizes == out.sizes
    # no 'correct' coord (a neural recording): nothing to filter
    neural = rec.drop_vars(["correct", "predicted"])
    xr.testing.assert_identical(select_presentations(neural), neural)
    # a held-out class is never correct: its presentations are kept (docs/methods.md §A3.6 step 5) unless asked not to
    held = (rec["label"].values == 2)
    zs = rec.assign_coords(held_out=("presentation", held), correct=("presentation", corr & ~held))
    np.testing.assert_array_equal(select_presentations(zs)["stimulus_id"].values,
                                  rec["stimulus_id"].values[(corr & ~held) | held])
    np.testing.assert_array_equal(select_presentations(zs, keep_held_out=False)["stimulus_id"].values,
                                  rec["stimulus_id"].values[corr & ~held])


@pytest.mark.parametrize(
    ("kwargs", "exc", "match"),
    [
        (dict(checkpoint=3), ValueError, r"'checkpoint' parameter is 3, but the recording has 3 checkpoint\(s\) "
                                         r"\(epochs \[1, 2, 5\]\); expected a position in \[-3, 2\]"),
        (dict(checkpoint=-4), ValueError, r"'checkpoint' parameter is -4"),
        (dict(checkpoint="last"), TypeError, "'checkpoint' parameter must be an int .*, None or 'all'"),
        (dict(checkpoint=True), TypeError, "'checkpoint' parameter must be an int"),
        (dict(checkpoint=1.0), TypeError, "'checkpoint' parameter must be an int"),
        (dict(checkpoint=None), ValueError, r"'correct' coord has dims \('checkpoint', 'presentation'\).*"
                                            "Select one checkpoint"),
        (dict(correct_only="yes"), TypeError, "'correct_only' parameter must be a bool"),
    ],
)
def test_select_presentations_errors(kwargs, exc, match):
    rec = example_recording(n_presentations=6, layer_sizes=(3,), epochs=[1, 2, 5])
    with pytest.raises(exc, match=match):
        select_presentations(rec, **kwargs)


def test_select_presentations_no_correct_presentation_and_bad_input():
    rec = example_recording(n_presentations=6, layer_sizes=(3,), epochs=[1, 2])
    wrong = rec.assign_coords(correct=(("checkpoint", "presentation"), np.zeros((2, 6), bool)))
    with pytest.raises(ValueError, match=r"no correctly classified presentation at checkpoint -1 \(0 of 6\).*"
                                         "correct_only=False"):
        select_presentations(wrong)
    assert select_presentations(wrong, correct_only=False).sizes["presentation"] == 6
    flat = example_recording(n_presentations=6, layer_sizes=(3,))
    with pytest.raises(ValueError, match="has no 'checkpoint' dim"):
        select_presentations(flat, checkpoint=2)
    with pytest.raises(TypeError, match="'rec' parameter must be a recording"):
        select_presentations(np.zeros((3, 2)))
    assert ensembles.select_presentations is select_presentations  # lazy top-level export


# --------------------------------------------------------------------------------------------------------------
# combine_recordings


def test_combine_recordings_stacks_runs():
    a = example_recording(n_presentations=8, layer_sizes=(3, 2), seed=0, model="ff")
    b = example_recording(n_presentations=8, layer_sizes=(3, 2), seed=1, model="bp")
    b.attrs["created"] = a.attrs["created"]
    out = combine_recordings([a, b], coords={"tag": ["x", "y"]})
    assert out["activity"].dims == ("run", "presentation", "neuroid")
    np.testing.assert_array_equal(out["activity"].values[1], b["activity"].values)
    # shared coords stay shared; differing per-presentation coords get the run dim
    assert out["label"].dims == ("presentation",)
    assert out["predicted"].dims == ("run", "presentation")
    np.testing.assert_array_equal(out["predicted"].values[0], a["predicted"].values)
    # differing attrs become run coords; shared attrs stay attrs
    assert list(out["model"].values) == ["ff", "bp"] and list(out["seed"].values) == [0, 1]
    assert list(out["tag"].values) == ["x", "y"]
    assert "model" not in out.attrs and out.attrs["created"] == a.attrs["created"] and out.attrs["site"] == "post-relu"
    back = out.isel(run=1)
    np.testing.assert_array_equal(back["activity"].values, b["activity"].values)


def test_combine_recordings_with_checkpoints_and_dask():
    a = example_recording(n_presentations=6, layer_sizes=(4,), epochs=[1, 2], seed=0)
    b = example_recording(n_presentations=6, layer_sizes=(4,), epochs=[1, 2], seed=5).chunk({"presentation": 3})
    out = combine_recordings([a, b], dim="seed_run")
    assert out["activity"].dims == ("seed_run", "checkpoint", "presentation", "neuroid")
    assert isinstance(out["activity"].data, da.Array)
    np.testing.assert_array_equal(out["activity"].values[1], b["activity"].values)


def test_combine_recordings_errors():
    a = example_recording(n_presentations=6, layer_sizes=(3, 2))
    with pytest.raises(ValueError, match=r"different neuroids \('neuroid_id' differs\).*different architectures"):
        combine_recordings([a, a.assign_coords(neuroid_id=("neuroid", np.array(list("abcde"))))])
    with pytest.raises(ValueError, match=r"recs\[1\] has dims"):
        combine_recordings([a, example_recording(n_presentations=6, layer_sizes=(3, 3))])
    other = a.assign_coords(stimulus_id=("presentation", a["stimulus_id"].values[::-1]))
    with pytest.raises(ValueError, match=r"different presentations \('stimulus_id' differs\)"):
        combine_recordings([a, other])
    with pytest.raises(ValueError, match=r"recs\[1\] is not a valid recording"):
        combine_recordings([a, a.drop_vars("label")])
    with pytest.raises(ValueError, match="at least one recording"):
        combine_recordings([])
    with pytest.raises(ValueError, match="'dim' parameter must be a new dim name"):
        combine_recordings([a, a], dim="neuroid")
    with pytest.raises(ValueError, match=r"one value per recording \(2\)"):
        combine_recordings([a, a], coords={"tag": ["x"]})
