"""The analysis contract (docs/architecture.md, "The analysis contract"), checked over every name of
``ensembles.analysis.__all__``.

Every exported name is classified below (a test fails when a new one is not):

* ACTIVITY functions take activity and must give the same numbers for a numpy array, a DataArray, a dask-backed
  DataArray and a recording (``xr.Dataset`` with ``activity``, labels from its coords): numpy in -> numpy out (an
  array, a number or a named result), labelled in -> labelled out (``xr.DataArray`` / ``xr.Dataset``);
* RESULT functions take the results of other functions (memberships, RDMs, per-neuroid values, weights) under the
  same numpy-in/numpy-out, labelled-in/labelled-out rule;
* TABLE functions return a tidy ``pandas.DataFrame`` whatever they are given;
* the rest are result types, the scikit-learn estimator (its own contract: tests/analysis/test_detector_api.py), constants,
  closed-form helpers and one drawing function that lives in ``analysis/cortex.py`` for now.

The reference values here are the functions' own numpy results: what is checked is that every input path gives the
same numbers (the same quantity through independent code paths), not the numbers themselves
(those are checked against outside references in the per-module tests).
"""

from __future__ import annotations

import inspect
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import xarray as xr

import ensembles.analysis as A
from ensembles import conventions as C
from ensembles.analysis import Result
from ensembles.errors import EnsemblesError

dask = pytest.importorskip("dask")

N_PER_CLASS, K, P = 20, 3, 12


def _data(seed: int = 0):
    rng = np.random.default_rng(seed)
    y = np.repeat(np.arange(K), N_PER_CLASS)
    x = rng.gamma(1.0, 1.0, size=(y.size, P)) * (rng.random((y.size, P)) < 0.7)
    x[:, :3] += 2.0 * (y[:, None] == np.arange(3)[None, :])  # neuroid c prefers class c
    return x, y


def _labelled(x, y) -> xr.DataArray:
    n, p = x.shape
    return xr.DataArray(
        x,
        dims=(C.PRESENTATION, C.NEUROID),
        coords={
            "stimulus_id": (C.PRESENTATION, [f"s{i:03d}" for i in range(n)]),
            "label": (C.PRESENTATION, y),
            "label_name": (C.PRESENTATION, np.array(["cat", "dog", "owl"])[y]),
            "neuroid_id": (C.NEUROID, [f"layer1.{j:04d}" for j in range(p)]),
        },
        name="activity",
    )


def _variants(x, y) -> dict:
    """The four input kinds of the contract, and the labels each takes (an array, or the coord name)."""
    da = _labelled(x, y)
    return {
        "numpy": (x, y),
        "dataarray": (da, "label"),
        "dask": (da.chunk({C.PRESENTATION: 17, C.NEUROID: 5}), "label"),
        "recording": (xr.Dataset({"activity": da}, attrs={"model": "test"}), "label"),
    }


W = np.random.default_rng(1).normal(size=(5, P))
MEMBERS = np.eye(K, P, dtype=bool)

