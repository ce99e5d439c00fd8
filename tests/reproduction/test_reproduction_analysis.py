"""Analysis functions added for the reproduction: silenced_share, held_out_ensemble, significant_pairs.

Reference values are hand derivations stated next to each case."""

import numpy as np
import pytest
import xarray as xr

from ensembles.analysis.ensembles import category_ensembles, ensemble_overlap
from ensembles.analysis.inhibition import silenced_share
from ensembles.analysis.pairs import significant_pairs
from ensembles.analysis.zero_shot import held_out_ensemble
from ensembles.errors import ParameterError


def test_silenced_share_by_hand():
    # unit 0: E=1, I=-2, b=0 -> silent, and E+b=1>0: silenced by inhibition
    # unit 1: E=0.2, I=-0.1, b=-0.5 -> silent, but E+b=-0.3: silent without inhibition
    # unit 2: E=2, I=-0.5, b=0 -> active (not counted)
    e = np.array([[1.0, 0.2, 2.0]])
    i = np.array([[-2.0, -0.1, -0.5]])
    b = np.array([0.0, -0.5, 0.0])
    assert silenced_share(e, i, b) == pytest.approx(1 / 2)
    assert np.isnan(silenced_share(np.ones((2, 2)), np.zeros((2, 2))))  # nothing silent


def test_held_out_ensemble_forms_only_when_sized_like_the_seen_and_not_a_copy():
    m = np.zeros((3, 20), bool)
    m[0, :4] = True
    m[1, 4:8] = True
    m[2, 8:11] = True  # 3 units: within [0.5*4, 2*4], disjoint from the others
    r = held_out_ensemble(m, 2)
    assert (r.size, r.seen_min, r.seen_max, r.max_jaccard, r.forms) == (3, 4, 4, 0.0, True)
    m[2] = m[0]  # a copy of category 0's ensemble: Jaccard 1
    assert not held_out_ensemble(m, 2).forms
    m[2] = False
    m[2, 8:18] = True  # 10 units > 2 * 4
    assert not held_out_ensemble(m, 2).forms
    with pytest.raises(ParameterError, match="'held_out'"):
        held_out_ensemble(m, 7)


def test_significant_pairs_on_a_planted_overlap():
    # categories 0 and 1 share their driven units, category 2 has its own: only the pair (0, 1) overlaps beyond
    # random membership (hypergeometric), so it is the one significant pair
    rng = np.random.default_rng(0)
    units, n = 200, 300
    labels = np.repeat([0, 1, 2], n // 3)
    x = rng.exponential(0.02, size=(n, units))
    x[labels == 0, :15] += 1.0
    x[labels == 1, :15] += 1.0
    x[labels == 1, 15:20] += 1.0
    x[labels == 2, 100:115] += 1.0
    act = xr.DataArray(x, dims=("presentation", "neuroid"), coords={"label": ("presentation", labels)})
    ov = ensemble_overlap(category_ensembles(act, rule="paper", tau=1.0))
    res = significant_pairs(ov, alpha=0.05)
    assert res.count == 1 and res.pairs == ((0, 1),)
    assert res.matrix[0, 1] and res.matrix[1, 0] and not res.matrix.diagonal().any()
    with pytest.raises(ParameterError, match="'alpha'"):
        significant_pairs(ov, alpha=5)
