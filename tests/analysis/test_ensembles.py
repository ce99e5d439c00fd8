"""ensembles.analysis.ensembles: category ensembles, overlap, similarity, adapters and scoring."""

import numpy as np
import pytest
import xarray as xr
from scipy import stats

from ensembles._validation import EnsemblesWarning
from ensembles.analysis.ensembles import (
    EnsembleDetector,
    category_ensembles,
    class_mean_similarity,
    detect_ensembles,
    ensemble_core,
    ensemble_overlap,
    ensemble_sizes,
    match_ensembles,
    overlap_vs_similarity,
)
from ensembles.data.synthetic import category_population, planted_ensembles


def _authors_loo(R, tau):
    """Literal transcription of the authors' ensembles_loo (docs/methods.md §A3.4) for one class: a naive loop."""
    mu = R.mean(axis=0)
    out = []
    for i in range(mu.size):
        m = np.mean([mu[j] for j in range(mu.size) if j != i])
        out.append((mu[i] - m) / m > tau)
    return np.array(out)


def _as_da(X, labels, names=None, layers=None):
    n = X.shape[1]
    coords = {
        "stimulus_id": ("presentation", [f"s{i}" for i in range(X.shape[0])]),
        "label": ("presentation", labels),
        "neuroid_id": ("neuroid", [f"n{i}" for i in range(n)]),
        "layer": ("neuroid", np.ones(n, int) if layers is None else layers),
    }
    if names is not None:
        coords["label_name"] = ("presentation", names)
    return xr.DataArray(X, dims=("presentation", "neuroid"), coords=coords)


# ---------------------------------------------------------------------------------------------------------------------
# rule="paper"
# ---------------------------------------------------------------------------------------------------------------------
def test_paper_rule_hand_example():
    # class 0: mu = [3, 1, 2, 0].  m_-0 = (1+2+0)/3 = 1 -> (3-1)/1 = 2 > 1: member.
    # m_-1 = 5/3 -> ratio -0.4; m_-2 = 4/3 -> (2-4/3)/(4/3) = 0.5; m_-3 = 2 -> -1.
    # class 1: mu = [0, 0, 0, 5]; m_-3 = 0 and mu_3 > 0 -> member (documented m = 0 case); others ratio -1.
    x = np.array([[4.0, 1, 1, 0], [2, 1, 3, 0], [0, 0, 0, 5]])
    y = [0, 0, 1]
    m = category_ensembles(x, y)
    assert isinstance(m, np.ndarray) and m.dtype == bool  # numpy in, numpy out
    assert category_ensembles(_as_da(x, y)).dims == ("category", "neuroid")
    assert m.tolist() == [[True, False, False, False], [False, False, False, True]]
    # tau = 0.4 admits unit 2 of class 0 (ratio 0.5)
    assert category_ensembles(x, y, tau=0.4)[0].tolist() == [True, False, True, False]
    # tau = 2 (the authors' robustness check) rejects unit 0 of class 0 (ratio exactly 2, strict >)
    assert category_ensembles(x, y, tau=2.0)[0].tolist() == [False, False, False, False]
    ds = category_ensembles(x, y, return_stats=True)
    np.testing.assert_allclose(ds["score"][0], [2.0, -0.4, 0.5, -1.0])


@pytest.mark.parametrize("tau", [1.0, 2.0])
def test_paper_rule_matches_literal_authors_loop(rng, tau):
    X = rng.gamma(0.3, 1.0, size=(300, 40)) * (rng.random((300, 40)) < 0.4)
    y = rng.integers(0, 3, 300)
    m = category_ensembles(X, y, tau=tau)
    for c in range(3):
        np.testing.assert_array_equal(m[c], _authors_loo(X[y == c], tau))


def test_paper_rule_is_per_layer():
    # layer 1 is 10x louder than layer 2; pooled, layer 2's units could never pass; per layer they do
    x = np.array([[30.0, 10, 10, 3, 1, 1]])
    da = _as_da(x, [0], layers=np.array([1, 1, 1, 2, 2, 2]))
    per_layer = category_ensembles(da)
    assert per_layer.values[0].tolist() == [True, False, False, True, False, False]
    pooled = category_ensembles(da, by_layer=False)
    assert pooled.values[0].tolist() == [True, False, False, False, False, False]


