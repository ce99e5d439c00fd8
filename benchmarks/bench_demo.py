"""Benchmark of the main job: the full ``ensembles demo`` (cpu scale, mnist-5k by default), stage by stage.

Runs the demo from scratch (``--force``) into benchmarks/out/demo, prints a table of stage timings and the
headline numbers of the report, and writes benchmarks/out/bench_demo.json.  Takes minutes; run it by hand:

    python benchmarks/bench_demo.py [--dataset mnist-5k] [--scale cpu]
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from pathlib import Path

from _common import write_json

OUT = Path(__file__).resolve().parent / "out"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--dataset", default="mnist-5k")
    ap.add_argument("--scale", default="cpu")
    ap.add_argument("--out", default=str(OUT / "demo"))
    a = ap.parse_args()
    from ensembles.pipeline import summary_text
    from ensembles.report.demo import run_demo

    t0 = time.perf_counter()
    res = run_demo(a.dataset, a.scale, a.out, force=True, progress=True)
    wall = time.perf_counter() - t0
    man = res["manifest"]
    stages = dict(res["timings_s"])
    print(f"\nensembles demo --dataset {a.dataset} --scale {a.scale}: {wall:.1f} s wall "
          f"({os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at the end)")
    print(f"{'stage':<34}{'seconds':>10}")
    for k, v in stages.items():
        print(f"{k:<34}{v:>10.1f}")
    print("analysis sub-steps:")
    for k, v in man.get("timings_s", {}).items():
        print(f"  {k:<32}{v:>10.1f}")
    print("\n" + summary_text(a.out))
    rec = {"dataset": a.dataset, "scale": a.scale, "wall_s": round(wall, 2), "stages_s": stages,
           "analysis_s": man.get("timings_s", {}), "headline": man.get("headline", []),
           "cpus": os.cpu_count(), "loadavg_end": os.getloadavg(), "platform": platform.platform()}
    print()
    write_json(OUT / "bench_demo.json", rec, default=str)


if __name__ == "__main__":
    main()
