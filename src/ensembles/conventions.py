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
