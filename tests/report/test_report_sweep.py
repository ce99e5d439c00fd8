"""``ensembles report SWEEP_DIR``: across-seed tables (mean, SD, 95% Student-t CI), error-bar figures, HTML report,
no-overwrite rule and one-line errors for unfinished sweeps.

Reference values are computed in the tests with the standard library (``statistics.mean``/``stdev``) and the
two-sided 95% Student-t quantiles from printed tables (df = 1: 12.7062, df = 2: 4.3027; e.g. Zar, Biostatistical
Analysis, table B.3), independently of the implementation (which uses scipy).
"""

from __future__ import annotations

import json
import math
import statistics
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ensembles.cli import main

T975 = {1: 12.7062, 2: 4.3027}  # two-sided 95% t quantiles, printed tables

# fabricated sweep: 2 models x 3 seeds on one dataset (model bp: one seed missing its layer-2 value -> n = 2)
ACC = {("ff", 0): 0.80, ("ff", 1): 0.84, ("ff", 2): 0.90, ("bp", 0): 0.95, ("bp", 1): 0.97, ("bp", 2): 0.96}
HOYER = {("ff", 0, 1): 0.70, ("ff", 1, 1): 0.74, ("ff", 2, 1): 0.69, ("ff", 0, 2): 0.60, ("ff", 1, 2): 0.64,
         ("ff", 2, 2): 0.65, ("bp", 0, 1): 0.50, ("bp", 1, 1): 0.55, ("bp", 2, 1): 0.53, ("bp", 0, 2): 0.40,
         ("bp", 1, 2): 0.42, ("bp", 2, 2): float("nan")}  # fmt: skip


def _fabricate(d: Path, *, done: int | None = None) -> Path:
    """A sweep directory in the layout of ensembles.sweep (runner.write_manifest, combine.combine_sweep)."""
    runs, run_rows, summ_rows = [], [], []
    for i, (model, seed) in enumerate(ACC):
        rid = f"{i:012x}"
        name = f"{model}-digits-s{seed}"
        rdir = f"runs/{name}-{rid[:8]}"
        runs.append({"id": rid, "name": name, "dir": rdir, "log_dir": f"logs/{name}-{rid[:8]}",
                     "params": {"dataset": "digits", "model": model, "seed": seed}, "config": {}})
        (d / rdir).mkdir(parents=True)
        if done is None or i < done:
            (d / rdir / "DONE").write_text("")
        run_rows.append({"run": rid, "name": name, "dir": rdir, "dataset": "digits", "model": model, "seed": seed,
                         "test_accuracy": ACC[(model, seed)], "n_test": 100})
        epoch = 20 if model == "ff" else 10
        for layer in (1, 2):
            base = {"run": rid, "name": name, "dataset": "digits", "model": model, "seed": seed, "site": "post-relu",
                    "checkpoint": 1, "epoch": epoch, "layer": layer, "subset": "correct"}
            h = HOYER[(model, seed, layer)]
            summ_rows += [
                {**base, "class": "all", "statistic": "population_hoyer", "aggregate": "mean", "value": h,
                 "n": 90, "n_nan": 0},
                {**base, "class": "all", "statistic": "population_hoyer", "aggregate": "median", "value": h + 0.01,
                 "n": 90, "n_nan": 0},
                {**base, "class": "0", "statistic": "population_hoyer", "aggregate": "mean", "value": h - 0.1,
                 "n": 9, "n_nan": 0},
                {**base, "class": "all", "statistic": "csi", "aggregate": "mean", "value": 0.3 + 0.1 * layer + 0.01
                 * seed, "n": 16, "n_nan": 0},
                {**base, "class": "all", "statistic": "lifetime_treves-rolls", "aggregate": "mean",
                 "value": 0.2 + 0.02 * seed, "n": 16, "n_nan": 3},
            ]  # fmt: skip
    (d / "combined").mkdir(parents=True, exist_ok=True)
    (d / "sweep_manifest.json").write_text(json.dumps({"name": "fab", "grid_keys": ["model", "seed"], "runs": runs}))
    (d / "sweep.toml").write_text('[sweep]\nname = "fab"\n[grid]\nmodel = ["ff", "bp"]\nseed = [0, 1, 2]\n')
    pd.DataFrame(run_rows).to_csv(d / "combined" / "runs.csv", index=False)
    pd.DataFrame(summ_rows).to_csv(d / "combined" / "summary.csv", index=False)
    return d


def _expect(values):
    v = [x for x in values if not math.isnan(x)]
    n = len(v)
    m, sd = statistics.mean(v), statistics.stdev(v)
    half = T975[n - 1] * sd / math.sqrt(n)
    return n, m, sd, m - half, m + half


