"""Cortical reference values and their recipes (ensembles.analysis.cortex), the cortex figure
(ensembles.plot.cortex), and distribution similarity (ensembles.analysis.distributions).

Reference values are checked against the sources as read (abstracts and figure legends named in each row's
``source_location``); model statistics against hand derivations: a binary code with k of n units active per stimulus
has Treves-Rolls a = k/n and a fraction of units above half their maximum of k/n (Rolls & Tovee 1995: for a binary
code a is the fraction active); a population with a planted power-law eigenspectrum n^-1 has alpha = 1.  The KS
similarity is checked against hand-worked histograms; the bootstrap recipe against Brain-Score's
``BootstrapDistributionSimilarity`` behaviour (1 for identical distributions up to sampling, 0 when > 10 % of the
draws are NaN).
"""

import json

import matplotlib
import numpy as np
import pandas as pd
import pytest

from ensembles.analysis.cortex import (
    RECIPE_FUNCTIONS,
    REFERENCE_COLUMNS,
    VERIFICATION_LEVELS,
    compare_to_cortex,
    load_cortex_reference,
    recipe_text,
)
from ensembles.analysis.distributions import distribution_similarity, ks_similarity, property_similarity
from ensembles.analysis.geometry import summarize_geometry
from ensembles.record import make_recording


# ---------------------------------------------------------------- reference table
def _row(ref, rid):
    sel = ref[ref["id"] == rid]
    assert len(sel) == 1, rid
    return sel.iloc[0]


def test_every_row_states_source_location_and_verification():
    ref = load_cortex_reference()
    assert tuple(ref.columns) == REFERENCE_COLUMNS
    assert ref["id"].is_unique
    assert set(ref["verification"]) <= set(VERIFICATION_LEVELS)
    assert (ref["source_location"].str.len() > 0).all() and (ref["citation"].str.len() > 0).all()
    # verified rows name where they were read; unverified ones are never in the default comparison
    assert ref.loc[ref["verification"] == "verified", "source_location"].str.contains(
        "abstract|legend|figure", case=False).all()  # fmt: skip
    default = ref[ref["default_comparison"]]
    assert (default["verification"] == "verified").all()
    assert (default["recipe_function"].isin(list(RECIPE_FUNCTIONS))).all()
    # every recipe is well formed (JSON parameters, a known function) and written out in words
    for _, r in ref[ref["recipe_function"] != ""].iterrows():
        assert r["recipe_function"] in RECIPE_FUNCTIONS
        assert isinstance(json.loads(r["recipe_params"]), dict)
        assert recipe_text(r).startswith(r["recipe_function"] + "(")


