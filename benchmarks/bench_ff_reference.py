"""FF training: ours (``ensembles.train``, paper preset) vs the authors' released FF layer-training procedure.

The baseline below re-implements, inside this script, the FF training procedure of the authors' code
(NiccoloTosato/EmergentRepresentations, ``scheduler/models.py``, ``scheduler/data.py``;
docs/methods.md §M1.2, §M1.6–M1.8)
as faithfully as possible:

* the whole training split is one tensor; ``multilabel_batch`` builds the **10x multi-label tensor** (10 copies of
  the training set, one per embedded label, concatenated one ``torch.cat`` at a time as in their loop) with the
  label embedded in pixels 0-9 (zeroed, then pixel ``label`` set to M = the tensor's max);
* positives = the N true-label copies; negatives = **one random subset of N** of the 9N wrong-label copies drawn
  **once** with ``randperm`` and fixed for all epochs and layers;
* each layer: ``DataLoader(TensorDataset(x_pos, x_neg), batch_size, shuffle=True)``; per batch, forward of the B
  positives and their index-paired B negatives through ``ReLU(Linear(normalize(x, p=2)))``, goodness = L2 norm,
  loss = mean of ``log(1 + exp(cat([θ - G⁺, G⁻ - θ])))`` with θ = 3 (the authors' expression; the script switches
  to ``softplus`` only if that expression overflows to inf, and reports whether it did), one Adam per layer, an
  ExponentialLR(γ = 1) no-op scheduler, ``.item()`` of the mean goodness every batch;
* after the epochs of a layer: eval mode, ``forward`` of all positives and negatives (not under ``no_grad``, as in
  their code) gives the next layer's inputs; then test accuracy with their ``predict`` (10 labelled copies of the
  test set through all layers, softmax over labels per layer, summed over layers, argmax; not under ``no_grad``).

Left out: the goodness plots saved with matplotlib every 10 epochs and the ``print`` calls (file I/O unrelated to
the algorithm; leaving them out can only make the baseline faster).  Their code sets no seed; we seed torch so both
runs are reproducible.

Both methods get the same data (``ensembles.data.load_dataset``, the paper's normalisation), the same
hyper-parameters (3 x 1000 units, lr, batch size, epochs per layer, θ = 3, L2 input normalisation, L2-norm goodness,
fixed negatives) and the same number of torch threads; each runs in its own subprocess, whose peak resident memory
(``ru_maxrss``) is reported together with the resident memory after the imports (so that the training's own share is
visible).  Timing: training time per epoch = (all training work, including the pass that builds the next layer's
inputs) / epochs; time to the reference accuracy = cumulative training time at the first layer boundary where the
test accuracy (evaluated after each layer, as the authors do) reaches ``--ref-acc``.  Evaluation time is excluded for
both.

Usage::

    python benchmarks/bench_ff_reference.py                      # mnist-5k, 10 epochs per layer, 1 thread
    python benchmarks/bench_ff_reference.py --dataset fashion-mnist --n-train 10000 --epochs 5

Writes ``benchmarks/out/bench_ff_reference.json`` (``bench_ff_reference_<dataset>.json`` for another dataset) and
prints a table with the machine's 1-minute load average (timings on a shared machine are only indicative).
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

from _common import run_worker, serve_worker, thread_env, write_json

HERE = Path(__file__).resolve().parent
OUT = HERE / "out"


def _rss_mb() -> float:
    try:
        import psutil

        return psutil.Process().memory_info().rss / 2**20
    except ImportError:  # pragma: no cover
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


# ------------------------------------------------------------------------------------------------ data


def load_data(name: str, n_train: int | None):
    from ensembles.data import load_dataset

    tr = load_dataset(name, split="train", normalize="paper")
    te = load_dataset(name, split="test", normalize="paper")
    xtr, ytr = tr.x, tr.y
    if n_train:
        xtr, ytr = xtr[:n_train], ytr[:n_train]
    return xtr, ytr, te.x, te.y


# ------------------------------------------------------------------------------------------------ baseline


def run_baseline(args) -> dict:
    """The authors' FF procedure (see the module docstring), instrumented with timers."""
    import torch

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    rss_imports = _rss_mb()
    xtr_np, ytr_np, xte_np, yte_np = load_data(args.dataset, args.n_train)
    x_all = torch.as_tensor(xtr_np)
    y_all = torch.as_tensor(ytr_np)
    x_te = torch.as_tensor(xte_np)
    y_te = torch.as_tensor(yte_np)
    overflow = {"used_softplus": False}

    def label_images(images, labels):  # data.py, greyscale branch
        labeled = images.clone()
        labeled[:, :10] = 0
        labeled[range(len(images)), labels] = images.max()
        return labeled

    def multilabel_batch(data, labels):  # data.py: 10 copies, concatenated one at a time
        images = torch.empty((0,) + data.shape[1:])
        newlabels = torch.empty(0, dtype=torch.float32)
        for i in range(10):
            images = torch.cat((images, label_images(data, torch.ones_like(labels) * i)))
            newlabels = torch.cat((newlabels, torch.eq(labels, i)))
        return images.reshape(images.shape[0], -1), newlabels.reshape(-1, 1)

    class ForwardLayer(torch.nn.Module):  # models.py
        def __init__(self, in_features, out_features, epochs, lr):
            super().__init__()
            self.threshold = 3
            self.linear = torch.nn.Linear(in_features, out_features, bias=True)
            self.custom_nlinear = torch.nn.ReLU()
            self.goodness_function = lambda x: torch.norm(x, dim=1, p=2)
            self.dropout = torch.nn.Dropout(p=0, inplace=False)
            self.num_epochs = epochs
            self.optimizer = torch.optim.Adam(self.parameters(), lr=lr)
            self.normalize_function = lambda x: torch.nn.functional.normalize(x, p=2)
            self.scheduler = torch.optim.lr_scheduler.ExponentialLR(self.optimizer, gamma=1.0)

        def forward(self, x):
            x_direction = self.normalize_function(x)
            x_direction = self.custom_nlinear(self.linear(x_direction))
            return self.dropout(x_direction)

        def train_layer(self, x_pos, x_neg, batch_size, epoch_times):
            dataset = torch.utils.data.TensorDataset(x_pos, x_neg)
            dataloader = torch.utils.data.DataLoader(dataset, batch_size=batch_size, shuffle=True)
            pos, neg = [], []
            for _ in range(self.num_epochs):
                t0 = time.perf_counter()
                avg_pos = avg_neg = 0
                for xpos, xneg in iter(dataloader):
                    x_pos_output = self.forward(xpos)
                    x_neg_output = self.forward(xneg)
                    positive_goodness = self.goodness_function(x_pos_output)
                    negative_goodness = self.goodness_function(x_neg_output)
                    avg_pos += positive_goodness.mean().item()
                    avg_neg += negative_goodness.mean().item()
                    z = torch.cat([-positive_goodness + self.threshold, negative_goodness - self.threshold])
                    loss = torch.log(1 + torch.exp(z)).mean()
                    if not torch.isfinite(loss):  # exp overflow: the same function, computed stably
                        overflow["used_softplus"] = True
                        loss = torch.nn.functional.softplus(z).mean()
                    self.optimizer.zero_grad()
                    loss.backward()
                    self.optimizer.step()
                self.scheduler.step()
                pos.append(avg_pos / len(dataloader))
                neg.append(avg_neg / len(dataloader))
                epoch_times.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            self.eval()
            out = self.forward(x_pos).detach(), self.forward(x_neg).detach()
            epoch_times[-1] += time.perf_counter() - t0  # building the next layer's inputs counts as training
            return out

    layers = [ForwardLayer(x_all.shape[1] if i == 0 else args.hidden, args.hidden, args.epochs, args.lr)
              for i in range(args.layers)]

    def predict(x):  # NetFF.predict (CPU; their x.get_device() bug avoided by never moving tensors)
        goodness_per_label = torch.empty((x.shape[0], 10, len(layers)))
        for label in range(10):
            x_lab = label_images(x, label).reshape(x.shape[0], -1)
            for i, layer in enumerate(layers):
                x_lab = layer(x_lab)
                goodness_per_label[:, label, i] = layer.goodness_function(x_lab)
        goodness_per_label = torch.nn.functional.softmax(goodness_per_label, dim=1)
        return torch.argmax(torch.sum(goodness_per_label, dim=2), dim=1)

    t_prep = time.perf_counter()
    x, y = multilabel_batch(x_all, y_all)  # NetFF.train_
    y = y.reshape(-1)
    x_pos = x[y == 1]
    x_neg = x[y == 0]
    rnd = torch.randperm(x_neg.size(0))
    x_neg = x_neg[rnd][: x_pos.size(0)]
    del x, y, rnd
    prep_s = time.perf_counter() - t_prep
    epoch_times: list[float] = []
    accs = []
    for layer in layers:
        layer.train()
        x_pos, x_neg = layer.train_layer(x_pos, x_neg, args.batch_size, epoch_times)
        t0 = time.perf_counter()
        acc = predict(x_te).eq(y_te).float().mean().item()
        accs.append({"epochs": len(epoch_times), "train_time_s": sum(epoch_times) + prep_s, "test_accuracy": acc,
                     "eval_s": time.perf_counter() - t0})
    return {"method": "baseline (authors' procedure)", "epoch_times_s": epoch_times, "prep_s": prep_s,
            "checkpoints": accs, "used_softplus": overflow["used_softplus"], "rss_after_imports_mb": rss_imports,
            "peak_rss_mb": _peak_mb(), "threads": torch.get_num_threads()}


