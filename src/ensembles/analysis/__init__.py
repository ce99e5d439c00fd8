"""The analysis layer: works on model recordings and on real neural data alike (flat, verb-first API).

Import every analysis function from here (``from ensembles.analysis import hoyer_sparseness, detect_ensembles``);
the submodules (``sparsity``, ``selectivity``, ``ensembles``, ``geometry``, ``distributions``, ``inhibition``,
``summary``, ``cortex``, ``responsiveness``) are where they are defined and documented; ``sparsity``, ``selectivity``, ``ensembles``,
``geometry`` and ``tables`` are packages of modules by topic that re-export their public names.

Every public function keeps one contract (``docs/architecture.md``, "The analysis contract"; checked over all of
``__all__`` by ``tests/analysis/test_analysis_contract.py``):

* activity is array-like of shape ``(n_presentations, n_neuroids)``, an ``xr.DataArray`` (in memory or
  dask-backed) or a recording (an ``xr.Dataset`` with ``activity``; labels come from its coords);
* numpy in -> numpy out (one array or number, or a :class:`Result` when there are several outputs); labelled in ->
  labelled out (``xr.DataArray`` / ``xr.Dataset``), with the same numbers; one decorator applies this
  (:func:`ensembles.analysis._contract.keeps_labels`); tables by nature are ``pandas.DataFrame``; the reductions of
  results to a few plain numbers (seed intervals, zero-shot tests, ...) are a :class:`Result` of plain values;
* result dims and shared keyword names come from :mod:`ensembles.conventions` (``category``, ``n_bootstrap``,
  ``n_shuffles``, ``random_state``, ``nan_policy``, ...); the same mistake raises the same error everywhere.

Names are resolved lazily, so ``import ensembles.analysis`` stays cheap; this package never imports torch or
matplotlib (``tests/test_layering.py``).
"""

from __future__ import annotations

import importlib

# public name -> submodule that defines it, or the package that re-exports it (tests/analysis/test_analysis_contract.py
# checks that every name a submodule exports is listed here)
_EXPORTS: dict[str, str] = {
    # the one result container (_contract.py)
    "Result": "_contract",
    # sparseness (sparsity/)
    "sparseness": "sparsity",
    "lifetime_sparseness": "sparsity",
    "population_sparseness": "sparsity",
    "vinje_gallant_sparseness": "sparsity",
    "treves_rolls_activity": "sparsity",
    "hoyer_sparseness": "sparsity",
    "gini_sparseness": "sparsity",
    "kurtosis_sparseness": "sparsity",
    "fraction_active": "sparsity",
    "image_selectivity": "sparsity",
    "condition_means": "sparsity",
    "subsample_sparseness": "sparsity",
    "MEASURES": "sparsity",
    "NEGATIVE_POLICIES": "sparsity",
    "NAN_POLICIES": "sparsity",
    # selectivity (selectivity/)
    "class_means": "selectivity",
    "preferred_class": "selectivity",
    "preference_order": "selectivity",
    "class_selectivity_index": "selectivity",
    "dprime": "selectivity",
    "anova": "selectivity",
    "tuning_sparseness": "selectivity",
    "n_driven_classes": "selectivity",
    "mutual_information": "selectivity",
    # ensembles (ensembles/; the detector in _detectors.py)
    "category_ensembles": "ensembles",
    "ensemble_sizes": "ensembles",
    "ensemble_core": "ensembles",
    "ensemble_overlap": "ensembles",
    "class_mean_similarity": "ensembles",
    "overlap_vs_similarity": "ensembles",
    "EnsembleDetector": "ensembles",
    "detect_ensembles": "ensembles",
    "match_ensembles": "ensembles",
    "marchenko_pastur_bound": "ensembles",
    "tracy_widom_bound": "ensembles",
    "ensemble_null": "ensembles",
    "ensemble_specificity": "ensembles",
    "ENSEMBLE_TAUS": "ensembles",
    # silent and responsive neuroids (responsiveness.py)
    "silent_units": "responsiveness",
    "responsive_neuroids": "responsiveness",
    "describe_criterion": "responsiveness",
    "RESPONSIVE_CRITERIA": "responsiveness",
    # reproduction statistics: across seeds (runs.py), category pairs (pairs.py), stability between checkpoints
    # (stability.py), held-out categories (zero_shot.py)
    "seed_interval": "runs",
    "difference_interval": "runs",
    "seed_summary": "runs",
    "class_mean_correlation": "pairs",
    "similar_pair_enrichment": "pairs",
    "significant_pairs": "pairs",
    "STABILITY_STATISTICS": "stability",
    "checkpoint_stability": "stability",
    "stability_checkpoints": "stability",
    "held_out_ensemble": "zero_shot",
    "silenced_share": "inhibition",
    "currents_summary": "inhibition",
    "relative_stability": "stability",
    "zero_shot_test": "zero_shot",
    "compare_to_reference": "zero_shot",
    "ei_currents": "inhibition",
    "silence_causes": "inhibition",
    # models compared at matched accuracy along their training trajectories (matched.py)
    "value_at_accuracy": "matched",
    "matched_accuracy": "matched",
    # representational geometry (geometry/)
    "rdm": "geometry",
    "compare_rdms": "geometry",
    "kendall_tau_a": "geometry",
    "linear_cka": "geometry",
    "decode": "geometry",
    "participation_ratio": "geometry",
    "eigenspectrum": "geometry",
    "eigenspectrum_alpha": "geometry",
    "summarize_geometry": "geometry",
    "RDM_METRICS": "geometry",
    "RDM_COMPARISONS": "geometry",
    # distribution similarity (distributions.py)
    "ks_similarity": "distributions",
    "distribution_similarity": "distributions",
    "property_similarity": "distributions",
    "PROPERTIES": "distributions",
    # inhibition (inhibition.py)
    "weight_statistics": "inhibition",
    "input_currents": "inhibition",
    "fraction_silenced": "inhibition",
    "currents_by_ensemble": "inhibition",
    # resampling (resampling.py)
    "bootstrap_mean_ci": "resampling",
    # tidy tables (summary.py) and cortical reference values (cortex.py)
    "summarize": "summary",
    "MEASURE_GROUPS": "summary",
    "load_cortex_reference": "cortex",
    "compare_to_cortex": "cortex",
    "REFERENCE_COLUMNS": "cortex",
    "RECIPE_FUNCTIONS": "cortex",
    "VERIFICATION_LEVELS": "cortex",
    "recipe_text": "cortex",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        value = getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)
        globals()[name] = value  # cache: later look-ups are plain attribute access
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(__all__))

