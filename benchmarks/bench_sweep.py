"""Sweep overhead: a 12-run sweep (3 rules x 4 seeds, digits, quick scale) on the local Dask cluster vs the same
runs one after another in one process.

* sequential: ``ensembles.train.train_run`` of each resolved config in turn, in one process, with
  ``--seq-threads`` torch threads (default 1, the same per-run setting as the sweep's workers, so that the ratio
  measures what the sweep machinery buys: running runs side by side; on a shared, loaded machine more threads per
  run mostly add contention: with 2 threads on our loaded 2-core box, 3 quick runs took 215 s vs 75 s for the sweep);
* sweep: ``ensembles.sweep.run_sweep`` on the LocalCluster that ``--scheduler local`` starts (one single-threaded
  worker per core), timed from the cluster start (worker processes and their imports included) to its shutdown;
  the phases (start-up, runs, shutdown) are reported separately, and so is the combined summary that
  ``ensembles sweep`` writes at the end (the sequential loop writes none, so it is not in the ratio).

The sequential side's imports happen before its clock starts; the sweep's worker imports are inside its clock
(a third ratio puts the sequential process's imports of torch and ensembles.train on its clock as well).
CPU seconds (user + system, this process and its reaped children) divided by wall seconds gives the average number
of cores each side actually got: on a shared machine whose cores are busy with other work, a parallel sweep cannot
get the 2 cores it asks for, and the ratio says so.

"CPU s in the runs" sums each run's own CPU time (sequential: ``time.process_time`` around ``train_run``; sweep: the
``cpu_seconds`` that each worker writes in the run's ``status.json``).  The two should agree within the workers'
event-loop overhead plus each worker's first-run warm-up (lazy imports of torch._dynamo, h5py, ...), which the
sequential loop pays once and a sweep once per worker.  With glibc's malloc trim threshold set in the workers they differed by ~2x: Dask's
nanny set ``MALLOC_TRIM_THRESHOLD_=65536`` in the workers, which disables glibc's dynamic mmap threshold, so every
batch-sized tensor was a fresh mmap with page faults (see ``ensembles.sweep.cluster.LOCAL_WORKER_CONFIG``).

Each side runs in its own subprocess on a fresh output directory.  Throughput ratio = sequential wall time / sweep
wall time (target >= 1.6x on 2 cores).  Writes ``benchmarks/out/bench_sweep.json`` and prints a table.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

from _common import run_worker, serve_worker, write_json

HERE = Path(__file__).resolve().parent
OUT = HERE / "out"


def sweep_dict(seeds: int, dataset: str, scale: str) -> dict:
    return {"sweep": {"name": "bench", "scale": scale, "retries": 0}, "base": {"dataset": dataset},
            "grid": {"model": ["ff", "bp_ff", "bp"], "seed": list(range(seeds))}}


def _cpu_s(who=resource.RUSAGE_SELF) -> float:
    r = resource.getrusage(who)
    return r.ru_utime + r.ru_stime


def run_sequential(args) -> dict:
    t_imp = time.perf_counter()
    import torch

    from ensembles.sweep import expand_sweep, parse_sweep
    from ensembles.train import make_config, train_run

    imports_s = time.perf_counter() - t_imp

    torch.set_num_threads(args.seq_threads)
    runs = expand_sweep(parse_sweep(sweep_dict(args.seeds, args.dataset, args.scale)), make_config=make_config)
    per_run = []
    with tempfile.TemporaryDirectory() as tmp:
        t0, c0 = time.perf_counter(), _cpu_s()
        for r in runs:
            t1, c1 = time.perf_counter(), time.process_time()
            train_run(r.config, Path(tmp) / r.dirname, progress=False)
            per_run.append({"name": r.name, "s": time.perf_counter() - t1, "cpu_s": time.process_time() - c1})
        wall, cpu = time.perf_counter() - t0, _cpu_s() - c0
    return {"mode": f"sequential (1 process, {args.seq_threads} torch thread(s))", "wall_s": wall, "n_runs": len(runs),
            "imports_s": imports_s,
            "cpu_s": cpu, "runs_cpu_s": sum(r["cpu_s"] for r in per_run), "per_run": per_run}


def run_dask(args) -> dict:
    from ensembles.sweep import combine_sweep, run_sweep
    from ensembles.sweep.cluster import connect

    spec = sweep_dict(args.seeds, args.dataset, args.scale)
    n_runs = 3 * args.seeds
    with tempfile.TemporaryDirectory() as tmp:
        t0, c0 = time.perf_counter(), _cpu_s() + _cpu_s(resource.RUSAGE_CHILDREN)
        handle = connect("local", {}, n_runs=n_runs)  # exactly what `ensembles sweep` starts
        try:
            handle.client.run(lambda: __import__("ensembles.train"))  # worker imports, in parallel
            t_ready = time.perf_counter()
            res = run_sweep(spec, Path(tmp) / "sweep", client=handle.client, progress=False, combine=False,
                            echo=lambda m: None)
            t_runs = time.perf_counter()
        finally:
            handle.close()
        assert res.ok and len(res.done) == len(res.runs), res.failed
        t_closed = time.perf_counter()
        cpu = _cpu_s() + _cpu_s(resource.RUSAGE_CHILDREN) - c0  # worker processes are reaped at close
        per_run = []
        for r in res.runs:
            st = json.loads((Path(tmp) / "sweep" / "logs" / r.dirname / "status.json").read_text())
            per_run.append({"name": r.name, "s": st["seconds"], "cpu_s": st["cpu_seconds"]})
        combined = combine_sweep(Path(tmp) / "sweep")
        t_comb = time.perf_counter()
    return {"mode": f"ensembles sweep, local cluster ({handle.description})", "wall_s": t_closed - t0, "cpu_s": cpu,
            "n_runs": len(res.runs), "startup_s": t_ready - t0, "runs_s": t_runs - t_ready,
            "shutdown_s": t_closed - t_runs, "combine_s": t_comb - t_closed, "combined": sorted(combined),
            "runs_cpu_s": sum(r["cpu_s"] for r in per_run), "per_run": per_run}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--seeds", type=int, default=4, help="seeds per rule (3 rules): 4 gives 12 runs")
    p.add_argument("--dataset", default="digits")
    p.add_argument("--scale", default="quick")
    p.add_argument("--seq-threads", type=int, default=1, help="torch threads of the sequential run")
    p.add_argument("--worker", choices=("sequential", "sweep"), help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if serve_worker(args, {"sequential": run_sequential, "sweep": run_dask}):
        return 0
    rows = {}
    for mode in ("sequential", "sweep"):
        cmd = [sys.executable, __file__, "--worker", mode, "--seeds", str(args.seeds), "--dataset", args.dataset,
               "--scale", args.scale, "--seq-threads", str(args.seq_threads)]
        rows[mode] = run_worker(cmd, mode)
    sw = rows["sweep"]
    ratio = rows["sequential"]["wall_s"] / sw["wall_s"]
    steady = rows["sequential"]["wall_s"] / sw["runs_s"]
    both_imports = (rows["sequential"]["wall_s"] + rows["sequential"]["imports_s"]) / sw["wall_s"]
    n = sw["n_runs"]
    result = {"benchmark": "sweep", "load_average_1min": os.getloadavg()[0], "n_runs": n, "dataset": args.dataset, "scale": args.scale,
              "cores": os.cpu_count(), "rows": rows,
              "ratios": {"throughput_ratio": ratio, "throughput_ratio_runs_only": steady,
                         "throughput_ratio_imports_on_both_sides": both_imports,
                         "cluster_startup_s": sw["startup_s"], "combine_s": sw["combine_s"]},
              "target": ">= 1.6"}
    write_json(OUT / "bench_sweep.json", result)
    print(f"{n}-run sweep ({args.dataset}, {args.scale} scale), {os.cpu_count()} cores, "
          f"load average {os.getloadavg()[0]:.1f}")
    print("| mode | wall s | runs/min | CPU s | cores busy (CPU s / wall s) | CPU s in the runs |")
    print("|---|---|---|---|---|---|")
    for r in rows.values():
        print(f"| {r['mode']} | {r['wall_s']:.1f} | {60 * r['n_runs'] / r['wall_s']:.1f} | {r['cpu_s']:.1f} "
              f"| {r['cpu_s'] / r['wall_s']:.2f} | {r['runs_cpu_s']:.1f} |")
    print(f"sweep phases: cluster start + worker imports {sw['startup_s']:.1f} s, runs {sw['runs_s']:.1f} s, "
          f"shutdown {sw['shutdown_s']:.1f} s; combined summary (not timed above) {sw['combine_s']:.1f} s")
    print(f"throughput sweep / sequential: {ratio:.2f}x end to end, {steady:.2f}x once the cluster is up, "
          f"{both_imports:.2f}x end to end with the sequential side's imports "
          f"({rows['sequential']['imports_s']:.1f} s) on its clock too (target >= 1.6x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
