"""The layout of ``ensembles.analysis`` after the split of its large modules into packages.

``sparsity``, ``selectivity``, ``geometry``, ``ensembles`` and ``tables`` became packages of modules by topic, and
``_detectors`` lost its null models to ``_detector_nulls``; every name those modules exposed before the split must
still import from the old path and be the object the flat API returns.  The name lists below are the public
module-level names of each module on main before the split (read with ``vars(module)``).
"""

from __future__ import annotations

import importlib
import pickle

import numpy as np
import pytest
import xarray as xr

import ensembles.analysis as A
from ensembles.analysis._contract import Result, match_input

BEFORE_SPLIT = {
    "sparsity": ["DEFINITIONS", "FRACTION_MODES", "MEASURES", "NAN_POLICIES", "NEGATIVE_POLICIES", "SIGN_TOLERANT",
                 "condition_means", "fraction_active", "gini_sparseness", "hoyer_sparseness", "image_selectivity",
                 "kurtosis_sparseness", "lifetime_sparseness", "population_sparseness", "sparseness",
                 "subsample_sparseness", "treves_rolls_activity", "vinje_gallant_sparseness"],
    "selectivity": ["CLASS", "CORRECTIONS", "anova", "class_means", "class_selectivity_index", "dprime",
                    "mutual_information", "n_driven_classes", "preference_order", "preferred_class",
                    "tuning_sparseness"],
    "geometry": ["RDM_COMPARISONS", "RDM_METRICS",
                 "compare_rdms", "decode", "eigenspectrum", "eigenspectrum_alpha", "kendall_tau_a", "linear_cka",
                 "participation_ratio", "rdm", "summarize_geometry"],
    "ensembles": ["CATEGORY", "ENSEMBLE", "EnsembleDetector", "OTHER", "category_ensembles", "class_mean_similarity",
                  "detect_ensembles", "ensemble_core", "ensemble_overlap", "ensemble_sizes", "marchenko_pastur_bound",
                  "match_ensembles", "overlap_vs_similarity", "tracy_widom_bound"],
    "tables": ["accuracy_rows", "across_seeds", "checkpoint_rows", "class_names", "current_rows",
               "headline_table", "layer_activity", "layers_of", "recording_tables", "stability_rows", "sweep_rows",
               "weight_rows", "zero_shot_rows"],
    "_detectors": ["EnsembleDetector", "METHODS", "SIGNIFICANCE", "marchenko_pastur_bound", "tracy_widom_bound"],
}  # fmt: skip


@pytest.mark.parametrize("module", sorted(BEFORE_SPLIT))
def test_old_import_paths_still_work(module):
    mod = importlib.import_module(f"ensembles.analysis.{module}")
    missing = [n for n in BEFORE_SPLIT[module] if not hasattr(mod, n)]
    assert missing == [], f"ensembles.analysis.{module} no longer exposes {missing}"
    for name in BEFORE_SPLIT[module]:
        if A._EXPORTS.get(name) == module:  # one object, whichever path it is imported from
            assert getattr(mod, name) is getattr(A, name), f"{module}.{name}"


def test_lazy_map_points_at_a_module_that_has_the_name():
    for name, module in A._EXPORTS.items():
        assert hasattr(importlib.import_module(f"ensembles.analysis.{module}"), name), (name, module)


def test_result_row_leaves_out_arrays_and_to_dataset_keeps_their_dims():
    res = Result({"slope": 1.5, "method": "ols", "draws": np.arange(3.0), "grid": np.zeros((2, 4))},
                 attrs={"statistic": "fit"}, dims={"draws": ("bootstrap",), "grid": ("row", "column")})
    assert res.row() == {"slope": 1.5, "method": "ols"} and res.slope == 1.5
    ds = res.to_dataset()
    assert isinstance(ds, xr.Dataset) and ds.attrs == {"statistic": "fit", "method": "ols"}
    assert ds["draws"].dims == ("bootstrap",) and ds["grid"].dims == ("row", "column") and ds["slope"].ndim == 0
    np.testing.assert_array_equal(ds["draws"].values, [0.0, 1.0, 2.0])
    back = match_input(ds, labelled=False)  # labelled -> numpy: the same names, dims and attrs
    assert type(back) is Result and set(back) == {"slope", "draws", "grid"} and back.dims["grid"] == ("row", "column")
    again = pickle.loads(pickle.dumps(res))  # Results cross process boundaries (dask workers)
    assert type(again) is Result and again.row() == res.row() and again.attrs == res.attrs and again.dims == res.dims
    np.testing.assert_array_equal(again.grid, res.grid)