# name -> call(x, labels); x is one of the four input kinds
ACTIVITY = {
    "sparseness": lambda x, lab: A.sparseness(x, "hoyer", dim="neuroid"),
    "lifetime_sparseness": lambda x, lab: A.lifetime_sparseness(x),
    "population_sparseness": lambda x, lab: A.population_sparseness(x),
    "vinje_gallant_sparseness": lambda x, lab: A.vinje_gallant_sparseness(x),
    "treves_rolls_activity": lambda x, lab: A.treves_rolls_activity(x),
    "hoyer_sparseness": lambda x, lab: A.hoyer_sparseness(x),
    "gini_sparseness": lambda x, lab: A.gini_sparseness(x),
    "kurtosis_sparseness": lambda x, lab: A.kurtosis_sparseness(x),
    "fraction_active": lambda x, lab: A.fraction_active(x),
    "image_selectivity": lambda x, lab: A.image_selectivity(x, num_steps=50),
    "condition_means": lambda x, lab: A.condition_means(x, lab),
    "subsample_sparseness": lambda x, lab: A.subsample_sparseness(x, 6, n_bootstrap=5, random_state=0),
    "class_means": lambda x, lab: A.class_means(x, lab),
    "preferred_class": lambda x, lab: A.preferred_class(x, lab),
    "preference_order": lambda x, lab: A.preference_order(x, lab),
    "class_selectivity_index": lambda x, lab: A.class_selectivity_index(x, lab, n_shuffles=9, random_state=0),
    "dprime": lambda x, lab: A.dprime(x, lab, n_shuffles=9, random_state=0),
    "anova": lambda x, lab: A.anova(x, lab),
    "tuning_sparseness": lambda x, lab: A.tuning_sparseness(x, lab, n_shuffles=9, random_state=0),
    "n_driven_classes": lambda x, lab: A.n_driven_classes(x, lab),
    "mutual_information": lambda x, lab: A.mutual_information(x, lab, n_bins=4, n_shuffles=9, random_state=0),
    "category_ensembles": lambda x, lab: A.category_ensembles(x, lab),
    "detect_ensembles": lambda x, lab: A.detect_ensembles(x, A.EnsembleDetector(n_ensembles=2, random_state=0)),
    "rdm": lambda x, lab: A.rdm(x, lab),
    "linear_cka": lambda x, lab: A.linear_cka(x, x),
    "decode": lambda x, lab: A.decode(x, lab, cv=3),
    "participation_ratio": lambda x, lab: A.participation_ratio(x),
    "eigenspectrum": lambda x, lab: A.eigenspectrum(x),
    "eigenspectrum_alpha": lambda x, lab: A.eigenspectrum_alpha(x, fit_range=(0, 8), min_points=3),
    "property_similarity": lambda x, lab: A.property_similarity(
        x, x, labels=lab if isinstance(lab, str) else (lab, lab), n_bootstrap=20, random_state=0),
    "input_currents": lambda x, lab: A.input_currents(W, x),
    "fraction_silenced": lambda x, lab: A.fraction_silenced(x, x, np.full(P, -0.1)),
    "silenced_share": lambda x, lab: A.silenced_share(x, x, np.full(P, -0.1)),
    "currents_by_ensemble": lambda x, lab: A.currents_by_ensemble(x, x, None, lab, MEMBERS),
    "silent_units": lambda x, lab: A.silent_units(x),
    "responsive_neuroids": lambda x, lab: A.responsive_neuroids(x, lab),
    "ensemble_null": lambda x, lab: A.ensemble_null(x, lab, taus=(0.5, 1.0), n_shuffles=9, random_state=0),
}
NEEDS_LABELS = {"condition_means", "class_means", "preferred_class", "preference_order", "class_selectivity_index", "dprime", "anova",
                "tuning_sparseness", "n_driven_classes", "mutual_information", "category_ensembles", "decode",
                "currents_by_ensemble", "ensemble_null"}  # fmt: skip


def _as_kind(a, kind):
    """A result-function input in the kind of the test: plain values, or a DataArray (dask-backed for 'dask')."""
    if kind == "numpy":
        return np.asarray(a)
    da = a if isinstance(a, xr.DataArray) else xr.DataArray(np.asarray(a))
    return da.chunk() if kind == "dask" else da


# name -> call(kind): builds its (plain or labelled) inputs with other analysis functions
def _members(kind):
    x, lab = _variants(*_data())[kind]
    return A.category_ensembles(x, lab)