# ------------------------------------------------------------------------------------------------ ours


def run_ours(args) -> dict:
    import torch

    from ensembles.train import make_config, train_run

    torch.set_num_threads(args.threads)
    rss_imports = _rss_mb()
    total = args.epochs * args.layers
    overrides = {"train.epochs": args.epochs, "train.lr": args.lr, "train.batch_size": args.batch_size,
                 "network.hidden": [args.hidden] * args.layers, "train.checkpoint_every": total,
                 "record.enabled": False, "train.threads": args.threads}
    if args.n_train:
        overrides["data.train_subsample"] = args.n_train
    cfg = make_config(model="ff", dataset=args.dataset, preset="paper", scale="cpu", seed=args.seed, **overrides)
    with tempfile.TemporaryDirectory() as tmp:
        metrics = train_run(cfg, Path(tmp) / "run", progress=False)
        history = json.loads((Path(tmp) / "run" / "history.json").read_text())
    epoch_times = [h["epoch_time_s"] for h in history]
    checkpoints = []
    for h in history:
        if "test_accuracy" in h:
            checkpoints.append({"epochs": h["epoch"], "train_time_s": sum(epoch_times[: h["epoch"]]),
                                "test_accuracy": h["test_accuracy"]})
    return {"method": "ours (ensembles.train, paper preset)", "epoch_times_s": epoch_times, "prep_s": 0.0,
            "checkpoints": checkpoints, "final_accuracy": metrics.get("test_accuracy"),
            "rss_after_imports_mb": rss_imports, "peak_rss_mb": _peak_mb(), "threads": torch.get_num_threads(),
            "config": {"negatives": cfg.ff.negatives, "goodness": cfg.ff.goodness, "threshold": cfg.ff.threshold,
                       "input_norm": cfg.network.input_norm, "schedule": cfg.ff.schedule}}


