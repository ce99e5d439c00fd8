"""The report's first paragraph states the findings from the numbers, and a neural recording's report is shaped by
its metadata.

The findings are checked against results directories built here, whose numbers are chosen by hand (so each sentence
has a known answer); the neural-data report against an Allen-style NWB session written with pynwb and analysed with
the command line.
"""

from __future__ import annotations

import html
import json
import re

import numpy as np
import pandas as pd
import pytest

from ensembles.layout import ResultsLayout
from ensembles.report._html import formatted
from ensembles.report.findings import findings, is_model_source, layer_name


def _results(tmp_path, *, headline, tables=None, unit_groups=None, sources=None, notes=(), parameters=None):
    """A finished results directory with the given headline rows and tables (written as CSV under tables/)."""
    root = tmp_path / "res"
    (root / "tables").mkdir(parents=True)
    paths = {}
    for name, df in (tables or {}).items():
        df.to_csv(root / "tables" / f"{name}.csv", index=False)
        paths[name] = f"tables/{name}.csv"
    man = {"headline": headline, "tables": paths, "unit_groups": unit_groups or {}, "notes": list(notes),
           "sources": sources or [{"name": r["model"], "seed": 0, "accuracy": r.get("accuracy")} for r in headline],
           "parameters": parameters or {"tau": 1.0, "alpha": 0.05, "n_shuffles": 5}}
    (root / "manifest.json").write_text(json.dumps(man))
    return ResultsLayout(root), man


def _head(model, layer, hoyer, ci, acc=0.9, sig=2, total=45):
    return {"model": model, "layer": layer, "accuracy": acc, "hoyer": hoyer, "hoyer_ci": ci,
            "median_ensemble_size": 10.0, "median_ensemble_pct": 1.0, "mean_overlap": 1.0, "pairs_overlapping": 5,
            "pairs_significant": sig, "pairs_total": total, "significant_pairs": ""}


HEAD = [_head("FF", 1, 0.743, "[0.731, 0.755]", 0.874, 3), _head("FF", 2, 0.853, "[0.84, 0.86]", 0.874),
        _head("BP/FF", 1, 0.690, "[0.68, 0.70]", 0.895), _head("BP", 1, 0.241, "[0.235, 0.247]", 0.941, 0)]


def test_findings_state_sparse_and_dense_with_intervals(tmp_path):
    res, man = _results(tmp_path, headline=HEAD)
    text = " ".join(findings(res, man))
    assert ("In layer 1, FF and BP/FF are sparse (population Hoyer sparseness 0.743 [0.731, 0.755], 0.690 "
            "[0.68, 0.70]) and BP is dense (0.241 [0.235, 0.247])") in text
    assert "Test accuracy: FF 0.874, BP/FF 0.895, BP 0.941 (one seed each)." in text
    assert "FF: layer 1 0.743 [0.731, 0.755], layer 2 0.853 [0.84, 0.86]" in text
    assert "FF 3 of 45; BP/FF 2 of 45; BP 0 of 45" in text
    # no table of silent units, no null: those sentences are left out, not invented
    assert "Silent" not in text and "null" not in text


def test_findings_use_the_units_and_ensemble_null_tables(tmp_path):
    units = pd.DataFrame({"model": ["FF", "FF", "BP/FF", "BP"], "layer": [1, 2, 1, 1],
                          "n_neuroids": [1000, 1000, 1000, 1000], "n_silent": [120, 0, 45, 0],
                          "frac_silent": [0.12, 0.0, 0.045, 0.0], "n_all_zero_presentations": [0, 0, 7, 0]})
    # FF's real ensembles (96 units) are smaller than the null (interval 250-290); BP's lie within its null
    # the columns of ensembles.analysis.tables.controls.ensemble_null_rows: one row per source x layer x tau
    null = pd.DataFrame({"source": ["FF", "BP/FF", "BP", "FF"], "layer": [1, 1, 1, 1],
                         "tau": [1.0, 1.0, 1.0, 2.0], "size_mean": [96, 300, 40, 5],
                         "null_size_mean": [270, 260, 41, 1.0], "null_lo": [250, 240, 35, 0.0],
                         "null_hi": [290, 280, 47, 2.0], "n_shuffles": [20, 20, 20, 20]})
    res, man = _results(tmp_path, headline=HEAD, tables={"units": units, "ensemble_null": null})
    text = " ".join(findings(res, man))
    assert ("Silent units (never active on the analysed presentations, excluded from lifetime statistics): FF "
            "layer 1 120 of 1000 (12.0 %); BP/FF layer 1 45 of 1000 (4.5 %); none in BP.") in text
    assert "Presentations to which a whole layer gave no response: BP/FF layer 1 7." in text
    # at the analysis' tau (1.0; the tau-2 row is ignored)
    assert "FF layer 1: 96 units, smaller than the null's 270 [250, 290]" in text
    assert "(τ = 1; mean size over classes)" in text  # the ensemble_null table's size_mean
    assert "BP/FF layer 1: 300 units, larger than the null's 260 [240, 280]" in text
    assert "BP layer 1: 40 units, within the null's 41 [35, 47]" in text
    assert "95 % interval over label shuffles" in text


