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
    cur = input_currents(w, [[3.0, 4.0]])
    e, i = cur.excitatory, cur.inhibitory
    np.testing.assert_allclose(e, [[0.6, 0.7]])
    np.testing.assert_allclose(i, [[-1.6, 0.0]])
    cur2 = input_currents(w, [[3.0, 4.0]], normalize="none")
    e2, i2 = cur2.excitatory, cur2.inhibitory
    np.testing.assert_allclose(e2, [[3.0, 3.5]])
    np.testing.assert_allclose(i2, [[-8.0, 0.0]])


def test_currents_signed_inputs_match_loop(rng):
    w = rng.normal(size=(7, 5))
    x = rng.normal(size=(11, 5))
    cur = input_currents(w, x, normalize="none")
    e, i = cur.excitatory, cur.inhibitory
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


# ---------------------------------------------------------------------------------------------------------------------
# E/I split by the sign of the weight on a non-negative input, and why silent units are silent
# (docs/reproduction-v2.md, section 5)
# ---------------------------------------------------------------------------------------------------------------------
def test_ei_currents_closed_form_with_a_floor():
    from ensembles.analysis import ei_currents

    # x = [2, 0] with floor -1 -> u = [3, 1]; W row 0 = [1, -1]: E = 3, I = -1, b' = b + W.f = 0.5 + (-1 + 1)
    # W row 1 = [2, 1]: E = 6 + 1 = 7, I = 0, b' = 0 + (-2 - 1) = -3
    w = np.array([[1.0, -1.0], [2.0, 1.0]])
    r = ei_currents([[2.0, 0.0]], w, [0.5, 0.0], floor=-1.0)
    np.testing.assert_allclose(r["excitatory"], [[3.0, 7.0]])
    np.testing.assert_allclose(r["inhibitory"], [[-1.0, 0.0]])
    np.testing.assert_allclose(r["bias"], [[0.5, -3.0]])
    # L2 normalisation of the actual input (||[2, 0]|| = 2) scales currents and the constant part alike
    r2 = ei_currents([[2.0, 0.0]], w, [0.5, 0.0], floor=-1.0, normalize="l2")
    np.testing.assert_allclose(r2["excitatory"], [[1.5, 3.5]])
    np.testing.assert_allclose(r2["bias"], [[0.5, -1.5]])


@pytest.mark.parametrize("normalize", ["none", "l2"])
def test_ei_currents_sum_to_the_pre_activation(rng, normalize):
    w, b = rng.normal(size=(6, 9)), rng.normal(size=6)
    f = -0.4242  # a standardised black pixel
    x = f + rng.gamma(1.0, 1.0, size=(13, 9)) * (rng.random((13, 9)) < 0.4)
    from ensembles.analysis import ei_currents

    r = ei_currents(x, w, b, floor=f, normalize=normalize)
    xn = x / np.linalg.norm(x, axis=1, keepdims=True) if normalize == "l2" else x
    np.testing.assert_allclose(r["excitatory"] + r["inhibitory"] + r["bias"], xn @ w.T + b, atol=1e-12)
    assert (r["excitatory"] >= 0).all() and (r["inhibitory"] <= 0).all()


def test_ei_currents_rejects_input_below_the_floor():
    from ensembles.analysis import ei_currents
    from ensembles.errors import ParameterError

    with pytest.raises(ParameterError, match="'x' parameter must be >= 'floor'"):
        ei_currents([[-1.0, 0.5]], np.ones((2, 2)))
    with pytest.raises(ParameterError, match="'floor'"):
        ei_currents([[1.0, 0.5]], np.ones((2, 2)), floor=[0.0, 0.0, 0.0])


def test_silence_causes_by_hand():
    from ensembles.analysis import silence_causes

    # pre-activations -1 (E+I = -1: inhibition), -0.5 (E+I = 0.5: bias), -0.4 (E+I = 0.1: bias), 1.5 (active)
    cur = {"excitatory": np.array([[1.0, 1.0, 0.2, 2.0]]), "inhibitory": np.array([[-2.0, -0.5, -0.1, -0.5]]),
           "bias": np.array([[0.0, -1.0, -0.5, 0.0]])}
    r = silence_causes(cur)
    assert r["n_silent"] == 3 and r["fraction_silent"] == pytest.approx(0.75)
    assert r["by_inhibition"] == pytest.approx(1 / 3) and r["by_bias"] == pytest.approx(2 / 3)
    # |I| / E = 2, 0.5, 0.5, 0.25
    assert r["ie_median"] == pytest.approx(0.5) and r["ie_median_silent"] == pytest.approx(0.5)
    assert r["ie_median_active"] == pytest.approx(0.25)


def test_silence_causes_can_tell_two_mechanisms_apart(rng):
    """Two constructed layers on the same non-negative input: one silences with a negative bias (all weights
    excitatory), the other with inhibitory weights (no bias). The statistic is 0 for one and 1 for the other."""
    from ensembles.analysis import ei_currents, silence_causes

    x = rng.gamma(1.0, 1.0, size=(200, 30))
    w_exc = np.abs(rng.normal(size=(20, 30)))
    by_bias = silence_causes(ei_currents(x, w_exc, np.full(20, -1e3)))
    w_inh = -np.abs(rng.normal(size=(20, 30)))
    w_inh[:, :3] *= -1   # a little excitation, outweighed
    by_inh = silence_causes(ei_currents(x, w_inh, np.zeros(20)))
    assert by_bias["by_inhibition"] == 0.0 and by_bias["by_bias"] == 1.0
    assert by_inh["by_inhibition"] == 1.0
    assert np.isnan(silence_causes(ei_currents(x, w_exc, np.zeros(20)))["by_inhibition"])  # nothing silent
