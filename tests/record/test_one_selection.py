"""One selection of presentations: the analysis tables, summarize(), the geometry summary and a sweep's combined
summary use the same presentations of a recording with held-out classes, so they report the same numbers.

Before the workflows redesign the analyze pipeline kept the held-out class's presentations (docs/methods.md §A3.6: a
class held out of training is never predicted correctly, and zero-shot analyses use all its presentations) while
summarize() and summarize_geometry() dropped them: the same recording gave different Hoyer means and ensemble sizes
in the report, the summary table and a sweep.
"""

import json

import numpy as np
import pandas as pd
import pytest

from ensembles.analysis.geometry import participation_ratio, summarize_geometry
from ensembles.analysis.summary import summarize
from ensembles.record import make_recording, save_recording, select_presentations
from ensembles.sweep.combine import combine_sweep
from ensembles.workflows import AnalysisParams, analyze_sources, load_sources


@pytest.fixture(scope="module")
def rec():
    """3 classes x 30 presentations, class 2 held out of training (never correct); 2 checkpoints; class k drives
    neuroids 4k..4k+3 of each 16-unit layer."""
    rng = np.random.default_rng(7)
    y = np.repeat(np.arange(3), 30)
    act = rng.exponential(0.1, size=(2, y.size, 32)) * (rng.random((2, y.size, 32)) < 0.3)
    for k in range(3):
        act[:, y == k, 4 * k:4 * k + 4] += 1.0 + rng.random((2, 30, 4))
        act[:, y == k, 16 + 4 * k:16 + 4 * k + 4] += 1.0
    held = y == 2
    correct = np.stack([(np.arange(y.size) % 3 != 0) & ~held, (np.arange(y.size) % 5 != 0) & ~held])
    pres = {"stimulus_id": [f"syn/{i:03d}" for i in range(y.size)], "label": y,
            "label_name": np.array(["a", "b", "c"])[y], "split": ["test"] * y.size, "held_out": held,
            "predicted": np.where(correct, y, (y + 1) % 3), "correct": correct}
    return make_recording(act.astype(np.float32), presentation=pres, layer_sizes=[16, 16], epochs=[5, 10],
                          attrs={"model": "ff", "dataset": "synthetic", "seed": 0, "config": {}, "site": "post-relu"})


def test_every_table_uses_the_same_presentations(rec, tmp_path):
    chosen = select_presentations(rec)
    n_used = int((rec["correct"].isel(checkpoint=-1).values | rec["held_out"].values).sum())
    assert chosen.sizes["presentation"] == n_used == 48 + 30  # correct seen presentations + all of the held-out class

    # the demo / analyze workflow
    an = analyze_sources(load_sources([rec]), AnalysisParams(n_bootstrap=20, n_shuffles=0))
    by_layer = an.table("sparseness_by_layer").set_index("layer")
    sizes = an.table("ensemble_sizes").set_index(["layer", "label"])["size"]
    assert set(by_layer["n"]) == {n_used}

    # summarize()
    summ = summarize(rec, measures=["population", "ensembles"], n_shuffles=0)
    hoy = summ[(summ["statistic"] == "population_hoyer") & (summ["class"] == "all") & (summ["aggregate"] == "mean")]
    assert set(hoy["n"]) == {n_used} and set(hoy["subset"]) == {"correct+held_out"}
    for layer, v in zip(hoy["layer"], hoy["value"], strict=True):
        assert v == pytest.approx(by_layer.loc[layer, "mean"], rel=1e-12)
    ens = summ[(summ["statistic"] == "ensemble_size") & (summ["aggregate"] == "count")]
    assert {(int(r.layer), int(r["class"])): r.value for _, r in ens.iterrows()} == {
        k: float(v) for k, v in sizes.items()}

    # the geometry summary
    geo = summarize_geometry(rec).set_index(["layer", "statistic"])["value"]
    for layer in (1, 2):
        x = chosen["activity"].isel(neuroid=chosen["layer"].values == layer).values.astype(np.float64)
        assert geo.loc[(layer, "participation_ratio")] == pytest.approx(participation_ratio(x), rel=1e-12)

    # a sweep's combined summary
    sweep = tmp_path / "sweep"
    run = sweep / "runs" / "r0"
    run.mkdir(parents=True)
    save_recording(rec, run / "recording.h5")
    (run / "DONE").write_text("")
    (sweep / "sweep_manifest.json").write_text(json.dumps({"name": "s", "runs": [
        {"id": "r0", "name": "r0", "dir": "runs/r0", "params": {"model": "ff", "seed": 0}}]}))
    combined = combine_sweep(sweep, recording=False)
    cs = pd.read_csv(combined["summary"])
    cs = cs[(cs["statistic"] == "population_hoyer") & (cs["class"] == "all") & (cs["aggregate"] == "mean")]
    assert set(cs["n"]) == {n_used}
    for layer, v in zip(cs["layer"], cs["value"], strict=True):
        assert v == pytest.approx(by_layer.loc[layer, "mean"], rel=1e-12)


def test_held_out_default_is_explicit_and_can_be_turned_off(rec):
    """keep_held_out is one documented argument with the same default everywhere; False drops the held-out class."""
    seen_only = select_presentations(rec, keep_held_out=False)
    assert set(seen_only["label"].values) == {0, 1}
    summ = summarize(rec, measures=["population"], keep_held_out=False, n_shuffles=0)
    assert set(summ["subset"]) == {"correct"} and set(summ[summ["class"] == "all"]["n"]) == {48}
    an = analyze_sources(load_sources([rec]), AnalysisParams(n_bootstrap=20, n_shuffles=0, keep_held_out=False))
    assert set(an.table("sparseness_by_layer")["n"]) == {48}


# ------------------------------------------------------------------ no second selection anywhere in the package
SELECTION_MODULE = "record/selection.py"


def _own_selections(source: str) -> list[tuple[int, str]]:
    """Calls ``.isel``/``.sel`` that pick a checkpoint or select presentations by ``correct``."""
    import ast

    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in ("isel", "sel"):
            for kw in node.keywords:
                if kw.arg == "checkpoint" or (kw.arg == "presentation" and "correct" in ast.unparse(kw.value)):
                    found.append((node.lineno, ast.unparse(node)))
    return found


def test_the_checker_finds_a_planted_selection():
    planted = ("def f(a):\n    a = a.isel(checkpoint=-1)\n"
               "    return a.isel(presentation=np.asarray(a['correct'].values, dtype=bool))\n")
    assert [line for line, _ in _own_selections(planted)] == [2, 3]
    assert _own_selections("def f(a):\n    return select_presentations(a, checkpoint=-1)\n") == []


def test_only_select_presentations_selects_checkpoints_and_correct_presentations():
    from pathlib import Path

    import ensembles

    root = Path(ensembles.__file__).parent
    offenders = {str(p.relative_to(root)): hits for p in sorted(root.rglob("*.py"))
                 if str(p.relative_to(root)) != SELECTION_MODULE
                 and (hits := _own_selections(p.read_text(encoding="utf-8")))}
    assert not offenders, f"select with ensembles.record.select_presentations instead: {offenders}"