def test_rows_as_the_sources_state_them():
    ref = load_cortex_reference()
    # read in the sources (see each row's source_location)
    assert _row(ref, "rolls_tovee_1995_a")["value"] == 0.65
    assert [_row(ref, f"kreiman_2006_halfmax_{s}")["value"] for s in ("sua", "mua", "lfp")] == [0.21, 0.25, 0.25]
    assert [_row(ref, f"kreiman_2006_tr_{s}")["value_sd"] for s in ("sua", "mua", "lfp")] == [0.16, 0.09, 0.11]
    assert _row(ref, "tang_2018_monkey_a")["value"] == pytest.approx(6 / 1225, abs=1e-5)
    assert _row(ref, "tang_2018_monkey_b")["value"] == pytest.approx(4.1 / 982, abs=1e-5)
    assert _row(ref, "stringer_2019")["value"] == 1.0
    assert [_row(ref, i)["value"] for i in ("li_2023_t5", "li_2023_vit")] == [0.03, 0.063]
    # the three sources added in issue #12, values only as the abstracts state them
    assert _row(ref, "rust_dicarlo_2012")["value"] == 0.10
    assert _row(ref, "rust_dicarlo_2012")["citation"].endswith("J Neurosci 32:10170-10182")
    single, pop = _row(ref, "franco_2007_single"), _row(ref, "franco_2007_population")
    assert (single["value"], single["kind"], pop["value"], pop["kind"]) == (0.77, "lifetime", 0.77, "population")
    assert single["n_stimuli"] == 20 and "Biol Cybern 96:547" in single["citation"]
    hrom = _row(ref, "hromadka_2008")
    assert np.isnan(hrom["value"]) and hrom["value_high"] == 0.05 and "PLoS Biol 6:e16" in hrom["citation"]
    # corrected rows
    tos = ref[ref["study"].str.startswith("Tosato")]
    assert set(tos["id"]) == {"tosato_mnist_l1", "tosato_fmnist_l1", "tosato_layers_2_3"}
    assert (tos["verification"] == "unverified").all() and not tos["default_comparison"].any()
    assert _row(ref, "tosato_fmnist_l1")["value"] == 0.768
    assert (_row(ref, "tosato_layers_2_3")["value_low"], _row(ref, "tosato_layers_2_3")["value_high"]) == (0.39, 0.76)
    assert "MNIST" in _row(ref, "tosato_mnist_l1")["area"] and 0.825 not in ref["value"].tolist()
    assert "sparse but correlated" not in _row(ref, "de_vries_2020")["note"].replace("'sparse but correlated' wording", "")
    assert "221 mice" in _row(ref, "de_vries_2018_preprint")["stimulus"]
    assert "sparse but correlated" in _row(ref, "de_vries_2018_preprint")["note"]
    assert "extrapolated to infinitely many neurons and images" in _row(ref, "lehky_2014")["note"]
    assert _row(ref, "lehky_2014")["recipe_function"] == ""  # no estimator matches an extrapolated value
    for rid in ("vinje_gallant_2000_1x", "vinje_gallant_2000_4x", "rolls_tovee_1995_response",
                "quian_quiroga_waydo", "hippocampus_dg", "hippocampus_ca1"):  # fmt: skip
        r = _row(ref, rid)
        assert r["verification"] == "unverified" and not r["default_comparison"], rid
    # not like for like with single network units: kept out of the default comparison
    for rid in ("kreiman_2006_halfmax_mua", "kreiman_2006_halfmax_lfp", "kreiman_2006_tr_sua", "rolls_tovee_1995_a"):
        assert not _row(ref, rid)["default_comparison"], rid
    # the aggregate is the one the source reports (means), not the old blanket median
    assert set(ref.loc[ref["default_comparison"], "aggregate"]) == {"mean", "value"}


# ---------------------------------------------------------------- recipes on hand-derived populations
def _binary_code(rng, n_stim=400, n_units=200, k=10, silent=0, model="ff", attrs=None):
    """Each stimulus drives exactly k of n_units units to 1 (a different random set each time)."""
    x = np.zeros((n_stim, n_units + silent), dtype=np.float32)
    for s in range(n_stim):
        x[s, rng.choice(n_units, k, replace=False)] = 1.0
    return make_recording(
        x,
        presentation={"stimulus_id": [f"img{s:04d}" for s in range(n_stim)], "label": np.arange(n_stim) % 5,
                      "label_name": [f"c{s % 5}" for s in range(n_stim)], "split": ["test"] * n_stim},
        layer_sizes=[n_units + silent],
        attrs={"model": model, "dataset": "toy", "seed": 0, "config": {}, "site": "post-relu", **(attrs or {})},
    )  # fmt: skip


