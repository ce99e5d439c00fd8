"""Shared by the NWB tests (tests/test_nwb.py, tests/test_nwb_ecosystem.py): a small model recording to export."""

import numpy as np

from ensembles.record import make_recording


def model_recording(rng, n=20, layers=(30, 20), *, predicted=True):
    """A model recording of ``n`` presentations x ``sum(layers)`` neuroids (uniform activity from ``rng``), four
    classes, a boolean ``correct`` and, with ``predicted``, an integer ``predicted`` presentation coord."""
    presentation = {
        "stimulus_id": [f"mnist/test/{i:05d}" for i in range(n)],
        "label": np.arange(n) % 4,
        "label_name": [f"digit{i % 4}" for i in range(n)],
        "split": ["test"] * n,
        "correct": np.arange(n) % 3 != 0,
    }
    if predicted:
        presentation["predicted"] = (np.arange(n) + 1) % 4
    return make_recording(
        rng.random((n, sum(layers))).astype(np.float32),
        presentation=presentation,
        layer_sizes=list(layers),
        attrs={"model": "ff", "dataset": "mnist", "seed": 3, "config": {"lr": 0.01}, "site": "post-relu"},
    )
