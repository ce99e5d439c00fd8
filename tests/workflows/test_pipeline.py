"""ensembles.workflows.analyze + build_report on small synthetic recordings: tables, figures, report sections,
no-overwrite rules."""

import json
import re

import numpy as np
import pandas as pd
import pytest

from ensembles.analysis import bootstrap_mean_ci
from ensembles.record import make_recording, save_recording
from ensembles.report import build_report, summary_text
from ensembles.workflows import FIGURES, analyze

CLASSES = np.array(["A", "B", "C", "D", "E"])


def planted(model, rng, *, n_per_class=24, width=200, layers=2, dense=False, correct=True, shared=True):
    """Class k drives neuroids 6k..6k+5 of every layer; neuroids 100-104 are shared by classes 0 and 1 (mixed
    selectivity)."""
    y = np.repeat(np.arange(5), n_per_class)
    blocks = []
    for _ in range(layers):
        x = rng.exponential(0.05, size=(y.size, width)) * (rng.random((y.size, width)) < 0.2)
        if dense:
            x = x + rng.exponential(0.5, size=x.shape)
        for k in range(5):
            x[y == k, 6 * k:6 * k + 6] += 1 + rng.random((n_per_class, 6))
        if shared:
            x[y <= 1, 100:105] += 2.0
        blocks.append(x)
    pres = {"stimulus_id": [f"syn/{i:04d}" for i in range(y.size)], "label": y, "label_name": CLASSES[y],
            "split": ["test"] * y.size}
    if correct:
        ok = np.ones(y.size, bool)
        ok[::8] = False
        pres.update(correct=ok, predicted=np.where(ok, y, (y + 1) % 5))
    return make_recording(np.concatenate(blocks, 1), presentation=pres, layer_sizes=[width] * layers,
                          attrs={"model": model, "dataset": "synthetic", "seed": 0, "config": {}, "site": "post-relu"})


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    rng = np.random.default_rng(0)
    out = tmp_path_factory.mktemp("an") / "res"
    recs = [planted("ff", rng), planted("bp", rng, dense=True)]
    man = analyze(recs, out, n_bootstrap=200, n_shuffles=2, progress=False)
    return out, man, recs


def test_tables_hold_the_planted_structure(results):
    out, man, _ = results
    sizes = pd.read_csv(out / "tables" / "ensemble_sizes.csv")
    ff = sizes[sizes.model == "FF"]
    # every class's ensemble contains its 6 planted neuroids (classes 0, 1 also the 3 shared ones)
    assert (ff["size"] >= 6).all() and set(ff["n_neuroids"]) == {200}
    ov = pd.read_csv(out / "tables" / "ensemble_overlap.csv")
    sig = ov[(ov.model == "FF") & (ov.label_a < ov.label_b) & (ov.q < 0.05)]
    # the shared neuroids make A-B the one significant overlap in each layer
    assert sorted(zip(sig.layer, sig.class_a, sig.class_b, strict=True)) == [(1, "A", "B"), (2, "A", "B")]
    assert set(sig.overlap) == {5.0}
    by_layer = pd.read_csv(out / "tables" / "sparseness_by_layer.csv").set_index(["model", "layer"])
    assert (by_layer.loc["FF", "mean"] > by_layer.loc["BP", "mean"] + 0.2).all()
    # correct-only protocol: 120 presentations, every 8th incorrect -> 105 used
    assert set(by_layer["n"]) == {105}
    assert man["sources"][0]["data_used"] == "correctly classified test presentations, n=105 of 120"
    acc = pd.read_csv(out / "tables" / "accuracy.csv")
    assert acc[(acc.model == "FF") & (acc["class"] == "all")]["accuracy"].item() == pytest.approx(105 / 120)


def test_figures_written_and_skips_explained(results):
    out, man, _ = results
    for fid in ("walls", "sparseness_bars", "sparseness_violins", "ensemble_sizes", "overlap", "selectivity"):
        assert {f.rsplit(".", 1)[1] for f in man["figures"][fid]["files"]} == {"png", "svg"}
        assert (out / "figures" / f"{fid}.png").stat().st_size > 1000
    # recordings without a training run: the figures that need one are skipped, with the reason
    for fid in ("training", "checkpoints", "sweep", "zero_shot", "inhibition"):
        assert fid in man["skipped"] and man["skipped"][fid]
    assert set(man["figures"]) | set(man["skipped"]) == {f.id for f in FIGURES}


def test_report_contains_every_section_and_is_self_contained(results):
    out, man, _ = results
    path = build_report(out)
    text = path.read_text()
    # a section per drawn figure; the figures these recordings cannot have are listed once, with the reason
    for f in FIGURES:
        assert (f"id='fig-{f.id}'" in text) == (f.id in man["figures"]) and f.title in text
    assert text.count("data:image/png;base64,") == len(man["figures"])
    assert "correctly classified test presentations, n=105 of 120" in text
    assert "figures not drawn for these recordings" in text and "no training history" in text
    assert "Not shown" not in text
    # offline: no external references
    assert not re.search(r"(src|href)=['\"]https?://", text)
    s = summary_text(out)
    assert s.splitlines()[0].startswith("FF: accuracy 0.875")
    assert "significant pairs 1/10 [A–B (5)]" in s


