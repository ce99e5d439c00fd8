"""The controlled zero-shot test (docs/reproduction-v2.md, section 4) on constructed populations.

A planted ensemble (units that respond strongly to one class) passes; the same population with shuffled labels, and
a population with no ensembles, fail. Expected Jaccard values are derived by hand from the constructed sets.
"""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from ensembles import conventions as C
from ensembles.analysis import (
    category_ensembles,
    compare_to_reference,
    ensemble_specificity,
    zero_shot_test,
)
from ensembles.errors import ParameterError

K, N, P, SIZE = 5, 80, 200, 10


def _population(seed=0, *, planted=True, gain=2.0):
    """Rectified noise; with ``planted``, units SIZE*c .. SIZE*c+SIZE-1 respond strongly to class c."""
    rng = np.random.default_rng(seed)
    y = np.repeat(np.arange(K), N)
    x = rng.gamma(2.0, 0.5, size=(y.size, P)) * (rng.random((y.size, P)) < 0.5)
    if planted:
        for c in range(K):
            x[np.ix_(y == c, np.arange(SIZE * c, SIZE * (c + 1)))] += gain * rng.gamma(4.0, 1.0, size=(N, SIZE))
    return x, y


def test_a_planted_ensemble_passes():
    x, y = _population()
    r = zero_shot_test(x, y, 3)
    assert r.passes and r.size >= SIZE and r.accuracy > 0.95 and r.median_dprime > 1.0
    assert r.nearest != 3


def test_shuffled_labels_fail():
    x, y = _population()
    y_shuffled = np.random.default_rng(5).permutation(y)
    r = zero_shot_test(x, y_shuffled, 3)
    assert not r.passes
    assert r.size == 0 or (r.accuracy < 0.75 or r.median_dprime < 0.5)


def test_a_population_without_ensembles_fails_every_class():
    x, y = _population(planted=False)
    assert not any(zero_shot_test(x, y, c).passes for c in range(K))


def test_a_class_whose_ensemble_is_a_neighbours_copy_fails_decoding():
    # class 4's planted units are class 3's: an ensemble that cannot tell 4 from 3 is not its own
    x, y = _population()
    x[np.ix_(y == 4, np.arange(4 * SIZE, 5 * SIZE))] = x[np.ix_(y == 0, np.arange(4 * SIZE, 5 * SIZE))]
    x[np.ix_(y == 4, np.arange(3 * SIZE, 4 * SIZE))] = x[np.ix_(y == 3, np.arange(3 * SIZE, 4 * SIZE))][::-1]
    r = zero_shot_test(x, y, 4)
    assert r.nearest == 3
    assert not r.passes


def test_labelled_input_gives_the_same_result():
    x, y = _population()
    da = xr.DataArray(x, dims=(C.PRESENTATION, C.NEUROID), coords={"label": (C.PRESENTATION, y)})
    assert zero_shot_test(da, "label", 2) == zero_shot_test(x, y, 2)


def test_bad_category_is_a_clear_error():
    x, y = _population()
    with pytest.raises(ParameterError, match="'category'"):
        zero_shot_test(x, y, 7)


def test_planted_ensembles_are_more_specific_than_shuffled_label_ones():
    x, y = _population()
    real = ensemble_specificity(category_ensembles(x, y, rule="paper", tau=1.0, by_layer=False))
    rng = np.random.default_rng(0)
    null = [ensemble_specificity(category_ensembles(x, rng.permutation(y), rule="paper", tau=1.0, by_layer=False))
            for _ in range(20)]
    assert real < np.nanpercentile(null, 2.5)


def test_compare_to_reference_by_hand():
    held, ref = np.zeros((2, 100), bool), np.zeros((2, 100), bool)
    held[1, :10] = True
    ref[1, 5:25] = True     # 5 shared of 25 -> 0.2; sizes 10 and 20
    r = compare_to_reference(held, ref, 1)
    assert (r.size, r.reference_size) == (10, 20)
    assert r.size_ratio == pytest.approx(0.5) and r.jaccard == pytest.approx(0.2)
    k = 10 * 20 / 100       # expected intersection of independent sets
    assert r.chance_jaccard == pytest.approx(k / (30 - k))
    with pytest.raises(ParameterError, match="neuroids"):
        compare_to_reference(held, ref[:, :50], 1)
