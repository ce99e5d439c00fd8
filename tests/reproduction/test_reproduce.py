"""`ensembles reproduce` end to end on tiny runs (digits, 16-unit layers, 3 epochs): the plumbing, not the science.

The runs are trained by the real trainer on the real sweep engine; the claims table must contain every claim with
a verdict from the allowed set, the report and tables must exist, and a second call must reuse every run."""

import json
import shutil
import subprocess
import sys

import pandas as pd
import pytest

from ensembles.reproduction.plan import reproduction_sweeps
from ensembles.reproduction.verdicts import VERDICTS

pytest.importorskip("distributed", reason="the reproduction runs on dask.distributed")

TINY = {"network.hidden": [16, 16, 16], "train.epochs": 3}


def test_plan_keeps_the_authors_settings_and_labels_the_grid():
    from ensembles.sweep.runner import expand_sweep
    from ensembles.sweep.spec import parse_sweep

    sweeps = reproduction_sweeps("fashion-mnist", (0, 1, 2))
    base = expand_sweep(parse_sweep(sweeps["baseline"]))
    got = {(r.config.model, r.config.train.lr, r.config.train.batch_size) for r in base}
    assert got == {("ff", 1e-2, 1024), ("bp_ff", 1e-4, 1024), ("bp", 1e-4, 2048)}  # experiments.yaml
    assert all(r.config.data.train_subsample is None for r in base)
    grid = expand_sweep(parse_sweep(sweeps["lr_grid_bp"]))
    assert sorted({r.config.train.lr for r in grid}) == [1e-4, 1e-3, 1e-2]
    assert {r.config.train.batch_size for r in grid} == {2048}
    held = expand_sweep(parse_sweep(sweeps["held_out_ff"]))
    assert {(r.config.model, r.config.data.held_out_mode) for r in held} == {
        ("ff", "strict"), ("ff", "loose"), ("bp_ff", "strict"), ("bp_ff", "loose")}
    assert all(r.config.data.held_out == [9] for r in held)


