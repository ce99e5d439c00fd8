"""Sweep overhead: a 12-run sweep (3 rules x 4 seeds, digits, quick scale) on the local Dask cluster vs the same
runs one after another in one process.

* sequential: ``ensembles.train.train_run`` of each resolved config in turn, in one process, with
  ``--seq-threads`` torch threads (default 1, the same per-run setting as the sweep's workers, so that the ratio
  measures what the sweep machinery buys: running runs side by side; on a shared, loaded machine more threads per
  run mostly add contention: with 2 threads on our loaded 2-core box, 3 quick runs took 215 s vs 75 s for the sweep);
* sweep: ``ensembles.sweep.run_sweep(..., scheduler="local")``: a LocalCluster sized to the machine (one
  single-threaded worker per core), timed from the call (cluster start-up, worker imports, the combined summary at
  the end included) to its return.

Each side runs in its own subprocess on a fresh output directory.  Throughput ratio = sequential wall time / sweep
wall time (target >= 1.6x on 2 cores).  Writes ``benchmarks/out/bench_sweep.json`` and prints a table.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
OUT = HERE / "out"


def sweep_dict(seeds: int, dataset: str, scale: str) -> dict:
    return {"sweep": {"name": "bench", "scale": scale, "retries": 0}, "base": {"dataset": dataset},
            "grid": {"model": ["ff", "bp_ff", "bp"], "seed": list(range(seeds))}}


def run_sequential(args) -> dict:
    import torch

    from ensembles.sweep import expand_sweep, parse_sweep
    from ensembles.train import make_config, train_run

    torch.set_num_threads(args.seq_threads)
    runs = expand_sweep(parse_sweep(sweep_dict(args.seeds, args.dataset, args.scale)), make_config=make_config)
    per_run = []
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        for r in runs:
            t1 = time.perf_counter()
            train_run(r.config, Path(tmp) / r.dirname, progress=False)
            per_run.append({"name": r.name, "s": time.perf_counter() - t1})
        wall = time.perf_counter() - t0
    return {"mode": f"sequential (1 process, {args.seq_threads} torch thread(s))", "wall_s": wall, "n_runs": len(runs),
            "per_run": per_run}


def run_dask(args) -> dict:
    from ensembles.sweep import run_sweep

    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        res = run_sweep(sweep_dict(args.seeds, args.dataset, args.scale), Path(tmp) / "sweep", scheduler="local",
                        progress=False, echo=lambda m: None)
        wall = time.perf_counter() - t0
        assert res.ok and len(res.done) == len(res.runs), res.failed
    return {"mode": "ensembles sweep, local cluster", "wall_s": wall, "n_runs": len(res.runs),
            "combined": sorted(res.combined)}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--seeds", type=int, default=4, help="seeds per rule (3 rules): 4 gives 12 runs")
    p.add_argument("--dataset", default="digits")
    p.add_argument("--scale", default="quick")
    p.add_argument("--seq-threads", type=int, default=1, help="torch threads of the sequential run")
    p.add_argument("--worker", choices=("sequential", "sweep"), help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.worker:
        res = run_sequential(args) if args.worker == "sequential" else run_dask(args)
        print(json.dumps(res))
        return 0
    rows = {}
    for mode in ("sequential", "sweep"):
        cmd = [sys.executable, __file__, "--worker", mode, "--seeds", str(args.seeds), "--dataset", args.dataset,
               "--scale", args.scale, "--seq-threads", str(args.seq_threads)]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            raise SystemExit(f"{mode} failed:\n{proc.stdout}\n{proc.stderr}")
        rows[mode] = json.loads(proc.stdout.strip().splitlines()[-1])
    ratio = rows["sequential"]["wall_s"] / rows["sweep"]["wall_s"]
    n = rows["sweep"]["n_runs"]
    result = {"benchmark": "sweep", "n_runs": n, "dataset": args.dataset, "scale": args.scale,
              "cores": os.cpu_count(), "rows": rows, "throughput_ratio": ratio, "target": ">= 1.6"}
    OUT.mkdir(exist_ok=True)
    (OUT / "bench_sweep.json").write_text(json.dumps(result, indent=1))
    print(f"{n}-run sweep ({args.dataset}, {args.scale} scale), {os.cpu_count()} cores")
    print("| mode | wall s | runs/min |")
    print("|---|---|---|")
    for r in rows.values():
        print(f"| {r['mode']} | {r['wall_s']:.1f} | {60 * r['n_runs'] / r['wall_s']:.1f} |")
    print(f"throughput sweep / sequential: {ratio:.2f}x (target >= 1.6x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
