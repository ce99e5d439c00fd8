"""Sparseness measures: analytic closed forms (docs/methods.md §A1.3), AllenSDK vectors, naive loops, backends,
errors."""

import json
import math
from pathlib import Path

import numpy as np
import pytest
import scipy.stats as st
import xarray as xr

from ensembles.analysis import sparsity as S

REF = Path(__file__).resolve().parents[1] / "reference"
MEASURES = ["vinje-gallant", "treves-rolls", "hoyer", "gini", "kurtosis", "kurtosis-moment"]


def k_active(n, k, value=2.5):
    r = np.zeros(n)
    r[:k] = value
    return r


# ---- tier 1: analytic closed forms ---------------------------------------------------------------------------------


@pytest.mark.parametrize("n,k", [(10, 1), (10, 2), (50, 5), (1000, 30), (7, 7)])
def test_k_of_n_closed_forms(n, k):
    x = k_active(n, k)[:, None]  # one neuroid, n stimuli
    f = k / n
    assert S.lifetime_sparseness(x, "treves-rolls")[0] == pytest.approx(k / n, rel=1e-12)
    vg = (1 - k / n) / (1 - 1 / n)
    assert S.lifetime_sparseness(x, "vinje-gallant")[0] == pytest.approx(vg, rel=1e-12, abs=1e-12)
    hoyer = (math.sqrt(n) - math.sqrt(k)) / (math.sqrt(n) - 1)
    assert S.lifetime_sparseness(x, "hoyer")[0] == pytest.approx(hoyer, rel=1e-12, abs=1e-12)
    assert hoyer == pytest.approx((1 - math.sqrt(f)) / (1 - 1 / math.sqrt(n)))
    # Gini of a k-sparse binary vector: 1 - k/n (sum over the k largest of (n - j + 1/2)/n / k)
    g = 1 - 2 * sum((n - j + 0.5) / n for j in range(n - k + 1, n + 1)) / k
    assert S.lifetime_sparseness(x, "gini")[0] == pytest.approx(g, abs=1e-12)


def test_one_hot_and_constant():
    n = 12
    onehot = k_active(n, 1)[None, :]  # one presentation, n neuroids: population measure
    assert S.population_sparseness(onehot, "hoyer")[0] == 1.0
    assert S.population_sparseness(onehot, "vinje-gallant")[0] == pytest.approx(1.0)
    assert S.population_sparseness(onehot, "treves-rolls")[0] == pytest.approx(1 / n)
    assert S.population_sparseness(onehot, "gini")[0] == pytest.approx(1 - 1 / n)
    const = np.full((1, n), 3.0)
    for m, v in [("hoyer", 0.0), ("vinje-gallant", 0.0), ("gini", 0.0), ("treves-rolls", 1.0)]:
        assert S.population_sparseness(const, m)[0] == v
    assert np.isnan(S.population_sparseness(const, "kurtosis")[0])


def test_hoyer_table_closed_form():
    # docs/methods.md §A1.3: f = 5 % at n = 1000 -> 0.802; 25 % -> 0.516
    assert S.population_sparseness(k_active(1000, 50)[None], "hoyer")[0] == pytest.approx(0.802, abs=5e-4)
    assert S.population_sparseness(k_active(1000, 250)[None], "hoyer")[0] == pytest.approx(0.516, abs=5e-4)


def test_silent_constant_and_n1_policy_with_attrs():
    x = np.array([[0.0, 1.0, 2.0], [0.0, 1.0, 0.0], [0.0, 1.0, 1.0]])  # neuroid 0 silent, neuroid 1 constant
    da = xr.DataArray(x, dims=("presentation", "neuroid"))
    for m in MEASURES:
        r = S.lifetime_sparseness(da, m)
        assert np.isnan(r.values[0]), m
        assert r.attrs["n_silent"] == 1 and r.attrs["n_constant"] == 1
        assert r.attrs["negative"] == "raise" and r.attrs["nan_policy"] == "propagate" and r.attrs["n"] == 3
        assert "definition" in r.attrs and r.attrs["measure"] in m.replace("kurtosis", "kurtosis-sample") + m
    assert np.isnan(S.lifetime_sparseness(np.array([[1.0, 2.0]]), "vinje-gallant")).all()  # n = 1


def test_kurtosis_conventions_vs_scipy(rng):
    x = rng.gamma(0.5, size=(60, 5))
    np.testing.assert_allclose(S.lifetime_sparseness(x, "kurtosis-moment"), st.kurtosis(x, axis=0), rtol=1e-10)
    n = 60
    d = x - x.mean(0)
    sample = (d**4).sum(0) / ((n - 1) * x.var(0, ddof=1) ** 2) - 3
    np.testing.assert_allclose(S.lifetime_sparseness(x, "kurtosis"), sample, rtol=1e-10)
    np.testing.assert_allclose(S.kurtosis_sparseness(x, convention="sample"), sample, rtol=1e-10)


