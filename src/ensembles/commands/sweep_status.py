"""``ensembles sweep-status DIR``: complete/running/failed/interrupted/pending, per run of a sweep.

Show, for each run of a sweep directory, whether it is complete, running, failed (with its error), interrupted
(resumed by the next `ensembles sweep`) or pending.
"""

from __future__ import annotations

import argparse

from ensembles.commands._common import add_command, switches


def add_parser(subparsers) -> argparse.ArgumentParser:
    p = add_command(subparsers, __name__, help="state of every run of a sweep directory")
    p.add_argument("sweep_dir", metavar="DIR", help="the --out directory of `ensembles sweep`")
    switches(p, json="print JSON records instead of a table")
    return p


def run(args) -> int:
    from ensembles.sweep import format_status, sweep_status

    df = sweep_status(args.sweep_dir)
    if args.json:
        print(df.to_json(orient="records", indent=1))
    else:
        print(format_status(df))
    return 1 if (df["state"] == "failed").any() else 0