# ---------------------------------------------------------------------------------------------------------------------
# all three rules on a population with known driven sets
# ---------------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "kwargs",
    [dict(rule="paper"), dict(rule="test"), dict(rule="test", test="mannwhitney"),
     dict(rule="fraction", threshold=2.5, min_fraction=0.5)],
)
def test_rules_find_the_driven_set(kwargs):
    X, truth = category_population(10, 200, 60, ensemble_size=10, overlap=0.2, random_state=5)
    m = category_ensembles(X, truth.labels, **kwargs)
    np.testing.assert_array_equal(m, truth.members)


def test_labelled_input_keeps_coords_and_names():
    X, truth = category_population(3, 20, 10, ensemble_size=4, random_state=0)
    names = np.array(["cat", "dog", "owl"])[truth.labels]
    da = _as_da(X, truth.labels, names=names)
    m = category_ensembles(da)
    assert m.coords["class_name"].values.tolist() == ["cat", "dog", "owl"]
    assert m.coords["neuroid_id"].values.tolist() == [f"n{i}" for i in range(20)]
    assert m.coords["n_presentations"].values.tolist() == [10, 10, 10]
    np.testing.assert_array_equal(m.values, category_ensembles(X, truth.labels))
    # dask-backed input gives the same
    xr.testing.assert_identical(category_ensembles(da.chunk({"presentation": 7})), m)
    # neuroid order (transpose) does not matter
    xr.testing.assert_identical(category_ensembles(da.T), m)


def test_shuffled_label_null():
    X, truth = category_population(4, 100, 40, ensemble_size=8, random_state=2)
    # rule="test": without category structure the FDR-controlled rule admits (almost) nobody
    m = category_ensembles(X, truth.labels, rule="test", n_shuffles=30, random_state=0)
    assert np.all(m["expected_size"] < 1)
    np.testing.assert_allclose(m["size_p"], 1 / 31)
    # rule="paper": the null is recomputed by an independent loop (same permutations) with the literal rule;
    # it is far from 0 here because driven units have a high overall rate, which the LOO rule rewards
    mp = category_ensembles(X, truth.labels, n_shuffles=20, random_state=1)
    rng = np.random.default_rng(1)
    null = np.zeros((20, 4))
    for s in range(20):
        y = rng.permutation(truth.labels)
        null[s] = [_authors_loo(X[y == c], 1.0).sum() for c in range(4)]
    np.testing.assert_allclose(mp["expected_size"], null.mean(0))
    obs = truth.members.sum(1)
    np.testing.assert_allclose(mp["size_p"], (1 + (null >= obs).sum(0)) / 21)



def test_shuffled_label_null_is_per_layer():
    """With a 'layer' coord the rule runs per layer, so the null is per (category, layer): each layer's
    expected_size / size_p equal those of calling category_ensembles on that layer alone with the same seed (the
    same permutations serve every layer); previously they were summed over layers.  The two layers are independent
    planted populations of different widths (same label order), so both nulls are non-empty and differ."""
    X1, truth = category_population(3, 30, 20, ensemble_size=5, random_state=4)
    X2, truth2 = category_population(3, 12, 20, ensemble_size=2, random_state=6)
    assert np.array_equal(truth.labels, truth2.labels)
    X = np.concatenate([X1, X2], axis=1)
    layers = np.repeat([1, 2], [30, 12])
    da = _as_da(X, truth.labels, layers=layers)
    for rule in ("paper", "fraction"):
        m = category_ensembles(da, rule=rule, n_shuffles=15, random_state=3)
        assert m.coords["expected_size"].dims == ("category", "neuroid")
        sizes = ensemble_sizes(m)
        assert sizes["expected_size"].dims == ("category", "layer")
        per_layer = []
        for lay in (1, 2):
            one = category_ensembles(da.isel(neuroid=layers == lay), rule=rule, n_shuffles=15, random_state=3)
            assert one.coords["expected_size"].dims == ("category",)  # a single layer: dims (category,)
            np.testing.assert_allclose(sizes["expected_size"].sel(layer=lay).values, one.coords["expected_size"])
            np.testing.assert_allclose(sizes["size_p"].sel(layer=lay).values, one.coords["size_p"])
            np.testing.assert_allclose(m.coords["expected_size"].values[:, layers == lay],
                                       np.repeat(one.coords["expected_size"].values[:, None], (layers == lay).sum(), 1))
            per_layer.append(one.coords["expected_size"].values)
        # both layers have a non-empty null, so the per-layer values are not the old sum over layers
        assert np.all(per_layer[0] > 0) and np.all(per_layer[1] > 0), (rule, per_layer)
    # by_layer=False: one group, one number per category (the old shape), here over all 42 neuroids
    flat = category_ensembles(da, n_shuffles=15, random_state=3, by_layer=False)
    assert flat.coords["expected_size"].dims == ("category",)
    np.testing.assert_allclose(flat.coords["expected_size"],
                               category_ensembles(X, truth.labels, n_shuffles=15, random_state=3)["expected_size"])