# ---- tier 2: AllenSDK image-selectivity vectors ----------------------------------------------------------------------


def _allen_input(spec):
    if spec == "zeros(118)":
        return np.zeros(118)
    if spec == "ones(118)":
        return np.ones(118)
    if spec == "[0]*200 + [1]":
        return np.array([0.0] * 200 + [1.0])
    return np.array(spec, dtype=float)


@pytest.mark.parametrize("case", json.loads((REF / "allen_image_selectivity.json").read_text())["cases"])
def test_allen_image_selectivity_vectors(case):
    r = _allen_input(case["input"])
    got = S.image_selectivity(r)
    if case["expected"] is None:
        assert np.isnan(got)
    else:
        assert got == pytest.approx(case["expected"], rel=case.get("rtol", 0), abs=1e-15)
    if r.size >= 1:  # same number as a column of a 2-D array, a list and a DataArray
        col = S.image_selectivity(r[:, None])
        lst = S.image_selectivity(r.tolist())
        da = S.image_selectivity(xr.DataArray(r[:, None], dims=("stimulus", "neuroid")), dim="stimulus")
        for v in (col[0], lst, float(da.values[0])):
            assert (np.isnan(v) and np.isnan(got)) or v == got


def test_image_selectivity_one_of_n():
    for n in (5, 118):
        assert S.image_selectivity(k_active(n, 1)) == pytest.approx(1 - 2 / n, abs=1e-12)


# ---- tier 3: vectorised kernels vs naive loops -------------------------------------------------------------------


def _naive(r, m):
    r = np.asarray(r, float)
    n = len(r)
    if m == "treves-rolls":
        return (sum(r) / n) ** 2 / sum(v * v / n for v in r)
    if m == "vinje-gallant":
        return (1 - (sum(r) / n) ** 2 / sum(v * v / n for v in r)) / (1 - 1 / n)
    if m == "hoyer":
        return (math.sqrt(n) - sum(abs(v) for v in r) / math.sqrt(sum(v * v for v in r))) / (math.sqrt(n) - 1)
    if m == "gini":
        c = sorted(abs(v) for v in r)
        l1 = sum(c)
        return 1 - 2 * sum(c[k - 1] / l1 * (n - k + 0.5) / n for k in range(1, n + 1))
    raise AssertionError


@pytest.mark.parametrize("m", ["treves-rolls", "vinje-gallant", "hoyer", "gini"])
def test_kernels_vs_naive_loop(rng, m):
    x = rng.exponential(size=(23, 9)) * (rng.random((23, 9)) > 0.4)
    got = S.population_sparseness(x, m)
    want = [_naive(row, m) for row in x]
    np.testing.assert_allclose(got, want, rtol=1e-10)
    np.testing.assert_allclose(S.lifetime_sparseness(x, m), [_naive(col, m) for col in x.T], rtol=1e-10)


def test_image_selectivity_vs_allen_loop(rng):
    x = rng.exponential(size=(40, 6))
    for j in range(6):
        r = x[:, j]
        thresh = r.min() + np.arange(1000) * ((r.max() - r.min()) / 1000)
        want = 1 - 2 * np.mean([np.mean(r > t) for t in thresh])
        assert S.image_selectivity(x)[j] == want


# ---- policies ----------------------------------------------------------------------------------------------------


def test_negative_policies():
    x = np.array([[-1.0, 0.5], [1.0, 0.5], [3.0, 2.0]])
    with pytest.raises(ValueError, match="negative='raise'"):
        S.lifetime_sparseness(x)
    clip = S.lifetime_sparseness(x, negative="clip")
    np.testing.assert_allclose(clip[0], _naive([0, 1, 3], "vinje-gallant"))
    np.testing.assert_allclose(S.lifetime_sparseness(x, negative="abs")[0], _naive([1, 1, 3], "vinje-gallant"))
    np.testing.assert_allclose(S.lifetime_sparseness(x, negative="shift")[0], _naive([0, 2, 4], "vinje-gallant"))
    np.testing.assert_allclose(S.lifetime_sparseness(x, "hoyer", negative="allow")[0], _naive([-1, 1, 3], "hoyer"))
    with pytest.raises(ValueError, match="sign-tolerant"):
        S.lifetime_sparseness(x, "vinje-gallant", negative="allow")
    da = S.lifetime_sparseness(xr.DataArray(x, dims=("presentation", "neuroid")), negative="clip")
    assert da.attrs["negative"] == "clip"


