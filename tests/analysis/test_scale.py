"""Analysis at the scale of large recordings: the streamed ``ica``/``pca`` path of EnsembleDetector, the batched
category-ensemble null and the scale benchmark at a tiny size.

Reference values: tests/reference/detector_planted_reference.npz holds the results of EnsembleDetector (dense path,
float64 eigen-decomposition of the full correlation matrix) computed before the streamed path existed; its
provenance (generator calls, detector parameters, the commit that computed them) is in the .json beside it.
"""

import json
from pathlib import Path

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

import ensembles.analysis._detector_streamed as D
from ensembles.analysis.ensembles import EnsembleDetector
from ensembles.data.synthetic import planted_ensembles
from ensembles.errors import ParameterError

REF = Path(__file__).resolve().parents[1] / "reference" / "detector_planted_reference.npz"
CASES = {
    "medium_poisson": ((500, 5000, 8), dict(size=(20, 40), overlap=0.1, random_state=0)),
    "large_graded": ((1000, 10000, 10), dict(size=(20, 40), overlap=0.1, kind="graded", random_state=1)),
}


@pytest.fixture(autouse=True)
def _one_blas_thread():
    with threadpool_limits(1):
        yield


@pytest.fixture(scope="module")
def ref():
    return np.load(REF)


@pytest.fixture(scope="module")
def populations():
    return {name: planted_ensembles(*args, **kw)[0] for name, (args, kw) in CASES.items()}


def test_reference_provenance_matches_the_cases():
    meta = json.loads(REF.with_suffix(".json").read_text())
    for name, (args, kw) in CASES.items():
        for method in ("ica", "pca"):
            assert meta["cases"][f"{name}_{method}"]["generator"] == f"planted_ensembles{args} {kw}"


@pytest.mark.parametrize("name", list(CASES))
@pytest.mark.parametrize("method", ["ica", "pca"])
def test_dense_path_is_unchanged(ref, populations, name, method):
    """At ordinary sizes fit takes the dense path: bit-identical to the stored results."""
    key = f"{name}_{method}"
    det = EnsembleDetector(method=method, max_iter=300, random_state=0).fit(populations[name])
    np.testing.assert_array_equal(det.patterns_, ref[key + "_patterns"])
    np.testing.assert_array_equal(det.members_, ref[key + "_members"])
    assert det.threshold_ == float(ref[key + "_threshold"])


@pytest.mark.parametrize("name", list(CASES))
@pytest.mark.parametrize("method", ["ica", "pca"])
def test_streamed_path_equals_the_dense_results(ref, populations, name, method, monkeypatch):
    """The streamed path (float32 blocks, block Krylov, FastICA in the subspace), forced at today's sizes, gives the
    same ensembles: same count, same members, patterns within 1e-4 (pca) or 1e-3 (ica), leading eigenvalues within
    1e-6 (relative)."""
    monkeypatch.setattr(D, "_DENSE_MAX_BYTES", 0)
    monkeypatch.setattr(D, "_BLOCK_BYTES", 2**20)  # many blocks
    key = f"{name}_{method}"
    X = populations[name]
    det = EnsembleDetector(method=method, max_iter=300, random_state=0).fit(X)
    P = ref[key + "_patterns"]
    k = P.shape[0]
    assert det.n_ensembles_ == k
    assert det.threshold_ == pytest.approx(float(ref[key + "_threshold"]), rel=1e-12)
    np.testing.assert_allclose(det.eigenvalues_[:k], ref[key + "_eigenvalues"][:k], rtol=1e-6)
    # ICA orders its components arbitrarily: match each stored pattern to its best new one (a permutation)
    perm = np.abs(det.patterns_ @ P.T).argmax(axis=0)
    assert sorted(perm.tolist()) == list(range(k))
    # pca: the Ritz vectors of the Krylov space match the eigenvectors to 1e-4; ica adds FastICA, which stops when
    # no unmixing vector moves by more than tol=1e-4 in |cos|, i.e. ~1e-2 in angle: 1e-3 is a tight bound here
    np.testing.assert_allclose(det.patterns_[perm], P, atol=1e-4 if method == "pca" else 1e-3)
    np.testing.assert_array_equal(det.members_[perm], ref[key + "_members"])
    np.testing.assert_allclose(det.member_thresholds_[perm], ref[key + "_member_thresholds"], atol=1e-4)
    T = det.transform(X[:50])[:, perm]
    np.testing.assert_allclose(T, ref[key + "_transform"], rtol=1e-3, atol=1e-3 * np.abs(ref[key + "_transform"]).max())


