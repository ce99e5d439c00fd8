"""Presets (the formulation) and scale profiles (the compute budget) of a training run, as dotted config keys.

:func:`preset_keys` gives the keys of a preset (``"paper"``: EmergentRepresentations with its bugs fixed,
docs/methods.md §M1 and §X; ``"hinton"``: Hinton 2022 / loeweX) and :func:`scale_keys` those of a scale profile
(``"quick"``, ``"cpu"``, ``"full"``: docs/methods.md §M1.9); :func:`ensembles.train.load_config` applies them
before the keys of a file and the overrides.
"""

from __future__ import annotations

from typing import Any

__all__ = ["preset_keys", "scale_keys"]


def preset_keys(model: str, preset: str) -> dict[str, Any]:
    """The formulation (docs/methods.md §M1 for "paper"; Hinton 2022 / loeweX for "hinton")."""
    if model == "bp":
        return {"network.input_norm": "none", "train.optimizer": "adam"}
    if preset == "paper":
        return {
            "network.input_norm": "l2", "ff.goodness": "l2_norm", "ff.threshold": 3.0, "ff.negatives": "fixed_subset",
            "ff.schedule": "layerwise", "ff.prediction": "softmax_sum", "ff.peer_norm": 0.0, "train.optimizer": "adam",
        }
    # hinton: sum of squares vs threshold = number of units, RMS layer norm (image included, as loeweX), joint
    # schedule, a fresh random wrong label per image every epoch, accumulated goodness over all but layer 1,
    # peer normalisation 0.03 (loeweX's default).  Optimiser: one Adam per layer (loeweX uses SGD+momentum).
    return {
        "network.input_norm": "rms", "ff.goodness": "sum_squares", "ff.threshold": "n_units",
        "ff.negatives": "resample_each_epoch", "ff.schedule": "joint" if model == "ff" else "layerwise",
        "ff.prediction": "goodness_sum_skip_first", "ff.peer_norm": 0.03, "train.optimizer": "adam",
    }


# The authors' epochs, batch sizes and learning rates (docs/methods.md §M1.9; configuration/experiments.yaml).
_FULL = {
    ("ff", "mnist"): (1e-2, 1200, 1024), ("ff", "fashion-mnist"): (1e-2, 100, 1024),
    ("ff", "svhn"): (1e-4, 1000, 1024), ("ff", "cifar10"): (1e-4, 1000, 1024),
    ("bp_ff", "mnist"): (1e-4, 300, 1024), ("bp_ff", "fashion-mnist"): (1e-4, 300, 1024),
    ("bp_ff", "svhn"): (1e-4, 200, 1024), ("bp_ff", "cifar10"): (1e-4, 200, 1024),
    ("bp", "mnist"): (1e-4, 80, 2048), ("bp", "fashion-mnist"): (1e-4, 80, 2048),
    ("bp", "svhn"): (1e-4, 80, 2048), ("bp", "cifar10"): (1e-4, 80, 2048),
}


# cpu profile epochs (FF: per layer).  60,000-image sets: ~1,760 FF optimiser steps per layer at batch 1024.
_CPU_EPOCHS = {"ff": 30, "bp_ff": 30, "bp": 20}
# small sets: mnist-5k (4 steps per epoch at batch 1024, 2 at 2048) and digits, sized for the demo's 10-minute
# budget (FF 240 steps per layer, BP/FF 400, BP 400; BP at lr 1e-4 reaches Hoyer .24/.18/.22 after 200 and after 100
# epochs on mnist-5k, BP/FF .67/.61/.15 after 50)
_SMALL_EPOCHS = {
    "mnist-5k": {"ff": 60, "bp_ff": 100, "bp": 200},
    "digits": {"ff": 60, "bp_ff": 100, "bp": 200},
}


def _dataset_family(name: str) -> str:
    n = name.lower()
    for fam in ("fashion-mnist", "mnist", "svhn", "cifar10"):
        if n.startswith(fam) or n.replace("_", "-").startswith(fam):
            return fam
    if n.startswith("cifar"):
        return "cifar10"
    return "mnist"


def scale_keys(model: str, preset: str, scale: str, dataset: str) -> dict[str, Any]:
    """Widths, epochs, batch size and learning rate of a scale profile for ``model`` on ``dataset``."""
    fam = _dataset_family(dataset)
    wide = 3072 if fam in ("svhn", "cifar10") else 1000
    if scale == "quick":
        # tests on `digits`: seconds on one core
        hidden = [64, 64, 64]
        if model == "ff":
            return {"network.hidden": hidden, "train.lr": 0.03, "train.epochs": 20, "train.batch_size": 64}
        if model == "bp_ff":
            return {"network.hidden": hidden, "train.lr": 3e-3, "train.epochs": 25, "train.batch_size": 128}
        return {"network.hidden": hidden, "train.lr": 3e-3, "train.epochs": 25, "train.batch_size": 128}
    if scale == "cpu":
        # The authors' learning rate, batch size and optimiser (as "full", docs/methods.md §M1.9); only the
        # number of epochs is cut to fit two CPU cores (docs/reproduction.md).  Full-size MNIST-like sets (60,000
        # training images): FF 30 of the authors' 100 epochs per layer on Fashion-MNIST, BP/FF 30 of 300, BP 20 of 80.
        # Small sets (mnist-5k: 4,000 images, digits) take more epochs for a comparable number of optimiser steps.
        lr, _, batch = _FULL[(model, fam)]
        small = dataset.lower() in _SMALL_EPOCHS
        epochs = (_SMALL_EPOCHS[dataset.lower()] if small else _CPU_EPOCHS)[model]
        # width 1000 on every dataset (3072 for SVHN/CIFAR-10 is out of reach on a CPU; labelled "scaled")
        return {"network.hidden": [1000] * 3, "train.lr": lr, "train.epochs": epochs, "train.batch_size": batch}
    lr, epochs, batch = _FULL[(model, fam)]
    return {"network.hidden": [wide] * 3, "train.lr": lr, "train.epochs": epochs, "train.batch_size": batch}
