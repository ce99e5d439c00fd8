"""The one source of vocabulary: dimension, coordinate and attribute names of a recording.

A *recording* is an ``xr.Dataset`` whose main variable ``activity`` has dims ``("presentation", "neuroid")``
(optionally a leading ``checkpoint`` dim with coord ``epoch``).  The names follow Brain-Score/BrainIO
(``presentation`` x ``neuroid``, ``stimulus_id``, ``neuroid_id``) so that recordings made from networks and
recordings made from cortex go through the same analysis.
"""

from __future__ import annotations

SCHEMA_VERSION = "1.0"

# dims
PRESENTATION = "presentation"
NEUROID = "neuroid"
CHECKPOINT = "checkpoint"

# main variable
ACTIVITY = "activity"

# presentation coords -> numpy dtype kind ("U" string, "i" integer, "b" bool)
PRESENTATION_COORDS_REQUIRED = {
    "stimulus_id": "U",
    "label": "i",
    "label_name": "U",
    "split": "U",
}
# model-specific presentation coords: optional, type-checked when present
PRESENTATION_COORDS_OPTIONAL = {
    "embedded_label": "i",  # label written into the input (FF-style models); -1 for none
    "predicted": "i",  # model prediction; -1 when not applicable
    "correct": "b",  # predicted == label
    "held_out": "b",  # class held out of training (zero-shot experiments)
    "repetition": "i",  # repeat index for neural data
}

NEUROID_COORDS_REQUIRED = {
    "neuroid_id": "U",  # unique, e.g. "layer2.0137"
    "layer": "i",  # 1-based
    "unit": "i",  # index within the layer
}

CHECKPOINT_COORDS_REQUIRED = {"epoch": "i"}

REQUIRED_ATTRS = (
    "schema_version",
    "model",  # "ff", "bp_ff", "bp", or e.g. "neural:<source>"
    "dataset",
    "seed",  # int; -1 when not applicable
    "config",  # JSON string
    "site",  # recording site, e.g. "post-relu"
    "package_version",
    "created",  # ISO-8601 UTC
)

MODELS = ("ff", "bp_ff", "bp")
MODEL_NAMES = {"ff": "FF", "bp_ff": "BP/FF", "bp": "BP"}


def neuroid_id(layer: int, unit: int) -> str:
    """Canonical neuroid id, e.g. ``neuroid_id(2, 137) == "layer2.0137"``."""
    return f"layer{int(layer)}.{int(unit):04d}"


# ---------------------------------------------------------------------------------------------------------------------
# the analysis layer: result dims and shared keyword names (docs/architecture.md, "The analysis contract")
# ---------------------------------------------------------------------------------------------------------------------

# result dims
CATEGORY = "category"  # one entry per class; coord values = the class labels (sorted), plus CLASS_NAME when known
OTHER_CATEGORY = "other_category"  # the second class axis of class x class results (ensemble overlap, similarity)
CLASS_NAME = "class_name"  # coord along CATEGORY: the class names (from the recording's ``label_name``)
STIMULUS = "stimulus"  # trial-averaged responses: one entry per stimulus condition
ENSEMBLE = "ensemble"  # unsupervised ensembles (cell assemblies)
COMPONENT = "component"  # eigen/principal components
CONDITION_1, CONDITION_2 = "condition_1", "condition_2"  # the two axes of an RDM
BOOTSTRAP = "bootstrap"  # bootstrap resamples (``n_bootstrap`` of them)
FOLD = "fold"  # cross-validation folds
REFERENCE, FOUND = "reference", "found"  # the two sides of ensemble matching
LAYER = "layer"

# shared keyword names of the public analysis functions: one name per idea.  ``KEYWORDS`` documents the idea of
# each; ``KEYWORD_SYNONYMS`` lists names that must not appear in a public signature (the name to use instead).
KEYWORDS = {
    "x": "activity: array-like of shape (n_presentations, n_neuroids), a DataArray or a recording",
    "labels": "one class/condition per presentation, or the name of a presentation coord",
    "dim": "the dim a statistic reduces",
    "n_bootstrap": "number of bootstrap resamples",
    "n_shuffles": "number of label shuffles / permutations of a null distribution",
    "random_state": "seed (int), numpy Generator or None",
    "nan_policy": "'propagate' | 'omit' | 'raise' (scipy's convention; see the analysis contract for +-inf)",
    "negative": "'raise' | 'clip' | 'abs' | 'shift' (| 'allow'): what to do with negative responses",
    "alpha": "significance level",
    "ci": "coverage of a confidence interval, in (0, 1)",
}
N_BOOTSTRAP = "n_bootstrap"
N_SHUFFLES = "n_shuffles"
KEYWORD_SYNONYMS = {
    "n_boot": N_BOOTSTRAP,
    "n_boots": N_BOOTSTRAP,
    "n_resamples": N_BOOTSTRAP,
    "n_permutations": N_SHUFFLES,
    "n_perm": N_SHUFFLES,
    "n_perms": N_SHUFFLES,
    "n_permute": N_SHUFFLES,
    "seed": "random_state",
    "rng": "random_state",
    "nan": "nan_policy",
    "on_nan": "nan_policy",
    "negatives": "negative",
    "level": "ci",
    "confidence": "ci",
    "significance_level": "alpha",
    "classes_of": "labels",
    "class_labels": "labels",
    "axis": "dim",
}
NAN_POLICIES = ("propagate", "omit", "raise")
