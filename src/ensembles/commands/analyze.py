"""``ensembles analyze``: the full analysis and report for any recordings (models or imported neural data).

Compute sparseness, ensembles and overlaps, selectivity and the comparison with cortex for one or more recordings
(files or training-run directories) and write tables (CSV), figures (PNG, SVG) and report.html under --out.
Statistics use correctly classified presentations (and every presentation of a held-out class) when the recording
has a 'correct' coord (the paper's protocol) unless --all-presentations.  Figures that need what a recording lacks
(history, weights, checkpoints) are skipped and the report says so.  --out is claimed while the analysis runs: a
second command writing the same directory is refused.
"""

from __future__ import annotations

import argparse

from ensembles.commands._common import QUIET, add_command, switches


def add_parser(subparsers) -> argparse.ArgumentParser:
    p = add_command(subparsers, __name__, help="analyse recordings: tables, figures and an HTML report")
    p.add_argument("recordings", nargs="+", metavar="REC", help="recording files (.h5) or run directories")
    p.add_argument("--out", required=True, help="output directory")
    p.add_argument("--names", default=None, help="comma-separated display names, one per recording")
    switches(p, all_presentations="use every presentation, not only the correctly classified ones")
    p.add_argument("--tau", type=float, default=1.0, help="τ of the authors' ensemble rule (default 1)")
    switches(p, no_report="write tables and figures only",
             force="overwrite the results already in --out (also needed when --out holds files ensembles did not "
                   "write)",
             quiet=QUIET)
    return p


def run(args) -> int:
    from ensembles.report import build_report, summary_text
    from ensembles.workflows import analyze

    names = [n.strip() for n in args.names.split(",")] if args.names else None
    analyze(args.recordings, args.out, correct_only=not args.all_presentations, force=args.force, tau=args.tau,
            names=names, progress=not args.quiet)
    print(summary_text(args.out))
    if not args.no_report:
        print(f"report: {build_report(args.out)}")
    return 0