def test_streamed_path_reads_h5py_and_float32_and_leaves_input_alone(tmp_path, monkeypatch):
    h5py = pytest.importorskip("h5py")
    X, truth = planted_ensembles(300, 4000, 4, size=20, random_state=3)
    X32 = X.astype(np.float32)
    before = X32.copy()
    monkeypatch.setattr(D, "_DENSE_MAX_BYTES", 0)
    monkeypatch.setattr(D, "_BLOCK_BYTES", 2**18)
    a = EnsembleDetector(random_state=0).fit(X32)
    np.testing.assert_array_equal(X32, before)  # blocks are copies, the caller's array is not z-scored in place
    with h5py.File(tmp_path / "x.h5", "w") as f:
        f.create_dataset("x", data=X32, chunks=(500, 300))
    with h5py.File(tmp_path / "x.h5", "r") as f:
        b = EnsembleDetector(random_state=0).fit(f["x"])
        Tb = b.transform(f["x"])
    np.testing.assert_array_equal(a.patterns_, b.patterns_)
    assert a.n_ensembles_ == 4
    np.testing.assert_allclose(Tb, a.transform(X32), rtol=1e-6, atol=1e-6)
    monkeypatch.setattr(D, "_DENSE_MAX_BYTES", 2**40)
    dense = EnsembleDetector(random_state=0).fit(X32)
    Td = dense.transform(X32)[:, np.abs(dense.patterns_ @ b.patterns_.T).argmax(axis=0)]
    np.testing.assert_allclose(Tb, Td, atol=1e-2 * np.abs(Td).max())  # FastICA converges to tol=1e-4


def test_streamed_path_finds_nothing_in_independent_data_and_handles_silent_units(monkeypatch):
    monkeypatch.setattr(D, "_DENSE_MAX_BYTES", 0)
    rng = np.random.default_rng(0)
    X = rng.poisson(1.0, size=(6000, 400)).astype(np.float32)
    X[:, :7] = 3.0  # silent (constant) neuroids
    det = EnsembleDetector(random_state=0).fit(X)
    assert det.n_ensembles_ == 0
    assert det.active_.sum() == 393
    assert det.transform(X[:10]).shape == (10, 0)


def test_streamed_path_errors(monkeypatch):
    monkeypatch.setattr(D, "_DENSE_MAX_BYTES", 0)
    X = np.random.default_rng(0).standard_normal((400, 30))
    with pytest.raises(ParameterError, match="significance='tracy-widom'"):
        EnsembleDetector(significance="shuffle").fit(X)
    X[5, 3] = np.nan
    with pytest.raises(ParameterError, match="NaN"):
        EnsembleDetector().fit(X)
    det = EnsembleDetector(n_ensembles=2).fit(np.random.default_rng(1).standard_normal((400, 30)))
    assert det.n_ensembles_ == 2
    with pytest.raises(ParameterError, match="expecting 30 features"):
        det.transform(np.zeros((5, 31)))


# ---------------------------------------------------------------------------------------------------------------------
# category ensembles: the batched shuffled-label null equals the per-shuffle loop
# ---------------------------------------------------------------------------------------------------------------------
def _loop_null(X, lab_idx, n_classes, groups, rule, prm, rng, n):
    """The null as a Python loop over shuffles: permute, re-apply the rule, count (the definition)."""
    from ensembles.analysis.ensembles import category as CAT

    null = np.empty((n, n_classes, len(groups)))
    for s in range(n):
        member, _ = CAT._membership(X, rng.permutation(lab_idx), n_classes, groups, rule, prm)
        null[s] = CAT._group_sizes(member, groups)
    return null


