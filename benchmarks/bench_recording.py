"""Benchmark of the recording format: streaming a large recording, save/load of an in-memory one.

Each workload runs in its own subprocess so that its peak resident memory (``ru_maxrss``) is its own:

* ``stream``  -- RecordingWriter appends ``--gb`` GB of float32 activity (rectified Gaussian, ~half zeros, like
  post-ReLU activity), ``--neuroids`` wide, in batches of ``--batch`` presentations;
* ``lazy``    -- load_recording(path, chunks=...) of the streamed file and a per-neuroid mean over all
  presentations with dask (an analysis of a file larger than we want in memory);
* ``save``/``load`` -- save_recording / load_recording of an in-memory recording of ``--inmemory-mb`` MB.

Usage::

    python benchmarks/bench_recording.py --gb 2            # the README figure (170,000 x 3,000 float32)
    python benchmarks/bench_recording.py --gb 0.1          # quick check

Prints a table and writes ``benchmarks/out/bench_recording.json``.  Big files are deleted unless ``--keep``.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

from _common import run_worker, serve_worker, write_json

HERE = Path(__file__).resolve().parent


def _rss_mb() -> float:
    """Peak resident set size of this process so far, MiB (Linux reports ru_maxrss in KiB)."""
    r = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return r / 1024 if sys.platform != "darwin" else r / 2**20


def _current_rss_mb() -> float:
    try:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except OSError:  # pragma: no cover - not Linux
        return float("nan")


def _coords(n: int):
    import numpy as np

    label = np.arange(n, dtype=np.int64) % 10
    return {
        "stimulus_id": np.char.add("bench/test/", np.char.zfill(np.arange(n).astype(str), 6)),
        "label": label,
        "label_name": np.char.add("class", label.astype(str)),
        "split": np.full(n, "test"),
    }


ATTRS = {"model": "ff", "dataset": "bench", "seed": 0, "config": {"benchmark": True}, "site": "post-relu"}


def _layer_sizes(m: int) -> list[int]:
    return [m // 3, m // 3, m - 2 * (m // 3)]


def child_stream(args) -> dict:
    import numpy as np

    from ensembles.record import RecordingWriter

    n, m, batch = args.n, args.neuroids, args.batch
    rng = np.random.default_rng(0)
    base_rss = _current_rss_mb()
    t_append = 0.0
    t0 = time.perf_counter()
    with RecordingWriter(args.path, presentation=_coords(n), layer_sizes=_layer_sizes(m), attrs=ATTRS,
                         compression_level=args.complevel) as w:
        t_setup = time.perf_counter() - t0
        buf = np.empty((batch, m), dtype=np.float32)
        for start in range(0, n, batch):
            b = min(batch, n - start)
            rng.standard_normal(out=buf[:b], dtype=np.float32)
            np.maximum(buf[:b], 0, out=buf[:b])
            ta = time.perf_counter()
            w.append(buf[:b])
            t_append += time.perf_counter() - ta
        w.set_presentation_coord("predicted", np.arange(n, dtype=np.int64) % 10)
        tc = time.perf_counter()
    t_close = time.perf_counter() - tc  # completeness check, coords, fsync, SHA-256, rename
    total = time.perf_counter() - t0
    return {
        "workload": "stream (RecordingWriter)",
        "data_bytes": n * m * 4,
        "file_bytes": os.path.getsize(args.path),
        "seconds": total,
        "seconds_append": t_append,
        "seconds_setup": t_setup,
        "seconds_close": t_close,
        "throughput_mb_s": n * m * 4 / 1e6 / total,
        "append_throughput_mb_s": n * m * 4 / 1e6 / t_append,
        "rss_after_imports_mb": base_rss,
        "peak_rss_mb": _rss_mb(),
    }


def child_lazy(args) -> dict:
    from ensembles.record import load_recording

    base_rss = _current_rss_mb()
    t0 = time.perf_counter()
    rec = load_recording(args.path, chunks={"presentation": args.lazy_chunk})
    t_open = time.perf_counter() - t0
    mean = rec["activity"].mean("presentation").compute()
    total = time.perf_counter() - t0
    assert mean.sizes["neuroid"] == args.neuroids
    rec.close()
    return {
        "workload": f"lazy load + mean (chunks={args.lazy_chunk})",
        "data_bytes": args.n * args.neuroids * 4,
        "file_bytes": os.path.getsize(args.path),
        "seconds": total,
        "seconds_open_validate": t_open,
        "throughput_mb_s": args.n * args.neuroids * 4 / 1e6 / total,
        "rss_after_imports_mb": base_rss,
        "peak_rss_mb": _rss_mb(),
        "mean_activity": float(mean.mean()),
    }


def child_inmemory(args) -> list[dict]:
    import numpy as np
    import xarray as xr

    from ensembles.record import load_recording, make_recording, save_recording

    n, m = args.n, args.neuroids
    rng = np.random.default_rng(1)
    act = np.maximum(rng.standard_normal((n, m), dtype=np.float32), 0)
    rec = make_recording(act, presentation=_coords(n), layer_sizes=_layer_sizes(m), attrs=ATTRS)
    base_rss = _current_rss_mb()
    t0 = time.perf_counter()
    save_recording(rec, args.path, compression_level=args.complevel)
    t_save = time.perf_counter() - t0
    t0 = time.perf_counter()
    loaded = load_recording(args.path)
    t_load = time.perf_counter() - t0
    xr.testing.assert_identical(loaded, rec)
    size = os.path.getsize(args.path)
    nbytes = n * m * 4
    return [
        {"workload": "save_recording (in memory)", "data_bytes": nbytes, "file_bytes": size, "seconds": t_save,
         "throughput_mb_s": nbytes / 1e6 / t_save, "rss_after_imports_mb": base_rss, "peak_rss_mb": None},
        {"workload": "load_recording (in memory)", "data_bytes": nbytes, "file_bytes": size, "seconds": t_load,
         "throughput_mb_s": nbytes / 1e6 / t_load, "rss_after_imports_mb": base_rss, "peak_rss_mb": _rss_mb()},
    ]


def _run_child(kind: str, extra: list[str]) -> dict | list:
    return run_worker([sys.executable, __file__, "--child", kind, *extra], f"benchmark child {kind!r}")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--gb", type=float, default=2.0, help="size of the streamed recording in GB (1e9 bytes); default 2")
    p.add_argument("--neuroids", type=int, default=3000, help="neuroids (3 layers); default 3000")
    p.add_argument("--batch", type=int, default=1000, help="presentations per append; default 1000")
    p.add_argument("--complevel", type=int, default=1, help="zlib level; default 1 (the package default)")
    p.add_argument("--inmemory-mb", type=float, default=200.0, help="size of the in-memory recording, MB; default 200")
    p.add_argument("--lazy-chunk", type=int, default=10000, help="presentations per dask chunk for the lazy pass")
    p.add_argument("--dir", default=None, help="where to write the files (default: a temp dir)")
    p.add_argument("--out", default=str(HERE / "out" / "bench_recording.json"), help="JSON output")
    p.add_argument("--keep", action="store_true", help="keep the recording files")
    # internal
    p.add_argument("--child", choices=["stream", "lazy", "inmemory"], help=argparse.SUPPRESS)
    p.add_argument("--path", help=argparse.SUPPRESS)
    p.add_argument("--n", type=int, help=argparse.SUPPRESS)
    args = p.parse_args(argv)

    if serve_worker(args, {"stream": child_stream, "lazy": child_lazy, "inmemory": child_inmemory}, flag="child"):
        return 0

    workdir = Path(args.dir) if args.dir else Path(tempfile.mkdtemp(prefix="ensembles-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    m = args.neuroids
    n_stream = max(1, int(round(args.gb * 1e9 / (4 * m))))
    n_mem = max(1, int(round(args.inmemory_mb * 1e6 / (4 * m))))
    big = workdir / "stream.h5"
    small = workdir / "inmemory.h5"
    common = ["--neuroids", str(m), "--batch", str(args.batch), "--complevel", str(args.complevel),
              "--lazy-chunk", str(args.lazy_chunk)]
    rows: list[dict] = []
    try:
        rows.append(_run_child("stream", [*common, "--path", str(big), "--n", str(n_stream)]))
        rows.append(_run_child("lazy", [*common, "--path", str(big), "--n", str(n_stream)]))
        rows.extend(_run_child("inmemory", [*common, "--path", str(small), "--n", str(n_mem)]))
    finally:
        if not args.keep:
            for f in (big, small):
                if f.exists():
                    f.unlink()
            if not args.dir:
                shutil.rmtree(workdir, ignore_errors=True)

    print(f"recording benchmark: {m} neuroids, batch {args.batch}, zlib level {args.complevel}, "
          f"{os.cpu_count()} CPUs, {platform.python_implementation()} {platform.python_version()}")
    header = f"{'workload':<38} {'data MB':>9} {'file MB':>9} {'s':>8} {'MB/s':>8} {'RSS0 MB':>8} {'peak RSS MB':>12}"
    print(header)
    print("-" * len(header))
    for r in rows:
        peak = f"{r['peak_rss_mb']:.0f}" if r.get("peak_rss_mb") is not None else "-"
        print(f"{r['workload']:<38} {r['data_bytes'] / 1e6:>9.0f} {r['file_bytes'] / 1e6:>9.0f} {r['seconds']:>8.1f} "
              f"{r['throughput_mb_s']:>8.1f} {r['rss_after_imports_mb']:>8.0f} {peak:>12}")
    payload = {
        "benchmark": "bench_recording",
        "settings": {"gb": args.gb, "neuroids": m, "presentations_stream": n_stream, "presentations_inmemory": n_mem,
                     "batch": args.batch, "complevel": args.complevel, "lazy_chunk": args.lazy_chunk},
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
        "results": rows,
    }
    write_json(args.out, payload, indent=2)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
