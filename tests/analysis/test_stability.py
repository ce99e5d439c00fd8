"""checkpoint_stability: identical checkpoints are stable, a changed code is not; the bootstrap half-width of a
mean agrees with the normal approximation 1.96 * sd / sqrt(n) (central limit theorem)."""

import numpy as np
import pytest
import xarray as xr

from ensembles.analysis.sparsity import population_sparseness
from ensembles.analysis.stability import checkpoint_stability
from ensembles.errors import InputTypeError, ParameterError


def _act(seed=0, n=600, units=40, active=6, classes=3):
    rng = np.random.default_rng(seed)
    labels = np.repeat(np.arange(classes), n // classes)
    x = rng.exponential(0.05, size=(n, units))
    for c in range(classes):  # each class drives its own block of units
        x[labels == c, c * active:(c + 1) * active] += rng.exponential(1.0, size=((labels == c).sum(), active))
    layer = np.repeat([1, 2], units // 2)
    return xr.DataArray(x, dims=("presentation", "neuroid"),
                        coords={"label": ("presentation", labels), "layer": ("neuroid", layer)})


def test_identical_checkpoints_are_stable_and_the_interval_matches_the_clt():
    a = _act()
    t = checkpoint_stability(a, a, random_state=0, n_bootstrap=2000, n_bootstrap_ensembles=50)
    assert set(t["layer"]) == {1, 2} and t["stable"].all()
    assert np.allclose(t["change"], 0)
    h = np.asarray(population_sparseness(a.isel(neuroid=a.layer.values == 1), "hoyer").values)
    clt = 1.96 * h.std(ddof=1) / np.sqrt(h.size)
    got = t.query("layer == 1 and statistic == 'hoyer'")["half_width"].item()
    assert got == pytest.approx(clt, rel=0.15)
    assert t.query("layer == 1 and statistic == 'hoyer'")["last"].item() == pytest.approx(h.mean())


def test_a_code_that_changed_is_flagged():
    a = _act()
    dense = a.copy(data=a.values + 0.5)  # every unit active: Hoyer drops, ensembles vanish
    t = checkpoint_stability(dense, a, random_state=0, n_bootstrap_ensembles=50)
    assert not t.query("statistic == 'hoyer'")["stable"].any()
    assert (t.query("statistic == 'hoyer'")["change"] > 0).all()


def test_errors():
    a = _act()
    with pytest.raises(InputTypeError, match="'previous'"):
        checkpoint_stability(a.values, a)
    with pytest.raises(ParameterError, match="'statistics'"):
        checkpoint_stability(a, a, statistics=("gini",))
    with pytest.raises(ParameterError, match="'label'"):
        checkpoint_stability(a.drop_vars("label"), a)


# ---------------------------------------------------------------------------------------------------------------------
# stability relative to the across-seed spread (docs/reproduction-v2.md, section 6); values derived by hand
# ---------------------------------------------------------------------------------------------------------------------
def test_relative_stability_against_the_seed_spread():
    from ensembles.analysis import relative_stability

    # last = 0.70, 0.75, 0.80 -> SD 0.05; drifts 0.01, -0.02, 0.03 -> largest 0.03 <= 0.05: stable
    r = relative_stability([0.69, 0.77, 0.77], [0.70, 0.75, 0.80])
    assert r.drift == pytest.approx(0.03) and r.spread == pytest.approx(0.05) and r.stable and r.n == 3
    assert r.ratio == pytest.approx(0.6)
    # the same drift with seeds that agree closely (SD 0.005) is not small against anything
    r2 = relative_stability([0.70, 0.701, 0.67], [0.70, 0.705, 0.71])
    assert not r2.stable and r2.drift == pytest.approx(0.04)


def test_relative_stability_against_the_effect():
    from ensembles.analysis import relative_stability

    # SD of last 0.005; effect 0.4 -> 0.25 * 0.4 = 0.1 >= drift 0.04: stable because the effect is large
    r = relative_stability([0.70, 0.701, 0.67], [0.70, 0.705, 0.71], effect=-0.4)
    assert r.stable and r.scale == pytest.approx(0.1) and r.effect == pytest.approx(0.4)


def test_relative_stability_needs_two_seeds():
    from ensembles.analysis import relative_stability
    from ensembles.errors import ParameterError

    r = relative_stability([0.5, np.nan], [0.6, 0.7])
    assert r.n == 1 and not r.stable and np.isnan(r.spread)
    with pytest.raises(ParameterError, match="'last'"):
        relative_stability([0.5, 0.6], [0.5])
