"""Tests of ensembles.analysis.inhibition: closed-form values written in the test (tier 1) and loops (tier 3)."""

import numpy as np
import pandas as pd
import pytest

from ensembles.analysis.inhibition import (
    currents_by_ensemble,
    fraction_silenced,
    input_currents,
    weight_statistics,
)


def test_currents_closed_form_nonnegative_inputs():
    # W = [[1, -2], [0.5, 0.5]], x = [3, 4] -> ||x|| = 5, x_hat = [0.6, 0.8]
    w = np.array([[1.0, -2.0], [0.5, 0.5]])
    e, i = input_currents(w, [[3.0, 4.0]])
    np.testing.assert_allclose(e, [[0.6, 0.7]])
    np.testing.assert_allclose(i, [[-1.6, 0.0]])
    e2, i2 = input_currents(w, [[3.0, 4.0]], normalize="none")
    np.testing.assert_allclose(e2, [[3.0, 3.5]])
    np.testing.assert_allclose(i2, [[-8.0, 0.0]])


def test_currents_signed_inputs_match_loop(rng):
    w = rng.normal(size=(7, 5))
    x = rng.normal(size=(11, 5))
    e, i = input_currents(w, x, normalize="none")
    prod = w[None, :, :] * x[:, None, :]  # (n, out, in)
    np.testing.assert_allclose(e, np.clip(prod, 0, None).sum(-1))
    np.testing.assert_allclose(i, np.clip(prod, None, 0).sum(-1))
    np.testing.assert_allclose(e + i, x @ w.T)
    assert (e >= 0).all() and (i <= 0).all()


def test_fraction_silenced_closed_form():
    e = np.array([[1.0, 1.0], [1.0, 0.0]])
    i = np.array([[-2.0, -0.5], [0.0, 0.0]])
    # unit 0: row0 E+b=0.5>0, net=-1.5 -> silenced; row1 net=0.5 -> active  => 0.5
    # unit 1: row0 E+b=0.5>0, net=0 -> silenced; row1 E+b=-0.5 -> not driven => 0.5
    np.testing.assert_allclose(fraction_silenced(e, i, [-0.5, -0.5]), [0.5, 0.5])


def test_weight_statistics_values():
    w = np.array([[1.0, -1.0], [3.0, -3.0]])
    s = weight_statistics(w, bias=[-1.0, 2.0])
    assert s["fraction_negative"] == 0.5
    assert s["mean_positive"] == 2.0 and s["mean_negative"] == -2.0
    assert s["sum_positive_per_unit"] == 2.0 and s["sum_negative_per_unit"] == -2.0
    assert s["fraction_bias_negative"] == 0.5 and s["mean_bias"] == 0.5


def test_currents_by_ensemble_inside_vs_outside():
    # unit 0 is class 0's ensemble; it gets only excitation on class-0 presentations
    e = np.array([[2.0, 0.5], [2.0, 0.5], [0.0, 0.5]])
    i = np.array([[0.0, -1.0], [0.0, -1.0], [-1.0, 0.0]])
    recs = currents_by_ensemble(e, i, [0.0, 0.0], [0, 0, 1], [[True, False], [False, True]])
    assert list(recs.dims.values()) == [("record",)] * len(recs)  # a Result of columns: one row per (class, member)
    r = {(d["class"], d["member"]): d for d in pd.DataFrame(recs).to_dict("records")}
    assert r[(0, True)]["excitatory"] == 2.0 and r[(0, True)]["fraction_active"] == 1.0
    assert r[(0, False)]["inhibitory"] == -1.0 and r[(0, False)]["fraction_silenced"] == 1.0
    assert r[(1, True)]["net"] == 0.5


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: input_currents(np.ones(3), np.ones((2, 3))), "'weight'"),
        (lambda: input_currents(np.ones((2, 3)), np.ones((2, 4))), "'inputs'.*n_in=3"),
        (lambda: input_currents(np.ones((2, 3)), np.ones((2, 3)), normalize="l1"), "'normalize'"),
        (lambda: weight_statistics(np.ones((2, 3)), bias=np.ones(3)), "'bias'.*\\(2,\\)"),
        (lambda: fraction_silenced(np.ones((2, 3)), np.ones((3, 3))), "'inh'"),
        (lambda: currents_by_ensemble(np.ones((2, 3)), np.ones((2, 3)), None, [0, 1], np.ones((3, 3))), "'membership'"),
    ],
)
def test_bad_input(call, match):
    with pytest.raises(ValueError, match=match):
        call()