def test_recipes_reproduce_hand_derived_values(rng):
    rec = _binary_code(rng, silent=40)
    table = compare_to_cortex(rec, references="all").set_index("reference_id")
    # population fraction above half of each unit's own max, among responsive units: k / n = 10 / 200 exactly
    tang = table.loc["tang_2018_monkey_a"]
    assert tang["model_value"] == pytest.approx(10 / 200, abs=1e-12)
    assert tang["model_n_neuroids"] == 200  # the 40 silent units are left out, and the caveat says so
    assert "40 of 240 units never respond" in tang["caveats"]
    assert "fraction_active(dim='neuroid', mode='fraction_of_max', threshold=0.5) on responsive neuroids" in tang[
        "recipe"]  # fmt: skip
    # population Treves-Rolls a of a binary code = fraction active = k / n (Franco et al. 2007's a_p recipe)
    assert table.loc["franco_2007_population", "model_value"] == pytest.approx(10 / 200, abs=1e-12)
    # lifetime measures over 20 stimuli (Franco: a_s) and 77 (Kreiman) are matched by subsampling
    assert table.loc["franco_2007_single", "n_draws"] == 20
    assert "20 random draws of 20 of the 400 stimuli" in table.loc["franco_2007_single", "recipe"]
    assert "sample size matched: 77 stimuli" in table.loc["kreiman_2006_halfmax_sua", "caveats"]
    # Li et al.: fraction of all units > 0 (silent units count here): 10 / 240
    assert table.loc["li_2023_t5", "model_value"] == pytest.approx(10 / 240, abs=1e-12)
    # caveats name what remains different
    assert "rate vs activation" in tang["caveats"] and "stimulus set: the model saw 400 toy stimuli" in tang["caveats"]
    assert "reference is an artificial network" in table.loc["li_2023_t5", "caveats"]
    assert "reference unverified" in table.loc["tosato_mnist_l1", "caveats"]


def test_lifetime_fraction_matches_direct_count(rng):
    x = rng.gamma(0.5, 1.0, size=(300, 60)).astype(np.float32)
    rec = make_recording(x, presentation={"stimulus_id": [f"s{i}" for i in range(300)], "label": np.zeros(300, int),
                                          "label_name": ["a"] * 300, "split": ["test"] * 300},
                         layer_sizes=[60], attrs={"model": "m", "dataset": "d", "seed": 0, "config": {}, "site": "x"})  # fmt: skip
    row = compare_to_cortex(rec, references="all").set_index("reference_id").loc["rust_dicarlo_2012"]
    direct = np.mean((x > 0.5 * x.max(axis=0)).mean(axis=0))  # per unit: fraction of images > half its max
    assert row["model_value"] == pytest.approx(direct, abs=1e-12) and row["n_draws"] == 1


def test_eigenspectrum_recipe_recovers_a_planted_power_law(rng):
    n, p = 3000, 600
    q, _ = np.linalg.qr(rng.standard_normal((p, p)))
    x = (rng.standard_normal((n, p)) * np.arange(1, p + 1) ** -0.5) @ q.T  # variance of PC k ~ k^-1
    rec = make_recording(x.astype(np.float32) + 10.0,
                         presentation={"stimulus_id": [f"s{i}" for i in range(n)], "label": np.zeros(n, int),
                                       "label_name": ["a"] * n, "split": ["test"] * n},
                         layer_sizes=[p], attrs={"model": "m", "dataset": "d", "seed": 0, "config": {}, "site": "x"})  # fmt: skip
    row = compare_to_cortex(rec).set_index("reference_id").loc["stringer_2019"]
    assert row["model_value"] == pytest.approx(1.0, abs=0.08)
    assert "alpha = 1 + 2/d" in row["caveats"]


def test_rate_threshold_recipe_only_for_firing_rates(rng):
    rates = rng.exponential(8.0, size=(200, 50))
    rec = make_recording(
        rates.astype(np.float32),
        presentation={"stimulus_id": [f"s{i}" for i in range(200)], "label": np.zeros(200, int),
                      "label_name": ["a"] * 200, "split": ["test"] * 200},
        neuroid={"neuroid_id": [f"unit{i}" for i in range(50)], "layer": np.ones(50, int), "unit": np.arange(50)},
        attrs={"model": "neural:sess", "dataset": "sess", "seed": -1, "config": {},
               "response_variable": "spike rate (spikes/s)", "site": "units:spike_rate"},
    )  # fmt: skip
    row = compare_to_cortex(rec).set_index("reference_id").loc["hromadka_2008"]
    assert row["model_value"] == pytest.approx(np.mean((rates.astype(np.float32) > 20).mean(axis=1)), abs=1e-12)
    assert row["caveats"].startswith("response variable: the recording holds spike rate (spikes/s)")
    model = compare_to_cortex(_binary_code(rng), include_unmatched=True).set_index("reference_id")
    assert model.loc["hromadka_2008", "status"].startswith("not applicable: the recipe needs firing rates")
    assert "hromadka_2008" not in set(compare_to_cortex(_binary_code(rng))["reference_id"])


