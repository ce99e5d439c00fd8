"""Protocol v2 of the reproduction (docs/reproduction-v2.md): its opt-in conditions, per-run statistics and verdict
rules. Verdict rules are checked on constructed statistics tables whose verdict follows from the rule as written."""

from __future__ import annotations

import numpy as np
import pandas as pd
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


# ---------------------------------------------------------------------------------------------------------------------
# verdict rules on constructed statistics tables (docs/reproduction-v2.md, section 7)
# ---------------------------------------------------------------------------------------------------------------------
from ensembles.reproduction.verdicts import VERDICTS  # noqa: E402
from ensembles.reproduction.verdicts_v2 import claims_table_v2  # noqa: E402

SEEDS = (0, 1, 2)
JITTER = (-0.01, 0.0, 0.01)


def _rows(statistic, model, per_layer, *, condition="baseline", variant="", layers=(1, 2, 3), jitter=JITTER):
    """One row per seed and layer; ``per_layer``: a value, or {layer: value}; seeds spread by ``jitter``."""
    out = []
    for la in layers:
        v = per_layer[la] if isinstance(per_layer, dict) else per_layer
        for s, j in zip(SEEDS, jitter, strict=True):
            out.append({"condition": condition, "model": model, "seed": s, "variant": variant, "lr": 1e-3,
                        "layer": la, "statistic": statistic, "value": v + j})
    return out


def _table(*groups):
    return pd.DataFrame([r for g in groups for r in g])


def _verdict(table, claim, trajectories=None):
    t = claims_table_v2(table, dataset="mnist-5k", trajectories=trajectories).set_index("claim")
    assert set(t["verdict"]) <= set(VERDICTS)
    return t.loc[claim, "verdict"]


def test_v1_responsive_sparseness():
    ff = _rows("hoyer_responsive", "ff", {1: 0.6, 2: 0.7, 3: 0.5})
    assert _verdict(_table(ff, _rows("hoyer_responsive", "bp", 0.3)), "V1") == "reproduced"
    assert _verdict(_table(ff, _rows("hoyer_responsive", "bp", {1: 0.3, 2: 0.8, 3: 0.6})), "V1") == "partly"
    assert _verdict(_table(ff, _rows("hoyer_responsive", "bp", 0.9)), "V1") == "not reproduced"
    one_seed = [r for r in ff + _rows("hoyer_responsive", "bp", 0.3) if r["seed"] == 0]
    assert _verdict(_table(one_seed), "V1") == "untestable"


def test_v2_layer_one_sparsest_with_intervals():
    t = _table(_rows("hoyer", "ff", {1: 0.8, 2: 0.6, 3: 0.5}))
    assert _verdict(t, "V2") == "reproduced"
    # layer 1 above layer 3 only by a margin the seeds do not support: partly (means in order, an interval crosses 0)
    t = _table(_rows("hoyer", "ff", {1: 0.8, 2: 0.6}, layers=(1, 2)),
               _rows("hoyer", "ff", {3: 0.795}, layers=(3,), jitter=(0.03, -0.03, 0.0)))
    assert _verdict(t, "V2") == "partly"
    assert _verdict(_table(_rows("hoyer", "ff", {1: 0.5, 2: 0.6, 3: 0.7})), "V2") == "not reproduced"


def test_v3_ensembles_against_the_shuffled_null():
    real = _rows("ensemble_jaccard_mean", "ff", 0.05)
    assert _verdict(_table(real, _rows("ensemble_jaccard_null_p025", "ff", 0.30)), "V3") == "reproduced"
    # the null is as overlapping as the real ensembles in layer 1, but not in layers 2 and 3
    null = _rows("ensemble_jaccard_null_p025", "ff", {1: 0.0, 2: 0.3, 3: 0.3})
    assert _verdict(_table(real, null), "V3") == "partly"
    assert _verdict(_table(real, _rows("ensemble_jaccard_null_p025", "ff", 0.0)), "V3") == "not reproduced"
    assert _verdict(_table(_rows("hoyer", "ff", 0.5)), "V3") == "untestable"


def test_v7_inhibition_by_weight_sign():
    ff = _rows("silenced_by_inhibition", "ff", {1: 0.8, 2: 0.7, 3: 0.6})
    assert _verdict(_table(ff, _rows("silenced_by_inhibition", "bp", 0.3)), "V7") == "reproduced"
    assert _verdict(_table(ff, _rows("silenced_by_inhibition", "bp", {1: 0.3, 2: 0.65, 3: 0.6})), "V7") == "partly"
    assert _verdict(_table(ff, _rows("silenced_by_inhibition", "bp", {1: 0.8, 2: 0.7, 3: 0.6})),
                    "V7") == "not reproduced"


def test_v8_stability_against_the_spread():
    last = _rows("hoyer", "ff", 0.8, jitter=(-0.05, 0.0, 0.05))      # SD 0.05
    small = _rows("change_hoyer", "ff", 0.01)                       # drifts <= 0.02: stable
    assert _verdict(_table(last, small), "V8") == "reproduced"
    big = _rows("change_hoyer", "ff", {1: 0.2, 2: 0.01, 3: 0.01})   # layer 1 drifts 0.21 > 0.05
    t = claims_table_v2(_table(last, big), dataset="mnist-5k").set_index("claim")
    assert t.loc["V8", "verdict"] == "partly" and "ff L1 hoyer" in t.loc["V8", "detail"]
    assert _verdict(_table(last), "V8") == "untestable"


