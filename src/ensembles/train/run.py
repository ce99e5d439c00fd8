"""Training runs: the epoch loop with its checkpoints, resume, recording during training and the final files.

RUN_DIR layout (:class:`ensembles.layout.RunLayout`, docs/architecture.md)::

    config.toml                  the resolved config (including the computed label value M)
    history.json                 list of per-epoch dicts of named scalars
    metrics.json                 overall and per-class test accuracy, wall time
    checkpoints/resume.pt        the full training state (weights, optimisers, generator, history) for --resume
    checkpoints/model_epochNNNN.pt   model weights at each recorded epoch
    checkpoints/model.pt         final model weights (+ the sizes needed to rebuild it)
    weights.npz                  the final layers as plain arrays (:mod:`ensembles.layerweights`)
    recording.h5                 test-split activity of every hidden layer, ``checkpoint`` dim = recorded epochs
    DONE                         written last, atomically

Everything is written atomically (:func:`ensembles._io.atomic_write`), so a run killed at any point can be resumed.
The parts of a run live in their own modules: :mod:`~ensembles.train.build` (data and network),
:mod:`~ensembles.train.checkpoints` (checkpoint files, :func:`load_model`), :mod:`~ensembles.train.activations`
(activations, :func:`record_model`), :mod:`~ensembles.train.recorder` (the recording written while training),
:mod:`~ensembles.train.rundir` (the run directory's state), :mod:`~ensembles.train.monitor` (divergence, metrics,
progress bars) and :mod:`~ensembles.train.device`; their public functions are importable from here as before.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ensembles._io import atomic_write_text
from ensembles._lock import LOCK_NAME, MARKER_NAME, claim_output_dir
from ensembles.errors import DataFileError, ParameterError, ResourceError
from ensembles.integrity import seal_text
from ensembles.layerweights import LayerWeights, write_layer_weights
from ensembles.layout import DONE, RunLayout
from ensembles.train.activations import (
    condition_rows,
    iter_activations,
    layer_inputs,
    layer_parameters,
    record_model,
)
from ensembles.train.backprop import BPTrainer
from ensembles.train.build import build_model, prepare_data
from ensembles.train.checkpoints import (
    foreign_checkpoint,
    load_checkpoint,
    load_model,
    model_blob,
    save_checkpoint,
)
from ensembles.train.config import RunConfig, config_from_dict, load_config
from ensembles.train.device import check_threads, resolve_device, usable_cpus
from ensembles.train.ff import BPFFTrainer, FFTrainer, TrainData
from ensembles.train.monitor import ProgressBars, divergence, divergence_error, run_metrics
from ensembles.train.recorder import CheckpointRecorder
from ensembles.train.rundir import (
    RunDirError,
    check_run_dir,
    finished_metrics,
    legacy_run,
    read_metrics,
    remove_failed_start,
    same_config,
    snapshot,
)
from ensembles.train.seeding import seed_everything

log = logging.getLogger(__name__)

_RESUME_FIX = ("Delete the run directory and start over with --force (it cannot be resumed from this file), or "
               "restore the file from a backup.")


# ---------------------------------------------------------------- hooks (looked up here at call time, so that
# benchmarks/bench_profile.py and the fault-injection tests can wrap them in this module)

def _atomic_torch_save(obj: Any, path: Path) -> None:
    """Write a checkpoint with its checksum, atomically (see :mod:`ensembles.train.checkpoints`)."""
    save_checkpoint(obj, path)


def _load(path: Path, kind: str = "model", fix: str = "") -> Any:
    """Load and verify a checkpoint (CRC, checksum, keys); tensors and plain containers only, never pickled code."""
    return load_checkpoint(path, kind=kind, fix=fix)


def _trainer_cls(model: str):
    return {"ff": FFTrainer, "bp_ff": BPFFTrainer, "bp": BPTrainer}[model]


def _write_text(path: Path, text: str) -> None:
    """Atomic text write with the permissions of any new file of the process; a failure names the file."""
    try:
        atomic_write_text(path, text)
    except OSError as err:
        raise ResourceError(f"Cannot write {str(path)!r} ({err.strerror or err}); check the free disk space and "
                            "the permissions of the run directory.") from None


# ---------------------------------------------------------------- the run

def train_run(config: RunConfig | str | os.PathLike | dict, out_dir: str | os.PathLike, *, resume: bool = False,
              device: str = "cpu", progress: bool = True, force: bool = False,
              batch_observer: Callable[..., None] | None = None, allow_divergence: bool = False) -> dict:
    """Train, evaluate and record one run into ``out_dir``.

    Parameters
    ----------
    config : RunConfig, path to a TOML file or dict
        The run (see :mod:`ensembles.train.config`).
    out_dir : path
        The run directory (layout in the module docstring). It is claimed exclusively while the run lasts
        (:mod:`ensembles._lock`): a second process gets :class:`~ensembles.errors.OutputDirError` naming the holder,
        and a directory holding files that ``train`` did not write is refused unless ``force``. A finished run is
        never overwritten unless ``force``; an unfinished one needs ``resume`` or ``force``.
    resume : bool
        Continue an interrupted run from its last checkpoint; the final weights are bitwise those of an
        uninterrupted run on the CPU (same thread count). On a finished run, returns its metrics if ``config`` is
        the one it was trained with (a different config is refused, naming the differing keys).
    device : str
        ``"cpu"`` (default), ``"cuda"`` or ``"cuda:N"``.
    progress : bool
        tqdm progress bars (epochs and layers, with loss and mean positive/negative goodness).
    force : bool
        Delete a previous run in ``out_dir`` first (and write into a directory holding other files).
    batch_observer : callable, optional
        Called with ``image_labels``, ``pos_labels``, ``neg_image_labels``, ``neg_labels`` for every training batch
        (instrumentation for tests).
    allow_divergence : bool
        By default a non-finite loss, weight or recorded activation stops the run with
        :class:`~ensembles.errors.DivergenceError` (epoch, layer, last finite loss), keeping the last good
        checkpoint and writing no recording or ``DONE``. True: train and record to the end anyway (for studying
        divergence); ``metrics["diverged"]`` then says where it started.

    Returns
    -------
    dict
        The metrics also written to ``metrics.json``.

    Notes
    -----
    A fresh run that fails before its first resumable checkpoint (bad data, a full disk, divergence, Ctrl-C)
    removes everything it wrote, so nothing that looks like a run is left behind.
    """
    t_start = time.perf_counter()
    if resume and force:
        raise ParameterError("Pass either resume or force, not both.")
    cfg = config if isinstance(config, RunConfig) else load_config(config)
    cfg.validate()
    device = resolve_device(device)
    if cfg.train.threads:
        check_threads(cfg.train.threads, "train.threads")
    out = Path(out_dir)
    existed = out.is_dir()
    had_marker, had_lock = os.path.lexists(out / MARKER_NAME), os.path.lexists(out / LOCK_NAME)
    claim = claim_output_dir(out, command="train", force=force or legacy_run(out))
    state, before = None, None
    try:
        note = claim.note_stale()
        if note:
            log.info("%s", note)
        state = check_run_dir(out, resume, force)
        before = snapshot(out)
        if state == "done":
            return finished_metrics(out, cfg)
        return _train(cfg, out, state, device=device, progress=progress, batch_observer=batch_observer,
                      allow_divergence=allow_divergence, t_start=t_start)
    except BaseException:
        if state == "fresh" and not RunLayout(out).resume_state.exists():
            remove_failed_start(out, existed, had_marker, had_lock, before)
        raise
    finally:
        claim.release()


def _train(cfg: RunConfig, out: Path, state: str, *, device: str, progress: bool,
           batch_observer: Callable[..., None] | None, allow_divergence: bool, t_start: float) -> dict:
    lay = RunLayout(out)
    ckpt_path = lay.resume_state
    if state == "resume":
        stored = load_config(lay.config)
        diffs = same_config(stored, cfg)
        if diffs:
            raise ParameterError("Cannot resume with a different config: " + "; ".join(diffs))
        cfg = stored
    if cfg.train.threads:
        torch.set_num_threads(cfg.train.threads)

    train_ds, test_ds, tr_idx, label_value = prepare_data(cfg)
    if cfg.model != "bp":
        cfg.ff.label_value = label_value
    out.mkdir(parents=True, exist_ok=True)
    lay.checkpoints.mkdir(exist_ok=True)
    n_classes = len(train_ds.classes)
    in_features = int(train_ds.x.shape[1])
    gen = seed_everything(cfg.seed)
    model = build_model(cfg, in_features, n_classes, train_ds.image_shape, label_value).to(device)
    ytr = torch.as_tensor(train_ds.y[tr_idx], dtype=torch.long)
    train_classes = sorted(int(c) for c in np.unique(train_ds.y[tr_idx]))
    neg_classes = train_classes if cfg.data.held_out_mode == "strict" else list(range(n_classes))
    # no copy of the training images when all are used (torch shares the numpy buffer); the split itself is
    # released below, so a subsample does not keep the whole split alive during training
    whole = tr_idx.size == train_ds.x.shape[0] and train_ds.x.flags.writeable
    x_tr = train_ds.x if whole else train_ds.x[tr_idx]
    data = TrainData(torch.as_tensor(x_tr).to(device), ytr.to(device), n_classes, train_classes, neg_classes)
    image_shape = train_ds.image_shape
    del train_ds, x_tr
    trainer = _trainer_cls(cfg.model)(model, cfg, data, gen, device, batch_observer)
    if state == "fresh":
        _write_text(lay.config, cfg.to_toml())

    history: list[dict] = []
    start, elapsed_before = 0, 0.0
    if state == "resume":
        history, start, elapsed_before = _restore(ckpt_path, cfg, model, trainer, gen)
        log.info("resuming %s at epoch %d", out, start)

    total = cfg.total_epochs
    rec_epochs = cfg.record_epochs()
    xte = torch.as_tensor(test_ds.x).to(device)
    yte = np.asarray(test_ds.y, dtype=np.int64)
    ff_style = cfg.model != "bp"
    rows = condition_rows(cfg.record.conditions, yte, n_classes, ff_style)
    diverged: dict | None = next((h.get("diverged") for h in history if h.get("diverged")), None)
    recorder = CheckpointRecorder(cfg, lay, test_ds, rows, model.layer_sizes) if cfg.record.enabled else None
    record_time = 0.0

    def nonfinite(ep: int, layer: int) -> BaseException:
        return divergence_error(out, ep, layer, "the recorded activations", history, ckpt_path)

    def do_record(ep: int, pred: np.ndarray) -> None:
        blocks = iter_activations(model, test_ds.x, [r[1] for r in rows], batch_size=cfg.train.eval_batch_size,
                                  device=device)
        recorder.record(ep, blocks, pred, None if allow_divergence else nonfinite)

    def model_file() -> dict:
        return model_blob(model, in_features, n_classes, image_shape, label_value if ff_style else None)

    try:
        if recorder is not None and start > 0:  # replay the checkpoints recorded before the interruption
            recorder.replay(lay, start, model, lambda ep: do_record(ep, trainer.predict(xte).numpy()), _RESUME_FIX)

        bars = ProgressBars(progress, cfg, start, total)
        t_loop = time.perf_counter()
        last_pred: np.ndarray | None = None  # the prediction after the final epoch, when the loop evaluated it
        for g in range(start, total):
            t0 = time.perf_counter()
            stats = trainer.run_epoch(g)
            entry = {"epoch": g + 1, **stats, "epoch_time_s": time.perf_counter() - t0}
            ep = g + 1
            bad = divergence(model, stats)
            if bad is not None:
                if not allow_divergence:
                    raise divergence_error(out, ep, bad[0], bad[1], history, ckpt_path)
                if diverged is None:
                    diverged = {"epoch": ep, "layer": bad[0], "what": bad[1]}
                    entry["diverged"] = diverged
                    log.warning("training diverged at epoch %d%s (%s); recording anyway (allow_divergence)", ep,
                                "" if bad[0] is None else f" in layer {bad[0]}", bad[1])
            evaluate = ep in rec_epochs or (cfg.train.eval_every and ep % cfg.train.eval_every == 0)
            if evaluate:
                pred = trainer.predict(xte).numpy()
                entry["test_accuracy"] = float(np.mean(pred == yte))
                if ep == total:
                    last_pred = pred
            if ep in rec_epochs:
                _atomic_torch_save(model_file(), lay.model_at(ep))
                if recorder is not None:
                    t1 = time.perf_counter()
                    do_record(ep, pred)
                    entry["record_time_s"] = time.perf_counter() - t1
                    record_time += entry["record_time_s"]
            history.append(entry)
            bars.update(g, entry)
            if ep % cfg.train.checkpoint_every == 0 or ep == total:
                _atomic_torch_save({
                    "epoch": ep, "model": model.state_dict(), "trainer": trainer.state_dict(),
                    "gen": gen.get_state(), "torch_rng": torch.get_rng_state(), "history": history,
                    "elapsed": elapsed_before + time.perf_counter() - t_start,
                }, ckpt_path)
        bars.close()
        train_loop_s = time.perf_counter() - t_loop
        if recorder is not None:
            recorder.close()
    finally:
        if recorder is not None:
            recorder.abort()

    # final evaluation: the model after the last epoch (the last recorded checkpoint), predicted once; a run resumed
    # after its last epoch (nothing left to train) predicts here
    pred = last_pred if last_pred is not None else trainer.predict(xte).numpy()
    metrics = run_metrics(cfg, test_ds, pred, yte, len(tr_idx))
    metrics.update({
        "wall_time_s": elapsed_before + time.perf_counter() - t_start,
        "train_loop_s": train_loop_s, "record_time_s": record_time,
        "resumed_at_epoch": start if state == "resume" else None,
        "label_value": label_value if ff_style else None, "batch_size": cfg.train.batch_size,
        "epochs": total, "device": device, "threads": torch.get_num_threads(),
    })
    if diverged is not None:
        metrics["diverged"] = diverged
    _atomic_torch_save(model_file(), lay.model)
    # the final layers as plain arrays too, so that analyses (inhibition currents) need no torch (ensembles.layerweights)
    write_layer_weights(out, LayerWeights.from_model(model))
    _write_text(lay.history, json.dumps(history, indent=1))
    _write_text(lay.metrics, json.dumps(metrics, indent=1))
    _write_text(lay.done, seal_text(out))  # the checksums of the run's files (ensembles.integrity)
    return metrics


def _restore(ckpt_path: Path, cfg: RunConfig, model: torch.nn.Module, trainer, gen) -> tuple[list[dict], int, float]:
    """Load the training state of ``checkpoints/resume.pt`` into the model, trainer and generators; return the
    history, the epoch reached and the wall time spent before the interruption."""
    ck = _load(ckpt_path, "resume", _RESUME_FIX)
    try:
        model.load_state_dict(ck["model"])
        trainer.load_state_dict(ck["trainer"])
        gen.set_state(ck["gen"])
        torch.set_rng_state(ck["torch_rng"])
        history, start, elapsed_before = list(ck["history"]), int(ck["epoch"]), float(ck["elapsed"])
    except (RuntimeError, ValueError, TypeError, KeyError, IndexError, AttributeError) as err:
        raise foreign_checkpoint(ckpt_path, err) from None
    if not 0 < start <= cfg.total_epochs:
        raise DataFileError(f"The checkpoint {str(ckpt_path)!r} is at epoch {start}, outside 1..{cfg.total_epochs} "
                            f"of this run. {_RESUME_FIX}")
    return history, start, elapsed_before


__all__ = ["train_run", "resolve_device", "check_threads", "usable_cpus", "load_model", "record_model", "layer_inputs",
           "layer_parameters", "prepare_data", "build_model", "iter_activations", "read_metrics",
           "RunDirError", "config_from_dict", "DONE"]