RESULT = {
    "ensemble_sizes": lambda kind: A.ensemble_sizes(_members(kind)),
    "ensemble_core": lambda kind: A.ensemble_core([_members(kind), _members(kind)]),
    "ensemble_overlap": lambda kind: A.ensemble_overlap(_members(kind)),
    "ensemble_specificity": lambda kind: A.ensemble_specificity(_members(kind)),
    "class_mean_similarity": lambda kind: A.class_mean_similarity(*_variants(*_data())[kind]),
    "class_mean_correlation": lambda kind: A.class_mean_correlation(*_variants(*_data())[kind]),
    "overlap_vs_similarity": lambda kind: A.overlap_vs_similarity(
        A.class_mean_similarity(*_variants(*_data(1))[kind]), A.class_mean_similarity(*_variants(*_data())[kind]),
        n_shuffles=9, random_state=0),
    "match_ensembles": lambda kind: A.match_ensembles(_members(kind), _members(kind)),
    "compare_rdms": lambda kind: A.compare_rdms(
        A.rdm(*_variants(*_data())[kind]), A.rdm(*_variants(*_data(1))[kind]), n_bootstrap=5, random_state=0),
    "kendall_tau_a": lambda kind: A.kendall_tau_a(
        A.hoyer_sparseness(_variants(*_data())[kind][0]), A.gini_sparseness(_variants(*_data())[kind][0])),
    "ks_similarity": lambda kind: A.ks_similarity(_as_kind([0.2, 0.5, 0.3], kind), _as_kind([0.1, 0.6, 0.3], kind)),
    "distribution_similarity": lambda kind: A.distribution_similarity(
        A.lifetime_sparseness(_variants(*_data())[kind][0]), A.lifetime_sparseness(_variants(*_data(1))[kind][0]),
        n_bootstrap=20, random_state=0),
    "weight_statistics": lambda kind: A.weight_statistics(_as_kind(W, kind), np.zeros(5)),
    "bootstrap_mean_ci": lambda kind: A.bootstrap_mean_ci(
        A.population_sparseness(_variants(*_data())[kind][0]), n_bootstrap=50, random_state=0),
}
TABLES = {"summarize", "summarize_geometry", "compare_to_cortex", "load_cortex_reference", "seed_summary",
          "checkpoint_stability"}
# reductions of results to a few named numbers (the inputs of the reproduction's verdicts): a NamedTuple of plain
# values whatever the input kind; tests/reproduction/test_reproduction_analysis.py, test_pairs.py, test_reproduction_verdicts.py
SUMMARIES = {"seed_interval", "difference_interval", "significant_pairs", "similar_pair_enrichment",
             "held_out_ensemble"}
RESULT_TYPES = {"Result"}  # the one result container (analysis/_contract.py)
ESTIMATORS = {"EnsembleDetector"}  # scikit-learn's estimator contract: tests/analysis/test_detector_api.py
CLOSED_FORM = {"marchenko_pastur_bound", "tracy_widom_bound", "recipe_text", "stability_checkpoints",
               "describe_criterion"}  # numbers in, a number out
CONSTANTS = {"MEASURES", "NEGATIVE_POLICIES", "NAN_POLICIES", "RDM_METRICS", "RDM_COMPARISONS", "PROPERTIES",
             "MEASURE_GROUPS", "REFERENCE_COLUMNS", "RECIPE_FUNCTIONS", "VERIFICATION_LEVELS", "STABILITY_STATISTICS",
             "ENSEMBLE_TAUS", "RESPONSIVE_CRITERIA"}  # fmt: skip
# drawing lives in ensembles.plot (plot_cortex_comparison moved to ensembles.plot.cortex): nothing draws here
DRAWING: set = set()

# controls of protocol v2 (docs/reproduction-v2.md): inhibition by weight sign, zero-shot, stability, matched accuracy
ACTIVITY["ei_currents"] = lambda x, lab: A.ei_currents(x, W, np.full(5, -0.5), normalize="l2")
RESULT["silence_causes"] = lambda kind: A.silence_causes(
    A.ei_currents(_variants(*_data())[kind][0], np.random.default_rng(2).normal(size=(5, P)), np.full(5, -0.5)))
TABLES |= {"matched_accuracy", "currents_summary"}
SUMMARIES |= {"zero_shot_test", "compare_to_reference", "relative_stability"}
CLOSED_FORM |= {"value_at_accuracy"}
CLASSES = [ACTIVITY.keys(), RESULT.keys(), TABLES, SUMMARIES, RESULT_TYPES, ESTIMATORS, CLOSED_FORM, CONSTANTS, DRAWING]
SUBMODULES = ("sparsity", "selectivity", "ensembles", "geometry", "distributions", "inhibition", "resampling", "summary",
              "cortex", "runs", "pairs", "stability", "zero_shot", "responsiveness", "matched")


