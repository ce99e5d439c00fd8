"""``ensembles report``: the HTML report of an analysis directory, a training run directory or a sweep directory."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_parser(subparsers) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "report",
        help="write report.html for an analysis, training run or sweep directory",
        description=(
            "DIR is either an analysis directory (written by 'ensembles analyze' or 'ensembles demo'; holds "
            "manifest.json): the report is (re)built from it; or a training run directory (holds recording.h5): "
            "it is analysed into DIR/analysis first; or a sweep directory (the --out of 'ensembles sweep'; holds "
            "sweep_manifest.json and combined/): every statistic is aggregated across seeds (mean, SD, 95%% "
            "Student-t CI) into DIR/analysis, with error-bar figures.  Prints the headline numbers."
        ),
    )
    parser.add_argument("run_dir", metavar="DIR", help="analysis, training run or sweep directory")
    parser.add_argument("--out", default=None, help="report file (default DIR/report.html or DIR/analysis/report.html)")
    parser.add_argument("--force", action="store_true", help="redo an existing analysis of a run directory")
    parser.add_argument("--quiet", action="store_true", help="no progress output")
    parser.set_defaults(func=run)
    return parser


def run(args) -> int:
    from ensembles.pipeline import analyze, results_exist, summary_text
    from ensembles.report import analyze_sweep, build_report, is_sweep_dir, sweep_summary_text

    d = Path(args.run_dir)
    if not d.exists():
        raise FileNotFoundError(f"no such directory: {d}")
    if not d.is_dir():
        raise NotADirectoryError(f"expected an analysis or run directory, got a file: {d} "
                                 "(for a recording file use 'ensembles analyze REC.h5 --out DIR')")
    if (d / "sweep_report.json").exists() and not results_exist(d) and is_sweep_dir(d.parent):
        d = d.parent  # DIR/analysis of a sweep: rebuild from the sweep
    if is_sweep_dir(d) and not results_exist(d):
        results = analyze_sweep(d, force=args.force)
        print(sweep_summary_text(results))
        print(f"report: {build_report(results, out=args.out)}")
        return 0
    if results_exist(d):
        results = d
    elif (d / "recording.h5").exists():
        results = d / "analysis"
        if not results_exist(results) or args.force:
            analyze([d], results, force=args.force, progress=not args.quiet)
    else:
        raise FileNotFoundError(f"{d} holds neither an analysis (manifest.json), a recording (recording.h5) nor a "
                                "sweep (sweep_manifest.json)")
    print(summary_text(results))
    print(f"report: {build_report(results, out=args.out)}")
    return 0