def _trajectories(bp_at):
    """FF ends at accuracy 0.9 with responsive Hoyer 0.8; BP passes 0.9 on its way to 0.98 (values bp_at(acc))."""
    rows = []
    for s, j in zip(SEEDS, JITTER, strict=True):
        for la in (1, 2, 3):
            for k, a in enumerate([0.6, 0.8, 0.9 + j / 5]):
                rows.append({"model": "ff", "seed": s, "checkpoint": k, "accuracy": a, "layer": la,
                             "statistic": "hoyer_responsive", "value": (0.8 + j) if k == 2 else 0.4})
            for k, a in enumerate([0.4, 0.7, 0.85, 0.95, 0.98]):
                rows.append({"model": "bp", "seed": s, "checkpoint": k, "accuracy": a, "layer": la,
                             "statistic": "hoyer_responsive", "value": bp_at(a) + j})
    return pd.DataFrame(rows)


def test_v4_matched_accuracy():
    base = _table(_rows("hoyer", "ff", 0.8))
    assert _verdict(base, "V4", _trajectories(lambda a: 0.3)) == "reproduced"
    # planted: BP is exactly as sparse as FF at FF's accuracy and dense only at its own, higher accuracy
    assert _verdict(base, "V4", _trajectories(lambda a: 0.8 - (a - 0.9) * 5.0)) == "not reproduced"
    assert _verdict(base, "V4") == "untestable"                                   # no trajectories
    assert _verdict(base, "V4 bp_ff", _trajectories(lambda a: 0.3)) == "untestable"  # no BP/FF trajectories


def _zero_shot_rows(held_pass, ref_pass, shuffled_pass, *, model="ff", classes=(9, 4, 1), ratio=1.0, acc=(0.9, 0.9),
                    dprime=(1.0, 1.0)):
    rows = []
    for k in classes:
        var = f"c{k}"
        for s, hp, rp, sp in zip(SEEDS, held_pass, ref_pass, shuffled_pass, strict=True):
            base = {"model": model, "seed": s, "variant": var, "lr": 1e-3, "layer": 1}
            rows += [{**base, "condition": "zero_shot", "statistic": "zs_passes", "value": hp},
                     {**base, "condition": "zero_shot", "statistic": "zs_shuffled_passes", "value": sp},
                     {**base, "condition": "reference", "statistic": "zs_passes", "value": rp},
                     {**base, "condition": "zero_shot", "statistic": "zs_size_ratio", "value": ratio},
                     {**base, "condition": "zero_shot", "statistic": "zs_jaccard", "value": 0.3},
                     {**base, "condition": "zero_shot", "statistic": "zs_chance_jaccard", "value": 0.02},
                     {**base, "condition": "zero_shot", "statistic": "zs_accuracy", "value": acc[0]},
                     {**base, "condition": "reference", "statistic": "zs_accuracy", "value": acc[1]},
                     {**base, "condition": "zero_shot", "statistic": "zs_dprime", "value": dprime[0]},
                     {**base, "condition": "reference", "statistic": "zs_dprime", "value": dprime[1]}]
    return rows


def test_v5_zero_shot_with_controls():
    assert _verdict(_table(_zero_shot_rows((1, 1, 0), (1, 1, 1), (0, 0, 0))), "V5 ff strict") == "reproduced"
    assert _verdict(_table(_zero_shot_rows((1, 0, 0), (1, 1, 1), (0, 0, 0))), "V5 ff strict") == "not reproduced"
    # the test cannot recognise a trained class: untestable, whatever the held-out runs show
    assert _verdict(_table(_zero_shot_rows((1, 1, 1), (0, 0, 1), (0, 0, 0))), "V5 ff strict") == "untestable"
    # the test passes on shuffled labels: untestable
    assert _verdict(_table(_zero_shot_rows((1, 1, 1), (1, 1, 1), (1, 1, 0))), "V5 ff strict") == "untestable"
    mixed = _zero_shot_rows((1, 1, 1), (1, 1, 1), (0, 0, 0), classes=(9,)) + \
        _zero_shot_rows((0, 0, 1), (1, 1, 1), (0, 0, 0), classes=(4, 1))
    assert _verdict(_table(mixed), "V5 ff strict") == "partly"
    assert _verdict(_table(mixed), "V5 bp") == "untestable"  # no BP runs in the table