def test_sizes_and_core():
    X, truth = category_population(3, 30, 20, ensemble_size=5, random_state=0)
    da = _as_da(X, truth.labels, layers=np.repeat([1, 2], 15))
    m = category_ensembles(da)
    np.testing.assert_array_equal(m.values, truth.members)
    s = ensemble_sizes(m)
    assert s["size"].dims == ("category", "layer")
    np.testing.assert_array_equal(s["size"].sum("layer").values, truth.members.sum(1))
    np.testing.assert_allclose(s["fraction"].values, s["size"].values / 15)
    flat = ensemble_sizes(m, by_layer=False)
    np.testing.assert_allclose(flat["fraction"].values, truth.members.sum(1) / 30)
    other = m.copy(data=m.values & (np.arange(30) % 2 == 0))
    core = ensemble_core([m, other])
    np.testing.assert_array_equal(core.values, truth.members & (np.arange(30) % 2 == 0))
    with pytest.raises(ValueError, match="one shape"):
        ensemble_core([m, m.isel(neuroid=slice(0, 10))])


# ---------------------------------------------------------------------------------------------------------------------
# overlap
# ---------------------------------------------------------------------------------------------------------------------
def test_overlap_counts_and_hypergeometric_against_scipy():
    M = np.zeros((3, 50), bool)
    M[0, :10] = True
    M[1, 5:20] = True  # shares 5 with 0
    M[2, 40:45] = True  # disjoint
    ds = ensemble_overlap(M)
    assert ds["overlap"][0, 1] == 5 and ds["overlap"][0, 2] == 0
    assert ds["expected"][0, 1] == pytest.approx(10 * 15 / 50)
    assert ds["p"][0, 1] == pytest.approx(stats.hypergeom(50, 10, 15).sf(4))
    assert ds["p"][0, 2] == pytest.approx(1.0)
    assert np.isnan(ds["p"][0, 0])
    assert ds["q"][0, 1] == pytest.approx(min(1.0, 3 * ds["p"][0, 1]))
    j = ensemble_overlap(M, "jaccard")
    assert j["overlap"][0, 1] == pytest.approx(5 / 20)
    oc = ensemble_overlap(M, "overlap-coefficient")
    assert oc["overlap"][0, 1] == pytest.approx(5 / 10)


def test_expected_jaccard_matches_monte_carlo(rng):
    M = np.zeros((2, 40), bool)
    M[0, :8] = True
    M[1, :12] = True
    exp = ensemble_overlap(M, "jaccard")["expected"][0, 1]
    sims = []
    for _ in range(20000):
        a = rng.choice(40, 8, replace=False)
        b = rng.choice(40, 12, replace=False)
        k = np.intersect1d(a, b).size
        sims.append(k / (20 - k))
    assert exp == pytest.approx(np.mean(sims), abs=0.004)  # MC SE ~ 0.0006


def test_overlap_per_layer():
    X, truth = category_population(3, 30, 20, ensemble_size=5, overlap=0.4, random_state=0)
    da = _as_da(X, truth.labels, layers=np.repeat([1, 2], 15))
    ds = ensemble_overlap(category_ensembles(da))
    assert ds["overlap"].dims == ("category", "other_category", "layer")


