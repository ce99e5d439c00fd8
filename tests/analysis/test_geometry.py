"""Tests of ensembles.analysis.geometry: RDMs, RDM comparison, linear CKA, decoding, dimensionality.

Reference values are either analytic (stated in each test) or computed by an independent code path written
directly in the test (HSIC with explicit centring matrices, scipy's rank correlations, τ-a by pair counting).
"""

import numpy as np
import pytest
import xarray as xr
from scipy import stats
from scipy.spatial.distance import pdist, squareform

from ensembles.analysis.geometry import (
    compare_rdms,
    decode,
    eigenspectrum,
    eigenspectrum_alpha,
    kendall_tau_a,
    linear_cka,
    participation_ratio,
    rdm,
)


def _activity(x, stimulus_ids=None, labels=None):
    n, p = x.shape
    coords = {
        "stimulus_id": (
            "presentation",
            np.asarray(stimulus_ids if stimulus_ids is not None else [f"s{i:03d}" for i in range(n)]),
        ),
        "neuroid_id": ("neuroid", np.array([f"layer1.{j:04d}" for j in range(p)])),
    }
    if labels is not None:
        coords["label"] = ("presentation", np.asarray(labels))
        coords["label_name"] = ("presentation", np.array([f"class{v}" for v in labels]))
    return xr.DataArray(x, dims=("presentation", "neuroid"), coords=coords)


# ---------------------------------------------------------------- CKA: published formula, written out directly
def _hsic_biased(k, m):
    n = k.shape[0]
    h = np.eye(n) - np.ones((n, n)) / n
    return np.trace(k @ h @ m @ h) / (n - 1) ** 2


def _cka_direct(x, y):
    k, m = x @ x.T, y @ y.T
    return _hsic_biased(k, m) / np.sqrt(_hsic_biased(k, k) * _hsic_biased(m, m))


def _hsic_unbiased_direct(k, m):
    n = k.shape[0]
    kt, lt = k.copy(), m.copy()
    np.fill_diagonal(kt, 0)
    np.fill_diagonal(lt, 0)
    one = np.ones(n)
    return (
        np.trace(kt @ lt)
        + (one @ kt @ one) * (one @ lt @ one) / ((n - 1) * (n - 2))
        - 2.0 / (n - 2) * (one @ kt @ lt @ one)
    ) / (n * (n - 3))


def _cka_debiased_direct(x, y):
    x = x - x.mean(0)
    y = y - y.mean(0)
    k, m = x @ x.T, y @ y.T
    return _hsic_unbiased_direct(k, m) / np.sqrt(_hsic_unbiased_direct(k, k) * _hsic_unbiased_direct(m, m))


@pytest.mark.parametrize(
    "shape", [(40, 7, 5), (12, 60, 90)]
)  # n > p,q (feature path) and n < p,q (gram path)
def test_linear_cka_matches_hsic_formula(rng, shape):
    n, p, q = shape
    x = rng.normal(size=(n, p))
    y = x[:, : min(p, q)] @ rng.normal(size=(min(p, q), q)) + rng.normal(size=(n, q))
    assert linear_cka(x, y) == pytest.approx(_cka_direct(x, y), abs=1e-10)
    assert linear_cka(x, y, debiased=True) == pytest.approx(_cka_debiased_direct(x, y), abs=1e-10)


def test_linear_cka_identity_and_invariances(rng):
    x = rng.normal(size=(50, 20))
    q, _ = np.linalg.qr(rng.normal(size=(20, 20)))
    assert linear_cka(x, x) == pytest.approx(1.0, abs=1e-12)
    assert linear_cka(x, x, debiased=True) == pytest.approx(1.0, abs=1e-12)
    y = rng.normal(size=(50, 8))
    base = linear_cka(x, y)
    assert linear_cka(x @ q, y) == pytest.approx(base, abs=1e-10)  # orthogonal transform
    assert linear_cka(3.7 * x, y) == pytest.approx(base, abs=1e-10)  # isotropic scaling
    assert linear_cka(x + 5.0, y) == pytest.approx(base, abs=1e-10)  # centring
    assert linear_cka(x @ q, 0.2 * y, debiased=True) == pytest.approx(
        linear_cka(x, y, debiased=True), abs=1e-10
    )
    # not invariant to anisotropic scaling (sanity: the test above can fail)
    assert abs(linear_cka(x * np.linspace(0.1, 10, 20), y) - base) > 1e-6


