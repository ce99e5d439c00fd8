"""Selectivity statistics: closed forms, scipy f_oneway reference, naive loops, backends, shuffles, errors."""

import json
import math
from pathlib import Path

import numpy as np
import pytest
import scipy.stats as st
import xarray as xr

from ensembles.analysis import selectivity as S

REF = Path(__file__).resolve().parents[1] / "reference"


def make(rng, n=240, n_neur=12, k=4):
    lab = np.repeat(np.arange(k), n // k)
    x = rng.exponential(size=(n, n_neur))
    x[:, 0] = (lab == 2) * 1.5  # responds to one class only
    x[:, 1] += 4.0 * (lab == 1) + 4.0 * (lab == 3)  # two driving classes
    x[:, 2] = 0.0  # silent
    return x, lab


def as_da(x, lab):
    return xr.DataArray(
        x,
        dims=("presentation", "neuroid"),
        coords={"label": ("presentation", lab), "neuroid_id": ("neuroid", [f"n{i:02d}" for i in range(x.shape[1])])},
    )


def test_class_means_and_preferred(rng):
    x, lab = make(rng)
    cm = S.class_means(x, lab)
    np.testing.assert_allclose(cm, [x[lab == c].mean(0) for c in range(4)])
    da = S.class_means(as_da(x, lab))
    assert da.dims == ("category", "neuroid") and list(da["category"].values) == [0, 1, 2, 3]
    assert S.preferred_class(x, lab)[0] == 2
    assert S.preferred_class(as_da(x, lab)).values[0] == 2


def test_csi_closed_forms(rng):
    x, lab = make(rng)
    r = S.class_selectivity_index(x, lab, n_shuffles=0)
    assert r["csi"][0] == 1.0 and r["preferred"][0] == 2
    assert np.isnan(r["csi"][2]) and r.attrs["n_silent"] == 1
    # two equally driven classes out of 4 (means m+4, m+4, m, m): CSI = (4 + m - (4 + 3m)/3 ... ) computed directly
    cm = np.array([x[lab == c, 1].mean() for c in range(4)])
    mx = cm.max()
    rest = (cm.sum() - mx) / 3
    assert r["csi"][1] == pytest.approx((mx - rest) / (mx + rest))
    eps = S.class_selectivity_index(x, lab, epsilon=0.5, n_shuffles=0)
    assert eps["csi"][0] == pytest.approx(1.5 / (1.5 + 0.5))
    assert np.isnan(r["p"]).all()


def test_csi_shuffle_pvalues(rng):
    x, lab = make(rng)
    r = S.class_selectivity_index(x, lab, n_shuffles=99, random_state=3)
    assert r["p"][0] == pytest.approx(0.01) and r["p"][1] == pytest.approx(0.01)
    noise = r["p"][3:]
    assert np.all((noise > 0) & (noise <= 1))
    assert np.all(r["q"][np.isfinite(r["q"])] >= r["p"][np.isfinite(r["p"])])
    again = S.class_selectivity_index(x, lab, n_shuffles=99, random_state=3)
    xr.testing.assert_identical(r.to_dataset(), again.to_dataset())
    assert r.attrs["n_shuffles"] == 99 and "fdr_bh" in r.attrs["correction"]


def test_anova_matches_frozen_scipy_reference():
    ref = json.loads((REF / "scipy_f_oneway.json").read_text())
    r = S.anova(np.array(ref["x"]), np.array(ref["labels"]))
    np.testing.assert_allclose(r["F"], ref["F"], rtol=1e-10)
    np.testing.assert_allclose(r["p"], ref["p"], rtol=1e-8)


def test_anova_vs_scipy_and_effect_sizes(rng):
    x, lab = make(rng)
    x = x + 1000.0  # large offset: the pilot shift keeps the sums accurate
    r = S.anova(x, lab)
    F, p = st.f_oneway(*[x[lab == c] for c in range(4)], axis=0)
    ok = np.isfinite(F)
    np.testing.assert_allclose(r["F"][ok], F[ok], rtol=1e-7)
    np.testing.assert_allclose(r["p"][ok], p[ok], rtol=1e-6, atol=1e-300)
    j = 5
    v = x[:, j]
    ss_t = ((v - v.mean()) ** 2).sum()
    ss_b = sum((lab == c).sum() * (v[lab == c].mean() - v.mean()) ** 2 for c in range(4))
    msw = (ss_t - ss_b) / (len(v) - 4)
    assert r["eta2"][j] == pytest.approx(ss_b / ss_t, rel=1e-8)
    assert r["omega2"][j] == pytest.approx((ss_b - 3 * msw) / (ss_t + msw), rel=1e-7)
    assert r["eta2"][0] == pytest.approx(1.0)  # within-class variance 0
    assert np.isnan(r["F"][2])  # constant


def test_dprime_vs_naive(rng):
    x, lab = make(rng)
    r = S.dprime(x, lab, n_shuffles=0)
    for j in range(3, 8):
        v = x[:, j]
        pref = np.argmax([v[lab == c].mean() for c in range(4)])
        a, b = v[lab == pref], v[lab != pref]
        want = (a.mean() - b.mean()) / math.sqrt((a.var(ddof=1) + b.var(ddof=1)) / 2)
        assert r["dprime"][j] == pytest.approx(want, rel=1e-9)
    assert np.isinf(r["dprime"][0])


def test_tuning_sparseness(rng):
    x, lab = make(rng)
    r = S.tuning_sparseness(x, lab, n_shuffles=49, random_state=0)
    assert r["tuning_sparseness"][0] == pytest.approx(1.0)
    assert np.isnan(r["tuning_sparseness"][2]) and r.attrs["n_silent"] == 1
    assert r["p"][0] == pytest.approx(0.02)


def test_n_driven_classes(rng):
    x, lab = make(rng)
    for test in ("welch", "mannwhitney"):
        r = S.n_driven_classes(x, lab, test=test)
        assert r["n_driven"][1] == 2
        assert list(np.flatnonzero(r["driven"][:, 1])) == [1, 3]
        assert r["n_driven"][2] == 0
        assert "over all neuroid x class tests" in r.attrs["correction"]
    # Welch t vs scipy for one class / neuroid
    r = S.n_driven_classes(x, lab, correction="none")
    j, c = 5, 1
    t, p = st.ttest_ind(x[lab == c, j], x[lab != c, j], equal_var=False, alternative="greater")
    assert r["statistic"][c, j] == pytest.approx(t, rel=1e-9)
    assert r["p"][c, j] == pytest.approx(p, rel=1e-7)
    bonf = S.n_driven_classes(x, lab, correction="bonferroni")
    assert np.all(bonf["q"][np.isfinite(bonf["q"])] >= r["p"][np.isfinite(r["p"])])


def test_mutual_information(rng):
    n = 400
    lab = np.repeat(np.arange(4), n // 4)
    x = np.zeros((n, 3))
    x[:, 0] = lab + rng.random(n) * 0.1  # response determines the class: MI = log2(4) = 2 bits with 4 bins
    x[:, 1] = rng.random(n)  # independent
    x[:, 2] = 1.0  # constant: MI = 0
    r = S.mutual_information(x, lab, n_bins=4, n_shuffles=99, random_state=0)
    assert r["mi_plugin"][0] == pytest.approx(2.0)
    assert r["p"][0] == pytest.approx(0.01)
    assert abs(r["mi"][1]) < 0.05 and r["p"][1] > 0.01
    assert r["mi_plugin"][2] == 0.0
    # plug-in vs a naive loop on a noisy neuroid
    v = rng.random(n) + 0.3 * lab
    got = S.mutual_information(v[:, None], lab, n_bins=5, n_shuffles=0)["mi_plugin"][0]
    bins = np.minimum((st.rankdata(v, method="min") - 1) * 5 // n, 4).astype(int)
    joint = np.zeros((4, 5))
    for s_, b_ in zip(lab, bins, strict=True):
        joint[s_, b_] += 1
    pj = joint / n
    ps, pb = pj.sum(1, keepdims=True), pj.sum(0, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        want = np.nansum(np.where(pj > 0, pj * np.log2(pj / (ps * pb)), 0))
    assert got == pytest.approx(want, rel=1e-12)


def test_numpy_dataarray_dask_agree(rng):
    x, lab = make(rng, n=120, n_neur=10, k=3)
    x[4, 6] = np.nan
    da = as_da(x, lab)
    dk = da.chunk({"presentation": 25, "neuroid": 4})
    kw = {"n_shuffles": 30, "random_state": 7}
    calls = [
        (S.class_selectivity_index, kw),
        (S.dprime, kw),
        (S.anova, {}),
        (S.tuning_sparseness, kw),
        (S.n_driven_classes, {}),
        (S.mutual_information, {**kw, "block_size": 3}),
    ]
    for f, k in calls:
        a, b, c = f(x, lab, **k), f(da, **k), f(dk, **k)
        assert set(a) == set(b.data_vars) and a.attrs == b.attrs  # numpy in: the same names and attrs, unlabelled
        for v in a:
            np.testing.assert_allclose(b[v].values.astype(float), a[v].astype(float), rtol=1e-10,
                                       equal_nan=True, err_msg=f"{f.__name__}.{v}")  # fmt: skip
            xr.testing.assert_allclose(b[v], c[v], rtol=1e-10)
        assert "neuroid_id" in b.coords and b.attrs == c.attrs
        assert np.isnan(b[list(b.data_vars)[0]].values[6]) or f is S.n_driven_classes
    np.testing.assert_allclose(S.class_means(dk).values, S.class_means(x, lab), rtol=1e-12, equal_nan=True)


ERRORS = [
    (lambda x, y: S.anova(x, y[:-1]), ValueError, r"one entry per presentation \(120\)"),
    (lambda x, y: S.anova(x, np.zeros_like(y)), ValueError, "at least 2 distinct classes"),
    (lambda x, y: S.anova(x[:, 0], y), ValueError, "2-D array"),
    (lambda x, y: S.class_selectivity_index(x, y, epsilon=-1), ValueError, "'epsilon' parameter"),
    (lambda x, y: S.class_selectivity_index(x, y, n_shuffles=-1), ValueError, "'n_shuffles' parameter"),
    (lambda x, y: S.class_selectivity_index(x), TypeError, "'labels' parameter"),
    (lambda x, y: S.mutual_information(x, y, n_bins=1), ValueError, "'n_bins' parameter"),
    (lambda x, y: S.n_driven_classes(x, y, correction="holm"), ValueError, "'correction' parameter"),
    (lambda x, y: S.n_driven_classes(x, y, alpha=2), ValueError, "'alpha' parameter"),
    (lambda x, y: S.anova(np.where(x > 1, np.nan, x), y, nan_policy="raise"), ValueError, "finite values"),
    (lambda x, y: S.anova(as_da(x, y), "stimulus"), ValueError, "coord 'stimulus' not found"),
    (lambda x, y: S.anova(as_da(x, y), dim="trial"), ValueError, "dim='trial' not found"),
    (lambda x, y: S.tuning_sparseness(x - 5, y), ValueError, "non-negative"),
]


@pytest.mark.parametrize("call,exc,match", ERRORS)
def test_error_table(rng, call, exc, match):
    x, lab = make(rng, n=120, n_neur=5, k=3)
    with pytest.raises(exc, match=match):
        call(x, lab)


def test_preference_order_hand_example():
    # neuroid: 0 prefers class 1 (contrast 3), 1 ties (means 1 and 1: argmax takes class 0, contrast 0), 2 is
    # silent, 3 prefers class 0 (contrast 4), 4 prefers class 1 (contrast 1): blocks by preferred class, within a
    # block by decreasing contrast, the silent neuroid last
    x = np.array([[0.0, 2.0, 0.0, 4.0, 0.0],
                  [0.0, 0.0, 0.0, 4.0, 0.0],
                  [3.0, 1.0, 0.0, 0.0, 1.0],
                  [3.0, 1.0, 0.0, 0.0, 1.0]])
    y = [0, 0, 1, 1]
    # class means: class 0 = [0, 1, 0, 4, 0]; class 1 = [3, 1, 0, 0, 1]
    assert S.preference_order(x, y).tolist() == [3, 1, 0, 4, 2]
    da = S.preference_order(as_da(x, np.array(y)))
    assert da.values.tolist() == [3, 1, 0, 4, 2] and da["neuroid_id"].values.tolist() == [f"n{i:02d}" for i in (3, 1, 0, 4, 2)]


@pytest.mark.parametrize(
    "func,kw,variables",
    [
        (S.class_selectivity_index, {"n_shuffles": 0}, ("csi", "preferred", "mu_max", "mu_rest")),
        (S.dprime, {"n_shuffles": 0}, ("dprime", "preferred")),
        (S.anova, {}, ("F", "p", "eta2", "omega2")),
        (S.tuning_sparseness, {"n_shuffles": 0}, ("tuning_sparseness",)),
        (S.n_driven_classes, {}, ("statistic", "p")),
        (S.n_driven_classes, {"test": "mannwhitney"}, ("statistic", "p")),
        (S.mutual_information, {"n_shuffles": 0, "n_bins": 4}, ("mi_plugin",)),
    ],
    ids=["csi", "dprime", "anova", "tuning", "n_driven", "n_driven_mw", "mi"],
)
def test_nan_policy_omit_equals_dropping_the_missing_entries(rng, func, kw, variables):
    """nan_policy="omit" (scipy's convention, as in sparsity) on a neuroid with missing entries gives what the same
    function gives on that neuroid's complete presentations alone (an independent path: the propagate code on a
    smaller matrix)."""
    x, lab = make(rng, n=120, n_neur=6, k=3)
    x = x + 0.1  # no silent neuroid
    holes = rng.random(x.shape) < 0.08
    holes[:, :2] = False  # neuroids 0 and 1 complete
    x[holes] = np.nan
    got = func(x, lab, nan_policy="omit", **kw)
    for j in range(x.shape[1]):
        ok = np.isfinite(x[:, j])
        ref = func(x[ok, j : j + 1], lab[ok], **kw)
        for v in variables:
            want = np.asarray(ref[v])[..., 0]
            np.testing.assert_allclose(np.asarray(got[v])[..., j], want, rtol=1e-9, err_msg=f"{v}, neuroid {j}")
    with pytest.raises(ValueError, match="nan_policy='raise'"):
        func(x, lab, nan_policy="raise", **kw)


def test_nan_policy_omit_shuffle_pvalues(rng):
    x, lab = make(rng, n=120, n_neur=6, k=3)
    x[rng.random(x.shape) < 0.05] = np.nan
    prop = S.class_selectivity_index(x, lab, n_shuffles=49, random_state=0)
    omit = S.class_selectivity_index(x, lab, n_shuffles=49, random_state=0, nan_policy="omit")
    has_nan = np.isnan(x).any(0)
    assert has_nan.sum() >= 3 and np.isnan(prop["csi"][has_nan]).all()
    assert np.isfinite(omit["csi"][has_nan & (np.nanstd(x, 0) > 0)]).all()
    assert np.all((omit["p"][np.isfinite(omit["csi"])] > 0) & (omit["p"][np.isfinite(omit["csi"])] <= 1))
    complete = ~has_nan  # neuroids without NaN: the same numbers under both policies
    np.testing.assert_array_equal(omit["p"][complete], prop["p"][complete])