def test_findings_fall_back_to_the_ensemble_sizes_null(tmp_path):
    sizes = pd.DataFrame({"model": ["FF"] * 3 + ["BP"] * 3, "layer": [1] * 6, "class": [0, 1, 2] * 2,
                          "size": [5, 6, 7, 9, 8, 7], "null_size": [12.0, 11.4, 12.8, 3.0, 3.2, 3.0],
                          "held_out": [False, False, True, False, False, False]})
    sp = pd.DataFrame({"model": ["FF", "BP"], "layer": [1, 1], "measure": ["hoyer"] * 2,
                       "fraction_silent_neuroids": [0.3125, 0.0], "n_neuroids": [64, 32]})
    res, man = _results(tmp_path, headline=HEAD, tables={"ensemble_sizes": sizes, "sparseness_by_layer": sp})
    text = " ".join(findings(res, man))
    # held-out class 2 excluded: FF median of (5, 6) = 5.5 vs null median of (12.0, 11.4) = 11.7
    assert "FF layer 1: 5.5 units, smaller than the null's 11.7" in text and "mean over 5 label shuffles" in text
    assert "(τ = 1; median size over classes)" in text
    assert "BP layer 1: 8 units, larger than the null's 3" in text  # medians of (9, 8, 7) and (3.0, 3.2, 3.0)
    assert "FF layer 1 20 of 64 (31.2 %); none in BP" in text


def test_numbers_are_formatted_for_reading():
    df = pd.DataFrame({"n": [30.0, 1000.0, np.nan], "x": [0.12345, 2.0, 1e-7], "name": ["a", None, "c"],
                       "big": [12345.0, 3.0, 1.0]})
    got = formatted(df)
    assert got["n"].tolist() == ["30", "1000", "–"]
    assert got["x"].tolist() == ["0.123", "2.000", "1.00e-07"]
    assert got["name"].tolist() == ["a", "–", "c"] and got["big"].tolist() == ["12,345", "3", "1"]


def test_model_and_neural_sources_are_told_apart():
    assert is_model_source({"seed": 0, "accuracy": None})
    assert is_model_source({"seed": -1, "run_dir": "runs/ff"})
    assert not is_model_source({"seed": -1, "accuracy": None, "run_dir": None})
    man = {"unit_groups": {"rec": {"by": "location", "names": {"1": "VISp", "2": "VISl"}}}}
    assert layer_name(man, "rec", 2) == "VISl" and layer_name(man, "other", 2.0) == "layer 2"


def test_an_imported_allen_style_session_gives_a_report_without_model_sections(tmp_path, capsys):
    pytest.importorskip("pynwb", reason="NWB support is the optional 'nwb' extra (pynwb)")
    from _nwb_helpers import allen_style_session
    from ensembles.cli import main

    nwb = allen_style_session(tmp_path / "allen.nwb", np.random.default_rng(0))
    rec = tmp_path / "session.h5"
    assert main(["import-nwb", str(nwb), "--intervals", "natural_scenes_presentations", "--label-column",
                 "image_name", "--window", "0.05", "0.25", "--out", str(rec)]) == 0
    out = tmp_path / "results"
    assert main(["analyze", str(rec), "--out", str(out), "--quiet"]) == 0
    printed = capsys.readouterr().out
    assert "VISp:" in printed and "VISl:" in printed and "accuracy" not in printed
    man = json.loads((out / "manifest.json").read_text())
    assert man["unit_groups"]["neural:allen-like-715093703"] == {"by": "location", "names": {"1": "VISp",
                                                                                             "2": "VISl"}}
    # the statistics are per area: 8 VISp units, 6 VISl units
    sp = pd.read_csv(out / "tables" / "sparseness_by_layer.csv")
    assert dict(zip(sp["layer"], sp["n_neuroids"], strict=False)) == {1: 8, 2: 6}
    page = (out / "report.html").read_text()
    text = html.unescape(re.sub(r"<[^>]+>", " ", page))
    for model_only in ("seed -1", "accuracy None", "test accuracy", "all all presentations", "layer 1", "layer 2",
                       "Training curves", "Emergence during training", "Inhibition", "Zero-shot", "Not shown",
                       "Has training settled"):
        assert model_only not in text, model_only
    para = html.unescape(re.search(r"<p class='findings'>(.*?)</p>", page, re.S).group(1))
    assert "Population Hoyer sparseness by location" in para and "VISp " in para and "VISl " in para
    assert "8 units" not in para and "14 units grouped by location: VISp 8, VISl 6" in text
    # the figures' panels are titled by area, and the suptitles fit their figure
    assert {"walls", "sparseness_bars", "ensemble_sizes"} <= set(man["figures"])
    assert not set(man["figures"]) & {"training", "checkpoints", "sweep", "zero_shot", "inhibition"}


def test_long_titles_wrap_instead_of_being_clipped():
    from ensembles.plot._style import new_figure, titled

    fig, _ = new_figure(1, 1, figsize=(3.0, 3.0))
    titled(fig, None, "Activation walls: presentations grouped by class × neuroids, a long title")
    lines = fig._suptitle.get_text().split("\n")
    assert len(lines) >= 2 and all(len(x) <= 3.0 * 11 for x in lines)
    fig.canvas.draw()
    box = fig._suptitle.get_window_extent()
    assert box.x0 >= 0 and box.x1 <= fig.bbox.width  # inside the figure