def test_repeats_are_averaged_and_several_recordings_compared(rng):
    rec = _binary_code(rng, n_stim=100)
    twice = make_recording(
        np.concatenate([rec["activity"].values, rec["activity"].values]),
        presentation={c: np.concatenate([rec[c].values, rec[c].values]) for c in ("stimulus_id", "label", "label_name",
                                                                                    "split")},
        layer_sizes=[200], attrs=dict(rec.attrs, model="bp"),
    )  # fmt: skip
    table = compare_to_cortex({"ff": rec, "bp": twice})
    a = table[table["model"] == "ff"].set_index("reference_id")["model_value"]
    b = table[table["model"] == "bp"].set_index("reference_id")["model_value"]
    assert (b.loc["tang_2018_monkey_a"], b.loc["franco_2007_population"]) == (a.loc["tang_2018_monkey_a"],
                                                                              a.loc["franco_2007_population"])


def test_compare_to_cortex_bad_input(rng):
    with pytest.raises(TypeError, match="no longer takes the summarize"):
        compare_to_cortex(pd.DataFrame({"statistic": ["hoyer"], "value": [0.8]}))
    with pytest.raises(TypeError, match="must be an xr.Dataset or xr.DataArray"):
        compare_to_cortex([("hoyer", 0.8)])
    with pytest.raises(ValueError, match="'references' parameter must be one of"):
        compare_to_cortex(_binary_code(rng), references="mine")
    with pytest.raises(ValueError, match="'n_draws' parameter must be a positive int"):
        compare_to_cortex(_binary_code(rng), n_draws=0)
    with pytest.raises(ValueError, match=r"layer\(s\) \[7\]"):
        compare_to_cortex(_binary_code(rng), layers=[7])


# ---------------------------------------------------------------- figure
def test_cortex_figure_is_one_compact_page(rng):
    from ensembles.plot.cortex import plot_cortex_comparison

    recs = {}
    for m, k in (("FF", 5), ("BP/FF", 10), ("BP", 40)):
        rec = _binary_code(rng, n_stim=300, n_units=200, k=k, model=m)
        recs[m] = rec
    table = compare_to_cortex(recs)  # the default comparison: 6 measure families
    fig = plot_cortex_comparison(table)
    assert isinstance(fig, matplotlib.figure.Figure)
    w, h = fig.get_size_inches() * 100
    assert w <= 1200 and h <= 700, (w, h)  # was 880 x 4,444 px (one row per value): one panel per family now
    titles = [ax.get_title() for ax in fig.axes if ax.get_title()]
    assert len(titles) == len(set(zip(table["measure"], table["kind"], strict=True))) == 6
    everything = plot_cortex_comparison(compare_to_cortex(recs, references="all"))
    assert everything.get_size_inches()[1] * 100 <= 1200
    empty = plot_cortex_comparison(table.iloc[:0].assign(status="compared"))
    assert isinstance(empty, matplotlib.figure.Figure)
    with pytest.raises(ValueError, match="missing"):
        plot_cortex_comparison(pd.DataFrame({"x": [1]}))


def test_summarize_geometry_rows(rng):
    n = 300
    rec = make_recording(
        rng.normal(size=(n, 30)).astype(np.float32),
        presentation={"stimulus_id": [f"s{i}" for i in range(n)], "label": np.arange(n) % 3,
                      "label_name": [f"c{i % 3}" for i in range(n)], "split": ["test"] * n,
                      "correct": np.arange(n) % 4 != 0},
        layer_sizes=[20, 10],
        attrs={"model": "bp", "dataset": "synthetic", "seed": 0, "config": {}, "site": "post-relu"},
    )  # fmt: skip
    df = summarize_geometry(rec, fit_range=(2, 9))
    assert df["statistic"].tolist() == ["participation_ratio", "eigenspectrum_alpha"] * 2
    assert set(df["subset"]) == {"correct"} and df["n"].tolist() == [20, 20, 10, 10]
    from ensembles.analysis.geometry import participation_ratio

    sel = rec["activity"].isel(presentation=rec["correct"].values, neuroid=rec["layer"].values == 2)
    assert df["value"].iloc[2] == pytest.approx(participation_ratio(sel))


