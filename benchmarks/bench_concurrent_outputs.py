"""Two processes writing one output directory at once: `ensembles analyze` and `ensembles sweep`.

    python benchmarks/bench_concurrent_outputs.py [--trials 10] [--what analyze,sweep] [--src SRC_DIR]

Each trial starts two commands on the same --out at the same moment and classifies the result: "consistent" (exit
codes 0 and 2, the winner's output complete and self-consistent: for analyze, tables/accuracy.csv holds the accuracy
of the recording the manifest names and figures/ holds exactly the figures listed; for a sweep, every run finished
and combined/runs.csv lists them) or what went wrong.  ``--src`` runs another source tree (e.g. a checkout of an
older version) with the same trials.  Prints the counts per outcome.
"""

from __future__ import annotations

import argparse
import collections
import os
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(HERE / "tests"))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trials", type=int, default=10)
    ap.add_argument("--what", default="analyze,sweep")
    ap.add_argument("--src", default=str(HERE / "src"), help="source tree to run (default: this checkout)")
    args = ap.parse_args()
    from robustness import test_robust_outputs as t

    t.ENV["PYTHONPATH"] = args.src
    print(f"source {args.src}; load {open('/proc/loadavg').read().split()[:3]}")
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        recs = t._recordings(tmp)
        for what in args.what.split(","):
            counts: collections.Counter = collections.Counter()
            refusals: collections.Counter = collections.Counter()
            for k in range(args.trials):
                try:
                    if what == "analyze":
                        outcome, refusal = t.concurrent_analyze_trial(tmp, k, recs)
                    else:
                        outcome, refusal = t.concurrent_sweep_trial(tmp, k)
                except Exception as err:  # noqa: BLE001 - a broken output (missing file...) is an outcome too
                    outcome, refusal = f"{type(err).__name__}: {err}", ""
                counts[outcome[:160]] += 1
                refusals["clear refusal" if "is in use by pid" in refusal else f"refusal: {refusal[:100]!r}"] += 1
                print(f"  {what} trial {k}: {outcome[:160]}", flush=True)
            print(f"{what}: {args.trials} trials: {dict(counts)}; second process: {dict(refusals)}")


if __name__ == "__main__":
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    main()
