"""similar_pair_enrichment: counts and permutation null, against hand derivations.

Under a uniform relabelling of categories every pair is equally likely to land in any position, so the chance that
a given pair is among the ``top`` most similar is exactly top / n_pairs: E[null] = n_significant * top / n_pairs.
"""

import numpy as np
import pytest
from scipy.stats import hypergeom

from ensembles.analysis.pairs import similar_pair_enrichment
from ensembles.errors import ParameterError


def _sim(seed=0, n=10):
    rng = np.random.default_rng(seed)
    s = rng.normal(size=(n, n))
    return (s + s.T) / 2


def _sig_for(order_idx, n=10):
    iu = np.triu_indices(n, 1)
    m = np.zeros((n, n), bool)
    for i in order_idx:
        m[iu[0][i], iu[1][i]] = True
    return m


def test_significant_pairs_that_are_the_most_similar_are_enriched():
    s = _sim()
    iu = np.triu_indices(10, 1)
    order = np.argsort(-s[iu])
    res = similar_pair_enrichment(_sig_for(order[:4]), s, top=9, n_shuffles=4000, random_state=1)
    assert (res.n_significant, res.n_in_top) == (4, 4)
    assert res.expected == pytest.approx(4 * 9 / 45, abs=0.05)
    # the permutation null is close to drawing 9 of 45 pairs at random: P(all 4 in top) = C(9,4)/C(45,4) = 8.5e-4
    assert res.p < 0.01 and hypergeom(45, 4, 9).sf(3) == pytest.approx(126 / 148995)
    assert set(res.top_pairs) == {(int(iu[0][i]), int(iu[1][i])) for i in order[:9]}


def test_least_similar_pairs_are_not_enriched_and_seeds_add_up():
    s = _sim(3)
    iu = np.triu_indices(10, 1)
    order = np.argsort(s[iu])  # least similar first
    sig = _sig_for(order[:5])
    res = similar_pair_enrichment([sig, sig, sig], s, n_shuffles=2000, random_state=0)
    assert (res.n_significant, res.n_in_top) == (15, 0)
    assert res.p == pytest.approx(1.0)
    assert res.expected == pytest.approx(15 * 9 / 45, abs=0.1)


def test_errors_name_the_parameter():
    s = _sim()
    with pytest.raises(ParameterError, match="'significant'.*boolean"):
        similar_pair_enrichment(np.zeros((10, 10)), s)
    with pytest.raises(ParameterError, match="'top'"):
        similar_pair_enrichment(np.zeros((10, 10), bool), s, top=45)
    with pytest.raises(ParameterError, match="shape"):
        similar_pair_enrichment(np.zeros((9, 9), bool), s)
    with pytest.raises(ParameterError, match="'n_shuffles'"):
        similar_pair_enrichment(np.zeros((10, 10), bool), s, n_shuffles=True)
