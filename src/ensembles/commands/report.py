"""``ensembles report``: the HTML report of an analysis directory, a training run directory or a sweep directory.

DIR is either an analysis directory (written by 'ensembles analyze' or 'ensembles demo'; holds manifest.json): the
report is (re)built from it; or a training run directory (holds recording.h5): it is analysed into DIR/analysis
first; or a sweep directory (the --out of 'ensembles sweep'; holds sweep_manifest.json and combined/): every
statistic is aggregated across seeds (mean, SD, 95% Student-t CI) into DIR/analysis, with error-bar figures.
Prints the headline numbers.  The report reads only inside its directory.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ensembles.commands._common import QUIET, add_command, switches


def add_parser(subparsers) -> argparse.ArgumentParser:
    p = add_command(subparsers, __name__, help="write report.html for an analysis, training run or sweep directory")
    p.add_argument("run_dir", metavar="DIR", help="analysis, training run or sweep directory")
    p.add_argument("--out", default=None, help="report file (default DIR/report.html or DIR/analysis/report.html)")
    switches(p, force="redo the analysis of a run or sweep directory that already has one, overwriting it",
             quiet=QUIET)
    return p


def run(args) -> int:
    from ensembles.layout import ResultsLayout, RunLayout, SweepLayout
    from ensembles.report import build_report, summary_text, sweep_summary_text
    from ensembles.workflows import analyze, analyze_sweep

    d = Path(args.run_dir)
    if not d.exists():
        raise FileNotFoundError(f"no such directory: {d}")
    if not d.is_dir():
        raise NotADirectoryError(f"expected an analysis or run directory, got a file: {d} "
                                 "(for a recording file use 'ensembles analyze REC.h5 --out DIR')")
    results = ResultsLayout(d)
    if results.is_sweep_analysis() and not results.is_finished() and SweepLayout(d.parent).is_sweep():
        d = d.parent  # DIR/analysis of a sweep: rebuild from the sweep
        results = ResultsLayout(d)
    if SweepLayout(d).is_sweep() and not results.is_finished():
        out = analyze_sweep(d, force=args.force)
        print(sweep_summary_text(out))
        print(f"report: {build_report(out, out=args.out)}")
        return 0
    if not results.is_finished():
        run = RunLayout(d)
        if not run.recording.exists():
            raise FileNotFoundError(f"{d} holds neither an analysis (manifest.json), a recording (recording.h5) nor "
                                    "a sweep (sweep_manifest.json)")
        results = ResultsLayout(d / "analysis")
        if not results.is_finished() or args.force:
            analyze([d], results.root, force=args.force, progress=not args.quiet, command="report")
    print(summary_text(results.root))
    print(f"report: {build_report(results.root, out=args.out)}")
    return 0
