"""Benchmark of the sparseness and selectivity statistics.

(a) in memory: every statistic of a 10,000 x 3,000 float32 recording (target < 10 s on 2 cores);
(b) on disk: a recording of ``--gb`` GB written chunk-wise with h5py, analysed through dask-backed DataArrays in a
    separate process whose peak resident memory is reported (target < 2 GB at 16 GB).

Usage::

    python benchmarks/bench_analysis.py                 # (a) and (b) at 1 GB
    python benchmarks/bench_analysis.py --gb 4 --skip-a
    python benchmarks/bench_analysis.py --gb 16 --dir /big/tmp

Prints a table and writes JSON to ``benchmarks/out/bench_analysis*.json``.  The on-disk file is deleted afterwards.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from _common import run_worker, serve_worker, write_json

OUT = Path(__file__).parent / "out"
N_NEUROIDS = 3000
N_CLASSES = 10


def synthetic_block(rng, rows, n_neuroids=N_NEUROIDS, labels=None):
    """ReLU-like responses with class tuning: ~30 % of entries active."""
    x = rng.standard_normal((rows, n_neuroids), dtype=np.float32) - 0.5
    if labels is not None:
        pref = np.arange(n_neuroids) % N_CLASSES
        x += 1.5 * (labels[:, None] == pref[None, :])
    return np.maximum(x, 0.0, out=x)


def bench_in_memory(n_presentations, n_shuffles, n_bins):
    import xarray as xr

    from ensembles.analysis import selectivity as sel
    from ensembles.analysis import sparsity as sp

    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(N_CLASSES), n_presentations // N_CLASSES)
    x = synthetic_block(rng, n_presentations, labels=labels)
    da = xr.DataArray(x, dims=("presentation", "neuroid"), coords={"label": ("presentation", labels)})
    kw = {"n_shuffles": n_shuffles, "random_state": 0}
    jobs = []
    for m in ("vinje-gallant", "treves-rolls", "hoyer", "gini", "kurtosis", "kurtosis-moment"):
        jobs.append((f"population {m}", lambda m=m: sp.population_sparseness(da, m)))
        jobs.append((f"lifetime {m}", lambda m=m: sp.lifetime_sparseness(da, m)))
    jobs += [
        ("fraction_active >0", lambda: sp.fraction_active(da)),
        ("fraction_active 1/2 max", lambda: sp.fraction_active(da, mode="fraction_of_max")),
        ("image_selectivity (class means)",
         lambda: (lambda cm: sp.image_selectivity(cm, dim=cm.dims[0]))(sel.class_means(da))),  # dim: the classes
        ("class_means", lambda: sel.class_means(da)),
        (f"csi ({n_shuffles} shuffles)", lambda: sel.class_selectivity_index(da, **kw)),
        (f"dprime ({n_shuffles} shuffles)", lambda: sel.dprime(da, **kw)),
        ("anova", lambda: sel.anova(da)),
        (f"tuning_sparseness ({n_shuffles} shuffles)", lambda: sel.tuning_sparseness(da, **kw)),
        ("n_driven_classes welch", lambda: sel.n_driven_classes(da)),
        (f"mutual_information ({n_bins} bins, {n_shuffles} shuffles)",
         lambda: sel.mutual_information(da, n_bins=n_bins, **kw)),
    ]  # fmt: skip
    rows = []
    total = 0.0
    for name, f in jobs:
        t = time.perf_counter()
        f()
        dt = time.perf_counter() - t
        total += dt
        rows.append({"statistic": name, "seconds": round(dt, 3)})
    return {
        "shape": [n_presentations, N_NEUROIDS],
        "dtype": "float32",
        "n_shuffles": n_shuffles,
        "n_bins": n_bins,
        "total_seconds": round(total, 3),
        "rows": rows,
        "cpu_count": os.cpu_count(),
    }


def write_file(path, gb, chunk_rows):
    import h5py

    n = int(gb * 1e9 / (4 * N_NEUROIDS))
    n -= n % N_CLASSES
    rng = np.random.default_rng(1)
    labels = np.tile(np.arange(N_CLASSES), n // N_CLASSES)
    t = time.perf_counter()
    with h5py.File(path, "w") as f:
        d = f.create_dataset("activity", shape=(n, N_NEUROIDS), dtype="f4", chunks=(min(chunk_rows, n), N_NEUROIDS))
        for r0 in range(0, n, chunk_rows):
            r1 = min(n, r0 + chunk_rows)
            d[r0:r1] = synthetic_block(rng, r1 - r0, labels=labels[r0:r1])
        f.create_dataset("label", data=labels)
    return n, time.perf_counter() - t


def analyze_file(path, chunk_rows):
    """Runs in a child process: statistics over a dask-backed DataArray; reports throughput and peak RSS."""
    import dask
    import dask.array as dka
    import h5py
    import xarray as xr

    from ensembles.analysis import selectivity as sel
    from ensembles.analysis import sparsity as sp

    dask.config.set(scheduler="threads", num_workers=2)
    f = h5py.File(path, "r")
    d = f["activity"]
    labels = f["label"][:]
    arr = dka.from_array(d, chunks=(chunk_rows, N_NEUROIDS))
    da = xr.DataArray(arr, dims=("presentation", "neuroid"), coords={"label": ("presentation", labels)})
    nbytes = d.size * 4
    jobs = [
        ("population hoyer", lambda: sp.population_sparseness(da, "hoyer")),
        ("population gini", lambda: sp.population_sparseness(da, "gini")),
        ("lifetime vinje-gallant", lambda: sp.lifetime_sparseness(da, "vinje-gallant")),
        ("lifetime kurtosis (2 passes)", lambda: sp.lifetime_sparseness(da, "kurtosis")),
        ("fraction_active", lambda: sp.fraction_active(da)),
        ("class_means", lambda: sel.class_means(da)),
        ("anova", lambda: sel.anova(da)),
        ("csi (no shuffles)", lambda: sel.class_selectivity_index(da, n_shuffles=0)),
        ("n_driven_classes welch", lambda: sel.n_driven_classes(da)),
    ]
    rows = []
    for name, job in jobs:
        t = time.perf_counter()
        job()
        dt = time.perf_counter() - t
        rows.append({"statistic": name, "seconds": round(dt, 2), "GB_per_s": round(nbytes / 1e9 / dt, 3)})
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2  # KiB -> GiB on Linux
    return {"rows": rows, "peak_rss_GiB": round(peak, 3), "bytes": int(nbytes)}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--gb", type=float, default=1.0, help="size of the on-disk recording (default 1)")
    p.add_argument("--dir", default=None, help="where to write the on-disk recording (default: a temp dir)")
    p.add_argument("--n-presentations", type=int, default=10_000)
    p.add_argument("--n-shuffles", type=int, default=100)
    p.add_argument("--n-bins", type=int, default=8)
    p.add_argument("--chunk-rows", type=int, default=4096)
    p.add_argument("--skip-a", action="store_true")
    p.add_argument("--skip-b", action="store_true")
    p.add_argument("--_analyze", default=None, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if serve_worker(args, lambda a: analyze_file(a._analyze, a.chunk_rows), flag="_analyze"):
        return 0
    OUT.mkdir(parents=True, exist_ok=True)
    result = {}
    if not args.skip_a:
        a = bench_in_memory(args.n_presentations, args.n_shuffles, args.n_bins)
        result["in_memory"] = a
        print(f"(a) {a['shape'][0]} x {a['shape'][1]} float32, {a['n_shuffles']} shuffles")
        for r in a["rows"]:
            print(f"  {r['statistic']:<48s} {r['seconds']:8.3f} s")
        print(f"  {'TOTAL':<48s} {a['total_seconds']:8.3f} s")
    if not args.skip_b:
        tmp = tempfile.mkdtemp(dir=args.dir)
        path = os.path.join(tmp, "bench_recording.h5")
        try:
            n, wt = write_file(path, args.gb, args.chunk_rows)
            b = run_worker([sys.executable, __file__, "--_analyze", path, "--chunk-rows", str(args.chunk_rows)],
                           "the on-disk analysis")
            b.update({"gb": args.gb, "shape": [n, N_NEUROIDS], "write_seconds": round(wt, 2),
                      "chunk_rows": args.chunk_rows})  # fmt: skip
            result["on_disk"] = b
            print(f"(b) on disk {b['bytes'] / 1e9:.2f} GB ({n} x {N_NEUROIDS} float32), written in {wt:.1f} s")
            for r in b["rows"]:
                print(f"  {r['statistic']:<48s} {r['seconds']:8.2f} s  {r['GB_per_s']:6.3f} GB/s")
            print(f"  peak RSS of the analysis process: {b['peak_rss_GiB']:.3f} GiB")
        finally:
            if os.path.exists(path):
                os.remove(path)
            os.rmdir(tmp)
    tag = f"_{args.gb:g}gb" if not args.skip_b else ""
    write_json(OUT / f"bench_analysis{tag}.json", result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
