"""Models compared at matched accuracy along their training trajectories (ensembles.analysis.matched).

Reference values are derived by hand from the constructed trajectories (linear interpolation between two points).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ensembles.analysis import difference_interval, matched_accuracy, value_at_accuracy
from ensembles.errors import ParameterError


def test_value_at_accuracy_interpolates_at_the_first_crossing():
    # 0.85 lies halfway between 0.8 and 0.9 -> halfway between 0.4 and 0.6
    assert value_at_accuracy([0.5, 0.8, 0.9], [0.2, 0.4, 0.6], 0.85) == pytest.approx(0.5)
    # the first crossing counts even if accuracy later drops below the target again
    assert value_at_accuracy([0.5, 0.9, 0.7, 0.95], [0.0, 1.0, 5.0, 9.0], 0.7) == pytest.approx(0.5)
    # exactly reaching the target at a checkpoint gives that checkpoint's value
    assert value_at_accuracy([0.5, 0.8, 0.9], [0.2, 0.4, 0.6], 0.8) == pytest.approx(0.4)


def test_value_at_accuracy_never_extrapolates():
    assert np.isnan(value_at_accuracy([0.9, 0.95], [0.1, 0.2], 0.85))   # starts above the target
    assert np.isnan(value_at_accuracy([0.5, 0.6], [0.1, 0.2], 0.85))    # never reaches it


def test_value_at_accuracy_rejects_bad_input():
    with pytest.raises(ParameterError, match="'values'"):
        value_at_accuracy([0.1, 0.2], [1.0], 0.15)
    with pytest.raises(ParameterError, match="'target'"):
        value_at_accuracy([0.1, 0.2], [1.0, 2.0], float("nan"))


def _trajectories(bp_hoyer_at, rng, *, ff_final_acc=0.90, ff_hoyer=0.80, seeds=(0, 1, 2)):
    """FF ends at ``ff_final_acc`` with Hoyer ``ff_hoyer``; BP's Hoyer is ``bp_hoyer_at(accuracy)`` along a
    trajectory that passes FF's accuracy early and ends at 0.98."""
    rows = []
    for s in seeds:
        ff_acc = [0.6, 0.8, ff_final_acc + rng.normal(0, 0.003)]
        for k, a in enumerate(ff_acc):
            rows.append({"model": "ff", "seed": s, "checkpoint": k, "accuracy": a, "statistic": "hoyer", "layer": 1,
                         "value": ff_hoyer + rng.normal(0, 0.005) if k == 2 else 0.5})
        for k, a in enumerate([0.4, 0.7, 0.85, 0.95, 0.98]):
            rows.append({"model": "bp", "seed": s, "checkpoint": k, "accuracy": a, "statistic": "hoyer", "layer": 1,
                         "value": bp_hoyer_at(a) + rng.normal(0, 0.005)})
    return pd.DataFrame(rows)


def test_planted_bp_as_sparse_as_ff_at_equal_accuracy_is_found():
    # BP's sparseness falls as it trains: at FF's accuracy (0.90) it is exactly FF's 0.80; at its end (0.98) 0.40.
    rng = np.random.default_rng(0)
    t = _trajectories(lambda a: 0.80 - (a - 0.90) * 5.0, rng)
    row = matched_accuracy(t, reference="ff").iloc[0]
    assert row["model"] == "bp" and row["n_matched"] == 3
    assert row["target"] == pytest.approx(0.90, abs=0.01)
    assert row["mean"] == pytest.approx(0.80, abs=0.03)
    assert row["difference_low"] < 0 < row["difference_high"]          # no difference at matched accuracy
    # ... while comparing the final values alone says "FF sparser than BP"
    finals = t.sort_values("checkpoint").groupby(["model", "seed"]).tail(1)
    raw = difference_interval(finals[finals.model == "ff"]["value"], finals[finals.model == "bp"]["value"])
    assert raw.above_zero
    assert row["max_accuracy_step"] == pytest.approx(0.10)            # bracket 0.85 -> 0.95


def test_planted_ff_sparser_at_every_accuracy_is_found():
    rng = np.random.default_rng(1)
    t = _trajectories(lambda a: 0.30 + 0.0 * a, rng)
    row = matched_accuracy(t, reference="ff").iloc[0]
    assert row["difference_low"] > 0 and row["difference"] == pytest.approx(0.50, abs=0.02)
    assert row["reference_accuracy_low"] < 0.90 < row["reference_accuracy_high"]


def test_runs_that_cannot_be_matched_are_counted_not_extrapolated():
    rng = np.random.default_rng(2)
    t = _trajectories(lambda a: 0.3, rng)
    # seed 2 of BP starts above FF's accuracy; seed 1 never reaches it
    t.loc[(t.model == "bp") & (t.seed == 2) & (t.checkpoint == 0), "accuracy"] = 0.93
    t.loc[(t.model == "bp") & (t.seed == 1), "accuracy"] = np.linspace(0.3, 0.6, 5)
    row = matched_accuracy(t, reference="ff").iloc[0]
    assert (row["n_runs"], row["n_matched"], row["n_starts_above"], row["n_never_reached"]) == (3, 1, 1, 1)
    assert np.isnan(row["difference_low"])  # one matched run: no interval


def test_target_can_be_given_and_extra_run_columns_separate_runs():
    rng = np.random.default_rng(3)
    t = _trajectories(lambda a: a, rng)
    t2 = t[t.model == "bp"].assign(lr=0.01, value=lambda d: d["value"] + 1.0)
    both = pd.concat([t.assign(lr=0.001), t2], ignore_index=True)
    out = matched_accuracy(both, reference="ff", target=0.85, run_columns=("model", "seed", "lr"))
    assert out.iloc[0]["n_runs"] == 6 and out.iloc[0]["target"] == 0.85
    # six BP runs: three at value ~0.85, three at ~1.85 (the bracket 0.7 -> 0.85 ends exactly on the target)
    assert out.iloc[0]["mean"] == pytest.approx(1.35, abs=0.02)


def test_matched_accuracy_rejects_bad_tables():
    with pytest.raises(ParameterError, match="lacks the columns"):
        matched_accuracy(pd.DataFrame({"model": ["ff"]}), reference="ff")
    rng = np.random.default_rng(0)
    with pytest.raises(ParameterError, match="'reference'"):
        matched_accuracy(_trajectories(lambda a: a, rng), reference="cnn")
