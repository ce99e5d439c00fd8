"""Do the FF fast paths change what the demo's models learn?  Test accuracy and per-layer Hoyer sparseness of FF and
BP/FF at the demo's settings (mnist-5k, paper preset, cpu profile) for several seeds, for this tree and an older
revision (``--before REV``, run from ``git archive REV src``).

The fast paths compute the same function with a different floating-point summation order, so runs are not bitwise
equal to the older code's; what must hold is that the results agree within the run-to-run spread over seeds.
Hoyer (2004) sparseness per test sample over a layer's units, averaged over correctly classified samples (the
paper's protocol, as ``bench_train.py``), final checkpoint.

Usage::

    python benchmarks/bench_ff_equivalence.py --before HEAD~6 [--seeds 0,1,2] [--models ff,bp_ff] [--jobs 2]

Writes ``benchmarks/out/bench_ff_equivalence.json`` and prints mean ± SD over seeds.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from _common import extract_src, run_worker, thread_env, write_json

HERE = Path(__file__).resolve().parent
OUT = HERE / "out"

RUN = """
import json, sys
import numpy as np
sys.path.insert(0, sys.argv[4])
from bench_train import layer_hoyer
from ensembles.record import load_recording
from ensembles.train import make_config, train_run
model, seed, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
cfg = make_config(model, "mnist-5k", preset="paper", scale="cpu", seed=seed, **{"train.threads": 1})
m = train_run(cfg, out, progress=False)
hist = json.load(open(out + "/history.json"))
print(json.dumps({"test_accuracy": m["test_accuracy"], "train_loop_s": m["train_loop_s"],
                  "median_epoch_s": float(np.median([h["epoch_time_s"] for h in hist])),
                  "hoyer": [h["hoyer"] for h in layer_hoyer(load_recording(out + "/recording.h5"))]}))
"""


def one(src: str, model: str, seed: int, tmp: str) -> dict:
    cmd = [sys.executable, "-c", RUN, model, str(seed), tempfile.mkdtemp(dir=tmp), str(HERE)]
    return {"model": model, "seed": seed, **run_worker(cmd, f"{model} seed {seed} on {src}", thread_env(1, src))}


def _ms(v):
    return (statistics.mean(v), statistics.stdev(v) if len(v) > 1 else 0.0)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--before", required=True, help="git revision to compare with")
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--models", default="ff,bp_ff")
    ap.add_argument("--jobs", type=int, default=1, help="runs at once (1 thread each)")
    args = ap.parse_args(argv)
    seeds = [int(s) for s in args.seeds.split(",")]
    models = args.models.split(",")
    res = {"before_rev": args.before, "loadavg_start": os.getloadavg()}
    with tempfile.TemporaryDirectory(prefix="ff_equiv_") as tmp:
        srcs = {"before": extract_src(args.before, tmp), "after": str(HERE.parent / "src")}
        jobs = [(rev, m, s) for m in models for s in seeds for rev in ("before", "after")]
        with ThreadPoolExecutor(args.jobs) as ex:
            outs = list(ex.map(lambda j: (j[0], one(srcs[j[0]], j[1], j[2], tmp)), jobs))
    res["runs"] = {"before": [o for r, o in outs if r == "before"], "after": [o for r, o in outs if r == "after"]}
    res["loadavg_end"] = os.getloadavg()
    print(f"mnist-5k, paper preset, cpu profile, seeds {seeds}, 1 thread per run; load {res['loadavg_start'][0]:.1f}"
          f" -> {res['loadavg_end'][0]:.1f}")
    print("| model | revision | test accuracy | Hoyer L1 | Hoyer L2 | Hoyer L3 | median epoch s |")
    print("|---|---|---|---|---|---|---|")
    summary = {}
    for m in models:
        for rev in ("before", "after"):
            rs = [r for r in res["runs"][rev] if r["model"] == m]
            acc = _ms([r["test_accuracy"] for r in rs])
            hz = [_ms([r["hoyer"][k] for r in rs]) for k in range(len(rs[0]["hoyer"]))]
            ep = statistics.median(r["median_epoch_s"] for r in rs)
            summary[f"{m}_{rev}"] = {"accuracy": acc, "hoyer": hz, "median_epoch_s": ep}
            print(f"| {m} | {rev} | {acc[0]:.4f} ± {acc[1]:.4f} | "
                  + " | ".join(f"{h[0]:.3f} ± {h[1]:.3f}" for h in hz) + f" | {ep:.3f} |")
    res["summary"] = summary
    write_json(OUT / "bench_ff_equivalence.json", res)
    return 0


if __name__ == "__main__":
    sys.exit(main())