def test_overlap_vs_similarity():
    rng = np.random.default_rng(0)
    s = rng.random((8, 8))
    s = (s + s.T) / 2
    r = overlap_vs_similarity(3 * s + 1, s, n_shuffles=200, random_state=0)
    assert r["rho"] == pytest.approx(1.0) and r["p"] == pytest.approx(1 / 201) and r["n_pairs"] == 28
    noise = rng.random((8, 8))
    r0 = overlap_vs_similarity(noise + noise.T, s, n_shuffles=200, random_state=0)
    assert r0["p"] > 0.05
    imgs = np.array([[1.0, 0], [1, 0], [0, 1], [1, 1]])
    sim = class_mean_similarity(imgs, [0, 0, 1, 2])
    np.testing.assert_allclose(sim, [[1, 0, 2**-0.5], [0, 1, 2**-0.5], [2**-0.5, 2**-0.5, 1]])


# ---------------------------------------------------------------------------------------------------------------------
# detector adapter and scoring
# ---------------------------------------------------------------------------------------------------------------------
def test_match_ensembles_hand_example():
    ref = np.zeros((2, 10), bool)
    ref[0, :4] = True
    ref[1, 5:9] = True
    found = np.zeros((3, 10), bool)
    found[0, 5:10] = True  # 4 shared of 5 found -> J = 4/5
    found[1, :2] = True  # 2 of 4 -> J = 0.5
    found[2, 0:4] = True  # exact
    ds = match_ensembles(found, ref)
    assert ds["match"].tolist() == [2, 0]
    np.testing.assert_allclose(ds["jaccard"], [1.0, 0.8])
    np.testing.assert_allclose(ds["precision"], [1.0, 0.8])
    np.testing.assert_allclose(ds["recall"], [1.0, 1.0])
    np.testing.assert_allclose(ds["best_jaccard"], [0.8, 0.5, 1.0])
    assert ds.attrs["mean_jaccard"] == pytest.approx(0.9)
    empty = match_ensembles(np.zeros((0, 10), bool), ref)
    assert empty["match"].tolist() == [-1, -1] and empty.attrs["mean_jaccard"] == 0


def test_detect_ensembles_labelled_adapter():
    X, truth = planted_ensembles(150, 2000, 3, size=15, overlap=0.0, random_state=1)
    labels = np.zeros(2000, int)
    da = _as_da(X, labels)
    rec = xr.Dataset({"activity": da})
    ds = detect_ensembles(rec, EnsembleDetector(random_state=0))
    assert ds["patterns"].dims == ("ensemble", "neuroid") and ds["strength"].dims == ("presentation", "ensemble")
    assert ds.sizes["ensemble"] == 3
    assert ds.coords["neuroid_id"].values[0] == "n0" and ds.coords["stimulus_id"].values[-1] == "s1999"
    assert match_ensembles(ds, truth.members).attrs["mean_jaccard"] == 1.0
    # the strength of the matched ensemble is high exactly when the planted assembly is active
    m = match_ensembles(ds, truth.members)["match"].values
    for k in range(3):
        s = ds["strength"].values[:, m[k]]
        a = truth.activations[:, k]
        assert s[a].mean() > 10 * abs(s[~a].mean())
    # transposed input and numpy input give the same patterns
    ds_t = detect_ensembles(da.T, EnsembleDetector(random_state=0))
    np.testing.assert_allclose(ds_t["patterns"].values, ds["patterns"].values)
    # unsupervised assemblies can be scored against category ensembles through the same function
    assert match_ensembles(ds, ds["members"]).attrs["mean_jaccard"] == 1.0


def test_silent_neuroids_are_dropped_not_members():
    X, truth = planted_ensembles(120, 2000, 2, size=15, overlap=0.0, random_state=0)
    Xs = np.hstack([X, np.zeros((2000, 5))])
    a = EnsembleDetector(random_state=0).fit(X)
    b = EnsembleDetector(random_state=0).fit(Xs)
    assert b.n_ensembles_ == a.n_ensembles_ == 2 and not b.members_[:, 120:].any()
    np.testing.assert_allclose(b.patterns_[:, :120], a.patterns_, atol=1e-8)
    assert b.active_.sum() == 120


def test_permuting_neuroids_permutes_patterns_and_scaling_keeps_members():
    X, _ = planted_ensembles(100, 2000, 2, size=12, overlap=0.0, random_state=4)
    perm = np.random.default_rng(0).permutation(100)
    a = EnsembleDetector(random_state=0).fit(X)
    b = EnsembleDetector(random_state=0).fit(X[:, perm])
    c = EnsembleDetector(random_state=0).fit(X * np.linspace(0.5, 3, 100))
    for other in (b.members_[:, np.argsort(perm)], c.members_):
        assert match_ensembles(other, a.members_).attrs["mean_jaccard"] == 1.0


