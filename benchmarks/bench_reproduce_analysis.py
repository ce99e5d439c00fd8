"""Analysis stage of ``ensembles reproduce``: the finished runs' statistics computed in one process vs several.

Takes a reproduction directory whose runs have finished (default ``results/reproduce/mnist-5k``, written by
``ensembles reproduce``) and analyses it twice from scratch, side by side in one call: once with ``n_jobs=1`` (the
runs one after another in this process, as before) and once with ``n_jobs=N`` (default: one worker process per
usable core). Each side gets a fresh output directory whose ``sweeps`` is a link to the original's, so nothing in
the original is read from its statistics cache or overwritten. Reports wall seconds of each side, their ratio, and
whether the two ``tables/statistics.csv`` and ``tables/claims.csv`` are byte-identical (they must be: each run's
statistics depend only on that run).

    python benchmarks/bench_reproduce_analysis.py [RESULTS_DIR] [--dataset mnist-5k] [--jobs N]

Writes ``benchmarks/out/bench_reproduce_analysis.json``.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

from _common import REPO, write_json

OUT = Path(__file__).resolve().parent / "out"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("results", nargs="?", default=str(REPO / "results" / "reproduce" / "mnist-5k"))
    ap.add_argument("--dataset", default="mnist-5k")
    ap.add_argument("--jobs", type=int, default=None, help="worker processes of the parallel side (default: cores)")
    args = ap.parse_args()
    sys.path.insert(0, str(REPO / "src"))
    from ensembles.reproduction.workflow import analyze_reproduction
    from ensembles.train.device import usable_cpus

    src = Path(args.results).resolve()
    if not (src / "sweeps").is_dir():
        raise SystemExit(f"{src} has no sweeps/ directory: run `ensembles reproduce` into it first.")
    jobs = args.jobs or usable_cpus()
    res: dict = {"results": str(src), "dataset": args.dataset, "jobs": jobs, "load_before": os.getloadavg()[0]}
    with tempfile.TemporaryDirectory(prefix="bench_repro_an_") as tmp:
        outs = {}
        for name, n in (("serial", 1), ("parallel", jobs)):
            out = Path(tmp) / name
            out.mkdir()
            (out / "sweeps").symlink_to(src / "sweeps", target_is_directory=True)
            t = time.perf_counter()
            meta = analyze_reproduction(out, args.dataset, echo=lambda m: None, n_jobs=n)["meta"]
            res[f"{name}_s"] = round(time.perf_counter() - t, 2)
            res["n_runs"] = meta["n_runs"]
            outs[name] = out
        res["speedup"] = round(res["serial_s"] / res["parallel_s"], 2)
        for table in ("statistics.csv", "claims.csv"):
            a, b = ((outs[k] / "tables" / table).read_bytes() for k in ("serial", "parallel"))
            res[f"identical_{table.split('.')[0]}"] = a == b
    res["load_after"] = os.getloadavg()[0]
    write_json(OUT / "bench_reproduce_analysis.json", res)
    print(f"{res['n_runs']} runs: serial {res['serial_s']} s, {jobs} processes {res['parallel_s']} s "
          f"({res['speedup']}x); statistics identical: {res['identical_statistics']}, claims identical: "
          f"{res['identical_claims']}; load {res['load_before']:.1f} -> {res['load_after']:.1f}")
    return 0 if res["identical_statistics"] and res["identical_claims"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
