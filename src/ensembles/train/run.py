"""Training runs: data preparation, the epoch loop with checkpoints, recording during training, resume, metrics.

RUN_DIR layout (docs/architecture.md)::

    config.toml                  the resolved config (including the computed label value M)
    history.json                 list of per-epoch dicts of named scalars
    metrics.json                 overall and per-class test accuracy, wall time
    checkpoints/resume.pt        the full training state (weights, optimisers, generator, history) for --resume
    checkpoints/model_epochNNNN.pt   model weights at each recorded epoch
    checkpoints/model.pt         final model weights (+ the sizes needed to rebuild it)
    recording.h5                 test-split activity of every hidden layer, ``checkpoint`` dim = recorded epochs
    DONE                         written last, atomically

Everything is written atomically (temporary name + ``os.replace``), so a run killed at any point can be resumed.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ensembles._io import atomic_write_text
from ensembles.models import BPNet, FFNet
from ensembles.train.backprop import BPTrainer
from ensembles.train.config import RunConfig, config_from_dict, load_config
from ensembles.train.ff import BPFFTrainer, FFTrainer, TrainData
from ensembles.train.seeding import seed_everything

log = logging.getLogger(__name__)

DONE = "DONE"
_OWN = ("config.toml", "history.json", "metrics.json", "checkpoints", "recording.h5", "recording.h5.partial", DONE)


# ---------------------------------------------------------------- small I/O helpers

def _atomic_torch_save(obj: Any, path: Path) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        torch.save(obj, tmp)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _load(path: Path) -> Any:
    """Load a checkpoint of state dicts only (``weights_only=True``): never unpickles arbitrary objects."""
    import pickle

    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        raise ValueError(
            f"{path} is not a trusted ensembles checkpoint: it contains objects other than tensors and plain "
            f"containers, so it was not loaded ({type(err).__name__})."
        ) from None
    except (EOFError, RuntimeError) as err:
        raise ValueError(f"{path} is not a readable ensembles checkpoint (truncated or corrupt): {err}") from None


# ---------------------------------------------------------------- data and models

def prepare_data(cfg: RunConfig):
    """Load the train/test splits, remove held-out classes from training and compute the label value M.

    Returns ``(train_dataset, test_dataset, train_index, label_value)``; ``train_index`` selects the training
    images actually used (held-out classes removed, optional subsample of a fixed ``RandomState(0)`` permutation).
    M is the maximum of the whole training split (after normalisation), computed once (paper-spec §1.6, §6 #6),
    unless ``ff.label_value`` is set.
    """
    from ensembles.data import load_dataset

    d = cfg.data
    train = load_dataset(d.dataset, "train", d.root, normalize=d.normalize)
    test = load_dataset(d.dataset, "test", d.root, normalize=d.normalize)
    n_classes = len(train.classes)
    bad = [c for c in d.held_out if c >= n_classes]
    if bad:
        raise ValueError(f"The 'data.held_out' parameter must contain class indices below {n_classes}. Got {bad!r}.")
    keep = ~np.isin(train.y, np.asarray(d.held_out, dtype=np.int64))
    index = np.flatnonzero(keep)
    if d.train_subsample is not None and d.train_subsample < index.size:
        perm = np.random.RandomState(0).permutation(index.size)[: d.train_subsample]
        index = index[np.sort(perm)]
    if len(np.unique(train.y[index])) < 2:
        raise ValueError("Training needs at least 2 classes after removing the held-out classes.")
    label_value = cfg.ff.label_value if cfg.ff.label_value is not None else float(train.x.max())
    return train, test, index, label_value


def build_model(cfg: RunConfig, in_features: int, n_classes: int, image_shape: Sequence[int],
                label_value: float | None) -> torch.nn.Module:
    """The network of ``cfg`` (weights drawn from torch's global RNG)."""
    net = cfg.network
    if cfg.model == "bp":
        return BPNet(in_features, net.hidden, n_classes, activation=net.activation, input_norm=net.input_norm)
    return FFNet(in_features, net.hidden, n_classes=n_classes, image_shape=image_shape,
                 label_value=float(label_value), activation=net.activation, input_norm=net.input_norm,
                 goodness=cfg.ff.goodness,
                 threshold=None if isinstance(cfg.ff.threshold, str) else float(cfg.ff.threshold))


def _trainer_cls(model: str):
    return {"ff": FFTrainer, "bp_ff": BPFFTrainer, "bp": BPTrainer}[model]


# ---------------------------------------------------------------- activations and recordings

def _site(cfg_or_model) -> str:
    act = cfg_or_model.network.activation if isinstance(cfg_or_model, RunConfig) else cfg_or_model.activation
    return "post-relu" if act == "relu" else "post-activation"


def _condition_rows(conditions: Sequence[str], labels: np.ndarray, n_classes: int, ff_style: bool):
    """Per condition: (name, embedded labels per row (or None = no label), image index per row)."""
    n = labels.shape[0]
    if not ff_style:
        return [("none", None, np.arange(n))]
    rows = []
    for c in conditions:
        if c == "true":
            rows.append(("true", labels.astype(np.int64), np.arange(n)))
        elif c == "none":
            rows.append(("none", np.full(n, -1, dtype=np.int64), np.arange(n)))
        else:
            for k in range(n_classes):
                rows.append((f"label{k}", np.full(n, k, dtype=np.int64), np.arange(n)))
    return rows


@torch.no_grad()
def iter_activations(model: torch.nn.Module, x: np.ndarray | torch.Tensor, embedded: np.ndarray | None, *,
                     batch_size: int = 1000, device: str | torch.device = "cpu"):
    """Yield ``(n, sum(layer_sizes))`` float32 numpy blocks of hidden activity, batch by batch.

    ``embedded``: label per row to embed for FF-style models (-1 = label pixels zeroed, None = raw input, the only
    option for BP), or a list of them, one block sequence per entry (FF: layer 1's image pass shared by them).
    """
    model.eval()
    xt = torch.as_tensor(np.asarray(x, dtype=np.float32))
    if isinstance(model, FFNet):
        yield from model.label_activations(xt, embedded if isinstance(embedded, list) else [embedded],
                                           batch_size=batch_size, device=device)
        return
    for s in range(0, xt.shape[0], batch_size):
        yield torch.cat(model.hidden(xt[s:s + batch_size].to(device)), dim=1).float().cpu().numpy()


def _presentation(test, rows, held_out: Sequence[int], ff_style: bool) -> dict:
    y = np.asarray(test.y, dtype=np.int64)
    idx = np.concatenate([r[2] for r in rows])
    emb = np.concatenate([r[1] if r[1] is not None else np.full(r[2].size, -1, dtype=np.int64) for r in rows])
    names = np.asarray(test.classes)
    pres = {
        "stimulus_id": np.asarray(test.stimulus_ids)[idx],
        "label": y[idx],
        "label_name": names[y[idx]],
        "split": np.full(idx.size, str(test.split)),
        "embedded_label": emb,
    }
    if held_out:
        pres["held_out"] = np.isin(y[idx], np.asarray(list(held_out), dtype=np.int64))
    return pres, idx


def _model_attrs(cfg: RunConfig) -> dict:
    return {"model": cfg.model, "dataset": cfg.data.dataset, "seed": int(cfg.seed), "config": cfg.to_json(),
            "site": _site(cfg), "preset": cfg.preset, "scale": cfg.scale}


def record_model(model: torch.nn.Module, dataset, path: str | os.PathLike | None = None, *,
                 condition: str | Sequence[str] = "true", config: RunConfig | None = None,
                 held_out: Sequence[int] = (), batch_size: int = 1000, device: str = "cpu",
                 attrs: dict | None = None):
    """Record the hidden activity of a trained model on a dataset split into a recording.

    Parameters
    ----------
    model : FFNet or BPNet
        E.g. from :func:`load_model`.
    dataset : ensembles.data.Dataset
        Any split of any dataset with the model's input size.
    path : path, optional
        Save the recording there (atomically) as well as returning it.
    condition : {"true", "none", "all"} or a list of them
        FF-style models: true label embedded, label pixels zeroed ("no label"), or every label (K presentations
        per image, ``embedded_label`` says which). BP always sees the raw image (``embedded_label = -1``).
    config : RunConfig, optional
        Stored in the attrs (``model``, ``dataset``, ``seed``, ``config``); required fields are guessed otherwise.
    held_out : sequence of int
        Classes held out of training: adds the boolean ``held_out`` presentation coord.

    Returns
    -------
    xarray.Dataset
        Validated recording with ``predicted`` and ``correct`` presentation coords (the model's prediction for
        the image, whatever label the row carries).
    """
    from ensembles.record import make_recording, save_recording

    conds = [condition] if isinstance(condition, str) else list(condition)
    ff_style = isinstance(model, FFNet)
    rows = _condition_rows(conds, np.asarray(dataset.y), model.n_classes, ff_style)
    pres, idx = _presentation(dataset, rows, held_out, ff_style)
    act = np.concatenate(list(iter_activations(model, dataset.x, [r[1] for r in rows], batch_size=batch_size,
                                               device=device)))
    pred = _predict(model, dataset.x, config, batch_size, device)
    pres["predicted"] = pred[idx]
    pres["correct"] = pred[idx] == pres["label"]
    if config is not None:
        base = _model_attrs(config)
        base["dataset"] = str(dataset.name)
    else:
        base = {"model": "bp" if not ff_style else "ff", "dataset": str(dataset.name), "seed": -1, "config": "{}",
                "site": _site(model)}
    base.update(attrs or {})
    rec = make_recording(act, presentation=pres, layer_sizes=model.layer_sizes, attrs=base)
    if path is not None:
        save_recording(rec, path)
    return rec


def _predict(model, x, config: RunConfig | None, batch_size: int, device) -> np.ndarray:
    xt = torch.as_tensor(np.asarray(x, dtype=np.float32)).to(device)
    model.eval()
    if isinstance(model, FFNet):
        rule = config.ff.prediction if config is not None else "softmax_sum"
        return model.predict(xt, rule, batch_size=batch_size)[0].cpu().numpy()
    return model.predict(xt, batch_size=batch_size)[0].cpu().numpy()


@torch.no_grad()
def layer_inputs(model: torch.nn.Module, x: np.ndarray | torch.Tensor, labels: np.ndarray | None = None, *,
                 batch_size: int = 1000) -> list[dict[str, np.ndarray]]:
    """Per hidden layer: the normalised input x̂ the layer's weights see, the input current W x̂ + b and the activity.

    For the inhibition analyses (paper-spec §3.7): E = Σ_j max(W_ij, 0) x̂_j and I = Σ_j min(W_ij, 0) x̂_j are
    computed from ``out[k]["normalized_input"]`` and :func:`layer_parameters`. ``labels``: labels to embed for
    FF-style models (None = true-label-free input with label pixels zeroed; pass the true labels for the
    paper's condition); ignored for BP.

    Returns a list (one dict per layer) with float32 arrays ``normalized_input`` (N, D_in), ``current`` (N, H) and
    ``activity`` (N, H).
    """
    model.eval()
    xt = torch.as_tensor(np.asarray(x, dtype=np.float32))
    out = [{"normalized_input": [], "current": [], "activity": []} for _ in model.layers]
    for s in range(0, xt.shape[0], batch_size):
        h = xt[s:s + batch_size]
        if isinstance(model, FFNet):
            lab = None if labels is None else torch.as_tensor(np.asarray(labels)[s:s + batch_size])
            h = model.embed(h, lab)
        for k, layer in enumerate(model.layers):
            xn = layer.normalized_input(h)
            cur = layer.linear(xn)
            h = layer._act(cur)
            out[k]["normalized_input"].append(xn.numpy())
            out[k]["current"].append(cur.numpy())
            out[k]["activity"].append(h.numpy())
    return [{key: np.concatenate(v) for key, v in d.items()} for d in out]


def layer_parameters(model: torch.nn.Module) -> list[dict[str, np.ndarray]]:
    """Per hidden layer: ``weight`` (H_out, H_in) and ``bias`` (H_out,) as float32 numpy arrays."""
    return [{"weight": layer.weight.detach().cpu().numpy().copy(),
             "bias": (layer.bias.detach().cpu().numpy().copy() if layer.bias is not None
                      else np.zeros(layer.out_features, np.float32))} for layer in model.layers]


def load_model(run_dir: str | os.PathLike, *, epoch: int | None = None, device: str = "cpu"):
    """Rebuild the trained model of a run directory.

    Parameters
    ----------
    run_dir : path
        A run directory written by :func:`train_run` (finished, or with ``epoch`` a recorded epoch).
    epoch : int, optional
        A recorded epoch (``checkpoints/model_epochNNNN.pt``); default the final model.

    Returns
    -------
    (model, config) : (FFNet or BPNet, RunConfig)
        The model in eval mode and the resolved config.
    """
    run_dir = Path(run_dir)
    cfg_path = run_dir / "config.toml"
    if not cfg_path.is_file():
        raise FileNotFoundError(f"{str(run_dir)!r} is not a run directory (no config.toml).")
    cfg = load_config(cfg_path)
    path = run_dir / "checkpoints" / ("model.pt" if epoch is None else f"model_epoch{int(epoch):04d}.pt")
    if not path.is_file():
        raise FileNotFoundError(f"No model weights at {str(path)!r}" + (
            "" if epoch is None else f"; recorded epochs: {cfg.record_epochs()}"))
    blob = _load(path)
    model = build_model(cfg, blob["in_features"], blob["n_classes"], blob["image_shape"], blob["label_value"])
    model.load_state_dict(blob["state_dict"])
    return model.to(device).eval(), cfg


def _model_blob(model, in_features, n_classes, image_shape, label_value) -> dict:
    return {"state_dict": {k: v.detach().cpu().clone() for k, v in model.state_dict().items()},
            "in_features": int(in_features), "n_classes": int(n_classes),
            "image_shape": [int(s) for s in image_shape],
            "label_value": None if label_value is None else float(label_value)}


# ---------------------------------------------------------------- the run

class RunDirError(FileExistsError):
    """The run directory holds a finished or unfinished run and neither resume nor force was given."""


def _check_run_dir(out: Path, resume: bool, force: bool) -> str:
    """Return "fresh", "resume" or "done"."""
    if resume and force:
        raise ValueError("Pass either resume or force, not both.")
    if out.exists() and not out.is_dir():
        raise NotADirectoryError(f"The output path {str(out)!r} exists and is not a directory.")
    has = out.is_dir() and any((out / n).exists() for n in _OWN)
    if force:
        if out.is_dir():
            for n in _OWN:
                p = out / n
                if p.is_dir():
                    shutil.rmtree(p)
                elif p.exists():
                    p.unlink()
        return "fresh"
    if (out / DONE).exists():
        if resume:
            return "done"
        raise RunDirError(f"The run directory {str(out)!r} holds a finished run; pass --force to overwrite it "
                          "(or --resume to keep it).")
    if (out / "checkpoints" / "resume.pt").exists():
        if resume:
            return "resume"
        raise RunDirError(f"The run directory {str(out)!r} holds an unfinished run; pass --resume to continue it "
                          "or --force to start over.")
    if out.is_dir() and any(out.iterdir()) and not has:
        raise RunDirError(f"The output directory {str(out)!r} is not empty and is not a run directory.")
    return "fresh"


def _same_config(stored: RunConfig, new: RunConfig) -> list[str]:
    a, b = stored.to_dict(), new.to_dict()
    diffs = []
    for sec, v in a.items():
        if isinstance(v, dict):
            for k, vv in v.items():
                if (sec, k) == ("ff", "label_value") and b[sec][k] is None:
                    continue
                if b[sec][k] != vv:
                    diffs.append(f"{sec}.{k}: {vv!r} (stored) vs {b[sec][k]!r}")
        elif b[sec] != v:
            diffs.append(f"{sec}: {v!r} (stored) vs {b[sec]!r}")
    return diffs


def train_run(config: RunConfig | str | os.PathLike | dict, out_dir: str | os.PathLike, *, resume: bool = False,
              device: str = "cpu", progress: bool = True, force: bool = False,
              batch_observer: Callable[..., None] | None = None) -> dict:
    """Train, evaluate and record one run into ``out_dir``.

    Parameters
    ----------
    config : RunConfig, path to a TOML file or dict
        The run (see :mod:`ensembles.train.config`).
    out_dir : path
        The run directory (layout in the module docstring). A finished run is never overwritten unless
        ``force``; an unfinished one needs ``resume`` or ``force``.
    resume : bool
        Continue an interrupted run from its last checkpoint; the final weights are bitwise those of an
        uninterrupted run on the CPU (same thread count). On a finished run, returns its metrics.
    device : str
        ``"cpu"`` (default) or ``"cuda"``.
    progress : bool
        tqdm progress bars (epochs and layers, with loss and mean positive/negative goodness).
    force : bool
        Delete a previous run in ``out_dir`` first.
    batch_observer : callable, optional
        Called with ``image_labels``, ``pos_labels``, ``neg_image_labels``, ``neg_labels`` for every training batch
        (instrumentation for tests).

    Returns
    -------
    dict
        The metrics also written to ``metrics.json``.
    """
    t_start = time.perf_counter()
    cfg = config if isinstance(config, RunConfig) else load_config(config)
    cfg.validate()
    out = Path(out_dir)
    state = _check_run_dir(out, resume, force)
    if state == "done":
        return json.loads((out / "metrics.json").read_text())
    if state == "resume":
        stored = load_config(out / "config.toml")
        diffs = _same_config(stored, cfg)
        if diffs:
            raise ValueError("Cannot resume with a different config: " + "; ".join(diffs))
        cfg = stored
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"The 'device' parameter is {device!r} but CUDA is not available.")
    if cfg.train.threads:
        torch.set_num_threads(cfg.train.threads)
    out.mkdir(parents=True, exist_ok=True)
    (out / "checkpoints").mkdir(exist_ok=True)

    train_ds, test_ds, tr_idx, label_value = prepare_data(cfg)
    if cfg.model != "bp":
        cfg.ff.label_value = label_value
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
        atomic_write_text(out / "config.toml", cfg.to_toml())

    history: list[dict] = []
    start, elapsed_before = 0, 0.0
    ckpt_path = out / "checkpoints" / "resume.pt"
    if state == "resume":
        ck = _load(ckpt_path)
        model.load_state_dict(ck["model"])
        trainer.load_state_dict(ck["trainer"])
        gen.set_state(ck["gen"])
        torch.set_rng_state(ck["torch_rng"])
        history, start, elapsed_before = list(ck["history"]), int(ck["epoch"]), float(ck["elapsed"])
        log.info("resuming %s at epoch %d", out, start)

    total = cfg.total_epochs
    rec_epochs = cfg.record_epochs()
    xte = torch.as_tensor(test_ds.x).to(device)
    yte = np.asarray(test_ds.y, dtype=np.int64)
    ff_style = cfg.model != "bp"
    rows = _condition_rows(cfg.record.conditions, yte, n_classes, ff_style)
    writer = None
    record_time = 0.0
    if cfg.record.enabled:
        from ensembles.record import RecordingWriter

        partial = out / "recording.h5.partial"
        if partial.exists():
            partial.unlink()
        pres, pres_idx = _presentation(test_ds, rows, cfg.data.held_out, ff_style)
        writer = RecordingWriter(out / "recording.h5", presentation=pres, layer_sizes=model.layer_sizes,
                                 epochs=rec_epochs, attrs=_model_attrs(cfg))

    def do_record(ep: int, pred: np.ndarray) -> None:
        k = rec_epochs.index(ep)
        for block in iter_activations(model, test_ds.x, [r[1] for r in rows], batch_size=cfg.train.eval_batch_size,
                                      device=device):
            writer.append(block, checkpoint=k)
        writer.set_presentation_coord("predicted", pred[pres_idx], checkpoint=k)
        writer.set_presentation_coord("correct", pred[pres_idx] == yte[pres_idx], checkpoint=k)

    def snapshot(ep: int) -> None:
        _atomic_torch_save(_model_blob(model, in_features, n_classes, image_shape,
                                       label_value if ff_style else None),
                           out / "checkpoints" / f"model_epoch{ep:04d}.pt")

    try:
        if writer is not None and start > 0:  # replay the checkpoints recorded before the interruption
            live = {k: v.clone() for k, v in model.state_dict().items()}
            for ep in [e for e in rec_epochs if e <= start]:
                model.load_state_dict(_load(out / "checkpoints" / f"model_epoch{ep:04d}.pt")["state_dict"])
                do_record(ep, trainer.predict(xte).numpy())
            model.load_state_dict(live)

        bars = _Bars(progress, cfg, start, total)
        t_loop = time.perf_counter()
        for g in range(start, total):
            t0 = time.perf_counter()
            stats = trainer.run_epoch(g)
            entry = {"epoch": g + 1, **stats, "epoch_time_s": time.perf_counter() - t0}
            ep = g + 1
            evaluate = ep in rec_epochs or (cfg.train.eval_every and ep % cfg.train.eval_every == 0)
            if evaluate:
                pred = trainer.predict(xte).numpy()
                entry["test_accuracy"] = float(np.mean(pred == yte))
            if ep in rec_epochs:
                snapshot(ep)
                if writer is not None:
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
        if writer is not None:
            writer.close()
            writer = None
    finally:
        if writer is not None:
            _abort_writer(writer)

    # final evaluation (the model after the last epoch; identical to the last recorded checkpoint)
    pred = trainer.predict(xte).numpy()
    metrics = _metrics(cfg, test_ds, pred, yte, len(tr_idx))
    metrics.update({
        "wall_time_s": elapsed_before + time.perf_counter() - t_start,
        "train_loop_s": train_loop_s, "record_time_s": record_time,
        "resumed_at_epoch": start if state == "resume" else None,
        "label_value": label_value if ff_style else None, "batch_size": cfg.train.batch_size,
        "epochs": total, "device": device, "threads": torch.get_num_threads(),
    })
    _atomic_torch_save(_model_blob(model, in_features, n_classes, image_shape,
                                   label_value if ff_style else None), out / "checkpoints" / "model.pt")
    atomic_write_text(out / "history.json", json.dumps(history, indent=1))
    atomic_write_text(out / "metrics.json", json.dumps(metrics, indent=1))
    atomic_write_text(out / DONE, time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()) + "\n")
    return metrics


