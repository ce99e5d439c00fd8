"""Cortical reference values (ensembles.analysis.cortex) and distribution similarity (ensembles.analysis.distributions).

Reference values of the shipped CSV are checked against neuro-methods.md §2.1 (the numbers are copied from that
table); the KS similarity against hand-worked histograms; the bootstrap recipe against Brain-Score's
``BootstrapDistributionSimilarity`` behaviour (1 for identical distributions up to sampling, 0 when > 10 % of the
draws are NaN).
"""

import matplotlib
import numpy as np
import pandas as pd
import pytest

from ensembles.analysis.cortex import (
    REFERENCE_COLUMNS,
    compare_to_cortex,
    load_cortex_reference,
    plot_cortex_comparison,
)
from ensembles.analysis.distributions import distribution_similarity, ks_similarity, property_similarity
from ensembles.analysis.geometry import summarize_geometry
from ensembles.record import make_recording


# ---------------------------------------------------------------- reference table
def test_reference_table_has_every_published_value():
    ref = load_cortex_reference()
    assert tuple(ref.columns) == REFERENCE_COLUMNS
    assert set(ref["tag"]) == {"[verified]", "[to verify]"}

    def value(study, measure, **match):
        sel = ref[(ref["study"].str.startswith(study)) & (ref["measure"] == measure)]
        for k, v in match.items():
            sel = sel[sel[k].astype(str).str.contains(v, regex=False)]
        return sorted(sel["value"].tolist()), sorted(sel["tag"].tolist())

    # neuro-methods.md §2.1, value by value
    assert value("Rolls & Tovee", "treves_rolls_a") == ([0.33, 0.65], ["[to verify]", "[verified]"])
    assert value("Kreiman", "treves_rolls_a")[0] == [0.66, 0.73, 0.75]
    assert value("Kreiman", "fraction_active_half_max")[0] == [0.21, 0.25, 0.25]
    assert value("Lehky et al. 2014", "intrinsic_dimensionality")[0] == [93.0]
    assert value("Tang", "fraction_active_half_max")[0] == pytest.approx([4.1 / 982, 6 / 1225], abs=1e-5)
    assert value("Vinje & Gallant", "vinje_gallant_s") == ([0.41, 0.62], ["[to verify]", "[to verify]"])
    assert value("Tolhurst", "firing_rate_hz")[0] == [4.1]
    assert value("Tolhurst", "fraction_cells_respond_lt5pct_images")[0] == pytest.approx([12 / 89], abs=1e-4)
    assert value("Stringer", "eigenspectrum_alpha") == ([1.0], ["[verified]"])
    assert value("Li et al. 2023", "fraction_active")[0] == [0.03, 0.063]
    assert value("Tosato", "hoyer")[0] == [0.825]
    assert value("Lennie", "firing_rate_hz") == ([0.16], ["[to verify]"])
    assert value("Tsao", "fraction_category_selective") == ([0.97], ["[to verify]"])
    assert value("Quian Quiroga", "fraction_active_concept") == ([0.005], ["[to verify]"])
    # qualitative findings are kept, with an empty value
    assert np.isnan(ref.loc[ref["study"].str.startswith("Willmore"), "value"]).all()
    assert ref.loc[ref["study"].str.startswith("de Vries"), "n_stimuli"].tolist() == [118.0]
    assert (ref["citation"].str.len() > 0).all()


# ---------------------------------------------------------------- comparison table
def _summary():
    rows = [
        ("ff", 1, "population_hoyer", "mean", 0.82, 1000),
        ("ff", 1, "population_hoyer", "median", 0.83, 1000),
        ("ff", 1, "lifetime_vinje-gallant", "median", 0.7, 1000),
        ("ff", 1, "lifetime_vinje-gallant", "n_silent", 3, 1000),
        ("ff", 1, "lifetime_treves-rolls", "median", 0.3, 1000),
        ("ff", 1, "fraction_active", "median", 0.04, 10000),
        ("ff", 1, "csi", "median", 0.5, 1000),
        ("bp", 2, "population_hoyer", "median", 0.4, 500),
        ("neural:abc", 1, "lifetime_treves-rolls", "median", 0.6, 80),
    ]
    df = pd.DataFrame(rows, columns=["model", "layer", "statistic", "aggregate", "value", "n"])
    df["class"] = "all"
    df["site"] = "post-relu"
    return df