@pytest.mark.parametrize("rule", ["paper", "fraction", "test"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_batched_category_null_equals_the_loop(rule, dtype, monkeypatch):
    from ensembles.analysis.ensembles import category as CAT
    from ensembles.data.synthetic import category_population

    monkeypatch.setattr(CAT, "_NULL_BATCH_BYTES", 10 * 200 * 8 * 7)  # batches of 7 (or 14 for float32) shuffles
    X, truth = category_population(10, 120, 20, ensemble_size=12, strength=1.0, sparsity=0.6, random_state=0)
    X = X.astype(dtype)
    prm = dict(tau=1.0, threshold=0.0, min_fraction=0.5, alpha=0.05, min_effect=0.5, test="welch")
    groups = [np.arange(60), np.arange(60, 120)]
    n = 40 if rule == "test" else 150
    want = _loop_null(X, truth.labels, 10, groups, rule, prm, np.random.default_rng(5), n)
    got = CAT._null_sizes(X, truth.labels, 10, groups, rule, prm, np.random.default_rng(5), n)
    np.testing.assert_array_equal(got, want)
    if rule != "test":  # (a test rule controls false discoveries: its null sizes are ~0)
        assert want.std() > 0  # the null varies: the comparison is not between constants


def test_category_null_through_the_public_function():
    from ensembles.analysis.ensembles import category_ensembles
    from ensembles.data.synthetic import category_population

    X, truth = category_population(5, 80, 30, ensemble_size=10, strength=3.0, random_state=2)
    res = category_ensembles(X, truth.labels, n_shuffles=200, random_state=0)
    assert np.all(res["size_p"] <= 1.0 / 201 + 1e-12)  # planted ensembles beat every shuffle
    assert np.all(res["expected_size"] < res["members"].sum(axis=1))


def test_planted_blocks_are_reproducible_and_planted():
    from ensembles.data.synthetic import planted_blocks

    kw = dict(n_ensembles=3, size=15, n_classes=4, class_size=10, random_state=7)
    truth, blocks = planted_blocks(200, 3000, block_rows=700, **kw)
    X = np.vstack([b for _, b in blocks])
    truth2, blocks2 = planted_blocks(200, 3000, block_rows=700, **kw)
    np.testing.assert_array_equal(X, np.vstack([b for _, b in blocks2]))
    assert X.dtype == np.float32 and X.shape == (3000, 200) and X.min() >= 0
    cm = truth.params["class_members"]
    assert not (cm & truth.members.any(axis=0)).any()  # class units are outside the assemblies
    means = np.stack([X[truth.labels == c].mean(axis=0) for c in range(4)])
    contrast = means - (means.sum(axis=0) - means) / 3  # class mean minus the mean of the other classes
    assert np.all(contrast[cm] > 0.7) and np.all(np.abs(contrast[:, ~cm.any(axis=0)]) < 0.3)  # +1 where planted
    with threadpool_limits(1):
        det = EnsembleDetector(random_state=0).fit(X)
    from ensembles.analysis.ensembles import match_ensembles

    assert match_ensembles(det.members_, truth.members).attrs["mean_jaccard"] >= 0.9
    with pytest.raises(ParameterError, match="'class_size'"):
        planted_blocks(100, 10, n_ensembles=2, size=40, n_classes=5, class_size=10)


def test_scale_benchmark_runs_at_a_tiny_size(tmp_path):
    """benchmarks/bench_scale.py end to end at 300 x 3000: every statistic reports a time, a throughput and a peak RSS,
    the planted assemblies are found and the assembly-free population gives none."""
    import subprocess
    import sys

    script = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_scale.py"
    out = tmp_path / "scale.json"
    cmd = [sys.executable, str(script), "--neuroids", "300", "--presentations", "3000", "--ensembles", "3",
           "--classes", "4", "--class-size", "8", "--shuffles", "5", "--mi-neuroids", "20", "--cka-neuroids", "20",
           "--threads", "1", "--dir", str(tmp_path), "--out", str(out)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    res = json.loads(out.read_text())
    rows = {r["statistic"]: r for r in res["rows"]}
    assert set(rows) >= {"read", "population_sparseness", "lifetime_sparseness", "class_means", "anova", "dprime",
                         "mutual_information", "category_ensembles", "ica", "pca", "ica_null", "cka",
                         "rdm_class_means"}
    for r in rows.values():
        assert r["seconds"] > 0 and r["GB_per_s"] > 0 and 0 < r["peak_rss_GB"] < 4
    assert rows["ica"]["all_found"] and rows["ica"]["min_best_jaccard"] >= 0.9
    assert rows["ica_null"]["n_ensembles"] == 0
    assert rows["population_sparseness"]["n_silent"] >= 0
    assert "load average" in res["uptime_before"]
    assert not list(tmp_path.glob("bench_scale_*"))  # the recordings are deleted


@pytest.mark.parametrize("method", ["ica", "pca"])
def test_streamed_path_with_few_neuroids_equals_the_dense_path(method, monkeypatch):
    """Fewer neuroids than the Krylov space: the streamed path accumulates Z'Z in blocks (exact eigenvalues)."""
    X, truth = planted_ensembles(120, 4000, 3, size=12, random_state=4)
    dense = EnsembleDetector(method=method, random_state=0).fit(X)
    monkeypatch.setattr(D, "_DENSE_MAX_BYTES", 0)
    monkeypatch.setattr(D, "_BLOCK_BYTES", 2**16)
    streamed = EnsembleDetector(method=method, random_state=0).fit(X)
    assert streamed.n_ensembles_ == dense.n_ensembles_ == 3
    np.testing.assert_allclose(streamed.eigenvalues_, dense.eigenvalues_, rtol=1e-5)
    perm = np.abs(streamed.patterns_ @ dense.patterns_.T).argmax(axis=0)
    np.testing.assert_array_equal(streamed.members_[perm], dense.members_)
    np.testing.assert_allclose(streamed.patterns_[perm], dense.patterns_, atol=1e-4 if method == "pca" else 1e-3)


def test_sparse_input_keeps_the_dense_error(monkeypatch):
    from scipy import sparse

    monkeypatch.setattr(D, "_DENSE_MAX_BYTES", 0)
    with pytest.raises(TypeError, match="[Ss]parse"):
        EnsembleDetector().fit(sparse.random(300, 20, density=0.1, format="csr", random_state=0))