# ---------------------------------------------------------------- distribution similarity (Marques2020)
# ---------------------------------------------------------------- distribution similarity (Marques2020)
def test_ks_similarity_hand_worked():
    q = np.array([0.25, 0.5, 0.25])
    # D_max: point mass in the first bin -> max|[1,1,1] - [.25,.75,1]| = 0.75; last bin -> 0.75
    assert ks_similarity(q, q) == 1.0
    assert ks_similarity(np.array([1.0, 0, 0]), q) == pytest.approx(0.0)
    assert ks_similarity(np.array([0.5, 0.5, 0.0]), q) == pytest.approx(1 - 0.25 / 0.75)
    with pytest.raises(ValueError, match="equal length"):
        ks_similarity([1.0], [0.5, 0.5])


def test_distribution_similarity_recipe(rng):
    data = rng.beta(2, 5, size=300)
    same = distribution_similarity(
        rng.beta(2, 5, size=3000), data, bins=np.linspace(0, 1, 21), random_state=0
    )
    other = distribution_similarity(
        rng.beta(5, 2, size=3000), data, bins=np.linspace(0, 1, 21), random_state=0
    )
    assert same.score > 0.85 and other.score < 0.4
    assert same.error > 0 and same.n_data == 300 and same.similarities.shape == (1000,)
    model = rng.beta(2, 5, size=3000)
    first = distribution_similarity(model, data, bins=np.linspace(0, 1, 21), n_bootstrap=100, random_state=7)
    again = distribution_similarity(model, data, bins=np.linspace(0, 1, 21), n_bootstrap=100, random_state=7)
    assert first.score == again.score and first.n_bootstrap == 100
    # model values outside the data's bin range are clipped into the end bins (Brain-Score)
    far = distribution_similarity(np.full(100, 5.0), data, bins=np.linspace(0, 1, 11), n_bootstrap=50)
    assert far.score == pytest.approx(ks_similarity(np.eye(10)[-1], far.data_hist))
    # more than 10 % NaN draws -> score 0
    mostly_nan = np.r_[np.full(99, np.nan), 0.5]
    res = distribution_similarity(
        mostly_nan, data[:2], bins=np.linspace(0, 1, 11), n_bootstrap=200, random_state=1
    )
    assert res.n_nan_draws > 20 and res.score == 0.0 and res.error == 0.0
    with pytest.raises(ValueError, match="'bins' parameter"):
        distribution_similarity(data, data, bins=[1.0, 0.5])
    with pytest.raises(ValueError, match="no finite value"):
        distribution_similarity(data, [np.nan])


def test_property_similarity_between_recordings(rng):
    from ensembles.data.synthetic import category_population

    def rec_from(x, labels, model):
        n = x.shape[0]
        return make_recording(
            x.astype(np.float32),
            presentation={"stimulus_id": [f"s{i}" for i in range(n)], "label": labels,
                          "label_name": [f"c{v}" for v in labels], "split": ["test"] * n},
            layer_sizes=[x.shape[1]],
            attrs={"model": model, "dataset": "synthetic", "seed": 0, "config": {}, "site": "post-relu"},
        )  # fmt: skip

    xa, ta = category_population(6, 80, 20, ensemble_size=8, kind="poisson", random_state=1)
    xb, tb = category_population(6, 120, 20, ensemble_size=12, kind="poisson", random_state=2)
    xc, tc = category_population(6, 80, 20, ensemble_size=8, strength=0.0, kind="poisson", random_state=3)
    a, b, c = (
        rec_from(xa, ta.labels, "ff"),
        rec_from(xb, tb.labels, "neural:x"),
        rec_from(xc, tc.labels, "bp"),
    )
    similar = property_similarity(a, b, n_bootstrap=200, random_state=0)
    dissimilar = property_similarity(c, b, n_bootstrap=200, random_state=0)
    assert similar.score > dissimilar.score + 0.2
    with pytest.raises(ValueError, match="'property' parameter must be one of"):
        property_similarity(a, b, property="kurtosis")