def test_compare_to_cortex_pairs_and_caveats():
    table = compare_to_cortex(_summary())
    ff_hoyer = table[(table["model"] == "ff") & (table["measure"] == "hoyer")]
    assert ff_hoyer["model_value"].tolist() == [0.83]  # median aggregate only
    assert ff_hoyer["reference_value"].tolist() == [0.825]
    assert "artificial network" in ff_hoyer["caveats"].iloc[0]
    assert "model layer has 1000" in ff_hoyer["caveats"].iloc[0]  # layer size from the n_silent row
    lifetime = table[(table["model"] == "ff") & (table["measure"] == "treves_rolls_a")]
    assert sorted(lifetime["reference_value"]) == [0.33, 0.65, 0.66, 0.73, 0.75]
    cav = lifetime.set_index("reference_value")["caveats"]
    assert "rate vs activation" in cav[0.65] and "68" in cav[0.65]  # Rolls & Tovee used 68 stimuli
    assert "[to verify]" in cav[0.33] and "[to verify]" not in cav[0.65]
    frac = table[(table["model"] == "ff") & (table["statistic"] == "fraction_active")]
    assert set(frac["measure"]) >= {"fraction_active", "fraction_active_half_max"}
    assert all("criterion differs" in c for c in frac.loc[frac["measure"] != "fraction_active", "caveats"])
    # a lifetime model statistic is never paired with a population reference (and vice versa) by default
    assert set(table.loc[table["statistic"] == "lifetime_vinje-gallant", "kind"]) == {"lifetime"}
    assert not (frac["kind"] == "lifetime").any()
    mixed = compare_to_cortex(_summary(), match_kind=False)
    assert mixed["caveats"].str.contains("lifetime vs population").any()
    # neural data: no rate-vs-activation caveat; csi has no reference and is not listed
    neural = table[table["model"] == "neural:abc"]
    assert len(neural) == 5 and not neural["caveats"].str.contains("rate vs activation").any()
    assert "csi" not in set(table["statistic"])
    unmatched = compare_to_cortex(_summary(), include_unmatched=True)
    assert "eigenspectrum_alpha" in set(unmatched["measure"]) and len(unmatched) > len(table)


def test_compare_to_cortex_with_real_summaries(rng):
    from ensembles.analysis.summary import summarize

    n = 200
    x = np.maximum(rng.normal(size=(n, 60)) - 1.0, 0).astype(np.float32)
    rec = make_recording(
        x,
        presentation={"stimulus_id": [f"s{i}" for i in range(n)], "label": np.arange(n) % 5,
                      "label_name": [f"c{i % 5}" for i in range(n)], "split": ["test"] * n},
        layer_sizes=[40, 20],
        attrs={"model": "ff", "dataset": "synthetic", "seed": 0, "config": {}, "site": "post-relu"},
    )  # fmt: skip
    summary = pd.concat([summarize(rec, n_shuffles=0), summarize_geometry(rec, fit_range=(2, 19))])
    table = compare_to_cortex(summary)
    assert {
        "hoyer",
        "vinje_gallant_s",
        "treves_rolls_a",
        "eigenspectrum_alpha",
        "intrinsic_dimensionality",
    } <= set(table["measure"])
    assert set(table["layer"]) == {1, 2}
    assert (table.loc[table["layer"] == 2, "layer_size"] == 20).all()
    fig = plot_cortex_comparison(table)
    assert isinstance(fig, matplotlib.figure.Figure) and len(fig.axes) == table["measure"].nunique()
    empty = plot_cortex_comparison(table.iloc[:0])
    assert isinstance(empty, matplotlib.figure.Figure)


def test_compare_to_cortex_bad_input():
    with pytest.raises(ValueError, match=r"lacks the column\(s\) \['value'\]"):
        compare_to_cortex(pd.DataFrame({"statistic": ["hoyer"]}))
    with pytest.raises(TypeError, match="'summary' parameter"):
        compare_to_cortex([("hoyer", 0.8)])
    with pytest.raises(ValueError, match="compare_to_cortex"):
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
