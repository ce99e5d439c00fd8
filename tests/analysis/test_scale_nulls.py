"""Shuffle nulls, category ensembles and linear CKA in bounded memory: the results at today's sizes are those stored
in tests/reference/scale_nulls_reference.npz (computed by the code that held every partial sum in memory; provenance
in the .json beside it), bit for bit, for numpy and dask-backed input, whatever the grouping of neuroids, the pieces
of presentations and the batches of permutations.

Where the shuffled class sums are computed for groups of neuroids narrower than the float32 products would
otherwise see (in memory: when the sums of all neuroids exceed 1 GiB; dask: where a column chunk is wider than a
group), the null statistics change by float32 round-off (tested: within 1e-5 of d′, CSI, tuning values of order
0.01-1); the p-values compare the null with a relative tolerance of 1e-6 and are the same in the tests.

The streamed paths of inputs that used to be loaded (category ensembles and linear CKA of a dask-backed input)
change the order of accumulation: the class means are float32 products of row blocks summed in float64 instead of
one float32 product over all presentations (float32 data: within 1e-6 relative; float64 data: 1e-12), the CKA Gram
matrices are float64 sums over row blocks (within 1e-12 relative).  Memberships and null sizes are the same here.
``ensemble_null`` scores a batch of permutations with one product: its shuffled scores are within the same
round-off of the per-permutation ones; its outputs (sizes, unit p-values) are the stored ones.

Regenerate the reference (only with the older code on PYTHONPATH):
``PYTHONPATH=<old src> python tests/analysis/test_scale_nulls.py [COMMIT]``.
"""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from threadpoolctl import threadpool_limits

REF = Path(__file__).resolve().parents[1] / "reference" / "scale_nulls_reference.npz"
N_NEUROIDS, N_PRESENTATIONS, CHUNK = 240, 3000, (700, 100)


def population(dtype=np.float32):
    """Graded activity with 5 classes driving 20 neuroids each and 2 planted assemblies; a NaN copy for omit."""
    from ensembles.data.synthetic import planted_blocks

    truth, blocks = planted_blocks(N_NEUROIDS, N_PRESENTATIONS, n_ensembles=2, size=15, n_classes=5, class_size=20,
                                   block_rows=1000, random_state=11)  # fmt: skip
    X = np.vstack([b for _, b in blocks]).astype(dtype)
    return X, np.asarray(truth.labels)


def labelled(X, y, dask=False):
    data = X
    if dask:
        import dask.array as dka

        data = dka.from_array(X, chunks=CHUNK)
    return xr.DataArray(data, dims=("presentation", "neuroid"), coords={"label": ("presentation", y)})


def _arrays(res, prefix):
    if hasattr(res, "data_vars"):
        out = {f"{prefix}/{k}": np.asarray(res[k].values) for k in res.data_vars}
        out.update({f"{prefix}/{k}": np.asarray(res.coords[k].values) for k in ("expected_size", "size_p")
                    if k in res.coords})  # fmt: skip
        return out
    if hasattr(res, "keys"):
        return {f"{prefix}/{k}": np.asarray(res[k]) for k in res.keys()}
    return {prefix: np.asarray(res)}


