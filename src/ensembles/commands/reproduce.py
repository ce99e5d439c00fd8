"""``ensembles reproduce``: re-run Tosato et al. (2023) as the authors ran it, over seeds, with verdicts.

Train FF, BP/FF and BP at the authors' settings (epochs shortened to the CPU budget) over several seeds, plus
the held-out-class condition (and, with --conditions ... lr_grid, the learning-rate grid; zero_shot and
reference, the runs of protocol v2), on the resumable Dask sweep engine; then compute every statistic with the
analysis API and judge each claim of the paper by the rules of docs/reproduction.md, and the same claims with
their controls by the rules of docs/reproduction-v2.md. Writes
OUT/report.html, OUT/claims.md and OUT/tables/. Re-running resumes: finished runs and their statistics are reused.
Before it starts (and with --dry-run), it prints its plan and an estimate of its duration on this machine (from
runs measured on an idle 2-core machine, scaled by a half-second calibration of this one).
"""

from __future__ import annotations

import argparse
import sys

from ensembles.commands._common import QUIET, add_command, add_overrides, switches


def add_parser(subparsers) -> argparse.ArgumentParser:
    p = add_command(subparsers, __name__, help="re-run the paper's study (3 rules, several seeds, held-out classes, "
                    "optionally an lr grid) and judge each claim")
    p.add_argument("--dataset", default="mnist-5k", help="mnist-5k (default) or fashion-mnist (60k/10k)")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="seeds (default: 0 1 2)")
    p.add_argument("--conditions", nargs="+", default=None,
                   choices=("baseline", "held_out", "lr_grid", "zero_shot", "reference"),
                   help="conditions to train (default: baseline held_out, the runs of the paper's claims; add "
                        "lr_grid for the learning-rate grid: claim C9 and the sparsity-vs-accuracy figure across "
                        "learning rates, about half as much CPU time again; zero_shot and reference for the "
                        "controlled zero-shot test and the matched-accuracy comparison of protocol v2, "
                        "docs/reproduction-v2.md)")
    p.add_argument("--out", default=None, help="output directory (default: results/reproduce/<dataset>)")
    add_overrides(p, "config override for every run (e.g. for a smoke test: --set 'network.hidden=[16,16,16]'); "
                     "the baselines are the authors' settings only without overrides of lr, batch or optimiser")
    p.add_argument("--scale", default="cpu", choices=("cpu", "full"),
                   help="'cpu' (default): the authors' settings with fewer epochs; 'full': the authors' epochs too "
                        "(hours per run on a CPU: meant for an accelerator, with --device cuda)")
    p.add_argument("--device", default="cpu", help="torch device of every run: cpu (default), cuda or cuda:N")
    p.add_argument("--workers", type=int, default=None,
                   help="runs trained at once on the local cluster (default: one per core); on one GPU several "
                        "runs share the device")
    p.add_argument("--scheduler", default="local", help="'local' (default), 'slurm' or a scheduler address")
    switches(p, analyze_only="do not train; analyse the finished runs in --out",
             dry_run="list the runs, their state and the estimated duration; write nothing",
             force="write into --out even if another command or other files are there (finished runs are still "
                   "reused)",
             quiet=QUIET)
    return p


def _quiet_echo(message: str) -> None:
    """--quiet: no progress lines."""


def _print_plan(args, conditions, overrides, device: str, workers: int | None) -> None:
    """The runs left to train and the estimated duration (stderr, before anything starts)."""
    from pathlib import Path

    from ensembles.reproduction.train import train_reproduction
    from ensembles.train.device import usable_cpus
    from ensembles.workflows.estimate import reproduction_estimate

    out = Path(args.out) if args.out else Path("results") / "reproduce" / args.dataset
    sweeps = train_reproduction(args.dataset, out, seeds=tuple(args.seeds), conditions=conditions, dry_run=True,
                                scale=args.scale, overrides=overrides, device=device, echo=_quiet_echo)
    todo = [] if args.analyze_only else [r.config for s in sweeps.values() for r in s.runs if r.name not in s.skipped]
    n_all = sum(len(s.runs) for s in sweeps.values())
    if device != "cpu":
        print(f"plan: {len(todo)} training run(s) on {device}, {n_all - len(todo)} finished run(s) reused (no "
              "time estimate: the reference figures are for CPUs)", file=sys.stderr, flush=True)
        return
    print(reproduction_estimate(todo, args.dataset, n_reused=n_all - len(todo), workers=workers or usable_cpus()),
          file=sys.stderr, flush=True)


def run(args) -> int:
    from pathlib import Path

    from ensembles.errors import ParameterError
    from ensembles.layout import ReproductionLayout
    from ensembles.reproduction.plan import DEFAULT_CONDITIONS
    from ensembles.reproduction.workflow import run_reproduction

    if args.dataset not in ("mnist-5k", "fashion-mnist", "mnist", "digits"):
        raise ParameterError(f"--dataset must be one of mnist-5k, fashion-mnist, mnist, digits. Got {args.dataset!r}.")
    from ensembles.train.config import parse_override
    from ensembles.train.device import check_threads, resolve_device

    device = resolve_device(args.device)
    workers = None if args.workers is None else check_threads(args.workers, "--workers")
    conditions = tuple(args.conditions) if args.conditions else DEFAULT_CONDITIONS
    overrides = dict(parse_override(item) for item in args.overrides) or None
    if not args.quiet or args.dry_run:
        _print_plan(args, conditions, overrides, device, workers)
    res = run_reproduction(args.dataset, args.out, seeds=tuple(args.seeds), conditions=conditions,
                           scheduler=args.scheduler, force=args.force, train=not args.analyze_only,
                           dry_run=args.dry_run, overrides=overrides, scale=args.scale, device=device,
                           n_workers=workers, echo=_quiet_echo if args.quiet and not args.dry_run else print)
    if args.dry_run:
        return 0
    meta = res["meta"]
    print(f"reproduction finished in {meta['seconds_total']:.0f} s (training {meta['seconds_training']:.0f} s); "
          f"report: {ReproductionLayout(args.out or Path('results') / 'reproduce' / args.dataset).report}")
    return 0