def test_debiased_cka_near_zero_for_independent_wide_matrices(rng):
    # docs/methods.md §A5.3: independent 50 x 2000 Gaussians give ~0.98 biased vs ~0 debiased
    x = rng.normal(size=(50, 2000))
    y = rng.normal(size=(50, 2000))
    assert linear_cka(x, y) > 0.9
    assert abs(linear_cka(x, y, debiased=True)) < 0.1  # sd over seeds ~0.02


def test_linear_cka_aligns_on_stimulus_id_and_rejects_mismatched_sets(rng):
    x = rng.normal(size=(30, 6))
    y = x @ rng.normal(size=(6, 4))
    ids = [f"s{i:03d}" for i in range(30)]
    perm = rng.permutation(30)
    xa = _activity(x, ids)
    ya = _activity(y[perm], np.array(ids)[perm])
    assert linear_cka(xa, ya) == pytest.approx(linear_cka(x, y), abs=1e-12)
    yb = _activity(y, [f"t{i:03d}" if i < 2 else ids[i] for i in range(30)])
    with pytest.raises(ValueError, match=r"different stimulus sets.*only in 'x'.*s000"):
        linear_cka(xa, yb)
    with pytest.raises(ValueError, match="same number of presentations"):
        linear_cka(x, y[:10])


# ---------------------------------------------------------------- RDMs
def test_rdm_metrics_match_scipy(rng):
    x = rng.normal(size=(24, 15))
    labels = np.repeat(np.arange(6), 4)
    means = np.stack([x[labels == k].mean(0) for k in range(6)])
    r = rdm(x, labels, metric="correlation")
    assert isinstance(r, np.ndarray)  # numpy in, numpy out
    assert rdm(_activity(x, labels=labels), "label").dims == ("condition_1", "condition_2")
    np.testing.assert_allclose(r, squareform(pdist(means, "correlation")), atol=1e-12)
    np.testing.assert_allclose(
        rdm(x, labels, metric="euclidean"), squareform(pdist(means)), atol=1e-10
    )
    np.testing.assert_allclose(
        rdm(x, labels, metric="sqeuclidean"), squareform(pdist(means, "sqeuclidean")) / 15, atol=1e-10
    )


def test_rdm_labelled_input_uses_coords(rng):
    labels = np.repeat(np.arange(4), 5)
    da = _activity(rng.normal(size=(20, 10)), labels=labels)
    r = rdm(da, "label")
    assert list(r["condition_1"].values) == [0, 1, 2, 3]
    assert list(r["class_name_1"].values) == ["class0", "class1", "class2", "class3"]
    r2 = rdm(xr.Dataset({"activity": da}))  # recording; default conditions = stimulus_id
    assert r2.shape == (20, 20)
    with pytest.raises(ValueError, match=r"presentation coordinate 'category'.*Available"):
        rdm(da, "category")


def test_crossnobis_is_unbiased(rng):
    # Conditions that differ only by noise: plain squared distance is biased upwards by 2σ²/m per neuroid,
    # the cross-validated distance is centred on 0; real differences are recovered.
    n_cond, reps, p = 6, 20, 200
    labels = np.repeat(np.arange(n_cond), reps)
    signal = np.zeros((n_cond, p))
    signal[5] = 1.0  # condition 5 differs from the others by 1 per neuroid -> true sq. distance / p = 1
    x = signal[labels] + rng.normal(size=(n_cond * reps, p))
    cv = rdm(x, labels, metric="crossnobis", n_folds=4, random_state=0)
    plain = rdm(x, labels, metric="sqeuclidean")
    iu = np.triu_indices(5, 1)
    assert abs(cv[:5, :5][iu].mean()) < 0.03  # sd ~0.006 over seeds
    assert plain[:5, :5][iu].mean() == pytest.approx(2.0 / reps, rel=0.2)
    assert cv[5, :5].mean() == pytest.approx(1.0, abs=0.15)  # sd ~0.04 over seeds
    # identity precision matrix gives the same result
    np.testing.assert_allclose(
        rdm(x, labels, metric="crossnobis", n_folds=4, random_state=0, noise=np.eye(p)), cv, atol=1e-12
    )
    with pytest.raises(ValueError, match="at least n_folds=25"):
        rdm(x, labels, metric="crossnobis", n_folds=25)