def compute_all(dask: bool) -> dict:
    """Every result the reference holds, for numpy (``dask=False``) or dask-backed input."""
    from ensembles.analysis import selectivity as sel
    from ensembles.analysis.ensembles import category_ensembles, ensemble_null
    from ensembles.analysis.geometry import linear_cka

    out = {}
    tag = "dask" if dask else "numpy"
    with threadpool_limits(1):
        for dtype in (np.float32, np.float64):
            X, y = population(dtype)
            d = labelled(X, y, dask)
            key = f"{tag}/{np.dtype(dtype).name}"
            out.update(_arrays(sel.dprime(d, n_shuffles=70, random_state=1), f"{key}/dprime"))
            out.update(_arrays(sel.class_selectivity_index(d, n_shuffles=70, random_state=2), f"{key}/csi"))
            out.update(_arrays(sel.tuning_sparseness(d, n_shuffles=70, random_state=3), f"{key}/tuning"))
            out.update(_arrays(sel.mutual_information(d, n_shuffles=70, random_state=4, block_size=100),
                               f"{key}/mi"))  # fmt: skip
            Xn = X.copy()
            Xn[5, 3] = Xn[17, 9] = np.nan
            dn = labelled(Xn, y, dask)
            out.update(_arrays(sel.dprime(dn, n_shuffles=70, random_state=1, nan_policy="omit"), f"{key}/dprime_omit"))
            out.update(_arrays(sel.mutual_information(dn, n_shuffles=70, random_state=4, nan_policy="omit"),
                               f"{key}/mi_omit"))  # fmt: skip
            for rule in ("paper", "fraction"):
                res = category_ensembles(d, rule=rule, n_shuffles=150, random_state=5, return_stats=True)
                out.update(_arrays(res, f"{key}/category_{rule}"))
            out.update(_arrays(ensemble_null(d, n_shuffles=60, random_state=6), f"{key}/ensemble_null"))
            out[f"{key}/cka"] = np.asarray(float(linear_cka(d.isel(neuroid=slice(0, 100)),
                                                            d.isel(neuroid=slice(100, 220)))))  # fmt: skip
            out[f"{key}/cka_debiased"] = np.asarray(float(linear_cka(d.isel(neuroid=slice(0, 100)),
                                                                     d.isel(neuroid=slice(100, 220)),
                                                                     debiased=True)))  # fmt: skip
    return out


@pytest.fixture(scope="module")
def ref():
    return dict(np.load(REF))


def _small_pieces(monkeypatch):
    """Groups of 7 neuroids for the selectivity nulls, pieces of 37 presentations for MI, batches of 3 shuffles
    for the category null of a streamed input."""
    from ensembles.analysis.ensembles import category as CAT
    from ensembles.analysis.selectivity import _shuffle as S
    from ensembles.analysis.selectivity import information as I

    monkeypatch.setattr(S, "_NULL_BYTES", 8 * 70 * 5 * 7)
    monkeypatch.setattr(S, "_NUMPY_NULL_BYTES", 0)
    monkeypatch.setattr(I, "_PIECE_ROWS", 37)
    monkeypatch.setattr(CAT, "_NULL_STREAM_BYTES", 8 * 5 * N_NEUROIDS * 3)


def test_reference_provenance():
    meta = json.loads(REF.with_suffix(".json").read_text())
    assert meta["population"] == f"planted_blocks({N_NEUROIDS}, {N_PRESENTATIONS}, ...), random_state=11"
    assert len(meta["commit"]) == 40


@pytest.mark.parametrize("pieces", [False, True], ids=["default", "small_pieces"])
@pytest.mark.parametrize("dask", [False, True], ids=["numpy", "dask"])
def test_results_equal_the_stored_ones(ref, dask, pieces, monkeypatch):
    if pieces:
        _small_pieces(monkeypatch)
    got = compute_all(dask)
    tag = "dask" if dask else "numpy"
    keys = [k for k in ref if k.startswith(tag + "/")]
    assert sorted(keys) == sorted(got)
    for k in keys:
        streamed = dask and ("/category_" in k or k.endswith("/cka"))  # loaded before, streamed now
        if not streamed:
            np.testing.assert_array_equal(got[k], ref[k], err_msg=k)
            continue
        want = ref[k.replace("dask/", "numpy/", 1)]  # the older code loaded a dask input: the numpy values
        np.testing.assert_array_equal(ref[k], want, err_msg=k)
        if k.endswith("/score") or k.endswith("/cka"):
            rtol = 1e-6 if "float32" in k and "category" in k else 1e-12
            np.testing.assert_allclose(got[k], want, rtol=rtol, atol=rtol, err_msg=k)
        else:  # memberships, null sizes and p-values of the sizes
            np.testing.assert_array_equal(got[k], want, err_msg=k)


