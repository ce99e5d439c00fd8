"""``ensembles sweep SWEEP.toml``: run a grid of training runs on a Dask cluster (restartable).

Expand a sweep file into runs and train them on a Dask cluster. Re-running the same command skips finished runs
and resumes interrupted ones; failed runs are retried, then listed with their error.
"""

from __future__ import annotations

import argparse
import sys

from ensembles.commands._common import QUIET, add_command, switches
from ensembles.errors import ParameterError


def add_parser(subparsers) -> argparse.ArgumentParser:
    p = add_command(subparsers, __name__, help="run a sweep of training runs on a Dask cluster")
    p.add_argument("sweep_file", metavar="SWEEP.toml", help="sweep file (see configs/sweeps/)")
    p.add_argument("--out", default=None, help="output directory (default: results/sweeps/<name>)")
    p.add_argument("--scheduler", default="local",
                   help="'local' (default, a LocalCluster sized to this machine), 'slurm' (dask-jobqueue, options "
                        "from [scheduler.slurm]) or a scheduler address such as tcp://host:8786")
    p.add_argument("--retries", type=int, default=None, help="resubmissions of a failed run (default: sweep file, else 2)")
    switches(p, dry_run="check the sweep file (dataset names and every other setting) and list the runs and their "
                        "state; train and write nothing",
             force="write into --out even if it holds files that 'ensembles sweep' did not write (finished runs "
                   "are still reused)",
             quiet=QUIET)
    return p


def run(args) -> int:
    from ensembles.sweep import run_sweep

    if args.retries is not None and args.retries < 0:
        raise ParameterError(f"--retries must be a non-negative integer. Got {args.retries} instead.")
    result = run_sweep(args.sweep_file, args.out, scheduler=args.scheduler, retries=args.retries,
                       dry_run=args.dry_run, progress=not args.quiet, force=args.force)
    if args.dry_run:
        return 0
    n = len(result.runs)
    print(f"{len(result.done) + len(result.skipped)}/{n} runs complete ({len(result.skipped)} skipped as already "
          f"complete), {len(result.failed)} failed; {result.seconds:.1f} s; results in {result.out}")
    for key, path in result.combined.items():
        print(f"  combined {key}: {path}")
    if result.failed:
        for name, err in result.failed.items():
            print(f"  FAILED {name}: {err}", file=sys.stderr)
        return 1
    return 0
