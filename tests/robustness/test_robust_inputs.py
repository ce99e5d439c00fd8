"""Untrusted and badly typed inputs: malicious checkpoints, configs with wrong types or path tricks, and
property-based tests (hypothesis) of the recording reader and of the analysis functions' documented invariants."""

from __future__ import annotations

import pathlib
import pickle

import numpy as np
import pytest
import xarray as xr
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ensembles.record import load_recording, make_recording, save_recording

torch = pytest.importorskip("torch")


class _Evil:
    """Unpickling this object would create a marker file (a stand-in for arbitrary code execution)."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (pathlib.Path.touch, (pathlib.Path(self.marker),))


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    """A tiny finished training run (bp, digits, quick scale, 2 epochs)."""
    from ensembles.train import make_config, train_run

    out = tmp_path_factory.mktemp("run") / "bp"
    cfg = make_config(model="bp", dataset="digits", scale="quick", seed=0,
                      **{"train.epochs": 2, "train.threads": 1, "network.hidden": [16, 16, 16]})
    train_run(cfg, out, progress=False)
    return out


def test_malicious_model_checkpoint_is_never_unpickled(finished_run, tmp_path):
    import shutil

    from ensembles.train.run import load_model

    run = tmp_path / "run"
    shutil.copytree(finished_run, run)
    marker = tmp_path / "PWNED"
    torch.save({"state_dict": _Evil(str(marker))}, run / "checkpoints" / "model.pt")
    with pytest.raises((pickle.UnpicklingError, ValueError)):
        load_model(run)
    assert not marker.exists()


def test_malicious_resume_checkpoint_is_never_unpickled(tmp_path):
    from ensembles.train import make_config, train_run

    cfg = make_config(model="bp", dataset="digits", scale="quick", seed=0,
                      **{"train.epochs": 2, "train.threads": 1, "network.hidden": [16, 16, 16]})
    run = tmp_path / "run"
    (run / "checkpoints").mkdir(parents=True)
    (run / "config.toml").write_text(cfg.to_toml())
    marker = tmp_path / "PWNED"
    torch.save({"epoch": 1, "model": _Evil(str(marker))}, run / "checkpoints" / "resume.pt")
    with pytest.raises((pickle.UnpicklingError, ValueError)):
        train_run(cfg, run, resume=True, progress=False)
    assert not marker.exists()
    assert not (run / "DONE").exists()


def test_malicious_checkpoint_error_is_clear(finished_run, tmp_path):
    import shutil

    from ensembles.train.run import load_model

    run = tmp_path / "run"
    shutil.copytree(finished_run, run)
    torch.save({"state_dict": _Evil(str(tmp_path / "PWNED"))}, run / "checkpoints" / "model.pt")
    with pytest.raises(ValueError, match="model.pt"):
        load_model(run)


@pytest.mark.parametrize("cfg, match", [
    ({"train": {"lr": "fast"}}, "train.lr"),
    ({"train": {"epochs": True}}, "train.epochs"),
    ({"train": {"epochs": 2.5}}, "train.epochs"),
    ({"seed": "zero"}, "seed"),
    ({"network": {"hidden": "1000"}}, "network.hidden"),
    ({"network": {"hidden": [1000, -1]}}, "network.hidden"),
    ({"data": "mnist"}, "section 'data' must be a table"),
    ({"data": {"held_out": 3}}, "data.held_out"),
    ({"ff": {"threshold": float("nan")}}, "ff.threshold"),
    ({"record": {"enabled": "yes"}}, "record.enabled"),
    ({"train": {"learning_rate": 0.1}}, "Unknown config key 'train.learning_rate'"),
])
def test_configs_with_wrong_types_name_the_key(cfg, match):
    from ensembles.train import load_config

    with pytest.raises(ValueError, match=match):
        load_config(cfg)


@pytest.mark.parametrize("cfg, match", [
    # no config key can choose where outputs go: the run directory is given on the command line only
    ({"record": {"path": "../../elsewhere.h5"}}, "Unknown config key 'record.path'"),
    ({"out": "/tmp/x"}, "Unknown config key 'out'"),
    ({"train": {"checkpoint_dir": "/tmp"}}, "Unknown config key 'train.checkpoint_dir'"),
])
def test_configs_cannot_choose_output_paths(cfg, match):
    from ensembles.train import load_config

    with pytest.raises(ValueError, match=match):
        load_config(cfg)


@pytest.mark.parametrize("name", ["../../etc/passwd", "/etc/passwd", "mnist/../../x", "~/data"])
def test_dataset_names_are_not_paths(name):
    from ensembles.data import load_dataset

    with pytest.raises(ValueError, match="Unknown dataset"):
        load_dataset(name)


def test_sweep_outputs_stay_inside_the_sweep_directory(tmp_path):
    """Run directory names are built from sanitised grid values, so a hostile value cannot escape runs/."""
    from ensembles.sweep import expand_sweep, parse_sweep

    def make(**kw):
        return dict(kw)

    spec = parse_sweep({"base": {"model": "../../../etc", "dataset": "/abs/path"}, "grid": {"seed": [0]}})
    (run,) = expand_sweep(spec, make_config=make)
    assert "/" not in run.dirname and ".." not in run.dirname and not run.dirname.startswith(".")
    target = (tmp_path / "runs" / run.dirname).resolve()
    assert target.parent == (tmp_path / "runs").resolve()


# ---------------------------------------------------------------------------------------------- property-based


@st.composite
def recordings(draw):
    n = draw(st.integers(2, 30))
    layers = draw(st.lists(st.integers(1, 6), min_size=1, max_size=3))
    n_ckpt = draw(st.sampled_from([None, 1, 2]))
    width = sum(layers)
    shape = (n, width) if n_ckpt is None else (n_ckpt, n, width)
    values = draw(st.lists(st.floats(0, 1e6, allow_nan=False, width=32), min_size=1, max_size=8))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    act = rng.choice(np.asarray(values, dtype=np.float32), size=shape)
    labels = rng.integers(0, 4, n)
    ids = draw(st.lists(st.text("abcXYZ/-_.0123456789é", min_size=1, max_size=12), min_size=n, max_size=n,
                        unique=True))
    pres = {"stimulus_id": ids, "label": labels, "label_name": [f"c{lab}" for lab in labels],
            "split": rng.choice(["train", "test"], n).tolist()}
    epochs = None if n_ckpt is None else sorted(rng.choice(100, n_ckpt, replace=False).tolist())
    if n_ckpt is not None:
        pres["predicted"] = rng.integers(0, 4, (n_ckpt, n))
    attrs = {"model": draw(st.sampled_from(["ff", "bp_ff", "bp"])), "dataset": "synthetic",
             "seed": draw(st.integers(-1, 10**6)), "config": {"x": draw(st.integers())}, "site": "post-relu"}
    return make_recording(act, presentation=pres, layer_sizes=layers, epochs=epochs, attrs=attrs)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rec=recordings())
def test_recording_round_trip(rec, tmp_path):
    path = tmp_path / "r.h5"
    save_recording(rec, path)
    back = load_recording(path)
    xr.testing.assert_identical(back, rec)
    lazy = load_recording(path, chunks="auto")
    np.testing.assert_array_equal(lazy["activity"].values, rec["activity"].values)


vectors = st.lists(st.floats(0, 1e3, allow_nan=False, allow_subnormal=False), min_size=2, max_size=40)


@settings(max_examples=60, deadline=None)
@given(x=vectors, scale=st.floats(1e-3, 1e3), perm_seed=st.integers(0, 1000))
def test_hoyer_invariants(x, scale, perm_seed):
    """Hoyer (2004): H in [0, 1]; H(c x) = H(x) for c > 0; invariant to permuting neuroids; NaN iff silent."""
    from ensembles.analysis.sparsity import hoyer_sparseness

    a = np.asarray(x, dtype=np.float64)[None, :]
    h = float(np.asarray(hoyer_sparseness(a))[0])
    if not np.any(a):
        assert np.isnan(h)
        return
    assert -1e-9 <= h <= 1 + 1e-9
    hs = float(np.asarray(hoyer_sparseness(a * scale))[0])
    perm = np.random.default_rng(perm_seed).permutation(a.shape[1])
    hp = float(np.asarray(hoyer_sparseness(a[:, perm]))[0])
    np.testing.assert_allclose([hs, hp], h, rtol=1e-6, atol=1e-9)


@settings(max_examples=40, deadline=None)
@given(n=st.integers(2, 50), k=st.integers(0, 49), value=st.floats(1e-3, 1e3))
def test_hoyer_extremes(n, k, value):
    """One active unit gives 1 and equal non-zero activity gives 0 (Hoyer 2004; docs/methods.md §A1.3)."""
    from ensembles.analysis.sparsity import hoyer_sparseness

    one = np.zeros((1, n))
    one[0, k % n] = value
    flat = np.full((1, n), value)
    np.testing.assert_allclose(np.asarray(hoyer_sparseness(one)), [1.0], atol=1e-9)
    np.testing.assert_allclose(np.asarray(hoyer_sparseness(flat)), [0.0], atol=1e-9)


@st.composite
def matrices(draw):
    n_rows, n_cols = draw(st.integers(2, 6)), draw(st.integers(2, 30))
    cell = st.floats(0, 1e3, allow_nan=False, allow_subnormal=False)
    return [draw(st.lists(cell, min_size=n_cols, max_size=n_cols)) for _ in range(n_rows)]


@settings(max_examples=40, deadline=None)
@given(x=matrices())
def test_population_sparseness_dask_equals_numpy(x):
    """The dask path (running sums) gives the numpy result for every population measure that supports it."""
    import dask.array as da

    from ensembles.analysis.sparsity import hoyer_sparseness, vinje_gallant_sparseness

    a = np.asarray(x, dtype=np.float64)
    lazy = da.from_array(a, chunks=(1, max(1, a.shape[1] // 2)))
    np.testing.assert_allclose(np.asarray(hoyer_sparseness(lazy)), np.asarray(hoyer_sparseness(a)), equal_nan=True,
                               rtol=1e-9, atol=1e-12)
    vg_np = np.asarray(vinje_gallant_sparseness(a.T))
    vg_da = np.asarray(vinje_gallant_sparseness(lazy.T))
    np.testing.assert_allclose(vg_da, vg_np, equal_nan=True, rtol=1e-9, atol=1e-12)
    finite = vg_np[np.isfinite(vg_np)]
    assert np.all((finite >= -1e-9) & (finite <= 1 + 1e-9))
