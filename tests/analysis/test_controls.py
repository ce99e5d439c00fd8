"""Controls of the sparseness and ensemble statistics, on constructed recordings whose answers are known.

* Silent units: a layer where half the neuroids never fire.  Every table and ``summarize`` state the counts, and the
  population Hoyer sparseness over the responsive neuroids differs from the one over all neuroids as derived for a
  binary code (k of n units equally active: H = (√n − √k)/(√n − 1), Hoyer 2004's definition evaluated by hand).
* A planted ensemble: the real ensemble sizes lie above the shuffled-label null; its members are significant.
* An assembly-free population and a shuffled-label one: the real sizes fall inside the null.
* The Allen Brain Observatory's criterion (de Vries et al. 2020): a neuroid is responsive when >= 25 % of its
  preferred condition's trials are significant against spontaneous activity; trials above every spontaneous response
  have p = 0, trials below every one have p = 1, so the responsive set is known by construction.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import ensembles.analysis as A
from ensembles.analysis import tables as T
from ensembles.analysis.summary import summarize
from ensembles.record import make_recording

N_CLASSES, PER_CLASS, CODE, SPORADIC, SILENT = 5, 20, 10, 2, 12  # one layer: 10 + 2 + 12 = 24 neuroids
N_ZERO = 6  # presentations on which no neuroid fires


def _hoyer_binary(n: int, k: np.ndarray) -> np.ndarray:
    """Hoyer sparseness of a binary vector with k of n entries equal to 1 (neuro-methods identity, §1.3)."""
    return (np.sqrt(n) - np.sqrt(k)) / (np.sqrt(n) - 1)


def _silent_layer() -> tuple[np.ndarray, np.ndarray]:
    """(activity, labels): class c fires neuroids 2c and 2c+1 (value 1) on its presentations, except the last two
    presentations of classes 0-2 (``N_ZERO`` all-zero presentations); two 'sporadic' neuroids fire once each (on
    1 of the 20 presentations of their preferred class, under the 25 % of the criterion); twelve never fire."""
    y = np.repeat(np.arange(N_CLASSES), PER_CLASS)
    x = np.zeros((y.size, CODE + SPORADIC + SILENT))
    for c in range(N_CLASSES):
        x[y == c, 2 * c:2 * c + 2] = 1.0
    zero = np.concatenate([np.flatnonzero(y == c)[-2:] for c in range(3)])  # 6 all-zero presentations
    x[zero] = 0.0
    x[3, CODE] = 1.0  # sporadic: active on 1 of the 20 presentations of their class (< 25 %)
    x[45, CODE + 1] = 1.0
    return x, y


def _recording(layers: int = 2):
    x, y = _silent_layer()
    act = np.concatenate([x] * layers, axis=1).astype(np.float32)
    pres = {"stimulus_id": [f"syn/{i:03d}" for i in range(y.size)], "label": y,
            "label_name": np.array(list("abcde"))[y], "split": ["test"] * y.size, "predicted": y,
            "correct": np.ones(y.size, bool)}  # fmt: skip
    return make_recording(act, presentation=pres, layer_sizes=[x.shape[1]] * layers,
                          attrs={"model": "ff", "dataset": "synthetic", "seed": 0, "config": {}, "site": "post-relu"})


def _derived_hoyer() -> tuple[float, float]:
    """Mean population Hoyer over all 24 neuroids and over the 10 responsive ones, from the construction."""
    x, _ = _silent_layer()
    k_all = (x > 0).sum(axis=1)
    k_resp = (x[:, :CODE] > 0).sum(axis=1)
    return (float(_hoyer_binary(x.shape[1], k_all[k_all > 0]).mean()),
            float(_hoyer_binary(CODE, k_resp[k_resp > 0]).mean()))


# ---------------------------------------------------------------------------------------------------------------------
# silent and responsive neuroids
# ---------------------------------------------------------------------------------------------------------------------
def test_silent_units_and_responsive_neuroids_on_the_construction():
    x, y = _silent_layer()
    su = A.silent_units(x)
    assert su.attrs["n_silent"] == SILENT and su.attrs["frac_silent"] == 0.5
    assert su.attrs["n_all_zero"] == N_ZERO and su["all_zero"].sum() == N_ZERO
    r = A.responsive_neuroids(x, y)
    np.testing.assert_array_equal(np.flatnonzero(r["responsive"]), np.arange(CODE))
    assert r["fraction"][CODE] == pytest.approx(1 / PER_CLASS)  # the sporadic one: 1 of its class's 20
    # min_fraction=0: responsive = not silent (the sporadic neuroids come in)
    r0 = A.responsive_neuroids(x, y, min_fraction=0.0)
    np.testing.assert_array_equal(r0["responsive"], ~np.asarray(su["silent"]))


def test_every_table_reports_silent_units_and_responsive_statistics_differ_as_derived():
    from ensembles.workflows import AnalysisParams, analyze_sources, load_sources

    rec = _recording()
    an = analyze_sources(load_sources([rec]), AnalysisParams(n_bootstrap=20, n_shuffles=2, summary_shuffles=0))
    hoyer_all, hoyer_resp = _derived_hoyer()
    assert hoyer_resp < hoyer_all  # the silent half inflates population sparseness

    units = an.table("units")
    assert list(units.columns[:10]) == ["source", "layer", "n_neuroids", "n_silent", "frac_silent",
                                        "n_presentations", "n_all_zero_presentations", "frac_all_zero_presentations",
                                        "n_responsive", "criterion"]  # fmt: skip
    assert (units["n_silent"] == SILENT).all() and (units["frac_silent"] == 0.5).all()
    assert (units["n_all_zero_presentations"] == N_ZERO).all() and (units["n_responsive"] == CODE).all()
    np.testing.assert_allclose(units["population_hoyer"], hoyer_all, rtol=1e-6)
    np.testing.assert_allclose(units["population_hoyer_responsive"], hoyer_resp, rtol=1e-6)

    by_layer = an.table("sparseness_by_layer")
    assert (by_layer["n_silent_neuroids"] == SILENT).all() and (by_layer["fraction_silent_neuroids"] == 0.5).all()
    assert (by_layer["n_all_zero_presentations"] == N_ZERO).all()
    np.testing.assert_allclose(by_layer["mean"], hoyer_all, rtol=1e-6)
    np.testing.assert_allclose(by_layer["mean_responsive"], hoyer_resp, rtol=1e-6)
    head = an.headline()  # the report's headline table: both side by side
    assert (head["pct_silent"] == 50.0).all()
    np.testing.assert_allclose(head["hoyer"], hoyer_all, rtol=1e-6)
    np.testing.assert_allclose(head["hoyer_responsive"], hoyer_resp, rtol=1e-6)
    assert head["lifetime_hoyer"].notna().all() and "median_null_size" in head
    for name in ("sparseness_by_class", "ensemble_sizes", "ensemble_overlap"):
        assert (an.table(name)["n_silent_neuroids"] == SILENT).all(), name
    assert an.table("sparseness_by_class")["n_all_zero_presentations"].sum() == N_ZERO * 2  # two layers
    sel = an.table("selectivity")
    assert sel.groupby("layer")["silent"].sum().tolist() == [SILENT, SILENT]
    assert sel.groupby("layer")["responsive"].sum().tolist() == [CODE, CODE]

    summ = an.table("summary")
    one = summ[(summ["layer"] == 1) & (summ["class"] == "all")].set_index(["statistic", "aggregate"])["value"]
    assert one[("silent_neuroids", "count")] == SILENT and one[("silent_neuroids", "fraction")] == 0.5
    assert one[("all_zero_presentations", "count")] == N_ZERO
    assert one[("responsive_neuroids", "count")] == CODE
    assert one[("population_hoyer", "mean")] == pytest.approx(hoyer_all, rel=1e-6)
    assert one[("population_hoyer_responsive", "mean")] == pytest.approx(hoyer_resp, rel=1e-6)
    # lifetime sparseness stands beside population sparseness, over all and over responsive neuroids
    assert ("lifetime_vinje-gallant", "mean") in one.index and ("lifetime_vinje-gallant_responsive", "mean") in one.index


def test_responsive_statistics_are_additional_rows():
    rec = _recording(layers=1)
    with_resp = summarize(rec, n_shuffles=5)
    without = summarize(rec, n_shuffles=5, responsive=None)
    old = with_resp[with_resp["statistic"].isin(set(without["statistic"]))].reset_index(drop=True)
    pd.testing.assert_frame_equal(old, without)
    assert not without["statistic"].str.endswith("_responsive").any()
    assert set(without["statistic"]) >= {"silent_neuroids", "all_zero_presentations"}


def test_allen_criterion_against_spontaneous_responses():
    rng = np.random.default_rng(0)
    n_trials, n_base = 20, 200
    base = rng.uniform(0.0, 1.0, size=(n_base, 3))
    # neuroid j: its preferred condition (0) is above every spontaneous value on hits[j] of 20 trials, below all
    # spontaneous values on the rest; condition 1 is always below
    hits = [6, 5, 4]  # 30 %, 25 %, 20 % of the preferred condition's trials significant
    x = np.full((2 * n_trials, 3), -1.0)
    for j, h in enumerate(hits):
        x[:h, j] = 2.0
        x[h:n_trials, j] = -0.5  # below every spontaneous value (p = 1)
    y = np.repeat([0, 1], n_trials)
    r = A.responsive_neuroids(x, y, criterion="allen", baseline=base)
    np.testing.assert_array_equal(r["responsive"], [True, True, False])
    np.testing.assert_allclose(r["fraction"], [0.30, 0.25, 0.20])
    assert "de Vries" in r.attrs["reference"]
    # the same with the spontaneous responses marked by a boolean presentation coord of a recording
    import xarray as xr

    allx = np.concatenate([x, base])
    da = xr.DataArray(allx, dims=("presentation", "neuroid"),
                      coords={"label": ("presentation", np.concatenate([y, np.full(n_base, 9)])),
                              "blank": ("presentation", np.r_[np.zeros(len(y), bool), np.ones(n_base, bool)])})
    r2 = A.responsive_neuroids(da, "label", criterion="allen", baseline="blank")
    np.testing.assert_array_equal(r2["responsive"].values, [True, True, False])
    with pytest.raises(ValueError, match="'baseline' parameter"):
        A.responsive_neuroids(x, y, criterion="allen")


# ---------------------------------------------------------------------------------------------------------------------
# ensembles against their null
# ---------------------------------------------------------------------------------------------------------------------
PLANTED = 20  # class c drives neuroids 20c .. 20c + 19 of 200


def _population(planted: bool, seed: int = 1):
    """5 classes x 40 presentations, 200 neuroids firing at random (mean 0.5); planted: class c adds 2 to the
    responses of its 20 neuroids.  Under shuffled labels a planted neuroid's class mean is about 0.5 + 2/5 against a
    leave-one-out threshold of 2 (0.5 + 2 * 100/200/5) = 1.4, so the null holds few members; with the real labels
    it is 2.5 > 1.4 (tau = 1) and > 2.1 (tau = 2)."""
    rng = np.random.default_rng(seed)
    y = np.repeat(np.arange(N_CLASSES), 40)
    x = rng.gamma(1.0, 1.0, size=(y.size, 200)) * (rng.random((y.size, 200)) < 0.5)
    if planted:
        for c in range(N_CLASSES):
            x[y == c, PLANTED * c:PLANTED * (c + 1)] += 2.0
    return x, y


def test_planted_ensembles_exceed_the_null():
    x, y = _population(planted=True)
    res = A.ensemble_null(x, y, taus=(1.0, 2.0), n_shuffles=50, random_state=0)
    assert (res["size"] >= PLANTED).all()
    assert (res["size"] > 2 * res["null_hi"]).all()
    assert (res["size_p"] == 1 / 51).all()
    for c in range(N_CLASSES):  # every planted member is significant on its own (no shuffle reaches its score)
        assert (res["unit_p"][c, PLANTED * c:PLANTED * (c + 1)] == 1 / 51).all()
    assert (res["n_significant_members"] >= PLANTED).all()
    assert (res["specificity_jaccard"] == 0).all()  # the planted ensembles are disjoint


def test_ensemble_specificity_by_hand():
    m = np.array([[1, 1, 0, 0], [0, 1, 1, 0], [0, 0, 0, 0]], bool)
    # pairs: (0, 1) share 1 of 3 neuroids; (0, 2) and (1, 2) share none of 2; mean = (1/3 + 0 + 0) / 3
    assert A.ensemble_specificity(m) == pytest.approx(1 / 9)
    assert np.isnan(A.ensemble_specificity(np.zeros((3, 4), bool)))  # no pair with a member: undefined
    x, y = _population(planted=False)
    shared = A.ensemble_null(x, y, taus=(0.25,), n_shuffles=5, random_state=0)
    assert shared["specificity_jaccard"][0] > 0  # without a category structure the ensembles share neuroids


@pytest.mark.parametrize("case", ["assembly-free", "shuffled labels"])
def test_without_ensembles_the_real_sizes_fall_inside_the_null(case):
    if case == "assembly-free":
        x, y = _population(planted=False)
    else:  # a planted population whose labels no longer say which class drove a presentation
        x, y = _population(planted=True)
        y = np.random.default_rng(5).permutation(y)
    res = A.ensemble_null(x, y, taus=(0.5, 1.0, 2.0), n_shuffles=100, random_state=0)
    inside = (res["size"] >= res["null_lo"]) & (res["size"] <= res["null_hi"])
    assert inside.mean() >= 0.8, (res["size"], res["null_lo"], res["null_hi"])
    mean = res["size"].mean(axis=1)
    assert (mean >= res["null_lo"].mean(axis=1)).all() and (mean <= res["null_hi"].mean(axis=1)).all()


def test_ensemble_null_table_and_figure(tmp_path):
    x, y = _population(planted=True)
    pres = {"stimulus_id": [f"p/{i:03d}" for i in range(y.size)], "label": y,
            "label_name": np.array(list("abcde"))[y], "split": ["test"] * y.size, "predicted": y,
            "correct": np.ones(y.size, bool)}  # fmt: skip
    rec = make_recording(x.astype(np.float32), presentation=pres, layer_sizes=[100, 100],
             attrs={"model": "ff", "dataset": "synthetic", "seed": 0, "config": {}, "site": "post-relu"})
    rows, class_rows = T.ensemble_null_rows(rec, "FF", rng=np.random.default_rng(0), taus=(0.5, 1.0, 2.0),
                                            n_shuffles=20)
    tab = pd.DataFrame(rows)
    assert list(tab.columns[:10]) == ["source", "layer", "tau", "size_mean", "null_size_mean", "null_lo", "null_hi",
                                      "n_shuffles", "frac_classes_above_null", "specificity_jaccard"]  # fmt: skip
    assert len(tab) == 2 * 3 and len(class_rows) == 2 * 3 * N_CLASSES
    # the real sizes at tau are those of the ensemble_sizes table (the same rule on the same presentations)
    tabs, _, _ = T.recording_tables(rec, "FF", rng=np.random.default_rng(0), n_bootstrap=5, n_shuffles=0, tau=1.0)
    sizes = pd.DataFrame(tabs["ensemble_sizes"]).set_index(["layer", "label"])["size"]
    cls = pd.DataFrame(class_rows).query("tau == 1.0").set_index(["layer", "label"])["size"]
    pd.testing.assert_series_equal(cls.sort_index(), sizes.sort_index(), check_names=False)
    # layer 1 holds the planted ensembles of classes 0-4 (neuroids 0..99): above the null at tau = 1 and 2
    l1 = tab[(tab["layer"] == 1) & (tab["tau"] >= 1)]
    assert (l1["frac_classes_above_null"] == 1.0).all()

    from ensembles.plot.controls import ensemble_null_curves

    fig = ensemble_null_curves(tab)
    assert len(fig.axes) == 2
    fig.savefig(tmp_path / "null.png")


def test_training_tables_report_silent_units():
    x, y = _silent_layer()
    act = np.stack([x, x]).astype(np.float32)  # two checkpoints
    pres = {"stimulus_id": [f"syn/{i:03d}" for i in range(y.size)], "label": y,
            "label_name": np.array(list("abcde"))[y], "split": ["test"] * y.size, "predicted": np.stack([y, y]),
            "correct": np.ones((2, y.size), bool)}  # fmt: skip
    rec = make_recording(act, presentation=pres, layer_sizes=[x.shape[1]], epochs=[1, 2],
                         attrs={"model": "ff", "dataset": "synthetic", "seed": 0, "config": {}, "site": "post-relu"})
    for rows in (T.checkpoint_rows(rec, "FF"), T.sweep_rows(rec, "r0", "FF", {})):
        t = pd.DataFrame(rows)
        assert (t["n_silent_neuroids"] == SILENT).all() and (t["frac_silent_neuroids"] == 0.5).all()
        assert (t["n_all_zero_presentations"] == N_ZERO).all()