# ------------------------------------------------------------------------------------------------ driver


def summarize(res: dict, ref_acc: float) -> dict:
    ep = res["epoch_times_s"]
    total = sum(ep) + res.get("prep_s", 0.0)
    reached = next((c for c in res["checkpoints"] if c["test_accuracy"] >= ref_acc), None)
    return {
        "method": res["method"], "epochs": len(ep), "train_s": total, "s_per_epoch": total / len(ep),
        "median_epoch_s": sorted(ep)[len(ep) // 2], "final_accuracy": res["checkpoints"][-1]["test_accuracy"],
        "accuracy_per_layer": [round(c["test_accuracy"], 4) for c in res["checkpoints"]],
        "time_to_ref_s": None if reached is None else reached["train_time_s"],
        "peak_rss_mb": res["peak_rss_mb"], "rss_after_imports_mb": res["rss_after_imports_mb"],
        "train_rss_mb": res["peak_rss_mb"] - res["rss_after_imports_mb"],
    }


def _child(method: str, args) -> dict:
    cmd = [sys.executable, __file__, "--worker", method, "--dataset", args.dataset, "--epochs", str(args.epochs),
           "--threads", str(args.threads), "--lr", str(args.lr), "--batch-size", str(args.batch_size),
           "--hidden", str(args.hidden), "--layers", str(args.layers), "--seed", str(args.seed)]
    if args.n_train:
        cmd += ["--n-train", str(args.n_train)]
    return run_worker(cmd, method, thread_env(args.threads))


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--dataset", default="mnist-5k")
    p.add_argument("--n-train", type=int, default=None, help="use the first n training images")
    p.add_argument("--epochs", type=int, default=10, help="epochs per layer")
    p.add_argument("--lr", type=float, default=0.01)
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--hidden", type=int, default=1000)
    p.add_argument("--layers", type=int, default=3)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--ref-acc", type=float, default=0.80, help="reference test accuracy for time-to-accuracy")
    p.add_argument("--worker", choices=("ours", "baseline"), help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if serve_worker(args, {"ours": run_ours, "baseline": run_baseline}):
        return 0
    raw = {m: _child(m, args) for m in ("baseline", "ours")}
    rows = {m: summarize(r, args.ref_acc) for m, r in raw.items()}
    b, o = rows["baseline"], rows["ours"]
    ratio = {
        "speedup_per_epoch": b["s_per_epoch"] / o["s_per_epoch"],
        "speedup_time_to_ref": (b["time_to_ref_s"] / o["time_to_ref_s"]
                                if b["time_to_ref_s"] and o["time_to_ref_s"] else None),
        "peak_rss_ratio": o["peak_rss_mb"] / b["peak_rss_mb"],
        "train_rss_ratio": o["train_rss_mb"] / b["train_rss_mb"] if b["train_rss_mb"] > 0 else None,
    }
    result = {"benchmark": "ff_reference", "load_average_1min": os.getloadavg()[0], "dataset": args.dataset, "n_train": args.n_train,
              "epochs_per_layer": args.epochs, "lr": args.lr, "batch_size": args.batch_size, "hidden": args.hidden,
              "layers": args.layers, "threads": args.threads, "ref_acc": args.ref_acc, "cores": os.cpu_count(),
              "baseline_used_softplus": raw["baseline"]["used_softplus"], "rows": rows, "ratios": ratio,
              "targets": {"speedup_per_epoch": ">= 1.5", "peak_rss_ratio": "<= 0.1"},
              "raw": raw}
    name = "bench_ff_reference" if args.dataset == "mnist-5k" else f"bench_ff_reference_{args.dataset}"
    write_json(OUT / f"{name}.json", result)
    print(f"FF training, {args.dataset} ({args.n_train or 'all'} train), {args.layers}x{args.hidden}, load {os.getloadavg()[0]:.1f}, "
          f"{args.epochs} epochs/layer, batch {args.batch_size}, lr {args.lr}, {args.threads} thread(s)")
    print(f"| method | s/epoch | train s | time to acc>={args.ref_acc:.2f} | accuracy per layer | peak RSS MB "
          "| RSS above imports MB |")
    print("|---|---|---|---|---|---|---|")
    for r in rows.values():
        ttr = "not reached" if r["time_to_ref_s"] is None else f"{r['time_to_ref_s']:.1f} s"
        print(f"| {r['method']} | {r['s_per_epoch']:.3f} | {r['train_s']:.1f} | {ttr} | {r['accuracy_per_layer']} "
              f"| {r['peak_rss_mb']:.0f} | {r['train_rss_mb']:.0f} |")
    print(f"speed-up per epoch {ratio['speedup_per_epoch']:.2f}x (target >= 1.5x); time to reference "
          + ("n/a" if ratio["speedup_time_to_ref"] is None else f"{ratio['speedup_time_to_ref']:.2f}x")
          + f"; peak RSS ours/baseline {ratio['peak_rss_ratio']:.2f} (target <= 0.1), above-imports "
          + ("n/a" if ratio["train_rss_ratio"] is None else f"{ratio['train_rss_ratio']:.2f}")
          + f"; baseline needed softplus: {raw['baseline']['used_softplus']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