# ---------------------------------------------------------------------------------------------------------------------
# the flat API
# ---------------------------------------------------------------------------------------------------------------------
def test_every_export_is_classified_once():
    seen = [n for group in CLASSES for n in group]
    assert len(seen) == len(set(seen)), "a name is classified twice"
    assert set(seen) == set(A.__all__), (
        f"unclassified: {sorted(set(A.__all__) - set(seen))}; not exported: {sorted(set(seen) - set(A.__all__))}"
    )


@pytest.mark.parametrize("module", SUBMODULES)
def test_flat_api_reexports_every_module_export(module):
    import importlib

    mod = importlib.import_module(f"ensembles.analysis.{module}")
    for name in mod.__all__:
        assert name in A.__all__, f"ensembles.analysis does not re-export {module}.{name}"
        assert getattr(A, name) is getattr(mod, name)


def test_flat_api_imports_neither_torch_nor_matplotlib():
    code = ("import sys, ensembles.analysis as a\n"
            "[getattr(a, n) for n in a.__all__]\n"
            "bad = [m for m in ('torch', 'matplotlib') if m in sys.modules]\n"
            "assert not bad, bad\n")  # fmt: skip
    subprocess.run([sys.executable, "-c", code], check=True)


# ---------------------------------------------------------------------------------------------------------------------
# numpy in -> numpy out, labelled in -> labelled out, the same numbers on every path
# ---------------------------------------------------------------------------------------------------------------------
NUMPY_OUT = (np.ndarray, float, np.floating, Result)
LABELLED_OUT = (xr.DataArray, xr.Dataset)


def _numbers(out) -> dict:
    if isinstance(out, xr.Dataset):
        return {k: np.asarray(v.values) for k, v in out.data_vars.items()}
    if isinstance(out, xr.DataArray):
        return {"": np.asarray(out.values)}
    if isinstance(out, Result):
        return {k: np.asarray(v) for k, v in out.items() if not isinstance(v, str)}
    return {"": np.asarray(out)}


def _assert_same(ref: dict, got: dict, what: str):
    missing = set(got) - set(ref)
    assert not missing, f"{what}: variables {missing} not in the numpy result {sorted(ref)}"
    for k, v in got.items():
        r = ref[k]
        assert r.shape == v.shape, f"{what}.{k}: shape {v.shape} != numpy {r.shape}"
        if r.dtype.kind in "fc" or v.dtype.kind in "fc":
            np.testing.assert_allclose(v.astype(float), r.astype(float), rtol=1e-9, atol=1e-12, equal_nan=True,
                                       err_msg=f"{what}.{k}")  # fmt: skip
        else:
            np.testing.assert_array_equal(v, r, err_msg=f"{what}.{k}")


@pytest.mark.parametrize("name", sorted(ACTIVITY))
def test_activity_functions_keep_the_contract(name):
    call = ACTIVITY[name]
    variants = _variants(*_data())
    ref = call(*variants["numpy"])
    assert isinstance(ref, NUMPY_OUT), f"{name}(numpy) returned {type(ref).__name__}"
    for kind in ("dataarray", "dask", "recording"):
        out = call(*variants[kind])
        assert isinstance(out, LABELLED_OUT), f"{name}({kind}) returned {type(out).__name__}"
        _assert_same(_numbers(ref), _numbers(out), f"{name}({kind})")


@pytest.mark.parametrize("name", sorted(RESULT))
def test_result_functions_keep_the_contract(name):
    ref = RESULT[name]("numpy")
    assert isinstance(ref, NUMPY_OUT), f"{name}(numpy) returned {type(ref).__name__}"
    for kind in ("dataarray", "dask"):
        out = RESULT[name](kind)
        assert isinstance(out, LABELLED_OUT), f"{name}({kind}) returned {type(out).__name__}"
        _assert_same(_numbers(ref), _numbers(out), f"{name}({kind})")


@pytest.mark.parametrize("name", sorted(set(ACTIVITY) | set(RESULT)))
def test_the_contract_is_applied_by_the_one_decorator(name):
    """Every activity and result function gets its output kind from ``keeps_labels`` (analysis/_contract.py)."""
    fn = getattr(A, name)
    assert getattr(fn, "labelled_by", None), f"{name} is not decorated with keeps_labels"
    assert set(fn.labelled_by) <= set(inspect.signature(fn).parameters)


