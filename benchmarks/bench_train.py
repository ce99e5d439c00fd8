"""Training benchmark: accuracy and wall time of FF, BP/FF and BP at the paper preset with the cpu profile,
FF throughput against a bare torch matmul loop of the same shapes, recording overhead, and per-layer population
Hoyer sparseness of the recorded test-split activity.

Usage::

    python benchmarks/bench_train.py                       # mnist-5k (+ fashion-mnist when present)
    python benchmarks/bench_train.py --datasets mnist-5k --threads 2
    python benchmarks/bench_train.py --fashion-subsample 10000 --fashion-epochs 10

Writes ``benchmarks/out/bench_train.json`` and prints a table.  Not a timed test.

Definitions
-----------
* FF FLOPs per epoch of layer l (greedy layer-wise schedule): forward of the N positive and N negative inputs,
  2·(2N)·in·out, plus the weight gradient, 2·(2N)·in·out (the inputs are detached, so no input gradient): 8·N·in·out.
  The bare loop runs exactly these matmuls (``X @ Wᵀ`` and ``Gᵀ @ X`` per mini-batch, pos and neg) with the same
  batch size, 5 times.  ``ratio`` = the trainer's median ``epoch_time_s`` for that layer (first epoch of the layer
  skipped) / the fastest bare epoch; ``med/med`` and ``min/min`` compare like with like (a shared machine's load
  inflates medians more than minima).
* Recording overhead = time spent recording the test split (``record_time_s``) / the rest of the training loop.
* Hoyer (2004) sparseness of one activity vector x ∈ ℝⁿ: S(x) = (√n − ‖x‖₁/‖x‖₂)/(√n − 1); computed per sample
  over the units of a layer (population sparseness), averaged over samples with nanmean (all-zero rows are NaN
  and dropped, as the authors' code; docs/methods.md §A3.2). Reported over the correctly classified test samples (the
  paper's protocol) and the fraction of all-zero rows.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from _common import write_json

from ensembles.train import make_config, train_run


def hoyer_rows(a: np.ndarray) -> np.ndarray:
    """Hoyer sparseness per row of ``a`` (n_samples, n_units); NaN for all-zero rows."""
    a = np.abs(np.asarray(a, dtype=np.float64))
    n = a.shape[1]
    l1 = a.sum(1)
    l2 = np.sqrt((a * a).sum(1))
    with np.errstate(invalid="ignore", divide="ignore"):
        return (np.sqrt(n) - l1 / l2) / (np.sqrt(n) - 1)


def layer_hoyer(rec, correct_only: bool = True) -> list[dict]:
    act = rec["activity"].values[-1]  # final checkpoint
    layer = rec["layer"].values
    correct = rec["correct"].values[-1].astype(bool)
    rows = correct if correct_only else np.ones_like(correct)
    out = []
    for k in np.unique(layer):
        a = act[rows][:, layer == k]
        h = hoyer_rows(a)
        out.append({"layer": int(k), "hoyer": float(np.nanmean(h)) if np.isfinite(h).any() else float("nan"),
                    "zero_rows": float(np.mean(~np.isfinite(h)))})
    return out


def bare_matmul_epoch(n: int, d_in: int, d_out: int, batch: int, repeats: int = 5) -> list[float]:
    """Seconds per epoch of the FF layer's matmuls alone (forward + weight gradient, pos and neg), one per repeat."""
    x = torch.randn(n, d_in)
    w = torch.randn(d_out, d_in)
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        for s in range(0, n, batch):
            xb = x[s:s + batch]
            for _pn in range(2):  # positive and negative mini-batch
                h = xb @ w.T
                _ = h.T @ xb  # weight gradient shape (out, in)
        times.append(time.perf_counter() - t)
    return times


