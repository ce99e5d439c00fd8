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
    csi = S.class_selectivity_index(sub.values, rec["label"].values[keep], n_shuffles=0)["csi"].values
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
    assert len(MEASURE_GROUPS) == 9


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