def test_rdm_bad_input():
    with pytest.raises(ValueError, match="'metric' parameter must be one of"):
        rdm(np.ones((4, 3)), metric="mahalanobis")
    with pytest.raises(ValueError, match="one entry per presentation"):
        rdm(np.ones((4, 3)), [0, 1])
    with pytest.raises(TypeError, match="plain array"):  # the same mistake raises the same error everywhere
        rdm(np.ones((4, 3)), "label")


# ---------------------------------------------------------------- RDM comparison
def _tau_a_by_counting(a, b):
    n = a.size
    s = 0.0
    for i in range(n):
        for j in range(i + 1, n):
            s += np.sign(a[i] - a[j]) * np.sign(b[i] - b[j])
    return s / (n * (n - 1) / 2)


def test_kendall_tau_a_matches_pair_counting(rng):
    a = rng.integers(0, 4, size=40).astype(float)  # many ties
    b = rng.integers(0, 6, size=40).astype(float)
    assert kendall_tau_a(a, b) == pytest.approx(_tau_a_by_counting(a, b), abs=1e-12)
    c = rng.normal(size=40)
    assert kendall_tau_a(c, c) == pytest.approx(1.0)
    assert kendall_tau_a(np.ones(5), c[:5]) == 0.0


def test_compare_rdms_agrees_with_scipy(rng):
    x = rng.normal(size=(12, 30))
    y = x + rng.normal(size=(12, 30))
    ra, rb = rdm(x), rdm(y)
    iu = np.triu_indices(12, 1)
    u, v = ra[iu], rb[iu]
    assert compare_rdms(ra, rb, method="spearman").value == pytest.approx(
        stats.spearmanr(u, v).statistic, abs=1e-12
    )
    assert compare_rdms(ra, rb, method="kendall_tau_b").value == pytest.approx(
        stats.kendalltau(u, v).statistic, abs=1e-12
    )
    assert compare_rdms(ra, rb, method="kendall_tau_a").value == pytest.approx(
        _tau_a_by_counting(u, v), abs=1e-12
    )
    assert compare_rdms(ra, rb, method="pearson").value == pytest.approx(
        stats.pearsonr(u, v).statistic, abs=1e-12
    )
    assert compare_rdms(ra, rb, method="cosine").value == pytest.approx(
        u @ v / np.linalg.norm(u) / np.linalg.norm(v), abs=1e-12
    )


def test_compare_rdms_bootstrap_ci(rng):
    x = rng.normal(size=(15, 30))
    ra, rb = rdm(x), rdm(x + 0.8 * rng.normal(size=(15, 30)))
    res = compare_rdms(ra, rb, n_bootstrap=200, random_state=1)
    assert res.ci_low < res.value < res.ci_high
    assert res.bootstrap.shape == (200,)
    again = compare_rdms(ra, rb, n_bootstrap=200, random_state=1)
    assert again.ci_low == res.ci_low and again.ci_high == res.ci_high
    assert set(res.row()) >= {"value", "ci_low", "ci_high", "method", "n_conditions"}


def test_compare_rdms_aligns_conditions_and_rejects_mismatch(rng):
    x = rng.normal(size=(10, 8))
    ra = rdm(x)
    perm = rng.permutation(10)
    rb = rdm(_activity(x[perm], np.array([f"{i}" for i in range(10)])[perm]))
    ra_named = rdm(_activity(x, [f"{i}" for i in range(10)]))
    assert float(compare_rdms(ra_named, rb).value) == pytest.approx(1.0)
    rc = rdm(_activity(x, [f"{i}" for i in range(9)] + ["extra"]))
    with pytest.raises(ValueError, match=r"different stimulus sets.*only in 'a'.*'9'.*only in 'b'.*'extra'"):
        compare_rdms(ra_named, rc)
    with pytest.raises(ValueError, match="same number of conditions"):
        compare_rdms(ra, ra[:5, :5])
    with pytest.raises(ValueError, match="'method' parameter must be one of"):
        compare_rdms(ra, ra, method="spearmann")


