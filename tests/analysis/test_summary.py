"""summarize(rec): tidy table over models, runs, checkpoints, layers and classes."""

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from ensembles.analysis import selectivity as S
from ensembles.analysis import sparsity as SP
from ensembles.analysis.summary import MEASURE_GROUPS, summarize


def recording(rng, *, n=90, checkpoints=True, correct=True):
    lab = np.repeat(np.arange(3), n // 3)
    layer = np.repeat([1, 2], [6, 4])
    act = rng.exponential(size=(2, n, 10)).astype(np.float32)
    act[:, :, 0] = (lab == 1) * 2.0
    coords = {
        "label": ("presentation", lab),
        "stimulus_id": ("presentation", [f"s{i:03d}" for i in range(n)]),
        "layer": ("neuroid", layer),
        "neuroid_id": ("neuroid", [f"layer{v}.{i:04d}" for i, v in enumerate(layer)]),
        "epoch": ("checkpoint", [5, 10]),
    }
    if correct:
        coords["correct"] = (("checkpoint", "presentation"), np.stack([np.arange(n) % 2 == 0, np.arange(n) % 3 != 0]))
    rec = xr.Dataset(
        {"activity": (("checkpoint", "presentation", "neuroid"), act)},
        coords=coords,
        attrs={"model": "ff", "dataset": "synthetic", "seed": 3, "site": "post-relu"},
    )
    if not checkpoints:
        rec = rec.isel(checkpoint=-1, drop=True)
    return rec


def test_summarize_columns_and_values(rng):
    rec = recording(rng)
    df = summarize(rec, n_shuffles=10)
    assert isinstance(df, pd.DataFrame)
    assert {"model", "dataset", "seed", "layer", "class", "statistic", "value", "n"} <= set(df.columns)
    assert set(df["layer"]) == {1, 2} and set(df["epoch"]) == {10} and set(df["subset"]) == {"correct"}
    assert set(df["class"]) == {"all", 0, 1, 2}
    # the layer-1 mean Hoyer equals the direct computation on the correct presentations of the last checkpoint
    last = rec["activity"].isel(checkpoint=-1)
    keep = np.flatnonzero(rec["correct"].isel(checkpoint=-1).values)
    sub = last.isel(presentation=keep, neuroid=np.flatnonzero(rec["layer"].values == 1))
    want = SP.population_sparseness(sub.values, "hoyer").mean()
    got = df.query("layer == 1 and statistic == 'population_hoyer' and aggregate == 'mean' and `class` == 'all'")
    assert got["value"].item() == pytest.approx(want, rel=1e-6)
    assert got["n"].item() == len(keep)
    csi = np.asarray(S.class_selectivity_index(sub.values, rec["label"].values[keep], n_shuffles=0)["csi"])
    got = df.query("layer == 1 and statistic == 'csi' and aggregate == 'mean' and `class` == 'all'")["value"].item()
    assert got == pytest.approx(np.nanmean(csi), rel=1e-6)
    pref = df.query("layer == 1 and statistic == 'n_preferring'")
    assert pref["value"].sum() == 6


def test_summarize_all_presentations_checkpoints_runs(rng):
    rec = recording(rng)
    df_all = summarize(rec, correct_only=False, checkpoint="all", measures=["population"])
    assert set(df_all["subset"]) == {"all"} and set(df_all["epoch"]) == {5, 10}
    runs = xr.concat([rec, recording(rng)], dim="run").assign_coords(run=["a", "b"])
    df = summarize(runs, measures=["lifetime", "anova"], layers=[2])
    assert set(df["run"]) == {"a", "b"} and set(df["layer"]) == {2}
    neural = recording(rng, checkpoints=False, correct=False)
    df = summarize(neural["activity"].drop_vars("layer"), measures=["population", "csi"], n_shuffles=0)
    assert set(df["subset"]) == {"all"} and set(df["layer"]) == {"all"}
    assert len(MEASURE_GROUPS) == 11 and MEASURE_GROUPS[-1] == "units"
    # neural data (no labels, no layers): silent and responsive neuroids per group, the responsive one being the
    # preferred-condition rule over all presentations (one condition)
    x = neural["activity"].drop_vars(["layer", "label"]).copy()
    x[:, :3] = 0.0
    df = summarize(x, measures=["population", "units"], n_shuffles=0)
    got = df.set_index(["statistic", "aggregate"])["value"]
    assert got[("silent_neuroids", "count")] == 3 and got[("responsive_neuroids", "count")] == 7
    assert got[("population_hoyer_responsive", "mean")] != got[("population_hoyer", "mean")]


def test_summarize_errors(rng):
    rec = recording(rng)
    with pytest.raises(ValueError, match="'checkpoint' parameter"):
        summarize(rec, checkpoint=5)
    with pytest.raises(ValueError, match="'measures' parameter"):
        summarize(rec, measures=["sparsity"])
    with pytest.raises(ValueError, match="'layers' parameter"):
        summarize(rec, layers=[7])
    with pytest.raises(TypeError, match="'rec' parameter"):
        summarize(np.ones((3, 3)))
    bad = rec.assign_coords(correct=(("checkpoint", "presentation"), np.zeros((2, 90), bool)))
    with pytest.raises(ValueError, match="no correctly classified"):
        summarize(bad)
    with pytest.raises(ValueError, match="dim='neuroid' not found"):
        summarize(rec.rename(neuroid="unit"))


def test_ensemble_sizes_follow_the_authors_rule(rng):
    """Ensemble rows equal a direct computation of the leave-one-out rule (docs/methods.md §A3.4), per layer and
    class."""
    rec = recording(rng, checkpoints=False, correct=False)
    lab0 = rec["label"].values
    rec["activity"][:, 0] = np.where(lab0 == 1, 5.0, 0.0)  # neuroid 0 (layer 1) responds to class 1 only
    df = summarize(rec, measures=["ensembles"])
    x, lab, layer = rec["activity"].values, rec["label"].values, rec["layer"].values
    for lay in (1, 2):
        xs = x[:, layer == lay]
        for c in (0, 1, 2):
            mu = xs[lab == c].mean(axis=0)
            loo = (mu.sum() - mu) / (mu.size - 1)
            expected = int(((mu - loo) / loo > 1.0).sum())
            got = df.query(f"layer == {lay} and statistic == 'ensemble_size' and `class` == {c}")["value"].item()
            assert got == expected
    # neuroid 0 of layer 1 (5.0 for class 1 vs exponential(1) background means) is in class 1's ensemble
    size1 = df.query("layer == 1 and statistic == 'ensemble_size' and `class` == 1")["value"].item()
    assert size1 >= 1
    frac = df.query("layer == 2 and statistic == 'ensemble_fraction' and aggregate == 'mean'")["value"].item()
    sizes = df.query("layer == 2 and statistic == 'ensemble_size' and aggregate == 'count'")["value"]
    assert frac == pytest.approx(sizes.mean() / 4)
