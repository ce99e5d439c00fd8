"""Load times of the locally available datasets (first load = verify + parse; repeat = in-memory cache).

A repeat load skips verification and parsing but still builds a new float32 ``x``; its time is then dominated by
first-touch page faults of the new array ("repeat s", first result still held) unless the memory of a freed
result is reused ("freed s").

Usage: python benchmarks/bench_datasets.py   -> prints a table, writes benchmarks/out/datasets.json
"""

from __future__ import annotations

import os
import platform
import time

from _common import write_json

from ensembles.data import DatasetNotFoundError, list_datasets, load_dataset


def main() -> None:
    rows = []
    for info in list_datasets():
        if not info.available:
            continue
        for split in ("train", "test"):
            t0 = time.perf_counter()
            try:
                ds = load_dataset(info.name, split, download=False)
            except DatasetNotFoundError:
                continue
            first = time.perf_counter() - t0
            t0 = time.perf_counter()
            ds2 = load_dataset(info.name, split, download=False)  # the first result is still held
            again = time.perf_counter() - t0
            del ds2
            t0 = time.perf_counter()
            load_dataset(info.name, split, download=False)  # memory of a freed result can be reused
            again_freed = time.perf_counter() - t0
            rows.append({"dataset": info.name, "split": split, "n": len(ds), "d": ds.x.shape[1],
                         "first_s": round(first, 3), "repeat_s": round(again, 3),
                         "repeat_after_free_s": round(again_freed, 3),
                         "x_mb": round(ds.x.nbytes / 2**20, 1)})
    print(f"{'dataset':<14} {'split':<6} {'n':>7} {'d':>5} {'first s':>8} {'repeat s':>9} {'freed s':>8} {'x MiB':>7}")
    for r in rows:
        print(f"{r['dataset']:<14} {r['split']:<6} {r['n']:>7} {r['d']:>5} {r['first_s']:>8.3f} "
              f"{r['repeat_s']:>9.3f} {r['repeat_after_free_s']:>8.3f} {r['x_mb']:>7.1f}")
    write_json(os.path.join(os.path.dirname(__file__), "out", "datasets.json"),
               {"machine": platform.platform(), "cpus": os.cpu_count(), "rows": rows}, indent=2)


if __name__ == "__main__":
    main()
