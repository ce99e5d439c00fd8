"""FF at the matmul floor: per-layer FF epoch time against bare matmuls of the naive shapes, 10-label prediction
against the naive K-pass, and ``hardest``-negative epochs, for this tree and (optionally) an older revision.

Everything that is compared is measured side by side **in one process with one thread**, alternating the two
methods repeat by repeat, and reported as medians of the thread's CPU time (``time.thread_time``: with one torch
thread all the work runs in the calling thread, and CPU time, unlike wall time, does not count the time a loaded
machine gives to other processes; alternating spreads the remaining effects of load, such as shared caches, over both
methods alike).  Each revision runs in its own subprocess (``--before REV`` extracts ``git archive REV src`` into a
temporary directory and runs the same worker on it, which uses only APIs both revisions have).

* **Layer ratio** = median FF epoch of layer l (``FFTrainer.run_epoch``, paper preset: fixed negatives, layer-wise
  schedule, or ``--negatives``; the first epoch of a layer, which builds that layer's input cache, is timed apart and left out) / median
  bare epoch of the same layer.  The bare epoch is the naive FF layer's matmuls alone, per mini-batch of B, for the
  B positives and then the B negatives: ``h = x_b @ Wᵀ`` and ``hᵀ @ x_b`` (forward and weight gradient), i.e.
  8·N·D_in·D_out FLOPs, on contiguous slices (no gather, no normalisation, no loss, no optimiser).
* **Prediction speed-up** = median time of the naive K-pass (each label embedded into a fresh copy of the batch, every
  layer run K times: ``model.layer_goodness(model.embed(x, k))``) / median time of ``model.predict`` (one image pass
  for all labels), on the test split with the trained 3-layer model; the scores are compared (max |difference|) and
  the argmax must agree.
* **hardest epochs**: median epoch time of FF with ``ff.negatives = "hardest"`` (scoring of the whole training set
  every epoch plus the training step) in layer 1 and layer 2; compare the rows of the two revisions.

Usage::

    python benchmarks/bench_ff_floor.py                                  # mnist-5k, cpu profile (batch 256)
    python benchmarks/bench_ff_floor.py --batch-size 1024 --before HEAD~3
    python benchmarks/bench_ff_floor.py --dataset fashion-mnist --batch-size 1024 --repeats 3 --hardest-n 10000

Writes ``benchmarks/out/bench_ff_floor[_<dataset>_b<batch>].json`` and prints a table with the load average.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from _common import extract_src, run_worker, serve_worker, short_rev, thread_env, write_json

HERE = Path(__file__).resolve().parent
OUT = HERE / "out"


def _med(v):
    return float(statistics.median(v))


def clock() -> float:
    """CPU seconds of this thread (user + system): with one torch thread all the work runs here, and unlike wall
    time it does not count the time the scheduler gives to other processes on a shared machine."""
    return time.thread_time()


def bare_epoch(x, w, batch: int) -> float:
    """CPU seconds of one epoch of the naive FF layer's matmuls (pos and neg mini-batch: forward, weight gradient)."""
    t = clock()
    for s in range(0, x.shape[0], batch):
        xb = x[s:s + batch]
        for _pn in range(2):
            h = xb @ w.T
            _ = h.T @ xb
    return clock() - t