@pytest.mark.parametrize("name", sorted(SUMMARIES))
def test_summaries_are_results_of_plain_values(name):
    """The reductions to a few numbers return the one container, with plain (not labelled) values."""
    sig = A.significant_pairs(np.full((3, 3), 0.01))
    calls = {
        "seed_interval": lambda: A.seed_interval([1.0, 2.0, 3.0]),
        "difference_interval": lambda: A.difference_interval([1.0, 2.0, 3.0], [0.0, 1.0, 1.5]),
        "significant_pairs": lambda: sig,
        "similar_pair_enrichment": lambda: A.similar_pair_enrichment(sig.matrix, np.eye(3) + 0.1, top=1,
                                                                     n_shuffles=9, random_state=0),
        "held_out_ensemble": lambda: A.held_out_ensemble(MEMBERS, 2),
        "zero_shot_test": lambda: A.zero_shot_test(*_variants(*_data())["numpy"], category=0, cv=3),
        "compare_to_reference": lambda: A.compare_to_reference(MEMBERS, MEMBERS, 1),
        "relative_stability": lambda: A.relative_stability([1.0, 2.0, 3.0], [1.1, 2.0, 3.2]),
    }
    out = calls[name]()
    assert type(out) is Result
    assert not any(isinstance(v, (xr.DataArray, xr.Dataset)) for v in out.values())


@pytest.mark.parametrize("name", sorted(TABLES))
def test_tables_say_so_in_their_docstring(name):
    """DataFrames only where the output is a table by nature, and the docstring says it is one."""
    assert "DataFrame" in (getattr(A, name).__doc__ or ""), f"{name}'s docstring does not say it returns a DataFrame"


def test_summarize_geometry_takes_every_input_kind():
    tables = {kind: A.summarize_geometry(x, fit_range=(0, 8)) for kind, (x, _) in _variants(*_data()).items()}
    for kind, t in tables.items():
        assert isinstance(t, pd.DataFrame) and set(t["statistic"]) == {"participation_ratio", "eigenspectrum_alpha"}
        np.testing.assert_allclose(t["value"].to_numpy(float), tables["numpy"]["value"].to_numpy(float),
                                   err_msg=kind)  # fmt: skip


@pytest.mark.parametrize("kind", ["dataarray", "dask", "recording"])
def test_summarize_takes_labelled_input(kind):
    x, _ = _variants(*_data())[kind]
    t = A.summarize(x, measures=["population", "lifetime"])
    assert isinstance(t, pd.DataFrame) and len(t)


# ---------------------------------------------------------------------------------------------------------------------
# one name per idea
# ---------------------------------------------------------------------------------------------------------------------
def _callables():
    for name in A.__all__:
        obj = getattr(A, name)
        if inspect.isfunction(obj):
            yield name, obj
        elif inspect.isclass(obj) and name in ESTIMATORS:
            yield name, obj.__init__


@pytest.mark.parametrize("name,func", list(_callables()), ids=[n for n, _ in _callables()])
def test_keyword_names_follow_the_conventions(name, func):
    params = inspect.signature(func).parameters
    for p in params:
        assert p not in C.KEYWORD_SYNONYMS, (
            f"{name}({p}=...): use {C.KEYWORD_SYNONYMS[p]!r} (ensembles.conventions.KEYWORD_SYNONYMS)"
        )
    for p in ("n_bootstrap", "n_shuffles"):
        if p in params:
            d = params[p].default
            assert isinstance(d, int) and not isinstance(d, bool), f"{name}: {p} default {d!r}"
    if "nan_policy" in params:
        assert params["nan_policy"].default == "propagate", name
    if name in ACTIVITY and name not in ("input_currents", "fraction_silenced", "silenced_share", "currents_by_ensemble",
                                         "property_similarity"):  # fmt: skip
        assert next(iter(params)) == "x", f"{name}: the activity parameter is called 'x'"


def test_old_keyword_names_are_refused():
    x, y = _data()
    with pytest.raises(TypeError, match="n_boot"):
        A.subsample_sparseness(x, 6, n_boot=5, random_state=0)
    s = A.class_mean_similarity(x, y)
    with pytest.raises(TypeError, match="n_permutations"):
        A.overlap_vs_similarity(s, s, n_permutations=5, random_state=0)


