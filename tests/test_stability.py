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