@pytest.mark.slow
def test_reproduce_end_to_end_and_resume(tmp_path):
    from ensembles.reproduction.workflow import run_reproduction

    out = tmp_path / "rep"
    res = run_reproduction("digits", out, seeds=(0, 1), conditions=("baseline", "held_out"), overrides=TINY,
                           n_shuffles=200, echo=lambda m: None)
    claims = pd.read_csv(out / "tables" / "claims.csv")
    assert {"C1", "C2", "C3", "C4", "C5", "C6 ff strict", "C6 bp", "C7", "C8", "C9"} <= set(claims["claim"])
    assert set(claims["verdict"]) <= set(VERDICTS)
    assert claims.set_index("claim").loc["C9", "verdict"] == "untestable"  # no lr grid was trained
    stats = pd.read_csv(out / "tables" / "statistics.csv")
    assert set(stats["seed"]) == {0, 1}
    assert {"hoyer", "accuracy", "silenced_share", "zero_shot_forms", "stable_hoyer"} <= set(stats["statistic"])
    for f in ("report.html", "claims.md", "manifest.json", "figures/overlap_ff_layer1.png",
              "figures/overlap_ff_layer1.svg"):
        assert (out / f).is_file(), f
    # written by the results machinery of `ensembles analyze`: manifest last, figures listed with their files
    man = json.loads((out / "manifest.json").read_text())
    assert man["kind"] == "reproduction" and man["tables"]["claims"] == "tables/claims.csv"
    assert man["figures"]["overlap_ff_layer1"]["files"] == ["figures/overlap_ff_layer1.png",
                                                            "figures/overlap_ff_layer1.svg"]
    assert "The paper's claims" in (out / "report.html").read_text()
    assert not list(out.glob(".staging-*"))
    assert res["meta"]["n_runs"] == 6 + 10
    # second call: every run is reused, nothing retrained, the same claims. The command's default conditions are
    # the runs of the paper's claims (baseline, held-out); the lr grid is opt-in
    proc = subprocess.run([sys.executable, "-m", "ensembles", "reproduce", "--dataset", "digits", "--seeds", "0",
                           "1", "--out", str(out), "--dry-run",
                           "--set", "network.hidden=[16,16,16]", "--set", "train.epochs=3"],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    listing = proc.stderr + proc.stdout
    assert "6 already complete" in listing and "held_out_ff" in listing and "lr_grid" not in listing, listing
    res2 = run_reproduction("digits", out, seeds=(0, 1), conditions=("baseline", "held_out"), overrides=TINY,
                            n_shuffles=200, echo=lambda m: None)
    assert res2["meta"]["seconds_training"] < res["meta"]["seconds_training"]
    pd.testing.assert_frame_equal(pd.read_csv(out / "tables" / "claims.csv"), claims)
    calls = json.loads((out / "timing.json").read_text())["calls"]
    assert len(calls) == 2 and all(c["trained"] and c["seconds_total"] > 0 for c in calls)
    assert calls[0]["conditions"] == ["baseline", "held_out"]
    # the cost of every finished run, from the sweep engine's per-run status (wall and CPU seconds)
    cost = pd.read_csv(out / "tables" / "training_cost.csv")
    assert len(cost) == 16 and (cost["cpu_seconds"] > 0).all() and (cost["seconds"] > 0).all()
    assert set(cost["condition"]) == {"baseline", "held_out"} and set(cost["model"]) == {"ff", "bp_ff", "bp"}
    # the README section is generated from the directory (claims table first, then the cost)
    md = (out / "comparison.md").read_text()
    assert md.index("| claim |") < md.index("**Training cost**") and "C9" in md
    # the runs were analysed two at a time (one worker process per core); one process gives the same numbers
    from ensembles.reproduction.workflow import analyze_reproduction

    stats_parallel = (out / "tables" / "statistics.csv").read_text()
    shutil.rmtree(out / "stats")
    analyze_reproduction(out, "digits", n_shuffles=200, echo=lambda m: None, n_jobs=1)
    assert (out / "tables" / "statistics.csv").read_text() == stats_parallel
    pd.testing.assert_frame_equal(pd.read_csv(out / "tables" / "claims.csv"), claims)


def test_full_scale_plan_is_the_authors_epochs_on_the_named_device():
    from ensembles.errors import ParameterError
    from ensembles.sweep.runner import expand_sweep
    from ensembles.sweep.spec import parse_sweep

    sweeps = reproduction_sweeps("fashion-mnist", (0,), scale="full", device="cuda")
    assert {s["sweep"]["device"] for s in sweeps.values()} == {"cuda"}
    base = expand_sweep(parse_sweep(sweeps["baseline"]))
    # configuration/experiments.yaml of EmergentRepresentations: FF 100 epochs per layer, BP/FF 300, BP 80
    got = {(r.config.model, r.config.train.epochs, r.config.train.lr, r.config.train.batch_size,
            tuple(r.config.network.hidden)) for r in base}
    assert got == {("ff", 100, 1e-2, 1024, (1000,) * 3), ("bp_ff", 300, 1e-4, 1024, (1000,) * 3),
                   ("bp", 80, 1e-4, 2048, (1000,) * 3)}
    assert {s["sweep"]["device"] for s in reproduction_sweeps("mnist-5k", (0,)).values()} == {"cpu"}
    with pytest.raises(ParameterError, match="'scale'"):
        reproduction_sweeps("mnist-5k", (0,), scale="huge")


@pytest.mark.parametrize("args, message", [
    (["--device", "tpu"], "'device' parameter must be 'cpu', 'cuda'"),
    (["--workers", "0"], "'--workers' parameter must be between 1"),
    (["--scale", "huge"], "invalid choice: 'huge'"),
])
def test_reproduce_rejects_a_bad_device_scale_or_worker_count_clearly(tmp_path, args, message):
    proc = subprocess.run([sys.executable, "-m", "ensembles", "reproduce", "--dataset", "digits", "--out",
                           str(tmp_path / "rep"), "--dry-run", *args], capture_output=True, text=True)
    assert proc.returncode != 0 and message in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "rep").exists()


def test_grid_point_at_the_authors_lr_is_the_baseline_run_where_the_images_are_the_same():
    from ensembles.reproduction.plan import with_baseline_grid_points

    # mnist-5k: grid and baseline train on the same 4,000 images, so the authors' lr is not trained twice
    sweeps = reproduction_sweeps("mnist-5k", (0, 1))
    assert sweeps["lr_grid_ff"]["grid"]["train.lr"] == [1e-3]
    assert sweeps["lr_grid_bp"]["grid"]["train.lr"] == [1e-3, 1e-2]
    # fashion-mnist: the grid is subsampled (12,000 images), so its authors' lr point is a run of its own
    assert reproduction_sweeps("fashion-mnist", (0,))["lr_grid_ff"]["grid"]["train.lr"] == [1e-3, 1e-2]
    stats = pd.DataFrame([
        {"condition": "baseline", "model": "ff", "seed": 0, "variant": "", "lr": 1e-2, "layer": 1,
         "statistic": "hoyer", "value": 0.8},
        {"condition": "lr_grid", "model": "ff", "seed": 0, "variant": "", "lr": 1e-3, "layer": 1,
         "statistic": "hoyer", "value": 0.5},
        {"condition": "baseline", "model": "bp", "seed": 0, "variant": "", "lr": 1e-4, "layer": 1,
         "statistic": "hoyer", "value": 0.3},  # no BP grid runs: not added
    ])
    got = with_baseline_grid_points(stats, "mnist-5k")
    grid = got[got["condition"] == "lr_grid"].sort_values("lr")
    assert grid["lr"].tolist() == [1e-3, 1e-2] and grid["value"].tolist() == [0.5, 0.8]
    assert len(got) == 4
    assert with_baseline_grid_points(stats, "fashion-mnist") is stats  # subsampled grid: nothing relabelled