def test_result_dims_come_from_conventions():
    x, lab = _variants(*_data())["recording"]
    assert A.class_selectivity_index(x, lab, n_shuffles=0)["preferred"].dims == (C.NEUROID,)
    assert A.n_driven_classes(x, lab)["driven"].dims == (C.CATEGORY, C.NEUROID)
    cm = A.class_means(x, lab)
    assert cm.dims == (C.CATEGORY, C.NEUROID) and list(cm[C.CLASS_NAME].values) == ["cat", "dog", "owl"]
    m = A.category_ensembles(x, lab)
    assert m.dims == (C.CATEGORY, C.NEUROID) and list(m[C.CLASS_NAME].values) == ["cat", "dog", "owl"]
    ov = A.ensemble_overlap(m)
    assert ov["overlap"].dims == (C.CATEGORY, C.OTHER_CATEGORY) and C.CLASS_NAME in ov.coords
    assert A.rdm(x, lab).dims == (C.CONDITION_1, C.CONDITION_2)
    assert A.subsample_sparseness(x, 6, n_bootstrap=3)["draws"].dims == (C.BOOTSTRAP,)
    assert A.detect_ensembles(x, A.EnsembleDetector(n_ensembles=2, random_state=0))["patterns"].dims == (
        C.ENSEMBLE, C.NEUROID)


# ---------------------------------------------------------------------------------------------------------------------
# the same mistake raises the same error everywhere
# ---------------------------------------------------------------------------------------------------------------------
def _with(value):
    x, _ = _data()
    x = x.copy()
    x[4, 2] = value
    return x


MISTAKES = {
    # mistake -> (x, labels, error class, message pattern)
    "not an array": (lambda: "abc", TypeError, "must be array-like|numeric array"),
    "3-D plain array": (lambda: np.ones((2, 3, 4)), ValueError, "2-D array"),
    "Dataset without activity": (lambda: xr.Dataset({"spikes": (("a",), [1.0])}), ValueError, "'activity'"),
    "+inf": (lambda: _with(np.inf), ValueError, r"\+inf: 1|1 \+inf"),
    "-inf": (lambda: _with(-np.inf), ValueError, r"-inf: 1|1 -inf"),
}


@pytest.mark.parametrize("mistake", sorted(MISTAKES))
@pytest.mark.parametrize("name", sorted(ACTIVITY))
def test_same_mistake_same_error(name, mistake):
    make_x, exc, match = MISTAKES[mistake]
    _, y = _data()
    with pytest.raises(exc, match=match) as info:
        ACTIVITY[name](make_x(), y)
    assert isinstance(info.value, EnsemblesError), f"{name}: {type(info.value).__name__} is not the project's error"


@pytest.mark.parametrize("name", sorted(NEEDS_LABELS))
def test_missing_labels_for_a_plain_array_is_a_type_error(name):
    x, _ = _data()
    with pytest.raises(TypeError, match="'labels' parameter") as info:
        ACTIVITY[name](x, None)
    assert isinstance(info.value, EnsemblesError)
    with pytest.raises(TypeError, match="'labels' parameter"):
        ACTIVITY[name](x, "label")  # a coord name needs a labelled input


# ---------------------------------------------------------------------------------------------------------------------
# +inf and -inf alike; an all-zero recording is analysable
# ---------------------------------------------------------------------------------------------------------------------
NAN_POLICY_FUNCS = {
    "population_sparseness": lambda x, **kw: A.population_sparseness(x, **kw),
    "lifetime_sparseness": lambda x, **kw: A.lifetime_sparseness(x, **kw),
    "gini_sparseness": lambda x, **kw: A.gini_sparseness(x, **kw),
    "fraction_active": lambda x, **kw: A.fraction_active(x, **kw),
    "condition_means": lambda x, **kw: A.condition_means(x, _data()[1], **kw),
    "class_selectivity_index": lambda x, **kw: A.class_selectivity_index(x, _data()[1], n_shuffles=0, **kw)["csi"],
    "anova": lambda x, **kw: A.anova(x, _data()[1], **kw)["F"],
    "n_driven_classes": lambda x, **kw: A.n_driven_classes(x, _data()[1], **kw)["statistic"],
}