def _check_row(row, values):
    n, m, sd, lo, hi = _expect(values)
    assert int(row["n_seeds"]) == n
    assert row["mean"] == pytest.approx(m, abs=1e-12)
    assert row["sd"] == pytest.approx(sd, rel=1e-9)
    assert row["sem"] == pytest.approx(sd / math.sqrt(n), rel=1e-9)
    assert row["ci_low"] == pytest.approx(lo, rel=2e-5) and row["ci_high"] == pytest.approx(hi, rel=2e-5)


def test_report_sweep_tables_figures_html(tmp_path, capsys):
    d = _fabricate(tmp_path / "sw")
    assert main(["report", str(d)]) == 0
    out = capsys.readouterr().out
    res = d / "analysis"
    assert f"report: {res / 'report.html'}" in out
    assert "accuracy   FF" in out and "hoyer L1" in out

    acc = pd.read_csv(res / "tables" / "accuracy_across_seeds.csv")
    assert sorted(acc["model"]) == ["bp", "ff"] and "seed" not in acc.columns
    for model in ("ff", "bp"):
        row = acc[acc["model"] == model].iloc[0]
        _check_row(row, [ACC[(model, s)] for s in (0, 1, 2)])
        assert row["seeds"] == "0;1;2" and row["condition"] == {"ff": "FF", "bp": "BP"}[model]

    key = pd.read_csv(res / "tables" / "key_across_seeds.csv")
    hk = key[key["statistic"] == "population_hoyer"]
    # only class "all" and aggregate "mean" in the key table: one row per model x layer
    assert len(hk) == 4 and set(hk["class"].astype(str)) == {"all"} and set(hk["aggregate"]) == {"mean"}
    for model in ("ff", "bp"):
        for layer in (1, 2):
            row = hk[(hk["model"] == model) & (hk["layer"] == layer)].iloc[0]
            _check_row(row, [HOYER[(model, s, layer)] for s in (0, 1, 2)])
            assert str(row["epochs"]) == {"ff": "20", "bp": "10"}[model]
    assert int(hk[(hk["model"] == "bp") & (hk["layer"] == 2)]["n_seeds"].iloc[0]) == 2  # the NaN run is left out
    full = pd.read_csv(res / "tables" / "summary_across_seeds.csv")
    med = full[(full["statistic"] == "population_hoyer") & (full["aggregate"] == "median") & (full["model"] == "ff")
               & (full["layer"] == 1)]
    _check_row(med.iloc[0], [HOYER[("ff", s, 1)] + 0.01 for s in (0, 1, 2)])

    meta = json.loads((res / "sweep_report.json").read_text())
    assert meta["parameters"] == ["dataset", "model"] and meta["n_runs"] == 6 and meta["n_complete"] == 6
    assert {"accuracy", "hoyer", "key"} <= set(meta["figures"])
    for f in meta["figures"]["hoyer"]["files"] + meta["figures"]["accuracy"]["files"]:
        assert (res / f).stat().st_size > 2000
    page = (res / "report.html").read_text()
    assert page.count("data:image/png;base64,") == len(meta["figures"])
    assert "Population Hoyer sparseness per layer across seeds" in page and "Student-t" in page
    m = acc[acc["model"] == "ff"].iloc[0]
    assert f"{m['mean']:.4f}" in page and f"{m['sd']:.4f}" in page and f"{m['ci_low']:.4f}" in page

    # same inputs: the analysis is kept and the report rebuilt; changed inputs: refused without --force
    stamp = (res / "sweep_report.json").read_text()
    assert main(["report", str(d)]) == 0 and (res / "sweep_report.json").read_text() == stamp
    assert main(["report", str(res)]) == 0  # DIR/analysis of a sweep works too
    runs = pd.read_csv(d / "combined" / "runs.csv")
    runs.loc[runs["name"] == "ff-digits-s0", "test_accuracy"] = 0.5
    runs.to_csv(d / "combined" / "runs.csv", index=False)
    capsys.readouterr()
    assert main(["report", str(d)]) == 2
    assert "--force" in capsys.readouterr().err
    assert pd.read_csv(res / "tables" / "accuracy_across_seeds.csv").equals(acc)  # nothing overwritten
    assert main(["report", str(d), "--force"]) == 0
    acc2 = pd.read_csv(res / "tables" / "accuracy_across_seeds.csv")
    assert acc2[acc2["model"] == "ff"]["mean"].iloc[0] == pytest.approx(statistics.mean([0.5, 0.84, 0.90]))