def test_nan_policies():
    x = np.array([[1.0, 0.0], [np.nan, 2.0], [3.0, 1.0], [0.0, 1.0]])
    prop = S.lifetime_sparseness(x, "hoyer")
    assert np.isnan(prop[0]) and np.isfinite(prop[1])
    omit = S.lifetime_sparseness(x, "hoyer", nan_policy="omit")
    assert omit[0] == pytest.approx(_naive([1, 3, 0], "hoyer"))
    assert S.lifetime_sparseness(x, "gini", nan_policy="omit")[0] == pytest.approx(_naive([1, 3, 0], "gini"))
    with pytest.raises(ValueError, match="nan_policy='raise'"):
        S.lifetime_sparseness(x, nan_policy="raise")
    with pytest.raises(ValueError, match="nan_policy='raise'"):
        S.lifetime_sparseness(np.array([[1.0], [np.inf]]), nan_policy="raise")


def test_fraction_active_modes():
    x = np.array([[0.0, 1.0, 4.0], [2.0, 0.0, 1.0], [1.0, 0.5, 0.0], [0.0, 0.0, 0.0]])
    np.testing.assert_allclose(S.fraction_active(x), [2 / 3, 2 / 3, 2 / 3, 0])
    # > half of each neuroid's max: maxima (2, 1, 4) -> thresholds (1, .5, 2)
    np.testing.assert_allclose(S.fraction_active(x, mode="fraction_of_max"), [2 / 3, 1 / 3, 0, 0])
    np.testing.assert_allclose(S.fraction_active(x, mode="fraction_of_max", dim="presentation"), [1 / 4, 1 / 4, 1 / 4])
    base = np.array([[0.0, 0.0, 0.0], [1.0, 1.0, 1.0]])  # mean .5, sd .7071 -> theta = .5 + 2*.7071 = 1.914
    np.testing.assert_allclose(
        S.fraction_active(x, mode="sd_above_baseline", baseline=base, dim="presentation"), [1 / 4, 0, 1 / 4]
    )
    with pytest.raises(ValueError, match="'baseline'"):
        S.fraction_active(x, mode="sd_above_baseline")


def test_condition_means_and_lifetime_on_trial_average(rng):
    x = rng.exponential(size=(30, 4))
    stim = np.repeat(np.arange(10), 3)
    da = xr.DataArray(x, dims=("presentation", "neuroid"), coords={"stimulus_id": ("presentation", stim)})
    cm = S.condition_means(da)
    assert cm.dims == ("stimulus", "neuroid") and cm.sizes["stimulus"] == 10
    np.testing.assert_allclose(cm.values, x.reshape(10, 3, 4).mean(1))
    assert (cm["n_presentations"].values == 3).all()
    np.testing.assert_allclose(S.condition_means(x, stim), cm.values)
    lt = S.lifetime_sparseness(cm, dim="stimulus")
    np.testing.assert_allclose(lt.values, S.lifetime_sparseness(x.reshape(10, 3, 4).mean(1)))


def test_subsample_sparseness(rng):
    x = rng.exponential(size=(50, 200))
    r = S.subsample_sparseness(x, 20, "hoyer", n_bootstrap=30, random_state=1)
    assert r["draws"].shape == (30,) and r["ci_low"] <= r["estimate"] <= r["ci_high"]
    assert r.dims["draws"] == ("bootstrap",) and r.attrs["n_bootstrap"] == 30
    again = S.subsample_sparseness(x, 20, "hoyer", n_bootstrap=30, random_state=1)
    xr.testing.assert_identical(r.to_dataset(), again.to_dataset())  # the same random_state, the same draws
    full = S.subsample_sparseness(x, 200, "hoyer", n_bootstrap=2, random_state=1)
    assert float(full["estimate"]) == pytest.approx(np.mean(S.population_sparseness(x, "hoyer")))
    per = S.subsample_sparseness(x, 10, "vinje-gallant", dim="presentation", n_bootstrap=5, aggregate=None,
                                 random_state=0)
    assert per["estimate"].shape == (200,)
    labelled = S.subsample_sparseness(xr.DataArray(x, dims=("presentation", "neuroid")), 20, "hoyer",
                                      n_bootstrap=30, random_state=1)
    assert isinstance(labelled, xr.Dataset) and labelled["draws"].dims == ("bootstrap",)
    np.testing.assert_array_equal(labelled["draws"].values, r["draws"])