def test_no_overwrite_without_force_then_force(results, tmp_path):
    out, man, recs = results
    before = (out / "manifest.json").read_text()
    with pytest.raises(FileExistsError, match="--force"):
        analyze(recs, out, progress=False)
    assert (out / "manifest.json").read_text() == before
    out2 = tmp_path / "r2"
    analyze(recs[:1], out2, n_bootstrap=50, n_shuffles=0, progress=False, figures=False)
    m2 = analyze(recs[1:], out2, n_bootstrap=50, n_shuffles=0, progress=False, force=True, figures=False)
    assert [s["name"] for s in m2["sources"]] == ["BP"]
    assert json.loads((out2 / "manifest.json").read_text())["sources"][0]["name"] == "BP"


def test_neural_data_without_correct_and_from_files(tmp_path):
    rng = np.random.default_rng(1)
    rec = planted("neural:synthetic-v1", rng, correct=False)
    p = tmp_path / "neural.h5"
    save_recording(rec, p)
    man = analyze([p], tmp_path / "n", n_bootstrap=50, n_shuffles=0, progress=False)
    assert man["sources"][0]["data_used"] == "all test presentations (the recording has no 'correct' coord), n=120"
    assert "accuracy" not in man["sources"][0]
    html = build_report(tmp_path / "n").read_text()
    assert "no accuracy (the recording has no 'correct' coord)" in html
    assert summary_text(tmp_path / "n").splitlines()[0] == "neural:synthetic-v1:"  # no accuracy line to print


def test_duplicate_models_get_unique_names(tmp_path):
    rng = np.random.default_rng(2)
    man = analyze([planted("ff", rng), planted("ff", rng)], tmp_path / "d", n_bootstrap=20, n_shuffles=0,
                  progress=False, figures=False)
    assert [s["name"] for s in man["sources"]] == ["FF #1", "FF #2"]  # same seed: numbered


def test_bootstrap_ci_reference():
    # the mean of 0/1 data, and a CI that brackets it; constant data -> zero-width CI
    rng = np.random.default_rng(0)
    res = bootstrap_mean_ci(np.r_[np.zeros(50), np.ones(50)], random_state=rng)
    m, lo, hi, n = res.mean, res.ci_low, res.ci_high, res.n
    assert m == 0.5 and 0.35 < lo < 0.5 < hi < 0.65 and n == 100
    const = bootstrap_mean_ci(np.full(5, 0.3), random_state=rng)
    assert (const.ci_low, const.ci_high) == (pytest.approx(0.3), pytest.approx(0.3))
    assert np.isnan(bootstrap_mean_ci(np.array([np.nan]), random_state=rng).mean)


@pytest.mark.parametrize(
    "kwargs, exc, match",
    [
        (dict(recordings=[]), ValueError, "at least one recording"),
        (dict(recordings=["/nonexistent/rec.h5"]), FileNotFoundError, "recording not found"),
        (dict(recordings=[42]), TypeError, "paths or xr.Dataset"),
        (dict(n_bootstrap=0), ValueError, "'n_bootstrap'"),
        (dict(out_dir=""), ValueError, "'out_dir' parameter must name a directory"),
        (dict(tau=-1.0), ValueError, "'tau'"),
    ],
)
def test_bad_input(kwargs, exc, match, tmp_path):
    rng = np.random.default_rng(3)
    args = dict(recordings=[planted("ff", rng)], out_dir=tmp_path / "o", progress=False)
    args.update(kwargs)
    with pytest.raises(exc, match=match):
        analyze(**args)
    assert not (tmp_path / "o").exists()  # bad input: nothing created


def test_not_a_recording_file(tmp_path):
    bad = tmp_path / "bad.h5"
    bad.write_text("not hdf5")
    with pytest.raises(ValueError, match="not a readable recording"):
        analyze([bad], tmp_path / "o", progress=False)


def test_analyze_runs_gives_across_seed_intervals():
    """Conditions × seeds: per-run summary rows and Student-t intervals across seeds (reference: scipy.stats.t)."""
    from scipy import stats

    from ensembles.workflows import AnalysisParams, analyze_runs

    rng = np.random.default_rng(5)
    runs = {}
    for model, dense in (("ff", False), ("bp", True)):
        recs = []
        for seed in (0, 1, 2):
            r = planted(model, rng, dense=dense, n_per_class=12, width=60, layers=1)
            recs.append(r.assign_attrs(seed=seed))
        runs[model] = recs
    out = analyze_runs(runs, AnalysisParams(summary_shuffles=0), statistics=["population_hoyer"])
    per_run = out["per_run"]
    assert set(per_run["condition"]) == {"ff", "bp"} and set(per_run["seed"]) == {0, 1, 2}
    key = out["across_seeds"]
    row = key[(key.condition == "ff") & (key["class"] == "all") & (key["aggregate"] == "mean")].iloc[0]
    v = per_run[(per_run.condition == "ff") & (per_run["class"] == "all") & (per_run["aggregate"] == "mean")]["value"]
    half = stats.t.ppf(0.975, 2) * v.std(ddof=1) / np.sqrt(3)
    assert row["n_seeds"] == 3 and row["mean"] == pytest.approx(v.mean())
    assert (row["ci_low"], row["ci_high"]) == (pytest.approx(v.mean() - half), pytest.approx(v.mean() + half))
    acc = out["accuracy_across_seeds"].set_index("condition")
    # every 8th of the 60 presentations is misclassified in each run: 52/60 with zero spread across seeds
    assert acc.loc["ff", "mean"] == pytest.approx(52 / 60) and acc.loc["ff", "sd"] == 0 and acc.loc["ff", "n_seeds"] == 3
