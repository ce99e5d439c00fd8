"""Scale benchmark: the analysis layer on a synthetic on-disk recording of 10,000 neuroids x 100,000 presentations.

The recording (:func:`ensembles.data.synthetic.planted_blocks`: graded ReLU-like float32 activity, 10 planted
assemblies of 20-40 neuroids, 10 classes each driving 50 neuroids) is written block by block to an uncompressed,
row-chunked HDF5 file, with an assembly-free population of the same size (independent neuroids, no classes) beside
it.  Every statistic then runs in its own worker process (``OMP_NUM_THREADS`` etc. pinned to ``--threads``), which
reports its wall time, throughput (bytes of the recording / wall time) and peak RSS (``VmHWM``, which includes the
imports, about 0.2 GB):

* ``read``: one pass over the file with h5py, no computation (the storage bound of every one-pass statistic);
* sparseness (population Hoyer, lifetime Vinje-Gallant, with the silent-unit counts), class means, ANOVA, d' with
  its label-shuffle null: dask over the HDF5 dataset, as for any recording larger than memory;
* mutual information with its shuffle correction, on the first ``--mi-neuroids`` neuroids (its cost is per neuroid
  and shuffle; the figure per neuroid scales linearly);
* category ensembles (paper rule) with the shuffled-label null: dask over the file, one pass per batch of
  permutations;
* ``EnsembleDetector`` ``ica`` and ``pca`` on the file (streamed path), with the best-match Jaccard of every planted
  assembly, and ``ica`` on the assembly-free file (it must find none);
* linear CKA (feature-space form, streamed: dask over the file) between two sub-populations of ``--cka-neuroids``
  neuroids each, and the correlation RDM of the class means.

With ``--before REV`` the ``ica``/``pca`` detectors also run at ``--compare-size`` (in memory, both the current tree
and the ``src/`` of REV, each in its own process) for the ratio to the older code, which does not run at full size.

Usage::

    python benchmarks/bench_scale.py                                  # 10,000 x 100,000 (~4 GB per file)
    python benchmarks/bench_scale.py --neuroids 400 --presentations 4000 --ensembles 4 --class-size 10 --shuffles 20
    python benchmarks/bench_scale.py --before 1a1afc9 --only compare --neuroids 5000 --presentations 40000 \
        --class-size 20 --compare-size 5000x40000

Writes ``benchmarks/out/bench_scale.json`` (``--out``) and prints a markdown table.  The files are deleted unless
``--keep``; ``--reuse DIR`` runs on the files of such a run instead of writing new ones.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import REPO, extract_src, run_worker, serve_worker, short_rev, thread_env, write_json

HERE = Path(__file__).resolve().parent
CHUNK_ROWS = 1024


def _peak_rss_gb() -> float:
    """Peak resident set of this process, GB: VmHWM (Linux; ru_maxrss would keep the parent's peak across exec)."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024**2
    except OSError:  # pragma: no cover - not Linux
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2


# ----------------------------------------------------------------------------------------------------------------------
# the recording
# ----------------------------------------------------------------------------------------------------------------------
def write_recording(path: str, args, *, null: bool) -> dict:
    import h5py
    import numpy as np

    from ensembles.data.synthetic import planted_blocks

    kw = dict(n_ensembles=0, n_classes=args.classes, class_size=0) if null else dict(
        n_ensembles=args.ensembles, n_classes=args.classes, class_size=args.class_size)
    truth, blocks = planted_blocks(args.neuroids, args.presentations, block_rows=8 * CHUNK_ROWS,
                                   random_state=args.seed + int(null), **kw)
    t = time.perf_counter()
    with h5py.File(path, "w") as f:
        d = f.create_dataset("activity", shape=(args.presentations, args.neuroids), dtype="f4",
                             chunks=(min(CHUNK_ROWS, args.presentations), args.neuroids))
        for r0, b in blocks:
            d[r0 : r0 + b.shape[0]] = b
        f.create_dataset("label", data=truth.labels.astype(np.int64))
        f.create_dataset("members", data=truth.members)
        f.create_dataset("class_members", data=truth.params["class_members"])
    return {"path": path, "write_seconds": round(time.perf_counter() - t, 1),
            "bytes": 4 * args.presentations * args.neuroids}


# ----------------------------------------------------------------------------------------------------------------------
# workers (each in its own process)
# ----------------------------------------------------------------------------------------------------------------------
def _dask_da(f, args):
    import dask
    import dask.array as dka
    import xarray as xr

    dask.config.set(scheduler="threads", num_workers=args.threads)
    d = f["activity"]
    arr = dka.from_array(d, chunks=(4 * CHUNK_ROWS, d.shape[1]))
    return xr.DataArray(arr, dims=("presentation", "neuroid"), coords={"label": ("presentation", f["label"][:])})


def w_read(args, f):
    import numpy as np

    d = f["activity"]
    buf = np.empty((4 * CHUNK_ROWS, d.shape[1]), dtype=np.float32)
    s = 0.0
    for r0 in range(0, d.shape[0], buf.shape[0]):
        n = min(buf.shape[0], d.shape[0] - r0)
        d.read_direct(buf, np.s_[r0 : r0 + n], np.s_[:n])
        s += float(buf[:n, 0].sum())
    return {"checksum": s}


def w_population(args, f):
    from ensembles.analysis import sparsity as sp

    r = sp.population_sparseness(_dask_da(f, args), "hoyer")
    return {"n_silent": int(r.attrs["n_silent"]), "mean": float(r.mean())}


def w_lifetime(args, f):
    from ensembles.analysis import sparsity as sp

    r = sp.lifetime_sparseness(_dask_da(f, args), "vinje-gallant")
    return {"n_silent": int(r.attrs["n_silent"]), "mean": float(r.mean())}


def w_class_means(args, f):
    from ensembles.analysis import selectivity as sel

    r = sel.class_means(_dask_da(f, args))
    return {"shape": list(r.shape)}


def w_anova(args, f):
    import numpy as np

    from ensembles.analysis import selectivity as sel

    r = sel.anova(_dask_da(f, args))
    cm = f["class_members"][:].any(axis=0)
    return {"median_eta2_class_units": float(np.median(r["eta2"].values[cm])) if cm.any() else None,
            "median_eta2_others": float(np.median(r["eta2"].values[~cm]))}


def w_dprime(args, f):
    from ensembles.analysis import selectivity as sel

    r = sel.dprime(_dask_da(f, args), n_shuffles=args.shuffles, random_state=0)
    return {"n_q_below_0.05": int((r["q"].values < 0.05).sum())}


def w_mi(args, f):
    from ensembles.analysis import selectivity as sel

    da = _dask_da(f, args).isel(neuroid=slice(0, args.mi_neuroids))
    r = sel.mutual_information(da, n_shuffles=args.shuffles, random_state=0)
    return {"n_neuroids": int(da.sizes["neuroid"]), "mean_mi": float(r["mi"].mean()),
            "bytes": 4 * int(da.sizes["presentation"]) * int(da.sizes["neuroid"])}


def w_category(args, f):
    import numpy as np

    from ensembles.analysis.ensembles import category_ensembles, match_ensembles

    # dask over the file: the class sums (observed and per batch of permutations) are streamed in row blocks
    res = category_ensembles(_dask_da(f, args), n_shuffles=args.shuffles, random_state=0)
    members = np.asarray(res.values)
    truth = f["class_members"][:]
    out = {"sizes": members.sum(axis=1).tolist(), "max_size_p": float(np.max(res["size_p"].values))}
    if truth.any():
        out["mean_jaccard"] = float(match_ensembles(members, truth).attrs["mean_jaccard"])
    return out


def _detector(args, f, method):
    import numpy as np

    from ensembles.analysis.ensembles import EnsembleDetector, match_ensembles

    det = EnsembleDetector(method=method, random_state=0).fit(f["activity"])
    out = {"n_ensembles": int(det.n_ensembles_), "threshold": float(det.threshold_)}
    truth = f["members"][:]
    if truth.shape[0]:
        m = match_ensembles(det.members_, truth)
        best = np.asarray(m["jaccard_matrix"]).max(axis=1)
        out.update(best_jaccard=[round(float(v), 3) for v in best], min_best_jaccard=float(best.min()),
                   all_found=bool(np.all(best >= 0.9)))
    return out


def w_ica(args, f):
    return _detector(args, f, "ica")


def w_pca(args, f):
    return _detector(args, f, "pca")


def w_cka(args, f):
    from ensembles.analysis.geometry import linear_cka

    m = min(args.cka_neuroids, f["activity"].shape[1] // 2)
    da = _dask_da(f, args)  # streamed: feature-space Gram matrices accumulated over row blocks
    x = da.isel(neuroid=slice(0, m))
    y = da.isel(neuroid=slice(m, 2 * m))
    return {"cka": float(linear_cka(x, y)), "neuroids_each": m, "bytes": int(x.nbytes + y.nbytes)}


def w_rdm(args, f):
    from ensembles.analysis import selectivity as sel
    from ensembles.analysis.geometry import rdm

    cm = sel.class_means(_dask_da(f, args))
    r = rdm(cm.values, metric="correlation")
    return {"shape": list(r.shape)}


def w_compare(args, f):
    """In-memory fit at --compare-size (this process's PYTHONPATH decides which code runs)."""
    from ensembles.analysis.ensembles import EnsembleDetector

    n, b = (int(v) for v in args.compare_size.split("x"))
    X = f["activity"][:b, :n]
    t = time.perf_counter()
    det = EnsembleDetector(method=args.method, random_state=0).fit(X)
    return {"fit_seconds": round(time.perf_counter() - t, 3), "n_ensembles": int(det.n_ensembles_)}


WORKERS = {"read": w_read, "population_sparseness": w_population, "lifetime_sparseness": w_lifetime,
           "class_means": w_class_means, "anova": w_anova, "dprime": w_dprime, "mutual_information": w_mi,
           "category_ensembles": w_category, "ica": w_ica, "pca": w_pca, "ica_null": w_ica, "cka": w_cka,
           "rdm_class_means": w_rdm, "compare": w_compare}
STREAMING = ("population_sparseness", "lifetime_sparseness", "class_means", "anova")


def run_one(args) -> dict:
    import dask.array  # noqa: F401  (imports are not timed)
    import h5py
    import sklearn.decomposition  # noqa: F401
    import xarray  # noqa: F401

    import ensembles.analysis  # noqa: F401

    t = time.perf_counter()
    with h5py.File(args.file, "r") as f:
        extra = WORKERS[args.worker](args, f)
    wall = time.perf_counter() - t
    return {"seconds": round(wall, 4), "peak_rss_GB": round(_peak_rss_gb(), 3), **extra}


# ----------------------------------------------------------------------------------------------------------------------
# driver
# ----------------------------------------------------------------------------------------------------------------------
def _spawn(args, name, path, env, extra=()):
    cmd = [sys.executable, __file__, "--worker", name, "--file", path, "--threads", str(args.threads),
           "--shuffles", str(args.shuffles), "--mi-neuroids", str(args.mi_neuroids),
           "--cka-neuroids", str(args.cka_neuroids), "--compare-size", args.compare_size, *extra]
    return run_worker(cmd, f"worker {name}", env=env)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--neuroids", type=int, default=10_000)
    p.add_argument("--presentations", type=int, default=100_000)
    p.add_argument("--ensembles", type=int, default=10)
    p.add_argument("--classes", type=int, default=10)
    p.add_argument("--class-size", type=int, default=50)
    p.add_argument("--shuffles", type=int, default=100, help="label shuffles of d', MI and category ensembles")
    p.add_argument("--mi-neuroids", type=int, default=1000)
    p.add_argument("--cka-neuroids", type=int, default=2000)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--only", nargs="*", default=None, help="run only these statistics")
    p.add_argument("--before", default=None, help="git revision whose ica/pca run at --compare-size for the ratio")
    p.add_argument("--compare-size", default="2000x20000", help="NEUROIDSxPRESENTATIONS of the --before comparison")
    p.add_argument("--dir", default=None, help="where the recordings go (default: a temporary directory)")
    p.add_argument("--keep", action="store_true")
    p.add_argument("--reuse", default=None, help="directory of the recordings of an earlier --keep run (not rewritten)")
    p.add_argument("--out", default=str(HERE / "out" / "bench_scale.json"))
    p.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    p.add_argument("--file", default=None, help=argparse.SUPPRESS)
    p.add_argument("--method", default="ica", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if serve_worker(args, run_one):
        return 0
    env = thread_env(args.threads, OPENBLAS_NUM_THREADS=str(args.threads))
    src = str(REPO / "src")
    env["PYTHONPATH"] = src + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    uptime = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    result = {
        "machine": f"{platform.node()} {platform.processor() or platform.machine()} {os.cpu_count()} cpus",
        "python": platform.python_version(), "threads": args.threads, "uptime_before": uptime,
        "shape": [args.presentations, args.neuroids], "dtype": "float32", "shuffles": args.shuffles,
        "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "rows": [],
    }
    tmp = args.reuse or tempfile.mkdtemp(dir=args.dir, prefix="bench_scale_")
    try:
        if args.reuse:  # the recordings of an earlier run with --keep (the same size and seed)
            planted, null = ({"path": os.path.join(tmp, f), "bytes": 4 * args.presentations * args.neuroids}
                             for f in ("planted.h5", "null.h5"))  # fmt: skip
            result["reused"] = tmp
            _check_reused(planted["path"], args)
            _check_reused(null["path"], args)
        else:
            planted = write_recording(os.path.join(tmp, "planted.h5"), args, null=False)
            null = write_recording(os.path.join(tmp, "null.h5"), args, null=True)
            result["write_seconds"] = [planted["write_seconds"], null["write_seconds"]]
        nbytes = planted["bytes"]
        names = [n for n in WORKERS if n != "compare" and (args.only is None or n in args.only)]
        for name in names:
            path = null["path"] if name == "ica_null" else planted["path"]
            r = _spawn(args, name, path, env)
            used = r.pop("bytes", nbytes)  # the bytes the statistic reads (MI and CKA take a subset of neuroids)
            r = {"statistic": name, "GB_per_s": round(used / 1e9 / max(r["seconds"], 1e-4), 3), "bytes": used, **r}
            result["rows"].append(r)
            print(f"{name:<24s} {r['seconds']:8.2f} s {r['GB_per_s']:7.3f} GB/s  peak RSS {r['peak_rss_GB']:.2f} GB",
                  flush=True)
        if args.before:
            result["compare"] = compare_before(args, planted["path"], env)
        result["uptime_after"] = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    finally:
        if not args.keep and not args.reuse:
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            result["dir"] = tmp
    write_json(args.out, result)
    print(markdown(result))
    return 0


def _check_reused(path: str, args) -> None:
    import h5py

    if not os.path.exists(path):
        raise SystemExit(f"--reuse {args.reuse}: no {os.path.basename(path)} there (write it with --keep)")
    with h5py.File(path, "r") as f:
        shape = tuple(f["activity"].shape)
    if shape != (args.presentations, args.neuroids):
        raise SystemExit(f"--reuse {args.reuse}: {os.path.basename(path)} is {shape[1]} x {shape[0]}, not "
                         f"{args.neuroids} x {args.presentations} (--neuroids, --presentations)")


def compare_before(args, path, env) -> dict:
    out = {"size": args.compare_size, "before": short_rev(args.before)}
    with tempfile.TemporaryDirectory() as old:
        old_src = extract_src(args.before, old)
        for method in ("ica", "pca"):
            row = {}
            for tag, pp in (("now", env["PYTHONPATH"]), ("before", old_src)):
                r = _spawn(args, "compare", path, {**env, "PYTHONPATH": pp}, ("--method", method))
                row[tag] = r
            row["ratio"] = round(row["before"]["fit_seconds"] / max(row["now"]["fit_seconds"], 1e-4), 2)
            out[method] = row
    return out


def markdown(result: dict) -> str:
    lines = [f"{result['shape'][1]:,} neuroids x {result['shape'][0]:,} presentations float32, "
             f"{result['threads']} threads; {result['uptime_before']}", "",
             "| statistic | wall (s) | GB/s | peak RSS (GB) | result |", "|---|---|---|---|---|"]
    for r in result["rows"]:
        extra = {k: v for k, v in r.items() if k not in ("statistic", "seconds", "GB_per_s", "peak_rss_GB", "bytes")}
        lines.append(f"| {r['statistic']} | {r['seconds']} | {r['GB_per_s']} | {r['peak_rss_GB']} | {extra} |")
    cmp = result.get("compare")
    if cmp:
        for method in ("ica", "pca"):
            row = cmp[method]
            lines.append(f"\n{method} at {cmp['size']}: {row['now']['fit_seconds']} s now, {row['before']['fit_seconds']} s "
                         f"at {cmp['before']} (x{row['ratio']}); peak RSS {row['now']['peak_rss_GB']} / "
                         f"{row['before']['peak_rss_GB']} GB")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