# ---- backends ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("dim", ["presentation", "neuroid"])
@pytest.mark.parametrize("policy", [("raise", "propagate"), ("shift", "omit")])
def test_numpy_dataarray_dask_agree(rng, dim, policy):
    negative, nan_policy = policy
    x = (rng.exponential(size=(64, 21)) * (rng.random((64, 21)) > 0.3)).astype(np.float32)
    x[:, 3] = 0.0  # silent neuroid
    if nan_policy == "omit":
        x[5, 4] = np.nan
        x = x - 0.2
    coords = {"neuroid_id": ("neuroid", [f"n{i}" for i in range(21)]), "stimulus_id": ("presentation", np.arange(64))}
    da = xr.DataArray(x, dims=("presentation", "neuroid"), coords=coords)
    dk = da.chunk({"presentation": 17, "neuroid": 8})
    for m in MEASURES:
        a = S.sparseness(x, m, dim=dim, negative=negative, nan_policy=nan_policy)
        b = S.sparseness(da, m, dim=dim, negative=negative, nan_policy=nan_policy)
        c = S.sparseness(dk, m, dim=dim, negative=negative, nan_policy=nan_policy)
        np.testing.assert_allclose(b.values, a, rtol=1e-12, equal_nan=True)
        xr.testing.assert_allclose(b, c, rtol=1e-10)
        assert b.attrs == c.attrs
        kept = "neuroid" if dim == "presentation" else "presentation"
        assert b.dims == (kept,) and (f"{'neuroid' if kept == 'neuroid' else 'stimulus'}_id" in b.coords)
    if nan_policy == "propagate":
        for mode in (">0", "fraction_of_max"):
            a = S.fraction_active(x, mode=mode, dim=dim)
            np.testing.assert_allclose(S.fraction_active(da, mode=mode, dim=dim).values, a)
            np.testing.assert_allclose(S.fraction_active(dk, mode=mode, dim=dim).values, a)
        if dim == "presentation":
            a = S.image_selectivity(x)
            np.testing.assert_allclose(S.image_selectivity(dk).values, a)
            cm = S.condition_means(x, np.arange(64) % 5)
            np.testing.assert_allclose(S.condition_means(dk, np.arange(64) % 5).values, cm, rtol=1e-12)


def test_extra_dims_kept(rng):
    x = rng.exponential(size=(3, 10, 4))
    da = xr.DataArray(x, dims=("checkpoint", "presentation", "neuroid"), coords={"epoch": ("checkpoint", [1, 2, 3])})
    r = S.lifetime_sparseness(da)
    assert r.dims == ("checkpoint", "neuroid") and list(r["epoch"].values) == [1, 2, 3]
    np.testing.assert_allclose(r.values[1], S.lifetime_sparseness(x[1]))


# ---- error table -------------------------------------------------------------------------------------------------

ERRORS = [
    (lambda: S.lifetime_sparseness(np.ones(5)), ValueError, "2-D array"),
    (lambda: S.lifetime_sparseness(np.ones((0, 3))), ValueError, "must not be empty"),
    (lambda: S.lifetime_sparseness(np.array([["a"]])), TypeError, "numeric array"),
    (lambda: S.lifetime_sparseness(np.ones((3, 3)), "hoyr"), ValueError, "Did you mean 'hoyer'"),
    (lambda: S.lifetime_sparseness(np.ones((3, 3)), dim="stimulus"), ValueError, "dim='stimulus' not found"),
    (
        lambda: S.lifetime_sparseness(xr.DataArray(np.ones((3, 3)), dims=("a", "b"))),
        ValueError,
        r"dim='presentation' not found in x dims \('a', 'b'\)",
    ),
    (lambda: S.lifetime_sparseness(-np.ones((3, 3))), ValueError, "non-negative"),
    (lambda: S.lifetime_sparseness(np.ones((3, 3)), negative="zero"), ValueError, "'negative' parameter"),
    (lambda: S.lifetime_sparseness(np.ones((3, 3)), nan_policy="skip"), ValueError, "'nan_policy' parameter"),
    (lambda: S.fraction_active(np.ones((3, 3)), mode="half"), ValueError, "'mode' parameter"),
    (lambda: S.fraction_active(np.ones((3, 3)), threshold=np.nan), ValueError, "'threshold' parameter"),
    (lambda: S.condition_means(np.ones((3, 3)), [0, 1]), ValueError, "one entry per presentation"),
    (lambda: S.subsample_sparseness(np.ones((3, 3)), 5), ValueError, "'n' parameter"),
    (lambda: S.image_selectivity(np.ones(3), num_steps=2.5), TypeError, "'num_steps' parameter"),
    (lambda: S.kurtosis_sparseness(np.ones((3, 3)), convention="fisher"), ValueError, "'convention' parameter"),
]


@pytest.mark.parametrize("call,exc,match", ERRORS)
def test_error_table(call, exc, match):
    with pytest.raises(exc, match=match):
        call()