def test_report_unfinished_sweep_errors(tmp_path, capsys):
    d = _fabricate(tmp_path / "none", done=0)
    (d / "combined" / "runs.csv").unlink()
    (d / "combined" / "summary.csv").unlink()
    assert main(["report", str(d)]) == 2
    err = capsys.readouterr().err
    assert "0 of 6 complete" in err and f"ensembles sweep-status {d}" in err and len(err.strip().splitlines()) == 1
    d = _fabricate(tmp_path / "some", done=2)
    (d / "combined" / "summary.csv").unlink()
    assert main(["report", str(d)]) == 2
    err = capsys.readouterr().err
    assert "2 of 6 runs complete" in err and "sweep-status" in err and not (d / "analysis").exists()
    d = _fabricate(tmp_path / "bad")
    (d / "combined" / "summary.csv").write_text("run,foo\n1,2\n")
    assert main(["report", str(d)]) == 2
    assert "lacks the columns ['statistic', 'value']" in capsys.readouterr().err


def test_sweep_error_bars_input_checks():
    from ensembles.plot import sweep_error_bars

    with pytest.raises(ValueError, match="missing \\['ci_low', 'ci_high'\\]"):
        sweep_error_bars(pd.DataFrame({"model": ["ff"], "mean": [1.0], "n_seeds": [2]}), x="model")
    with pytest.raises(ValueError, match="'error' parameter"):
        sweep_error_bars(pd.DataFrame({"model": ["ff"], "mean": [1.0], "n_seeds": [2]}), x="model", error="iqr")
    fig = sweep_error_bars(pd.DataFrame({"model": ["ff", "bp"], "mean": [1.0, 2.0], "sd": [0.1, np.nan],
                                         "n_seeds": [2, 1]}), x="model", error="sd")
    bars = [p for p in fig.axes[0].patches]
    assert [b.get_height() for b in bars] == [1.0, 2.0]


def _stand_in_train(config, out_dir, *, resume, device, progress):
    """Stand-in trainer writing a real small recording (two checkpoints) and metrics, DONE last (train_run contract);
    activity and accuracy depend on the model and the seed."""
    from ensembles.record import make_recording, save_recording

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(config["seed"] + (10 if config["model"] == "bp" else 0))
    n = 30
    labels = np.arange(n) % 3
    act = np.maximum(rng.normal(loc=0.0 if config["model"] == "ff" else 0.5, size=(2, n, 8)), 0).astype(np.float32)
    pres = {"stimulus_id": [f"syn/test/{i:03d}" for i in range(n)], "label": labels,
            "label_name": [f"c{lab}" for lab in labels], "split": ["test"] * n, "correct": np.ones((2, n), dtype=bool)}
    rec = make_recording(act, presentation=pres, layer_sizes=[4, 4], epochs=[1, 2],
                         attrs={"model": config["model"], "dataset": config["dataset"], "seed": config["seed"],
                                "config": config, "site": "post-relu"})
    save_recording(rec, out / "recording.h5")
    acc = 0.6 + 0.05 * config["seed"] + (0.2 if config["model"] == "bp" else 0.0)
    (out / "metrics.json").write_text(json.dumps({"test_accuracy": acc}))
    (out / "DONE").write_text("")
    return {"test_accuracy": acc}


def _make_config(*, model, dataset, preset, scale, seed=0, **overrides):
    return {"model": model, "dataset": dataset, "preset": preset, "scale": scale, "seed": seed, "train": overrides}


def test_report_of_a_real_sweep_directory(tmp_path, capsys):
    """run_sweep (in-process Dask cluster, stand-in trainer writing real recordings) -> combined/ -> report."""
    from ensembles.sweep import run_sweep

    sweep = {"sweep": {"name": "t", "scale": "quick", "retries": 0}, "base": {"dataset": "digits"},
             "grid": {"model": ["ff", "bp"], "seed": [0, 1]},
             "scheduler": {"local": {"processes": False, "n_workers": 1}}}
    res = run_sweep(sweep, tmp_path / "sw", make_config=_make_config, train_fn=_stand_in_train, progress=False,
                    echo=lambda m: None)
    assert res.ok and "summary" in res.combined
    assert main(["report", str(tmp_path / "sw")]) == 0
    assert "report: " in capsys.readouterr().out
    summary = pd.read_csv(tmp_path / "sw" / "combined" / "summary.csv")
    key = pd.read_csv(tmp_path / "sw" / "analysis" / "tables" / "key_across_seeds.csv")
    for model in ("ff", "bp"):
        for layer in (1, 2):
            vals = summary[(summary["model"] == model) & (summary["layer"] == layer)
                           & (summary["statistic"] == "population_hoyer") & (summary["class"].astype(str) == "all")
                           & (summary["aggregate"] == "mean")].sort_values("seed")["value"].tolist()
            assert len(vals) == 2
            row = key[(key["model"] == model) & (key["layer"] == layer) & (key["statistic"] == "population_hoyer")]
            _check_row(row.iloc[0], vals)
    html = (tmp_path / "sw" / "analysis" / "report.html").read_text()
    assert "Population Hoyer sparseness per layer across seeds" in html and "data:image/png;base64," in html