@pytest.mark.parametrize("name", sorted(NAN_POLICY_FUNCS))
def test_plus_and_minus_inf_follow_the_same_policies(name):
    f = NAN_POLICY_FUNCS[name]
    for policy in ("propagate", "raise"):
        for v in (np.inf, -np.inf):
            with pytest.raises(ValueError, match="1 infinite value"):
                f(_with(v), nan_policy=policy)
    omitted = [f(_with(v), nan_policy="omit") for v in (np.inf, -np.inf, np.nan)]
    for other in omitted[1:]:
        np.testing.assert_array_equal(np.asarray(other), np.asarray(omitted[0]))


def _zero_recording():
    x, y = _data()
    return xr.Dataset({"activity": _labelled(np.zeros_like(x), y)})


# an all-zero population has no variance: these say so by design (detect_ensembles warns, EnsemblesWarning, and finds
# 0 ensembles -- an error under this test-suite's warning filter; the other two raise a ValueError)
ZERO_RAISES = {"detect_ensembles": "silent", "eigenspectrum_alpha": "positive components",
               "property_similarity": "no finite value"}  # fmt: skip


@pytest.mark.parametrize("name", sorted(ACTIVITY))
def test_all_zero_recording(name):
    rec = _zero_recording()
    if name in ZERO_RAISES:
        with pytest.raises((ValueError, UserWarning), match=ZERO_RAISES[name]):
            ACTIVITY[name](rec, "label")
        return
    out = ACTIVITY[name](rec, "label")
    assert isinstance(out, LABELLED_OUT)


def test_all_zero_recording_gives_nan_with_counts():
    rec = _zero_recording()
    life = A.lifetime_sparseness(rec)
    assert np.isnan(life.values).all() and life.attrs["n_silent"] == P
    csi = A.class_selectivity_index(rec, n_shuffles=0)
    assert np.isnan(csi["csi"].values).all() and csi.attrs["n_silent"] == P
    geo = A.summarize_geometry(rec, fit_range=(0, 8))
    assert geo["value"].isna().all() and (geo["n_nan"] == 1).all()


def test_all_zero_recording_summary_table():
    # summary-level: NaN statistics with their counts, no crash ("n_driven" waits for summary.py's 'category' dim)
    t = A.summarize(_zero_recording(), measures=["population", "lifetime", "csi", "anova", "tuning", "ensembles"],
                    n_shuffles=5)
    for stat in ("population_hoyer", "lifetime_vinje-gallant", "csi", "omega2", "tuning_sparseness"):
        rows = t[(t["statistic"] == stat) & t["aggregate"].isin(["mean", "median"])]
        assert len(rows) and rows["value"].isna().all() and (rows["n_nan"] == rows["n"]).all(), stat
    sizes = t[(t["statistic"] == "ensemble_size") & (t["aggregate"] == "count")]
    assert len(sizes) == K and (sizes["value"] == 0).all()  # silent neuroids are members of no ensemble


def test_bootstrap_mean_ci_is_the_pipelines_numbers():
    """The workflows' bootstrap CI moved into the analysis layer with the same numbers: the reference is the
    formula written out here (Efron & Tibshirani 1993, percentile interval) on the same generator stream."""
    v = np.array([0.2, 0.5, np.nan, 0.9, 0.4, 0.7])
    got = A.bootstrap_mean_ci(v, n_bootstrap=300, random_state=np.random.default_rng(5))
    f = v[np.isfinite(v)]
    means = f[np.random.default_rng(5).integers(0, f.size, size=(300, f.size))].mean(axis=1)
    assert (got.mean, got.ci_low, got.ci_high, got.n) == (f.mean(), *np.percentile(means, [2.5, 97.5]), 5)
    empty = A.bootstrap_mean_ci([np.nan])
    assert np.isnan(empty.mean) and empty.n == 0
    assert A.bootstrap_mean_ci([3.0]) == {"mean": 3.0, "ci_low": 3.0, "ci_high": 3.0, "n": 1}