def worker(args) -> dict:
    import torch

    from ensembles.train import build_model, make_config, prepare_data
    from ensembles.train.ff import FFTrainer, TrainData
    from ensembles.train.seeding import seed_everything

    torch.set_num_threads(1)
    R = args.repeats

    def setup(negatives: str, epochs: int, n_train: int | None = None):
        ov = {"train.batch_size": args.batch_size, "train.epochs": epochs, "record.enabled": False,
              "ff.negatives": negatives}
        if n_train or args.n_train:
            ov["data.train_subsample"] = n_train or args.n_train
        cfg = make_config("ff", args.dataset, preset="paper", scale="cpu", seed=0, **ov)
        tr_ds, te_ds, idx, m = prepare_data(cfg)
        gen = seed_everything(0)
        model = build_model(cfg, tr_ds.x.shape[1], len(tr_ds.classes), tr_ds.image_shape, m)
        y = torch.as_tensor(tr_ds.y[idx], dtype=torch.long)
        classes = sorted(int(c) for c in y.unique())
        data = TrainData(torch.as_tensor(tr_ds.x[idx]), y, len(tr_ds.classes), classes, classes)
        return cfg, FFTrainer(model, cfg, data, gen), te_ds

    out = {"n_train": None, "layers": [], "loadavg_start": os.getloadavg()}
    # 1. per-layer FF epoch vs bare matmuls (fixed_subset, the paper preset)
    cfg, tr, te = setup(args.negatives, R + 1)
    n = tr.data.y.shape[0]
    out["n_train"] = int(n)
    sizes = [tr.data.x.shape[1], *cfg.network.hidden]
    for k in range(len(cfg.network.hidden)):
        x = torch.randn(n, sizes[k])
        w = torch.randn(sizes[k + 1], sizes[k])
        t = clock()
        tr.run_epoch(k * (R + 1))  # builds the layer's input cache (k > 0)
        first = clock() - t
        ff, bare = [], []
        for r in range(R):
            t = clock()
            tr.run_epoch(k * (R + 1) + 1 + r)
            ff.append(clock() - t)
            bare.append(bare_epoch(x, w, args.batch_size))
        out["layers"].append({"layer": k + 1, "ff_epoch_s": _med(ff), "bare_epoch_s": _med(bare),
                              "ratio": _med(ff) / _med(bare), "ratio_min": min(ff) / min(bare),
                              "first_epoch_s": first, "ff_all_s": ff, "bare_all_s": bare,
                              "gflops_bare": 8.0 * n * sizes[k] * sizes[k + 1] / _med(bare) / 1e9})
    # 2. prediction over 10 labels, trained model, test split: model.predict vs the naive K-pass
    model = tr.model.eval()
    xt = torch.as_tensor(te.x)
    bs = cfg.train.eval_batch_size

    @torch.no_grad()
    def naive_scores():
        from ensembles.models import predict_from_goodness

        outs = []
        for s in range(0, xt.shape[0], bs):
            xb = xt[s:s + bs]
            g = torch.stack([model.layer_goodness(model.embed(xb, torch.full((xb.shape[0],), k)))
                             for k in range(model.n_classes)], dim=1)
            outs.append(predict_from_goodness(g, cfg.ff.prediction))
        return torch.cat(outs)

    tp, tn = [], []
    for _ in range(R):
        t = clock()
        pred, s_fast = model.predict(xt, cfg.ff.prediction, batch_size=bs)
        tp.append(clock() - t)
        t = clock()
        s_naive = naive_scores()
        tn.append(clock() - t)
    out["predict"] = {"n_test": int(xt.shape[0]), "fast_s": _med(tp), "naive_s": _med(tn),
                      "speedup": _med(tn) / _med(tp), "max_abs_score_diff": float((s_fast - s_naive).abs().max()),
                      "argmax_identical": bool(torch.equal(pred, s_naive.argmax(1))),
                      "n_argmax_differ": int((pred != s_naive.argmax(1)).sum())}
    # 3. hardest negatives: epochs of layer 1 and layer 2 (scoring the training set every epoch)
    cfg, tr, _ = setup("hardest", R, args.hardest_n)
    hard = []
    for k in (0, 1):
        ts = []
        for r in range(R):
            t = clock()
            tr.run_epoch(k * R + r)
            ts.append(clock() - t)
        hard.append({"layer": k + 1, "epoch_s": _med(ts), "all_s": ts})
    out["hardest"] = hard
    out["hardest_n"] = int(tr.data.y.shape[0])
    out["loadavg_end"] = os.getloadavg()
    out["threads"] = torch.get_num_threads()
    return out


