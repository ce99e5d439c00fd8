"""``ensembles sweep-status DIR``: complete/running/failed/interrupted/pending, per run of a sweep."""

from __future__ import annotations


def add_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "sweep-status",
        help="state of every run of a sweep directory",
        description="Show, for each run of a sweep directory, whether it is complete, running, failed (with its "
        "error), interrupted (resumed by the next `ensembles sweep`) or pending.",
    )
    p.add_argument("sweep_dir", metavar="DIR", help="the --out directory of `ensembles sweep`")
    p.add_argument("--json", action="store_true", help="print JSON records instead of a table")
    p.set_defaults(func=run)


def run(args) -> int:
    from ensembles.sweep import format_status, sweep_status

    df = sweep_status(args.sweep_dir)
    if args.json:
        print(df.to_json(orient="records", indent=1))
    else:
        print(format_status(df))
    return 1 if (df["state"] == "failed").any() else 0
