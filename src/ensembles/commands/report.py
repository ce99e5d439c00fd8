"""``ensembles report``: the HTML report of an analysis directory or of a training run directory."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_parser(subparsers) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "report",
        help="write report.html for an analysis directory or a training run directory",
        description=(
            "DIR is either an analysis directory (written by 'ensembles analyze' or 'ensembles demo'; holds "
            "manifest.json): the report is (re)built from it; or a training run directory (holds recording.h5): "
            "it is analysed into DIR/analysis first.  Prints the headline numbers."
        ),
    )
    parser.add_argument("run_dir", metavar="DIR", help="analysis directory or training run directory")
    parser.add_argument("--out", default=None, help="report file (default DIR/report.html or DIR/analysis/report.html)")
    parser.add_argument("--force", action="store_true", help="redo an existing analysis of a run directory")
    parser.add_argument("--quiet", action="store_true", help="no progress output")
    parser.set_defaults(func=run)
    return parser


def run(args) -> int:
    from ensembles.pipeline import analyze, results_exist, summary_text
    from ensembles.report import build_report

    d = Path(args.run_dir)
    if not d.exists():
        raise FileNotFoundError(f"no such directory: {d}")
    if not d.is_dir():
        raise NotADirectoryError(f"expected an analysis or run directory, got a file: {d} "
                                 "(for a recording file use 'ensembles analyze REC.h5 --out DIR')")
    if results_exist(d):
        results = d
    elif (d / "recording.h5").exists():
        results = d / "analysis"
        if not results_exist(results) or args.force:
            analyze([d], results, force=args.force, progress=not args.quiet)
    else:
        raise FileNotFoundError(f"{d} holds neither an analysis (manifest.json) nor a recording (recording.h5)")
    print(summary_text(results))
    print(f"report: {build_report(results, out=args.out)}")
    return 0
