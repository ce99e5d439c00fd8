"""Thread arrangements for several training runs on a few cores: parallel single-thread runs vs multi-thread runs in
sequence, and the cost of oversubscription (every process taking all cores).

Each run is one FF training (``ensembles.train.train_run``, paper preset, cpu profile, ``--epochs`` per layer,
recording off) in its own process, with ``train.threads`` and ``OMP_NUM_THREADS``/``MKL_NUM_THREADS`` set to the
arrangement's thread count.  With C cores (default: the CPUs this process may use) and C runs:

* ``parallel_1thread``: C processes at once, 1 thread each (the sweep's local cluster);
* ``sequential_Cthreads``: the C runs one after the other, C threads each;
* ``oversubscribed``: C processes at once, C threads each (what several torch processes with default settings do);
* ``oversubscribed_passive``: the same with ``OMP_WAIT_POLICY=PASSIVE`` (idle OpenMP threads sleep instead of
  spinning);
* ``sequential_Cthreads_passive``: the sequential arrangement with ``OMP_WAIT_POLICY=PASSIVE``.

Reported: wall time of the whole batch of runs (median over ``--repeats``, arrangements alternated within each
repeat), the median FF epoch time inside the runs, and each arrangement's wall time relative to
``parallel_1thread``.  The machine's load average is printed: on a shared machine other processes take cores too.

Usage::

    python benchmarks/bench_threads.py [--epochs 3] [--repeats 3] [--cores 2]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import thread_env, write_json

HERE = Path(__file__).resolve().parent
OUT = HERE / "out"

RUN = """
import json, sys
from ensembles.train import make_config, train_run
threads, epochs, seed, out = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
cfg = make_config("ff", "mnist-5k", preset="paper", scale="cpu", seed=seed,
                  **{"train.epochs": epochs, "record.enabled": False, "train.threads": threads,
                     "train.checkpoint_every": 3 * epochs})
train_run(cfg, out, progress=False)
hist = json.load(open(out + "/history.json"))
print(json.dumps([h["epoch_time_s"] for h in hist]))
"""


def batch(n_runs: int, threads: int, parallel: bool, epochs: int, tmp: str, extra_env: dict | None = None) -> dict:
    env = thread_env(threads, **(extra_env or {}))
    cmds = [[sys.executable, "-c", RUN, str(threads), str(epochs), str(i), tempfile.mkdtemp(dir=tmp)]
            for i in range(n_runs)]
    t = time.perf_counter()
    outs = []
    if parallel:
        procs = [subprocess.Popen(c, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env) for c in cmds]
        for p in procs:
            o, e = p.communicate()
            if p.returncode:
                raise SystemExit(e)
            outs.append(o)
    else:
        for c in cmds:
            p = subprocess.run(c, capture_output=True, text=True, env=env)
            if p.returncode:
                raise SystemExit(p.stderr)
            outs.append(p.stdout)
    wall = time.perf_counter() - t
    epochs_s = [e for o in outs for e in json.loads(o.strip().splitlines()[-1])]
    return {"wall_s": wall, "median_epoch_s": statistics.median(epochs_s)}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--epochs", type=int, default=3, help="epochs per layer of each FF run")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--cores", type=int, default=len(os.sched_getaffinity(0)))
    args = ap.parse_args(argv)
    c = args.cores
    arrangements = {
        "parallel_1thread": dict(threads=1, parallel=True),
        f"sequential_{c}threads": dict(threads=c, parallel=False),
        "oversubscribed": dict(threads=c, parallel=True),
        "oversubscribed_passive": dict(threads=c, parallel=True, extra_env={"OMP_WAIT_POLICY": "PASSIVE"}),
        f"sequential_{c}threads_passive": dict(threads=c, parallel=False, extra_env={"OMP_WAIT_POLICY": "PASSIVE"}),
    }
    res = {name: [] for name in arrangements}
    load0 = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="bench_threads_") as tmp:
        for _ in range(args.repeats):
            for name, kw in arrangements.items():
                res[name].append(batch(c, epochs=args.epochs, tmp=tmp, **kw))
    load1 = os.getloadavg()
    summary = {}
    for name, rs in res.items():
        summary[name] = {"wall_s": statistics.median(r["wall_s"] for r in rs),
                         "median_epoch_s": statistics.median(r["median_epoch_s"] for r in rs)}
    base = summary["parallel_1thread"]["wall_s"]
    for s in summary.values():
        s["wall_vs_parallel_1thread"] = s["wall_s"] / base
    print(f"{c} FF runs (mnist-5k, {args.epochs} epochs/layer) on {c} cores, {args.repeats} repeats (medians); "
          f"load {load0[0]:.1f} -> {load1[0]:.1f}")
    print("| arrangement | wall s (all runs) | FF epoch s (median) | wall / parallel 1-thread |")
    print("|---|---|---|---|")
    for name, s in summary.items():
        print(f"| {name} | {s['wall_s']:.1f} | {s['median_epoch_s']:.3f} | {s['wall_vs_parallel_1thread']:.2f} |")
    write_json(OUT / "bench_threads.json", {"cores": c, "epochs": args.epochs, "repeats": args.repeats,
                                            "loadavg_start": load0, "loadavg_end": load1, "summary": summary,
                                            "raw": res})
    return 0


if __name__ == "__main__":
    sys.exit(main())
