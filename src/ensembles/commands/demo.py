"""``ensembles demo``: train FF, BP/FF and BP, analyse their representations and write an HTML report.

Train Forward-Forward, backprop on the FF objective and backprop (plus an FF run with a held-out class and, with
--sweep, a small FF sweep), record their test-set activations, run the whole analysis and write a self-contained HTML
report, figures (PNG, SVG) and tables (CSV).  Finished steps are reused on a second run unless --force.  Before it
starts, the demo prints its plan and an estimate of its duration on this machine (from runs measured on an idle
2-core machine, scaled by a half-second calibration of this one).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ensembles.commands._common import QUIET, add_command, switches
from ensembles.errors import ParameterError


def add_parser(subparsers) -> argparse.ArgumentParser:
    p = add_command(subparsers, __name__, help="train FF, BP/FF and BP, analyse, and write results/demo/report.html")
    p.add_argument("--dataset", default="mnist-5k", help="dataset name (default: mnist-5k; see 'ensembles datasets')")
    p.add_argument("--scale", default="cpu", help="scale profile: quick, cpu (default) or full (the authors' epochs)")
    p.add_argument("--out", default="results/demo", help="output directory (default: results/demo)")
    p.add_argument("--models", default="ff,bp_ff,bp", help="comma-separated models (default ff,bp_ff,bp)")
    p.add_argument("--seed", type=int, default=0, help="seed of every run (default 0)")
    p.add_argument("--held-out", default="3", help="comma-separated class(es) held out of the zero-shot FF run "
                   "(default 3; 'none' to skip)")
    switches(p, sweep="also train a small FF goodness x lr sweep for figure 7 (six short FF runs, about a minute at "
                      "the cpu scale; they stay near chance accuracy: a smoke view, not a result)")
    p.add_argument("--device", default="cpu", help="torch device for training (default cpu)")
    switches(p, force="retrain every run and redo the analysis, overwriting --out, instead of reusing finished steps",
             quiet=QUIET)
    return p


def _held_out(text: str) -> tuple[int, ...]:
    if text.strip().lower() in ("", "none"):
        return ()
    try:
        return tuple(int(v) for v in text.split(","))
    except ValueError:
        raise ParameterError(f"--held-out must be comma-separated class numbers or 'none'. Got {text!r} instead.") from None


def _print_plan(args, models: tuple[str, ...]) -> None:
    """The runs left to train and the estimated duration (stderr, before anything starts)."""
    from ensembles.layout import ResultsLayout, RunLayout
    from ensembles.train.device import usable_cpus
    from ensembles.workflows.demo import _check_dataset, demo_plan
    from ensembles.workflows.estimate import demo_estimate

    _check_dataset(args.dataset)
    out = Path(args.out)
    if ResultsLayout(out).is_finished() and not args.force:
        return  # the finished demo is reused (run_demo says so)
    plan = demo_plan(args.dataset, args.scale, seed=args.seed, held_out=_held_out(args.held_out),
                     sweep=args.sweep, models=models)
    todo = [n for n in plan if args.force or not RunLayout(out / "runs" / n).is_done()]
    print(demo_estimate(plan, args.dataset, to_train=todo, cores=usable_cpus()), file=sys.stderr, flush=True)


def run(args) -> int:
    from ensembles._validation import check_choice
    from ensembles.report import summary_text
    from ensembles.workflows.demo import SCALES, run_demo

    check_choice("--scale", args.scale, SCALES)
    models = tuple(m.strip() for m in args.models.split(",") if m.strip())
    if not args.quiet:
        _print_plan(args, models)
    res = run_demo(args.dataset, args.scale, args.out, force=args.force, seed=args.seed,
                   held_out=_held_out(args.held_out), sweep=args.sweep, progress=not args.quiet,
                   device=args.device, models=models)
    print(summary_text(args.out))
    if res["timings_s"]:
        print("timings (s): " + ", ".join(f"{k} {v:.1f}" for k, v in res["timings_s"].items()))
    print(f"report: {res['report']}")
    return 0
