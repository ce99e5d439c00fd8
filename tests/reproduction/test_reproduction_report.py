"""The reproduction's report is built by the one report machinery from a results directory like any other."""

import shutil
from pathlib import Path

import pandas as pd

from ensembles.layout import ReproductionLayout
from ensembles.report import build_report, summary_text

COMMITTED = Path(__file__).resolve().parents[2] / "docs" / "results" / "mnist-5k"


def test_report_of_a_reproduction_opens_with_every_claim_and_its_verdict(tmp_path):
    out = tmp_path / "rep"
    shutil.copytree(COMMITTED, out)
    (out / "report.html").unlink()
    path = build_report(out)
    html = path.read_text(encoding="utf-8")
    claims = pd.read_csv(ReproductionLayout(out).table(ReproductionLayout.CLAIMS))
    assert html.index("The paper's claims") < html.index("Sparsity against accuracy")
    for _, r in claims.iterrows():
        assert f"v-{r['verdict'].replace(' ', '-')}'><b>{r['verdict']}</b>" in html
    assert html.count("data:image/png;base64,") == 2  # both figures embedded
    text = summary_text(out)
    assert "C6 ff strict: not reproduced" in text
    assert text.splitlines()[-1].startswith(f"{len(claims)} claims over 36 runs: ")


def test_reproduction_layout_takes_a_path_or_a_string():
    assert ReproductionLayout("rep").report == ReproductionLayout(Path("rep")).report == Path("rep/report.html")
    assert ReproductionLayout("rep").stats_cache("baseline", "ff-1") == (Path("rep/stats/baseline/ff-1.csv"),
                                                                       Path("rep/stats/baseline/ff-1.json"))