# ---------------------------------------------------------------- decoding
def test_decode_informative_vs_uninformative(rng):
    labels = np.repeat(np.arange(4), 30)
    x = rng.normal(size=(120, 20))
    x[:, :5] += 3.0 * np.eye(4)[labels] @ rng.normal(size=(4, 5))
    informative = decode(x, labels, neuroids=np.arange(5), cv=5)
    noise_only = decode(x, labels, neuroids=np.r_[np.zeros(5, bool), np.ones(15, bool)], cv=5)
    assert informative.accuracy > 0.9
    assert noise_only.accuracy < 0.5
    assert informative.chance == pytest.approx(0.25)
    assert informative.n_neuroids == 5 and noise_only.n_neuroids == 15
    da = _activity(x, labels=labels)
    mask = xr.DataArray(
        np.arange(20) < 5, dims="neuroid", coords={"neuroid_id": ("neuroid", da.neuroid_id.values)}
    )
    assert float(decode(da, "label", neuroids=mask).accuracy) == pytest.approx(informative.accuracy)
    with pytest.raises(ValueError, match="at least cv=5 presentations"):
        decode(x[::10], labels[::10])  # 3 presentations per class
    with pytest.raises(ValueError, match="selection is empty"):
        decode(x, labels, neuroids=np.zeros(20, bool))


# ---------------------------------------------------------------- dimensionality
def test_participation_ratio_analytic(rng):
    # orthonormal, centred columns scaled by sqrt(lambda): covariance eigenvalues are exactly lambda / (n - 1)
    z = rng.normal(size=(200, 7))
    q, _ = np.linalg.qr(z - z.mean(0))
    assert participation_ratio(q * 10) == pytest.approx(7.0, rel=1e-10)  # 7 equal-variance dims -> PR = 7
    lam = np.array([4.0, 2.0, 1.0])
    y = q[:, :3] * np.sqrt(lam)
    assert participation_ratio(y) == pytest.approx(lam.sum() ** 2 / (lam**2).sum(), rel=1e-10)
    np.testing.assert_allclose(eigenspectrum(y)[:3], lam / 199, rtol=1e-10)
    assert participation_ratio(np.c_[q[:, :1], q[:, :1]]) == pytest.approx(1.0)  # two copies of one dim


def test_eigenspectrum_alpha_recovers_power_law(rng):
    n, p = 1000, 200
    for alpha in (1.0, 1.5):
        lam = np.arange(1, p + 1) ** (-alpha)
        q, _ = np.linalg.qr(rng.normal(size=(p, p)))
        x = (rng.normal(size=(n, p)) * np.sqrt(lam)) @ q.T
        fit = eigenspectrum_alpha(x, fit_range=(11, 80))
        assert fit.alpha == pytest.approx(alpha, abs=0.1)
        assert fit.fit_start == 11 and fit.fit_stop == 80
    # cross-validated spectrum from two noisy repeats is close to the signal's exponent
    lam = np.arange(1, p + 1) ** -1.0
    sig = (rng.normal(size=(n, p)) * np.sqrt(lam)) @ q.T
    r1, r2 = sig + 0.05 * rng.normal(size=sig.shape), sig + 0.05 * rng.normal(size=sig.shape)
    assert eigenspectrum_alpha(r1, r2, fit_range=(11, 80)).alpha == pytest.approx(1.0, abs=0.15)
    with pytest.raises(ValueError, match="min_points"):
        eigenspectrum_alpha(rng.normal(size=(10, 5)))
    with pytest.raises(ValueError, match="'fit_range' parameter"):
        eigenspectrum_alpha(x, fit_range=(5, 2))


def test_dask_backed_and_dataarray_inputs_match_numpy(rng):
    x = rng.normal(size=(40, 12))
    y = x[:, :6] + rng.normal(size=(40, 6))
    labels = np.repeat(np.arange(4), 10)
    dx, dy = _activity(x, labels=labels).chunk({"presentation": 10}), _activity(y, labels=labels).chunk()
    assert float(linear_cka(dx, dy)) == pytest.approx(linear_cka(x, y), abs=1e-12)
    assert float(participation_ratio(dx)) == pytest.approx(participation_ratio(x), abs=1e-12)
    np.testing.assert_allclose(rdm(dx, "label").values, rdm(x, labels), atol=1e-12)
    assert float(decode(dx, "label").accuracy) == pytest.approx(decode(x, labels).accuracy)