# ---------------------------------------------------------------------------------------------------------------------
# bad input
# ---------------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "call, exc, match",
    [
        (lambda: category_ensembles(np.array([[1.0, np.nan]]), [0]), ValueError, "finite"),
        (lambda: category_ensembles(np.ones((3, 2)), [0, 1]), ValueError, "one entry per presentation"),
        (lambda: category_ensembles(np.ones((3, 2)), [0, 0, 0], rule="test"), ValueError, "at least 2 classes"),
        (lambda: category_ensembles(np.ones((3, 2)), [0, 0, 1], rule="test"), ValueError, "2 presentations"),
        (lambda: category_ensembles(np.ones((3, 1)), [0, 0, 1]), ValueError, "at least 2 neuroids"),
        (lambda: category_ensembles(np.ones((3, 2)), [0, 0, 1], rule="loo"), ValueError, "'rule' parameter"),
        (lambda: category_ensembles(np.ones((3, 2)), None), TypeError, "'labels' parameter"),
        (lambda: category_ensembles(np.ones((3, 2)), [0, 0, 1], by_layer=True), ValueError, "'layer' coord"),
        (lambda: ensemble_overlap(np.ones((2, 3), bool), "dice"), ValueError, "'metric' parameter"),
        (lambda: ensemble_overlap(np.full((2, 3), 2)), ValueError, "boolean"),
        (lambda: match_ensembles(np.ones((1, 3), bool), np.ones((1, 4), bool)), ValueError, "same number"),
        (lambda: overlap_vs_similarity(np.ones((2, 2)), np.ones((2, 2))), ValueError, "at least 3"),
        (lambda: detect_ensembles(xr.Dataset(), None), ValueError, "'activity'"),
        (lambda: detect_ensembles(np.ones((5, 3)), "ica"), TypeError, "'detector' parameter"),
    ],
)
def test_bad_input(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


def test_one_class_is_allowed_for_paper_and_fraction():
    x = np.array([[5.0, 1, 1], [3, 1, 0]])
    assert category_ensembles(x, [7, 7]).tolist() == [[True, False, False]]
    assert category_ensembles(x, [7, 7], rule="fraction", threshold=0.5, min_fraction=0.6).tolist() == [[True, True, False]]


@pytest.mark.parametrize(
    "params, match",
    [
        (dict(n_ensembles=0), r"The 'n_ensembles' parameter of EnsembleDetector must be an int >= 1 or None. Got 0 instead."),
        (dict(method="lda"), "'method' parameter of EnsembleDetector"),
        (dict(significance="bonferroni"), "'significance' parameter"),
        (dict(method="svd", significance="marchenko-pastur"), "one of 'auto', 'shuffle', 'circular'"),
        (dict(alpha=1.5), "'alpha' parameter"),
        (dict(n_shuffles=0), "'n_shuffles' parameter"),
        (dict(member_threshold=np.inf), "'member_threshold' parameter"),
    ],
)
def test_detector_param_errors_are_raised_in_fit(params, match):
    det = EnsembleDetector(**params)  # __init__ never validates
    with pytest.raises(ValueError, match=match):
        det.fit(np.random.default_rng(0).random((20, 3)))


def test_detector_fewer_presentations_than_neuroids():
    X = np.random.default_rng(0).poisson(1.0, size=(50, 80)).astype(float)
    with pytest.raises(ValueError, match="q = B/N >= 1"):
        EnsembleDetector().fit(X)
    # documented ways out: a surrogate null, or a given number of ensembles
    assert EnsembleDetector(significance="circular", n_shuffles=20, random_state=0).fit(X).n_ensembles_ == 0
    assert EnsembleDetector(n_ensembles=2, random_state=0).fit(X).patterns_.shape == (2, 80)


def test_detector_all_silent_and_nan():
    with pytest.warns(EnsemblesWarning, match="All neuroids are silent"):
        det = EnsembleDetector().fit(np.ones((10, 4)))
    assert det.n_ensembles_ == 0 and det.transform(np.ones((3, 4))).shape == (3, 0)
    with pytest.raises(ValueError, match="NaN"):
        EnsembleDetector().fit(np.array([[1.0, np.nan], [2, 3], [1, 1]]))
