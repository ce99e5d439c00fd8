"""Invariances of the sparseness measures (hypothesis)."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as hst
from hypothesis.extra import numpy as hnp

from ensembles.analysis import sparsity as S

MEASURES = ["vinje-gallant", "treves-rolls", "hoyer", "gini", "kurtosis", "kurtosis-moment"]
RANGES = {"vinje-gallant": (0, 1), "treves-rolls": (0, 1), "hoyer": (0, 1), "gini": (0, 1)}

responses = hnp.arrays(
    np.float64,
    hnp.array_shapes(min_dims=2, max_dims=2, min_side=2, max_side=12),
    elements=hst.one_of(hst.just(0.0), hst.floats(0.01, 100.0)),
)
SETTINGS = settings(max_examples=25, deadline=None)


@SETTINGS
@given(x=responses, seed=hst.integers(0, 2**16))
def test_permuting_presentations_leaves_lifetime_unchanged(x, seed):
    perm = np.random.default_rng(seed).permutation(x.shape[0])
    for m in MEASURES:
        np.testing.assert_allclose(
            S.lifetime_sparseness(x[perm], m), S.lifetime_sparseness(x, m), rtol=1e-9, atol=1e-12, equal_nan=True
        )


@SETTINGS
@given(x=responses, seed=hst.integers(0, 2**16))
def test_permuting_neuroids_permutes_lifetime_values(x, seed):
    perm = np.random.default_rng(seed).permutation(x.shape[1])
    for m in MEASURES:
        np.testing.assert_allclose(
            S.lifetime_sparseness(x[:, perm], m), S.lifetime_sparseness(x, m)[perm], rtol=1e-12, atol=1e-12,
            equal_nan=True,
        )  # atol: near-constant columns make S = 1 - a cancel (e.g. 11 x 37.67 and one 36.0: S ~ 2.5e-4, +-4e-16)
        np.testing.assert_allclose(
            S.population_sparseness(x[:, perm], m), S.population_sparseness(x, m), rtol=1e-9, atol=1e-12,
            equal_nan=True,
        )  # fmt: skip


@SETTINGS
@given(x=responses, c=hst.floats(1e-3, 1e3))
def test_scaling_invariance(x, c):
    for m in MEASURES:
        for f in (S.lifetime_sparseness, S.population_sparseness):
            np.testing.assert_allclose(f(c * x, m), f(x, m), rtol=1e-7, atol=1e-9, equal_nan=True)
    # AllenSDK's thresholds lie on a grid of num_steps = 1000 steps of (max - min): a response exactly on a grid point
    # (e.g. 0.6 with max 100) may fall on the other side of it after scaling rounds (3 x 0.6 = 1.7999...98 < 1.8),
    # moving S = 1 - 2 mean_j F(theta_j) by 2 / (n num_steps) per such response: at most 2 / num_steps in all
    np.testing.assert_allclose(S.image_selectivity(c * x), S.image_selectivity(x), atol=2 / 1000 + 1e-9)


@SETTINGS
@given(x=responses)
def test_documented_ranges(x):
    n = x.shape[1]
    for m, (lo, hi) in RANGES.items():
        v = S.population_sparseness(x, m)
        v = v[np.isfinite(v)]
        assert np.all(v >= lo - 1e-12) and np.all(v <= hi + 1e-12), m
    tr = S.population_sparseness(x, "treves-rolls")
    assert np.all(tr[np.isfinite(tr)] >= 1 / n - 1e-12)
    g = S.population_sparseness(x, "gini")
    assert np.all(g[np.isfinite(g)] <= 1 - 1 / n + 1e-12)
    silent = (x == 0).all(axis=1)
    assert np.isnan(S.population_sparseness(x, "hoyer")[silent]).all()
    f = S.fraction_active(x)
    assert np.all((f >= 0) & (f <= 1))
    sel = S.image_selectivity(x)
    assert np.all((sel >= -1) & (sel <= 1))


def test_a_vector_constant_up_to_rounding_is_constant_in_every_order():
    # found by the property above: [0.01, 0.01, 0.01 + 1 ulp] gave kurtosis -1 or -2 depending on the order (the
    # spread is rounding noise of the mean); by the policy of a constant vector it is NaN, Hoyer 0
    a, b = 0.01, np.nextafter(0.01, 1.0)
    x = np.array([[a, a, b], [a, b, b]])
    for perm in ([0, 1, 2], [2, 0, 1], [1, 2, 0]):
        assert np.isnan(S.population_sparseness(x[:, perm], "kurtosis")).all()
        np.testing.assert_array_equal(S.population_sparseness(x[:, perm], "hoyer"), [0.0, 0.0])
    # a real spread, however small relative to the values' size, is not constant: 1 +- 1e-9 has kurtosis -2
    y = np.array([[1.0 - 1e-9, 1.0 + 1e-9, 1.0 - 1e-9, 1.0 + 1e-9]])
    np.testing.assert_allclose(S.population_sparseness(y, "kurtosis-moment"), [-2.0], atol=1e-6)