def test_v6_comparable_to_the_same_class_trained():
    ok = _zero_shot_rows((1, 1, 1), (1, 1, 1), (0, 0, 0))
    assert _verdict(_table(ok), "V6 ff strict") == "reproduced"
    small = _zero_shot_rows((1, 1, 1), (1, 1, 1), (0, 0, 0), ratio=0.2)
    assert _verdict(_table(small), "V6 ff strict") == "not reproduced"
    worse = _zero_shot_rows((1, 1, 1), (1, 1, 1), (0, 0, 0), acc=(0.7, 0.95))     # decoding 0.25 below the reference
    assert _verdict(_table(worse), "V6 ff strict") == "not reproduced"
    weak = _zero_shot_rows((1, 1, 1), (1, 1, 1), (0, 0, 0), dprime=(0.4, 1.0))     # d' below half the reference's
    assert _verdict(_table(weak), "V6 ff strict") == "not reproduced"
    assert _verdict(_table(_rows("hoyer", "ff", 0.5)), "V6 ff strict") == "untestable"


def test_v2_table_has_v1_columns_and_every_row():
    from ensembles.reproduction.verdicts import claims_table

    t = claims_table_v2(_table(_rows("hoyer", "ff", 0.5)), dataset="mnist-5k")
    v1 = claims_table(_table(_rows("hoyer", "ff", 0.5)), dataset="mnist-5k")
    assert list(t.columns) == list(v1.columns)
    assert {"V1", "V2", "V3", "V4", "V4 bp_ff", "V5 ff strict", "V5 ff strict no label", "V5 bp_ff strict",
            "V5 bp", "V6 ff strict", "V6 bp", "V7", "V8"} <= set(t["claim"])
    with pytest.raises(ParameterError, match="'trajectories'"):
        claims_table_v2(_table(_rows("hoyer", "ff", 0.5)), dataset="mnist-5k", trajectories=pd.DataFrame({"a": [1]}))


# ---------------------------------------------------------------------------------------------------------------------
# per-run v2 statistics on tiny real runs (digits, 3 x 16 units): the plumbing, not the science
# ---------------------------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def tiny_runs(tmp_path_factory):
    pytest.importorskip("torch")
    from ensembles.train import config_from_dict, make_config, train_run

    out = tmp_path_factory.mktemp("v2runs")
    for model in ("ff", "bp"):
        d = make_config(model, "digits", scale="quick", seed=0).to_dict()
        d["network"]["hidden"] = [16, 16, 16]
        d["train"]["epochs"] = 4
        d["record"]["epochs"] = trajectory_epochs(model, 4)
        if model != "bp":
            d["record"]["conditions"] = ["true", "none"]
        train_run(config_from_dict(d), out / f"ref_{model}", progress=False)
        d["data"]["held_out"] = [3]
        d["record"]["epochs"] = None
        train_run(config_from_dict(d), out / f"zs_{model}", progress=False)
    return out


def test_run_statistics_v2_on_tiny_runs(tiny_runs):
    from ensembles.reproduction.stats_v2 import run_statistics_v2

    stats, trajectories = [], []
    for model in ("ff", "bp"):
        base, _ = run_statistics_v2(tiny_runs / f"ref_{model}", condition="baseline", n_shuffles=10)
        got = {r["statistic"] for r in base}
        assert {"hoyer_responsive", "fraction_silent_units", "ensemble_jaccard_null_p025", "silenced_by_inhibition",
                "silenced_by_bias", "ie_median"} <= got
        for r in base:
            if r["statistic"] in ("silenced_by_inhibition", "fraction_silent_units") and np.isfinite(r["value"]):
                assert 0.0 <= r["value"] <= 1.0
        ref, traj = run_statistics_v2(tiny_runs / f"ref_{model}", condition="reference", classes=(3, 5))
        assert {r["variant"] for r in ref} == ({"c3", "c5", "c3-nolabel", "c5-nolabel"} if model == "ff"
                                               else {"c3", "c5"})
        t = pd.DataFrame(traj)
        assert t["checkpoint"].nunique() >= 4 and t["accuracy"].between(0, 1).all()
        zs, _ = run_statistics_v2(tiny_runs / f"zs_{model}", condition="zero_shot",
                                  reference_dir=tiny_runs / f"ref_{model}")
        assert {"zs_passes", "zs_shuffled_passes", "zs_size_ratio", "zs_chance_jaccard"} <= {r["statistic"] for r in zs}
        stats += base + ref + zs
        trajectories.append(t)
    table = claims_table_v2(pd.DataFrame(stats), dataset="digits", trajectories=pd.concat(trajectories))
    assert set(table["verdict"]) <= set(VERDICTS) and "V5 ff strict" in set(table["claim"])
    from ensembles.reproduction.stats_v2 import find_reference

    refs = [tiny_runs / "ref_ff", tiny_runs / "ref_bp", tiny_runs / "zs_bp"]
    assert find_reference(tiny_runs / "zs_ff", refs) == tiny_runs / "ref_ff"
    assert find_reference(tiny_runs / "zs_bp", refs) == tiny_runs / "ref_bp"
    assert find_reference(tiny_runs / "zs_ff", [tiny_runs / "ref_bp"]) is None
    with pytest.raises(ParameterError, match="ten-class run"):
        run_statistics_v2(tiny_runs / "zs_ff", condition="zero_shot", reference_dir=tiny_runs / "ref_bp")
    with pytest.raises(ParameterError, match="'condition'"):
        run_statistics_v2(tiny_runs / "zs_ff", condition="held_out")