def run_model(model: str, dataset: str, workdir: Path, overrides: dict, progress: bool) -> dict:
    cfg = make_config(model, dataset, preset="paper", scale="cpu", seed=0, **overrides)
    out = workdir / f"{dataset}_{model}"
    t = time.perf_counter()
    metrics = train_run(cfg, out, force=True, progress=progress)
    wall = time.perf_counter() - t
    from ensembles.record import load_recording

    rec = load_recording(out / "recording.h5")
    hist = json.loads((out / "history.json").read_text())
    res = {
        "model": model, "dataset": dataset, "test_accuracy": metrics["test_accuracy"], "wall_time_s": wall,
        "train_loop_s": metrics["train_loop_s"], "record_time_s": metrics["record_time_s"],
        "recording_overhead": metrics["record_time_s"] / max(metrics["train_loop_s"] - metrics["record_time_s"], 1e-9),
        "n_train": metrics["n_train"], "epochs": cfg.total_epochs, "lr": cfg.train.lr,
        "batch_size": cfg.train.batch_size, "hidden": cfg.network.hidden,
        "hoyer_correct": layer_hoyer(rec, True), "hoyer_all": layer_hoyer(rec, False),
        "per_class_accuracy": metrics["per_class_accuracy"],
    }
    if model == "ff":
        E = cfg.train.epochs
        from ensembles.data import load_dataset

        sizes = [int(load_dataset(dataset, "test").x.shape[1]), *cfg.network.hidden]
        n = metrics["n_train"]
        thr = []
        for k in range(cfg.n_layers):
            # skip each layer's first epoch (cache building / warm-up) when there are enough epochs
            # epoch_time_s times run_epoch alone (evaluation and recording are outside it), so nothing is subtracted
            eps = [h["epoch_time_s"] for h in hist[k * E:(k + 1) * E]]
            eps = eps[1:] if len(eps) > 2 else eps
            t_ff = float(np.median(eps))
            bare = bare_matmul_epoch(n, sizes[k], sizes[k + 1], cfg.train.batch_size)
            t_bare = min(bare)
            flops = 8.0 * n * sizes[k] * sizes[k + 1]
            # "ratio" = median FF epoch / fastest bare epoch (the original, conservative definition); on a shared
            # machine also the like-for-like median/median and min/min ratios
            thr.append({"layer": k + 1, "ff_epoch_s": t_ff, "bare_epoch_s": t_bare, "ratio": t_ff / t_bare,
                        "ratio_median": t_ff / float(np.median(bare)), "ratio_min": min(eps) / t_bare,
                        "ff_gflops": flops / t_ff / 1e9, "bare_gflops": flops / t_bare / 1e9})
        res["ff_throughput"] = thr
    return res


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--datasets", default="mnist-5k,fashion-mnist")
    ap.add_argument("--models", default="ff,bp_ff,bp")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--fashion-subsample", type=int, default=10000,
                    help="training images of fashion-mnist to use (the full 60k takes ~15x the mnist-5k time)")
    ap.add_argument("--fashion-epochs", type=float, default=0.5,
                    help="fraction of the cpu-profile epochs for fashion-mnist")
    ap.add_argument("--out", default=str(Path(__file__).parent / "out" / "bench_train.json"))
    ap.add_argument("--progress", action="store_true")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    from ensembles.data import load_dataset

    results = []
    with tempfile.TemporaryDirectory(prefix="bench_train_") as tmp:
        for ds in [d for d in args.datasets.split(",") if d]:
            overrides = {}
            if ds.startswith("fashion"):
                try:
                    load_dataset(ds, "test")
                except Exception as err:  # noqa: BLE001 - optional dataset
                    print(f"skipping {ds}: {err}", file=sys.stderr)
                    continue
                overrides["data__train_subsample"] = args.fashion_subsample
            for model in [m for m in args.models.split(",") if m]:
                ov = dict(overrides)
                if ds.startswith("fashion"):
                    base = make_config(model, ds, scale="cpu").train.epochs
                    ov["train__epochs"] = max(1, int(round(base * args.fashion_epochs)))
                r = run_model(model, ds, Path(tmp), ov, args.progress)
                results.append(r)
                print(f"  {ds:14s} {model:6s} acc {r['test_accuracy']:.4f}  wall {r['wall_time_s']:.1f}s", flush=True)

    print()
    print(f"{'dataset':14s} {'model':6s} {'n_train':>7s} {'epochs':>6s} {'test acc':>8s} {'wall s':>7s} "
          f"{'rec ovh':>7s}  Hoyer L1/L2/L3 (correct; all-zero rows)")
    for r in results:
        hz = " / ".join(f"{h['hoyer']:.3f}" for h in r["hoyer_correct"])
        zr = " / ".join(f"{h['zero_rows']:.2f}" for h in r["hoyer_correct"])
        print(f"{r['dataset']:14s} {r['model']:6s} {r['n_train']:7d} {r['epochs']:6d} {r['test_accuracy']:8.4f} "
              f"{r['wall_time_s']:7.1f} {100 * r['recording_overhead']:6.1f}%  {hz}  ({zr})")
    for r in results:
        if "ff_throughput" in r:
            print(f"\nFF throughput, {r['dataset']} (batch {r['batch_size']}, N={r['n_train']}):")
            print(f"  {'layer':>5s} {'FF s/epoch':>10s} {'bare s/epoch':>12s} {'ratio':>6s} {'med/med':>7s} {'min/min':>7s} "
                  f"{'FF GFLOP/s':>10s} {'bare GFLOP/s':>12s}")
            for t in r["ff_throughput"]:
                print(f"  {t['layer']:5d} {t['ff_epoch_s']:10.3f} {t['bare_epoch_s']:12.3f} {t['ratio']:6.2f} "
                      f"{t['ratio_median']:7.2f} {t['ratio_min']:7.2f} "
                      f"{t['ff_gflops']:10.1f} {t['bare_gflops']:12.1f}")
    info = {"machine": platform.machine(), "cpu_count": os.cpu_count(), "threads": args.threads,
            "torch": torch.__version__, "loadavg": os.getloadavg(), "results": results}
    print()
    write_json(args.out, info)
    print(f"load average at the end: {', '.join(f'{v:.1f}' for v in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
