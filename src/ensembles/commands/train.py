"""``ensembles train CONFIG.toml --out RUN_DIR [--resume] [--force] [--device cpu|cuda] [--set key=value ...]``.

Train the model of CONFIG.toml (see configs/ for examples), evaluate overall and per-class test accuracy and stream
the hidden-layer activity of the test split into RUN_DIR/recording.h5 at the configured epochs. RUN_DIR gets
config.toml (resolved), history.json, metrics.json, checkpoints/, recording.h5 and DONE.

Exit status: 0 done, 1 training diverged (non-finite loss, weights or activations; see --allow-divergence), 2 a
user or environment error (one line on stderr, no traceback).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys

from ensembles.commands._common import QUIET, add_command, add_overrides, switches


def add_parser(subparsers) -> argparse.ArgumentParser:
    p = add_command(subparsers, __name__,
                    help="train an FF, BP/FF or BP network, evaluate it and record its test-split activity")
    p.add_argument("config", metavar="CONFIG.toml", help="TOML run config (model, preset, scale, sections)")
    p.add_argument("--out", required=True, metavar="RUN_DIR", help="run directory")
    switches(p.add_mutually_exclusive_group(), resume="continue an interrupted run in RUN_DIR",
             force="delete a previous run in RUN_DIR and start again (also needed when RUN_DIR holds other files)")
    p.add_argument("--device", default="cpu", help="torch device: cpu (default), cuda or cuda:N")
    add_overrides(p, "override a config key, e.g. --set train.lr=0.01 --set 'network.hidden=[500,500]'")
    switches(p, quiet=QUIET)
    p.add_argument("--threads", type=int, default=None,
                   help="torch threads, 1 to the number of CPUs (default: torch's choice)")
    switches(p, allow_divergence="keep training and recording when the loss, weights or activations become "
             "non-finite (default: stop with exit status 1, keeping the last good checkpoint)")
    return p


def run(args: argparse.Namespace) -> int:
    import torch

    from ensembles.errors import DivergenceError
    from ensembles.train import load_config, train_run
    from ensembles.train.run import check_threads

    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if args.threads is not None:
        torch.set_num_threads(check_threads(args.threads, "--threads"))
    cfg = load_config(args.config, args.overrides)
    try:
        metrics = train_run(cfg, args.out, resume=args.resume, force=args.force, device=args.device,
                            progress=not args.quiet, allow_divergence=args.allow_divergence)
    except DivergenceError as err:
        if os.environ.get("ENSEMBLES_DEBUG"):
            raise
        print(f"ensembles train: error: {err}", file=sys.stderr)
        return 1
    summary = {k: metrics.get(k) for k in ("model", "dataset", "test_accuracy", "wall_time_s")}
    if metrics.get("diverged"):
        summary["diverged"] = metrics["diverged"]
    print(json.dumps(summary))
    return 0
