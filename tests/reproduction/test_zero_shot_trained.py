"""The controlled zero-shot test on really trained networks (tiny: digits, 2 x 64 units, the quick profile).

A class the network was trained on (the positive control of docs/reproduction-v2.md, section 4) must pass the test
that a held-out class is asked to pass, and the same layer with shuffled labels (noise) must fail it.
"""

from __future__ import annotations

import numpy as np
import pytest

from ensembles.analysis import zero_shot_test
from ensembles.record import load_recording, select_presentations

pytest.importorskip("torch")

CLASSES = (9, 4, 1)  # the mnist-5k held-out classes of protocol v2, here digits of sklearn's 8 x 8 set


@pytest.fixture(scope="module", params=["ff", "bp"])
def trained_layer(request, tmp_path_factory):
    from ensembles.train import config_from_dict, make_config, train_run

    d = make_config(request.param, "digits", scale="quick", seed=0).to_dict()
    d["network"]["hidden"] = [64, 64]
    d["train"]["epochs"] = 30
    out = tmp_path_factory.mktemp(f"ref_{request.param}")
    train_run(config_from_dict(d), out / "run", progress=False)
    sel = select_presentations(load_recording(out / "run" / "recording.h5"), checkpoint=-1).load()
    a = np.asarray(sel["activity"].values[:, np.asarray(sel["layer"].values) == 1], dtype=float)
    return a, np.asarray(sel["label"].values)


def test_a_trained_class_passes(trained_layer):
    a, y = trained_layer
    for k in CLASSES:
        r = zero_shot_test(a, y, k)
        assert r.passes, r


def test_the_same_layer_with_shuffled_labels_fails(trained_layer):
    a, y = trained_layer
    rng = np.random.default_rng(0)
    for k in CLASSES:
        r = zero_shot_test(a, rng.permutation(y), k)
        assert not r.passes, r