def _run(src: str, args) -> dict:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", "--dataset", args.dataset,
           "--batch-size", str(args.batch_size), "--repeats", str(args.repeats)]
    if args.n_train:
        cmd += ["--n-train", str(args.n_train)]
    if args.hardest_n:
        cmd += ["--hardest-n", str(args.hardest_n)]
    cmd += ["--negatives", args.negatives]
    return run_worker(cmd, f"worker on {src}", thread_env(1, src))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dataset", default="mnist-5k")
    ap.add_argument("--n-train", type=int, default=None, help="training images (default: all)")
    ap.add_argument("--batch-size", type=int, default=256)
    ap.add_argument("--negatives", default="fixed_subset",
                    help="negatives of the per-layer timing (fixed_subset = the paper preset; one_per_image pairs "
                         "each positive with a negative of the same image)")
    ap.add_argument("--hardest-n", type=int, default=None,
                    help="training images for the hardest-negative epochs (default: --n-train or all)")
    ap.add_argument("--repeats", type=int, default=5, help="timed epochs per layer (alternating with bare epochs)")
    ap.add_argument("--before", default=None, help="git revision to compare with (e.g. HEAD~3 or a commit)")
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if serve_worker(args, worker):
        return 0
    here_src = str(HERE.parent / "src")
    res = {"dataset": args.dataset, "batch_size": args.batch_size, "repeats": args.repeats, "cores": os.cpu_count(),
           "loadavg_start": os.getloadavg()}
    with tempfile.TemporaryDirectory(prefix="ff_floor_") as tmp:
        if args.before:
            src = extract_src(args.before, tmp)
            res["before_rev"] = short_rev(args.before)
            res["before"] = _run(src, args)
        res["after"] = _run(here_src, args)
    res["loadavg_end"] = os.getloadavg()
    a = res["after"]
    print(f"FF at the matmul floor: {args.dataset} (N={a['n_train']}), batch {args.batch_size}, {args.negatives}, 1 thread, "
          f"{args.repeats} alternating repeats, medians; load {res['loadavg_start'][0]:.1f} -> {res['loadavg_end'][0]:.1f}")
    print("| revision | layer | FF CPU s/epoch | bare CPU s/epoch | FF / bare | min/min | first epoch s |")
    print("|---|---|---|---|---|---|---|")
    for name in ("before", "after"):
        if name in res:
            for r in res[name]["layers"]:
                print(f"| {name} | {r['layer']} | {r['ff_epoch_s']:.3f} | {r['bare_epoch_s']:.3f} | {r['ratio']:.2f} "
                      f"| {r['ratio_min']:.2f} | {r['first_epoch_s']:.3f} |")
    for name in ("before", "after"):
        if name in res:
            p = res[name]["predict"]
            print(f"{name}: 10-label prediction of {p['n_test']} test images: predict {p['fast_s']:.3f} s, naive K-pass "
                  f"{p['naive_s']:.3f} s: {p['speedup']:.2f}x; max |score diff| {p['max_abs_score_diff']:.2e}, "
                  f"argmax identical {p['argmax_identical']}")
            print(f"{name}: hardest-negative epochs (N={res[name].get('hardest_n')}): " + ", ".join(
                f"layer {h['layer']} {h['epoch_s']:.3f} s" for h in res[name]["hardest"]))
    if "before" in res:
        sp = [b["epoch_s"] / x["epoch_s"] for b, x in zip(res["before"]["hardest"], a["hardest"], strict=True)]
        res["hardest_speedup"] = sp
        print("hardest-negative epoch speed-up (before / after): " + ", ".join(f"layer {i + 1} {v:.2f}x"
                                                                             for i, v in enumerate(sp)))
    res["ratios"] = {f"layer{r['layer']}_ff_over_bare": round(r["ratio"], 3) for r in a["layers"]}
    res["ratios"]["predict_speedup"] = round(a["predict"]["speedup"], 3)
    name = "bench_ff_floor" + ("" if (args.dataset, args.batch_size) == ("mnist-5k", 256)
                               else f"_{args.dataset}_b{args.batch_size}")
    name += "" if args.negatives == "fixed_subset" else f"_{args.negatives}"
    write_json(OUT / f"{name}.json", res)
    return 0


if __name__ == "__main__":
    sys.exit(main())
