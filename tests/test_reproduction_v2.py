"""Protocol v2 of the reproduction (docs/reproduction-v2.md): its opt-in conditions, per-run statistics and verdict
rules. Verdict rules are checked on constructed statistics tables whose verdict follows from the rule as written."""

from __future__ import annotations

import pytest

from ensembles.errors import ParameterError
from ensembles.reproduction.plan import (
    CONDITIONS,
    DEFAULT_CONDITIONS,
    ZERO_SHOT_CLASSES,
    reproduction_sweeps,
    trajectory_epochs,
)
from ensembles.sweep.spec import expand_sweep, load_sweep


# ---------------------------------------------------------------------------------------------------------------------
# the opt-in conditions
# ---------------------------------------------------------------------------------------------------------------------
def test_trajectory_epochs_as_written_in_the_protocol():
    # docs/reproduction-v2.md section 1: FF 5 per stage; BP/FF and BP geometric plus E/3 and 2E/3
    assert trajectory_epochs("ff", 60) == [8, 15, 30, 45, 60, 68, 75, 90, 105, 120, 128, 135, 150, 165, 180]
    assert trajectory_epochs("bp", 200) == [1, 2, 3, 6, 11, 19, 34, 62, 67, 111, 133, 200]
    assert trajectory_epochs("bp_ff", 100) == [1, 2, 3, 5, 8, 13, 22, 33, 36, 60, 67, 100]
    assert len(trajectory_epochs("bp_ff", 30)) == 10 and len(trajectory_epochs("bp", 20)) == 10
    for model, e in (("ff", 30), ("bp_ff", 300), ("bp", 80)):
        eps = trajectory_epochs(model, e)
        assert len(eps) >= 8 and eps[-1] == (3 * e if model == "ff" else e)
    with pytest.raises(ParameterError, match="'model'"):
        trajectory_epochs("cnn", 10)


def test_v2_conditions_are_opt_in_and_do_not_touch_v1_sweeps():
    assert DEFAULT_CONDITIONS == ("baseline", "held_out")
    v1 = reproduction_sweeps("mnist-5k", (0, 1, 2), conditions=("baseline", "held_out", "lr_grid"))
    both = reproduction_sweeps("mnist-5k", (0, 1, 2), conditions=CONDITIONS)
    assert {k: both[k] for k in v1} == v1
    # no v2 sweep name starts with a v1 condition's name plus "_" (the workflow's rule for a sweep's condition)
    for name in set(both) - set(v1):
        assert not any(name.startswith(c + "_") for c in ("baseline", "held_out", "lr_grid")), name


@pytest.mark.parametrize("dataset", ["mnist-5k", "fashion-mnist"])
def test_v2_sweeps_resolve_to_valid_run_configs(dataset):
    sweeps = reproduction_sweeps(dataset, (0, 1, 2), conditions=("zero_shot", "reference"))
    classes = ZERO_SHOT_CLASSES[dataset]
    assert len(classes) >= 3 and 9 in classes
    runs = {name: expand_sweep(load_sweep(s)) for name, s in sweeps.items()}
    zs = [r.config for name, rs in runs.items() if name.startswith("zero_shot") for r in rs]
    assert len(zs) == 3 * 3 * 3
    assert sorted({c.data.held_out[0] for c in zs}) == sorted(classes)
    assert {c.data.held_out_mode for c in zs if c.model != "bp"} == {"strict"}
    assert all(c.record.conditions == ["true", "none"] for c in zs if c.model != "bp")
    ref = [r.config for name, rs in runs.items() if name.startswith("reference") for r in rs]
    assert len(ref) == 9 and all(not c.data.held_out for c in ref)
    for c in ref + zs:  # the held-out runs' training images
        assert c.data.train_subsample == (12000 if dataset == "fashion-mnist" else None)
    for c in ref:
        assert len(c.record_epochs()) >= 8
        assert c.record_epochs()[-1] == c.total_epochs


def test_zero_shot_needs_classes_chosen_in_advance():
    with pytest.raises(ParameterError, match="chosen in advance"):
        reproduction_sweeps("digits", (0,), conditions=("zero_shot",))
