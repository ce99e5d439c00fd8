"""Where the time of an FF training run goes, end to end: data, label embedding, matmuls, goodness and loss, optimiser,
evaluation, recording, checkpoints and Python overhead.

One ``train_run`` (paper preset, FF) in this process, one thread.  Wall and thread-CPU time of the stages are taken by
wrapping ``prepare_data`` (data loading), the trainer's constructor (negatives; also the label-free
images), ``run_epoch`` (training), ``predict`` (evaluation), ``iter_activations`` (recording) and the checkpoint
writes; the training epochs run under ``torch.profiler`` and the self time of every aten op is put into a category by
its name (table ``CATEGORIES``; collection is switched off outside ``run_epoch``; ops of the backward pass go with their forward category, e.g. ``mm`` in the weight
gradient is a matmul, ``threshold_backward`` is goodness/loss).  "framework" = self time of autograd nodes and of ops that
only make views or allocate; "Python overhead" = the training time the profiler does not attribute to any op.

Usage::

    python benchmarks/bench_profile.py                                   # mnist-5k, cpu profile (the demo's FF run)
    python benchmarks/bench_profile.py --dataset fashion-mnist --scale full --epochs 2   # the reproduction's config
    python benchmarks/bench_profile.py --before HEAD~5                   # also profile an older revision

Writes ``benchmarks/out/bench_profile_<dataset>.json`` and prints a table (load average included).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

from _common import extract_src, run_worker, serve_worker, thread_env, write_json

HERE = Path(__file__).resolve().parent
OUT = HERE / "out"

#: category -> aten op names (self time); anything else in the training epochs is "other elementwise".
CATEGORIES = {
    "matmuls": ("aten::mm", "aten::addmm", "aten::addmm_", "aten::bmm", "aten::addr"),
    "optimiser": ("aten::_fused_adam_", "aten::_foreach_add_", "aten::_foreach_mul_", "aten::_foreach_addcmul_",
                  "aten::_foreach_addcdiv_", "aten::_foreach_sqrt", "aten::_foreach_div_", "aten::_foreach_lerp_",
                  "Optimizer.step#Adam.step", "Optimizer.zero_grad#Adam.zero_grad"),
    "goodness & loss": ("aten::relu", "aten::clamp_min", "aten::clamp_min_", "aten::relu_", "aten::threshold_backward",
                        "aten::linalg_vector_norm", "aten::softplus", "aten::softplus_backward", "aten::mean",
                        "aten::sum", "aten::pow", "aten::masked_fill_", "aten::where", "aten::sigmoid",
                        "_ReluL2Goodness", "_ReluL2GoodnessBackward", "aten::gt", "aten::rsub", "aten::sub",
                        "aten::neg"),
    "label embedding & normalisation": ("aten::index_put_", "aten::_index_put_impl_", "aten::div", "aten::div_",
                                        "aten::addcmul_", "aten::addcdiv", "aten::clone", "aten::fill_",
                                        "aten::repeat", "aten::index_add_", "aten::expand", "_EmbeddedLinear",
                                        "_EmbeddedLinearBackward"),
    "batch gather & indexing": ("aten::index_select", "aten::index", "aten::cat", "aten::randperm", "aten::copy_",
                                "aten::unique_dim", "aten::_unique2", "aten::sort", "aten::nonzero", "aten::full",
                                "aten::arange", "aten::empty", "aten::zeros", "aten::new_zeros", "aten::new_empty",
                                "aten::slice", "aten::select", "aten::_to_copy", "aten::to", "aten::stack"),
}

#: ops that only move metadata or allocate (self time = dispatch/bookkeeping)
FRAMEWORK = ("aten::as_strided", "aten::t", "aten::transpose", "aten::view", "aten::reshape", "aten::unsqueeze",
             "aten::squeeze", "aten::detach", "detach", "aten::alias", "aten::empty_strided", "aten::resolve_conj",
             "aten::resolve_neg", "aten::lift_fresh", "aten::result_type", "aten::_has_compatible_shallow_copy_type",
             "aten::ones_like", "aten::zeros_like", "aten::empty_like", "aten::contiguous", "aten::numpy_T",
             "aten::_local_scalar_dense", "aten::item", "aten::is_nonzero", "aten::is_same_size", "aten::size")


def worker(args) -> dict:
    import torch
    from torch.profiler import ProfilerActivity, profile

    import ensembles.train.run as run
    from ensembles.train import make_config
    from ensembles.train.ff import FFTrainer, _FFStyleTrainer

    torch.set_num_threads(1)
    stages: dict[str, list[float]] = {}

    def timed(name, fn):
        def wrapper(*a, **k):
            w, c = time.perf_counter(), time.thread_time()
            try:
                return fn(*a, **k)
            finally:
                s = stages.setdefault(name, [0.0, 0.0])
                s[0] += time.perf_counter() - w
                s[1] += time.thread_time() - c
        return wrapper

    def timed_gen(name, fn):
        def wrapper(*a, **k):
            it = fn(*a, **k)
            while True:
                w, c = time.perf_counter(), time.thread_time()
                try:
                    item = next(it)
                except StopIteration:
                    return
                finally:
                    s = stages.setdefault(name, [0.0, 0.0])
                    s[0] += time.perf_counter() - w
                    s[1] += time.thread_time() - c
                yield item
        return wrapper

    prof = profile(activities=[ProfilerActivity.CPU])
    prof.start()
    prof.toggle_collection_dynamic(False, [ProfilerActivity.CPU])
    epoch_fn = FFTrainer.run_epoch

    def run_epoch(self, epoch):  # ops are collected during the training epochs only
        prof.toggle_collection_dynamic(True, [ProfilerActivity.CPU])
        try:
            return epoch_fn(self, epoch)
        finally:
            prof.toggle_collection_dynamic(False, [ProfilerActivity.CPU])

    run.prepare_data = timed("data loading", run.prepare_data)
    FFTrainer.__init__ = timed("trainer setup (negatives, prepared images)", FFTrainer.__init__)
    FFTrainer.run_epoch = timed("training epochs", run_epoch)
    _FFStyleTrainer.predict = timed("evaluation (prediction)", _FFStyleTrainer.predict)
    run.iter_activations = timed_gen("recording (activations)", run.iter_activations)
    run._atomic_torch_save = timed("checkpoints", run._atomic_torch_save)
    ov = {"train.threads": 1}
    if args.epochs:
        ov["train.epochs"] = args.epochs
    if args.n_train:
        ov["data.train_subsample"] = args.n_train
    cfg = make_config("ff", args.dataset, preset="paper", scale=args.scale, seed=0, **ov)
    w0, c0 = time.perf_counter(), time.thread_time()
    with tempfile.TemporaryDirectory() as tmp:
        metrics = run.train_run(cfg, Path(tmp) / "run", progress=False)
    total = [time.perf_counter() - w0, time.thread_time() - c0]
    prof.stop()
    ops: dict[str, float] = {}
    for ev in prof.key_averages():
        ops[ev.key] = ops.get(ev.key, 0.0) + ev.self_cpu_time_total / 1e6
    cat = {k: 0.0 for k in CATEGORIES}
    cat["framework (autograd nodes, views, allocation)"] = 0.0
    cat["other ops"] = 0.0
    for name, t in ops.items():
        for k, names in CATEGORIES.items():
            if name in names:
                cat[k] += t
                break
        else:
            fw = (name.startswith("autograd::") or name.endswith(("Backward0", "Backward1")) or name in FRAMEWORK)
            cat["framework (autograd nodes, views, allocation)" if fw else "other ops"] += t
    prof_total = sum(ops.values())
    train_wall = stages["training epochs"][0]
    train_ops = dict(cat)
    train_ops["Python overhead (unattributed)"] = max(train_wall - prof_total, 0.0)
    return {"dataset": args.dataset, "scale": args.scale, "epochs_total": cfg.total_epochs,
            "n_train": metrics["n_train"], "batch_size": cfg.train.batch_size, "test_accuracy": metrics["test_accuracy"],
            "total_wall_s": total[0], "total_cpu_s": total[1], "stages": stages, "training_breakdown_s": train_ops,
            "top_ops_s": dict(sorted(ops.items(), key=lambda kv: -kv[1])[:15]), "loadavg": os.getloadavg()}


def _run(src: str, args) -> dict:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", "--dataset", args.dataset, "--scale", args.scale]
    if args.epochs:
        cmd += ["--epochs", str(args.epochs)]
    if args.n_train:
        cmd += ["--n-train", str(args.n_train)]
    return run_worker(cmd, f"worker on {src}", thread_env(1, src))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dataset", default="mnist-5k")
    ap.add_argument("--scale", default="cpu")
    ap.add_argument("--epochs", type=int, default=None, help="epochs per layer (default: the scale profile's)")
    ap.add_argument("--n-train", type=int, default=None)
    ap.add_argument("--before", default=None, help="git revision to profile as well")
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if serve_worker(args, worker):
        return 0
    res = {}
    with tempfile.TemporaryDirectory(prefix="bench_profile_") as tmp:
        if args.before:
            res["before"] = _run(extract_src(args.before, tmp), args)
        res["after"] = _run(str(HERE.parent / "src"), args)
    for name, r in res.items():
        print(f"\n{name}: FF {r['dataset']} ({r['scale']}, N={r['n_train']}, batch {r['batch_size']}, "
              f"{r['epochs_total']} epochs), 1 thread: {r['total_wall_s']:.1f} s wall, {r['total_cpu_s']:.1f} s CPU, "
              f"test accuracy {r['test_accuracy']:.4f}; load {r['loadavg'][0]:.1f}")
        print("| stage | wall s | CPU s | share of CPU |")
        print("|---|---|---|---|")
        for k, (w, c) in r["stages"].items():
            print(f"| {k} | {w:.2f} | {c:.2f} | {100 * c / r['total_cpu_s']:.1f} % |")
        rest = r["total_cpu_s"] - sum(c for _, c in r["stages"].values())
        print(f"| rest (imports, config, metrics, files) | | {rest:.2f} | {100 * rest / r['total_cpu_s']:.1f} % |")
        tr = r["stages"]["training epochs"][0]
        print("training epochs by category (wall s, share of the training epochs):")
        for k, v in sorted(r["training_breakdown_s"].items(), key=lambda kv: -kv[1]):
            print(f"  {k:34s} {v:8.2f}  {100 * v / tr:5.1f} %")
    write_json(OUT / f"bench_profile_{args.dataset}.json", res)
    return 0


if __name__ == "__main__":
    sys.exit(main())
