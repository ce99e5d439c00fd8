"""ensembles.data.synthetic: planted, null and category populations (numpy only)."""

import numpy as np
import pytest

from ensembles.data.synthetic import category_population, null_population, planted_ensembles


def test_planted_shapes_sizes_overlap_and_determinism():
    X, truth = planted_ensembles(500, 2000, 8, size=(20, 40), overlap=0.1, random_state=3)
    assert X.shape == (2000, 500) and truth.members.shape == (8, 500) and truth.activations.shape == (2000, 8)
    assert np.all(X >= 0) and np.all(X == np.round(X))  # Poisson counts
    sizes = truth.sizes
    assert sizes.min() >= 20 and sizes.max() <= 40
    # every assembly after the first takes round(0.1 * size) members from earlier assemblies
    for k in range(1, 8):
        shared = (truth.members[k] & truth.members[:k].any(axis=0)).sum()
        assert shared == round(0.1 * sizes[k])
    # activation rate ~ 0.05 (binomial SD over 16000 draws ~ 0.0017)
    assert abs(truth.activations.mean() - 0.05) < 0.01
    X2, truth2 = planted_ensembles(500, 2000, 8, size=(20, 40), overlap=0.1, random_state=3)
    np.testing.assert_array_equal(X, X2)
    np.testing.assert_array_equal(truth.members, truth2.members)


def test_planted_members_fire_more_when_active():
    X, truth = planted_ensembles(200, 4000, 2, size=20, overlap=0.0, strength=3.0, random_state=0)
    m, a = truth.members[0], truth.activations[:, 0]
    # members gain strength * participation = 2.7 on average while the assembly is active
    gain = X[a][:, m].mean() - X[~a][:, m].mean()
    assert 2.2 < gain < 3.2
    assert abs(X[a][:, ~truth.members.any(0)].mean() - X[~a][:, ~truth.members.any(0)].mean()) < 0.1


def test_graded_kind_is_nonnegative_and_continuous():
    X, _ = planted_ensembles(100, 500, 2, size=10, kind="graded", random_state=0)
    assert X.min() >= 0 and np.any(X != np.round(X))


def test_null_populations():
    X = null_population(100, 3000, random_state=0)
    c = np.corrcoef(X.T)[np.triu_indices(100, 1)]
    assert np.abs(c).max() < 0.1  # independent: |r| ~ N(0, 1/sqrt(3000)), max over 4950 pairs ~ 0.08
    G = null_population(100, 3000, structure="shared-gain", gain_sd=0.5, random_state=0)
    cg = np.corrcoef(G.T)[np.triu_indices(100, 1)]
    assert cg.mean() > 0.05  # the shared gain correlates every pair positively


def test_category_population_truth():
    X, truth = category_population(4, 60, 30, ensemble_size=5, strength=5.0, random_state=1)
    assert X.shape == (120, 60) and truth.labels.tolist() == [0] * 30 + [1] * 30 + [2] * 30 + [3] * 30
    assert truth.members.sum(1).tolist() == [5, 5, 5, 5]
    for c in range(4):
        inside = X[truth.labels == c][:, truth.members[c]].mean()
        outside = X[truth.labels != c][:, truth.members[c]].mean()
        assert inside - outside > 4.0


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(n_neuroids=0), "'n_neuroids' parameter must be an int >= 1"),
        (dict(size=(40, 20)), "'size' parameter"),
        (dict(overlap=1.5), "'overlap' parameter"),
        (dict(kind="binary"), "'kind' parameter must be one of"),
        (dict(activation_rate=0.0), "'activation_rate' parameter"),
        (dict(n_neuroids=50, n_ensembles=8, size=(20, 40)), "too small"),
    ],
)
def test_planted_bad_input(kwargs, match):
    with pytest.raises(ValueError, match=match):
        planted_ensembles(**{**dict(n_presentations=10), **kwargs})


def test_null_bad_structure():
    with pytest.raises(ValueError, match="'structure' parameter"):
        null_population(10, 10, structure="gain")