def test_grouped_null_is_within_float32_round_off(monkeypatch):
    """Groups of 50 neuroids in memory and of 60 in 200-neuroid dask chunks: the null statistics within 1e-5 of
    the one-group computation, the p-values identical."""
    import dask.array as dka

    from ensembles.analysis import selectivity as sel
    from ensembles.analysis.selectivity import _shuffle as S
    from ensembles.analysis.selectivity import indices, tuning

    X, y = population()
    nulls = []
    real = S._pvalues

    def spy(obs, null):
        nulls.append(null)
        return real(obs, null)

    monkeypatch.setattr(indices, "_pvalues", spy)
    monkeypatch.setattr(tuning, "_pvalues", spy)

    def run(x):
        with threadpool_limits(1):
            return [f(x, y, n_shuffles=40, random_state=0)
                    for f in (sel.dprime, sel.class_selectivity_index, sel.tuning_sparseness)]  # fmt: skip

    one = run(X)
    dask_one = run(dka.from_array(X, chunks=(700, 200)))
    monkeypatch.setattr(S, "_NUMPY_NULL_BYTES", 0)
    monkeypatch.setattr(S, "_NULL_BYTES", 8 * 40 * 5 * 50)
    monkeypatch.setattr(S, "_GROUP_COLS", 60)
    grouped = run(X)
    dask_grouped = run(dka.from_array(X, chunks=(700, 200)))
    n = len(one)
    for a, b in zip(one + dask_one, grouped + dask_grouped, strict=True):
        np.testing.assert_array_equal(a["p"], b["p"])
    for a, b in zip(nulls[:n] + nulls[n : 2 * n], nulls[2 * n : 3 * n] + nulls[3 * n :], strict=True):
        np.testing.assert_allclose(b, a, rtol=0, atol=1e-5)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_batched_ensemble_null_scores_equal_the_loop(dtype):
    """ensemble_null's batched scores against the rule applied to each permutation alone (the older loop): a
    product of a batch of one-hot matrices rounds like the product of one within float32 round-off (1e-6 of the
    scores, float32 data) or float64 round-off (1e-12); the same permutations."""
    from ensembles.analysis.ensembles import null as NL

    X, y = population(dtype)
    with threadpool_limits(1):
        batched = np.concatenate([s for _, s in NL._shuffled_scores(X, y, np.random.default_rng(3), 25)])
        rng = np.random.default_rng(3)
        loop = np.stack([NL._scores(X, rng.permutation(y)) for _ in range(25)])
    tol = 1e-6 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(batched, loop, rtol=tol, atol=tol)


def test_streamed_inputs_are_not_loaded(monkeypatch):
    """Category ensembles and linear CKA of a dask-backed input never convert the whole array to numpy."""
    import dask.array as dka

    from ensembles.analysis.ensembles import category_ensembles
    from ensembles.analysis.geometry import linear_cka

    X, y = population()
    calls = []
    real = dka.Array.__array__

    def spy(self, *a, **kw):
        calls.append(self.shape)
        return real(self, *a, **kw)

    monkeypatch.setattr(dka.Array, "__array__", spy)
    d = labelled(X, y, dask=True)
    category_ensembles(d, n_shuffles=20, random_state=0)
    linear_cka(d.isel(neuroid=slice(0, 100)), d.isel(neuroid=slice(100, 200)))
    assert not any(s[0] == N_PRESENTATIONS and s[1] >= 100 for s in calls), calls


def test_streamed_input_errors_name_the_parameter():
    import dask.array as dka

    from ensembles.analysis.ensembles import category_ensembles
    from ensembles.analysis.geometry import linear_cka
    from ensembles.errors import ParameterError

    X, y = population()
    X[4, 4] = np.nan
    d = labelled(X, y, dask=True)
    with pytest.raises(ParameterError, match="'x'"):
        category_ensembles(d)
    with pytest.raises(ParameterError, match="'y'"):
        linear_cka(np.ones((N_PRESENTATIONS, 3)), d)
    bad = xr.DataArray(dka.ones((10, 4), chunks=5), dims=("time", "unit"))
    with pytest.raises(ParameterError, match="'x'"):
        linear_cka(bad, bad)


def _write_reference() -> None:  # pragma: no cover - run by hand with the older code
    out = {**compute_all(False), **compute_all(True)}
    np.savez_compressed(REF, **out)
    src = Path(sys.modules["ensembles"].__file__).resolve().parents[1]
    commit = sys.argv[1] if len(sys.argv) > 1 else subprocess.run(["git", "rev-parse", "HEAD"], cwd=src,
                                                                  capture_output=True, text=True).stdout.strip()
    meta = {"commit": commit or "unknown", "src": "the analysis code before the bounded-memory nulls",
            "population": f"planted_blocks({N_NEUROIDS}, {N_PRESENTATIONS}, ...), random_state=11",
            "blas_threads": 1, "n_arrays": len(out)}  # fmt: skip
    REF.with_suffix(".json").write_text(json.dumps(meta, indent=1) + "\n")


if __name__ == "__main__":
    _write_reference()
