"""Exports to rsatoolbox, Brain-Score/BrainIO layout and AllenSDK-style tables (ensembles.io.interop)."""

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from ensembles.analysis.geometry import compare_rdms, rdm
from ensembles.io.interop import to_allen_tables, to_brainscore_assembly, to_rsatoolbox
from ensembles.record import make_recording


@pytest.fixture
def rec(rng):
    n = 24
    labels = np.arange(n) % 4
    return make_recording(
        rng.gamma(2.0, 1.0, size=(n, 7)).astype(np.float32),
        presentation={
            "stimulus_id": [f"s{i:03d}" for i in range(n)],
            "label": labels,
            "label_name": [["zero", "one", "two", "three"][v] for v in labels],
            "split": ["test"] * n,
        },
        layer_sizes=[4, 3],
        attrs={"model": "bp_ff", "dataset": "digits", "seed": 1, "config": {}, "site": "post-relu"},
    )


def test_brainscore_assembly_layout(rec):
    a = to_brainscore_assembly(rec)
    assert isinstance(a, xr.DataArray) and a.dims == ("presentation", "neuroid")
    np.testing.assert_array_equal(a.values, rec["activity"].values)
    assert a["stimulus_id"].values.tolist() == rec["stimulus_id"].values.tolist()
    assert a["neuroid_id"].values.tolist() == [
        "bp_ff.layer1.0", "bp_ff.layer1.1", "bp_ff.layer1.2", "bp_ff.layer1.3",
        "bp_ff.layer2.0", "bp_ff.layer2.1", "bp_ff.layer2.2",
    ]  # fmt: skip
    assert set(a["model"].values) == {"bp_ff"}
    assert a["layer"].values.tolist() == ["layer1"] * 4 + ["layer2"] * 3
    assert a["neuroid_num"].values.tolist() == [0, 1, 2, 3, 0, 1, 2]
    assert np.all(np.isnan(a["channel_x"].values))
    assert a["ensembles_neuroid_id"].values[4] == "layer2.0000"
    assert len(set(a["neuroid_id"].values)) == a.sizes["neuroid"]
    assert a.attrs["seed"] == 1
    assert to_brainscore_assembly(rec, model="alexnet")["neuroid_id"].values[0] == "alexnet.layer1.0"


def test_exports_reject_checkpoint_dim_and_bad_types(rec):
    stacked = xr.concat([rec, rec], dim="checkpoint")
    with pytest.raises(ValueError, match=r"checkpoint.*isel"):
        to_brainscore_assembly(stacked)
    with pytest.raises(TypeError, match="'rec' parameter"):
        to_allen_tables(np.zeros((3, 3)))
    with pytest.raises(ValueError, match=r"presentation coord 'image'.*Available presentation coords"):
        to_allen_tables(rec, condition="image")


def test_allen_tables_match_pandas_groupby(rec):
    tables = to_allen_tables(rec)
    stats = tables["conditionwise_statistics"]
    assert len(stats) == 7 * 4
    long = rec["activity"].to_dataframe().reset_index()
    ref = (
        long.groupby(["neuroid_id", "label"])["activity"]
        .agg(["mean", "std", "sem", "count", "sum"])
        .reset_index()
    )
    merged = stats.merge(ref, left_on=["unit_id", "label"], right_on=["neuroid_id", "label"])
    assert len(merged) == len(stats)
    np.testing.assert_allclose(merged["spike_mean"], merged["mean"], rtol=1e-6)
    np.testing.assert_allclose(merged["spike_std"], merged["std"], rtol=1e-5)
    np.testing.assert_allclose(merged["spike_sem"], merged["sem"], rtol=1e-5)
    np.testing.assert_allclose(merged["spike_count"], merged["sum"], rtol=1e-6)
    assert (merged["n"] == merged["count"]).all()
    assert stats.loc[stats["label"] == 2, "label_name"].unique().tolist() == ["two"]
    assert tables["stimulus_conditions"]["label_name"].tolist() == ["zero", "one", "two", "three"]
    pres = tables["stimulus_presentations"]
    assert pres["stimulus_condition_id"].tolist() == rec["label"].values.tolist()
    assert tables["units"]["unit_id"].tolist() == rec["neuroid_id"].values.tolist()
    by_stim = to_allen_tables(rec, condition="stimulus_id")["conditionwise_statistics"]
    assert len(by_stim) == 7 * 24 and by_stim["spike_std"].isna().all()  # one presentation per condition
    assert isinstance(by_stim, pd.DataFrame)


def test_to_rsatoolbox_dataset_and_rdm_parity(rec):
    pytest.importorskip("rsatoolbox", reason="rsatoolbox is optional (pip install rsatoolbox)")
    from rsatoolbox.rdm import calc_rdm, compare

    ds = to_rsatoolbox(rec)
    np.testing.assert_array_equal(ds.measurements, rec["activity"].values.astype(np.float64))
    assert list(ds.obs_descriptors["stimulus"]) == list(rec["stimulus_id"].values)
    assert list(ds.channel_descriptors["name"]) == list(rec["neuroid_id"].values)
    assert ds.descriptors["model"] == "bp_ff"
    # cross-implementation: our condition RDMs equal rsatoolbox's calc_rdm on the exported Dataset
    for ours, theirs in (("correlation", "correlation"), ("sqeuclidean", "euclidean")):
        r_ours = rdm(rec, "label", metric=ours)
        r_theirs = calc_rdm(ds, method=theirs, descriptor="label")
        np.testing.assert_allclose(r_theirs.get_matrices()[0], r_ours.values, atol=1e-10)
    # and the RDM comparators agree with rsatoolbox's compare()
    other = rec.copy()
    other["activity"] = other["activity"] ** 2
    a, b = rdm(rec, "stimulus_id"), rdm(other, "stimulus_id")
    ra = calc_rdm(to_rsatoolbox(rec), method="correlation", descriptor="stimulus")
    rb = calc_rdm(to_rsatoolbox(other), method="correlation", descriptor="stimulus")
    for ours, theirs in (("spearman", "spearman"), ("kendall_tau_a", "tau-a"), ("cosine", "cosine")):
        assert compare_rdms(a, b, method=ours).value == pytest.approx(
            float(compare(ra, rb, method=theirs)[0, 0]), abs=1e-10
        )