def _abort_writer(writer) -> None:
    """Leave a partially written recording under its temporary name (never at the target path)."""
    for name in ("abort", "__exit__"):
        fn = getattr(writer, name, None)
        if fn is None:
            continue
        try:
            fn() if name == "abort" else fn(RuntimeError, RuntimeError("interrupted"), None)
        except Exception:  # pragma: no cover - best effort cleanup
            pass
        return


def _metrics(cfg: RunConfig, test_ds, pred: np.ndarray, y: np.ndarray, n_train: int) -> dict:
    names = list(test_ds.classes)
    per = {}
    for c, name in enumerate(names):
        m = y == c
        per[name] = float(np.mean(pred[m] == c)) if m.any() else None
    out = {
        "model": cfg.model, "dataset": cfg.data.dataset, "seed": cfg.seed, "preset": cfg.preset, "scale": cfg.scale,
        "test_accuracy": float(np.mean(pred == y)), "per_class_accuracy": per,
        "n_train": int(n_train), "n_test": int(y.size),
    }
    if cfg.data.held_out:
        ho = np.isin(y, cfg.data.held_out)
        out["seen_class_accuracy"] = float(np.mean(pred[~ho] == y[~ho])) if (~ho).any() else None
        out["held_out_accuracy"] = float(np.mean(pred[ho] == y[ho])) if ho.any() else None
        out["held_out"] = list(cfg.data.held_out)
    return out


class _Bars:
    """tqdm bars: layers (layerwise FF) and epochs, with loss and mean positive/negative goodness."""

    def __init__(self, enabled: bool, cfg: RunConfig, start: int, total: int):
        self.enabled = enabled
        self.cfg = cfg
        self.layer_bar = self.epoch_bar = None
        if not enabled:
            return
        from tqdm.auto import tqdm

        name = {"ff": "FF", "bp_ff": "BP/FF", "bp": "BP"}[cfg.model]
        self.E = cfg.train.epochs
        if cfg.model == "ff" and cfg.ff.schedule == "layerwise":
            L = cfg.n_layers
            self.layer_bar = tqdm(total=L, initial=start // self.E, desc=f"{name} layers", position=0, leave=True)
        self.epoch_bar = tqdm(total=total, initial=start, desc=f"{name} epochs", position=1 if self.layer_bar else 0,
                              leave=True)

    def update(self, g: int, entry: dict) -> None:
        if not self.enabled:
            return
        post = {"loss": f"{entry['loss']:.4f}"}
        pos = [k for k in entry if k.startswith("g_pos_l")]
        if pos:
            k = pos[-1] if entry.get("layer", 0) == 0 else f"g_pos_l{entry['layer']}"
            post["g+"] = f"{entry[k]:.3g}"
            post["g-"] = f"{entry[k.replace('pos', 'neg')]:.3g}"
        if "test_accuracy" in entry:
            post["test_acc"] = f"{entry['test_accuracy']:.4f}"
        self.epoch_bar.set_postfix(post, refresh=False)
        self.epoch_bar.update(1)
        if self.layer_bar is not None and (g + 1) % self.E == 0:
            self.layer_bar.update(1)

    def close(self) -> None:
        for b in (self.layer_bar, self.epoch_bar):
            if b is not None:
                b.close()


def read_history(run_dir: str | os.PathLike) -> list[dict]:
    """The per-epoch history of a run."""
    return json.loads((Path(run_dir) / "history.json").read_text())


def read_metrics(run_dir: str | os.PathLike) -> dict:
    """The metrics of a finished run."""
    return json.loads((Path(run_dir) / "metrics.json").read_text())


__all__ = ["train_run", "load_model", "record_model", "layer_inputs", "layer_parameters", "prepare_data",
           "build_model", "iter_activations", "read_history", "read_metrics", "RunDirError", "config_from_dict"]
