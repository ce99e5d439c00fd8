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
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ensembles._io import atomic_write_text
from ensembles._lock import LOCK_NAME, MARKER_NAME, claim_output_dir
from ensembles.errors import (
    DataFileError,
    DivergenceError,
    InputTypeError,
    OutputDirError,
    ParameterError,
    ResourceError,
)
from ensembles.layerweights import LayerWeights, write_layer_weights
from ensembles.models import BPNet, FFNet
from ensembles.train.backprop import BPTrainer
from ensembles.train.checkpoints import default_file_mode, load_checkpoint, save_checkpoint
from ensembles.train.config import RunConfig, config_from_dict, load_config
from ensembles.train.ff import BPFFTrainer, FFTrainer, TrainData
from ensembles.train.seeding import seed_everything

log = logging.getLogger(__name__)

DONE = "DONE"
_OWN = ("config.toml", "history.json", "metrics.json", "checkpoints", "recording.h5", "recording.h5.partial", DONE,
        "weights.npz")


# ---------------------------------------------------------------- small I/O helpers

def _atomic_torch_save(obj: Any, path: Path) -> None:
    """Write a checkpoint with its checksum, atomically (see :mod:`ensembles.train.checkpoints`)."""
    save_checkpoint(obj, path)


def _load(path: Path, kind: str = "model", fix: str = "") -> Any:
    """Load and verify a checkpoint (CRC, checksum, keys); tensors and plain containers only, never pickled code."""
    return load_checkpoint(path, kind=kind, fix=fix)


def _write_text(path: Path, text: str) -> None:
    """Atomic text write with the permissions of any new file of the process; a failure names the file."""
    try:
        atomic_write_text(path, text)
        os.chmod(path, default_file_mode())
    except OSError as err:
        raise ResourceError(f"Cannot write {str(path)!r} ({err.strerror or err}); check the free disk space and "
                            "the permissions of the run directory.") from None


# ---------------------------------------------------------------- data and models

def prepare_data(cfg: RunConfig):
    """Load the train/test splits, remove held-out classes from training and compute the label value M.

    Returns ``(train_dataset, test_dataset, train_index, label_value)``; ``train_index`` selects the training
    images actually used (held-out classes removed, optional subsample of a fixed ``RandomState(0)`` permutation).
    M is the maximum of the whole training split (after normalisation), computed once (docs/methods.md §M1.6, §X6),
    unless ``ff.label_value`` is set.
    """
    from ensembles.data import load_dataset

    d = cfg.data
    train = load_dataset(d.dataset, "train", d.root, normalize=d.normalize)
    test = load_dataset(d.dataset, "test", d.root, normalize=d.normalize)
    n_classes = len(train.classes)
    bad = [c for c in d.held_out if c >= n_classes]
    if bad:
        raise ParameterError(f"The 'data.held_out' parameter must contain class indices below {n_classes}. Got {bad!r}.")
    keep = ~np.isin(train.y, np.asarray(d.held_out, dtype=np.int64))
    index = np.flatnonzero(keep)
    if d.train_subsample is not None and d.train_subsample < index.size:
        perm = np.random.RandomState(0).permutation(index.size)[: d.train_subsample]
        index = index[np.sort(perm)]
    n_left = len(np.unique(train.y[index]))
    if n_left < 2:
        why = []
        if d.held_out:
            why.append(f"removing the held-out classes {list(d.held_out)}")
        if d.train_subsample is not None and d.train_subsample < keep.sum():
            why.append(f"keeping data.train_subsample={d.train_subsample} image(s)")
        raise ParameterError(
            f"Training needs images of at least 2 classes, but {' and '.join(why) or 'the training split'} leaves "
            f"{n_left} class{'es' if n_left != 1 else ''}; " + ("raise 'data.train_subsample' or hold out fewer classes." if why else
                             f"dataset {d.dataset!r} has fewer than 2 classes."))
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

    For the inhibition analyses (docs/methods.md §A3.7): E = Σ_j max(W_ij, 0) x̂_j and I = Σ_j min(W_ij, 0) x̂_j are
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
    blob = _load(path, "model")
    model = _model_from_blob(cfg, blob, path)
    return model.to(device).eval(), cfg


def _model_from_blob(cfg: RunConfig, blob: dict, path: Path) -> torch.nn.Module:
    """The model of ``cfg`` with the weights of a model checkpoint; a checkpoint of another model is refused."""
    try:
        model = build_model(cfg, int(blob["in_features"]), int(blob["n_classes"]), blob["image_shape"],
                            blob["label_value"])
        model.load_state_dict(blob["state_dict"])
    except (RuntimeError, ValueError, TypeError, KeyError, IndexError, AttributeError) as err:
        raise _foreign(path, err) from None
    return model


def _foreign(path: Path, err: BaseException) -> DataFileError:
    lines = [ln.strip() for ln in str(err).strip().splitlines() if ln.strip()] or [""]
    first = next((ln for ln in lines if ln.startswith(("size mismatch", "Missing key", "Unexpected key"))), lines[0])
    return DataFileError(
        f"The checkpoint {str(path)!r} does not belong to the run of {str(path.parent.parent / 'config.toml')!r}: "
        f"it was written for another model or config ({type(err).__name__}: {first[:200].rstrip('.')}). Restore the run's own "
        "checkpoint, or start the run over with --force.")


def _model_blob(model, in_features, n_classes, image_shape, label_value) -> dict:
    return {"state_dict": {k: v.detach().cpu().clone() for k, v in model.state_dict().items()},
            "in_features": int(in_features), "n_classes": int(n_classes),
            "image_shape": [int(s) for s in image_shape],
            "label_value": None if label_value is None else float(label_value)}


# ---------------------------------------------------------------- the run

class RunDirError(OutputDirError):
    """The run directory holds a finished or unfinished run and neither resume nor force was given."""


def resolve_device(device: Any) -> str:
    """Check a torch device name (``"cpu"``, ``"cuda"``, ``"cuda:N"``) against this machine; return it normalised.

    Raises :class:`~ensembles.errors.ParameterError` for a name that is not a device ensembles trains on and
    :class:`~ensembles.errors.ResourceError` for a device this machine does not have.
    """
    if isinstance(device, torch.device):
        device = str(device)
    if not isinstance(device, str):
        raise InputTypeError(f"The 'device' parameter must be a string such as 'cpu' or 'cuda'. Got {device!r} "
                             "instead.")
    try:
        dev = torch.device(device)
    except (RuntimeError, ValueError, TypeError):
        dev = None
    if dev is None or dev.type not in ("cpu", "cuda"):
        raise ParameterError(f"The 'device' parameter must be 'cpu', 'cuda' or 'cuda:N'. Got {device!r} instead.")
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise ResourceError(f"The 'device' parameter is {device!r} but CUDA is not available on this machine; "
                                "use --device cpu.")
        n = torch.cuda.device_count()
        if dev.index is not None and dev.index >= n:
            raise ResourceError(f"The 'device' parameter is {device!r} but this machine has {n} CUDA device(s) "
                                f"(cuda:0..cuda:{n - 1}).")
    return str(dev)


def usable_cpus() -> int:
    """CPUs this process may run on (its affinity mask where the platform has one)."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except (AttributeError, OSError):  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def check_threads(n: Any, name: str = "--threads") -> int:
    """A torch thread count between 1 and the usable CPUs (torch crashes on absurd counts: 100000 segfaults)."""
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)):
        raise InputTypeError(f"The {name!r} parameter must be an integer. Got {n!r} instead.")
    limit = usable_cpus()
    if not 1 <= int(n) <= limit:
        raise ParameterError(f"The {name!r} parameter must be between 1 and {limit} (the CPUs available to this "
                             f"process). Got {int(n)} instead.")
    return int(n)


def _legacy_run(out: Path) -> bool:
    """A run directory written before run directories carried an ownership marker (it is ours all the same).

    Such a directory holds ``config.toml`` *and* ``checkpoints/`` (created together by every version) and nothing
    but the names of a run; a directory holding only a ``config.toml`` (the user's own file) is not one.
    """
    if not out.is_dir() or (out / MARKER_NAME).exists():
        return False
    try:
        names = set(os.listdir(out)) - {LOCK_NAME}
    except OSError:
        return False
    return ((out / "config.toml").is_file() and (out / "checkpoints").is_dir() and names <= set(_OWN))


def _remove(path: Path) -> None:
    try:
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        elif path.exists() or path.is_symlink():
            path.unlink()
    except FileNotFoundError:
        pass


def _check_run_dir(out: Path, resume: bool, force: bool) -> str:
    """Return "fresh", "resume" or "done" (called while holding the directory's claim)."""
    if force:
        for n in _OWN:
            _remove(out / n)
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
    return "fresh"


def _remove_failed_start(out: Path, existed: bool, had_marker: bool, had_lock: bool) -> None:
    """Undo a fresh run that failed before its first resumable checkpoint: nothing that looks like a run stays."""
    for n in _OWN:
        _remove(out / n)
    if not had_marker:
        _remove(out / MARKER_NAME)
    if not had_lock:
        _remove(out / LOCK_NAME)
    if not existed:
        try:
            out.rmdir()
        except OSError:
            pass


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


def _finished_metrics(out: Path, cfg: RunConfig) -> dict:
    """The metrics of a finished run, after checking that ``cfg`` is the config it was trained with."""
    diffs = _same_config(load_config(out / "config.toml"), cfg)
    if diffs:
        raise ParameterError(
            f"The run directory {str(out)!r} holds a finished run trained with a different config ("
            + "; ".join(diffs) + "). A finished run is never changed: choose another --out, or pass --force to "
            "replace it.")
    path = out / "metrics.json"
    try:
        metrics = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise DataFileError(f"The finished run's {str(path)!r} is unreadable ({err}); retrain with --force.") from None
    if not isinstance(metrics, dict):
        raise DataFileError(f"The finished run's {str(path)!r} does not hold a JSON object; retrain with --force.")
    return metrics


def _nonfinite_stats(stats: dict) -> list[str]:
    return [k for k, v in stats.items() if isinstance(v, float) and not np.isfinite(v)]


def _divergence(model: torch.nn.Module, stats: dict) -> tuple[int | None, str] | None:
    """``(layer (1-based, None if unknown), what)`` when an epoch produced non-finite values, else None."""
    bad = _nonfinite_stats(stats)
    layer = None
    for k in bad:  # per-layer losses and goodness of FF ("loss_l2", "g_pos_l2", ...)
        if k.rsplit("_l", 1)[-1].isdigit():
            layer = int(k.rsplit("_l", 1)[-1])
            break
    for i, lay in enumerate(getattr(model, "layers", [])):
        if not all(bool(torch.isfinite(p).all()) for p in lay.parameters()):
            if layer is None:
                layer = i + 1
            bad.append(f"the weights of layer {i + 1}")
            break
    else:
        if not bad and not all(bool(torch.isfinite(p).all()) for p in model.parameters()):
            bad.append("the weights of the readout")
    if not bad:
        return None
    return layer, ", ".join(bad)


def _divergence_error(out: Path, ep: int, layer: int | None, what: str, history: list[dict],
                      ckpt_path: Path) -> DivergenceError:
    finite = [(h["epoch"], h["loss"]) for h in history if isinstance(h.get("loss"), float) and np.isfinite(h["loss"])]
    last = f"the last finite loss was {finite[-1][1]:.6g} at epoch {finite[-1][0]}" if finite else \
        "no epoch had a finite loss"
    kept = (f"the last good checkpoint is kept in {str(ckpt_path)!r} (no recording or DONE was written)"
            if ckpt_path.exists() else f"no epoch finished cleanly, so nothing was kept in {str(out)!r}")
    where = f" in layer {layer}" if layer is not None else ""
    return DivergenceError(
        f"Training diverged at epoch {ep}{where}: non-finite values in {what}; {last}; {kept}. Lower 'train.lr' "
        "and start over with --force, or pass --allow-divergence to record the diverged run anyway.")


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
    had_marker, had_lock = (out / MARKER_NAME).exists(), (out / LOCK_NAME).exists()
    claim = claim_output_dir(out, command="train", force=force or _legacy_run(out))
    state = None
    try:
        note = claim.note_stale()
        if note:
            log.info("%s", note)
        state = _check_run_dir(out, resume, force)
        if state == "done":
            return _finished_metrics(out, cfg)
        return _train(cfg, out, state, device=device, progress=progress, batch_observer=batch_observer,
                      allow_divergence=allow_divergence, t_start=t_start)
    except BaseException:
        if state == "fresh" and not (out / "checkpoints" / "resume.pt").exists():
            _remove_failed_start(out, existed, had_marker, had_lock)
        raise
    finally:
        claim.release()


def _train(cfg: RunConfig, out: Path, state: str, *, device: str, progress: bool,
           batch_observer: Callable[..., None] | None, allow_divergence: bool, t_start: float) -> dict:
    ckpt_path = out / "checkpoints" / "resume.pt"
    resume_fix = ("Delete the run directory and start over with --force (it cannot be resumed from this file), or "
                  "restore the file from a backup.")
    if state == "resume":
        stored = load_config(out / "config.toml")
        diffs = _same_config(stored, cfg)
        if diffs:
            raise ParameterError("Cannot resume with a different config: " + "; ".join(diffs))
        cfg = stored
    if cfg.train.threads:
        torch.set_num_threads(cfg.train.threads)

    train_ds, test_ds, tr_idx, label_value = prepare_data(cfg)
    if cfg.model != "bp":
        cfg.ff.label_value = label_value
    out.mkdir(parents=True, exist_ok=True)
    (out / "checkpoints").mkdir(exist_ok=True)
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
        _write_text(out / "config.toml", cfg.to_toml())

    history: list[dict] = []
    start, elapsed_before = 0, 0.0
    if state == "resume":
        ck = _load(ckpt_path, "resume", resume_fix)
        try:
            model.load_state_dict(ck["model"])
            trainer.load_state_dict(ck["trainer"])
            gen.set_state(ck["gen"])
            torch.set_rng_state(ck["torch_rng"])
            history, start, elapsed_before = list(ck["history"]), int(ck["epoch"]), float(ck["elapsed"])
        except (RuntimeError, ValueError, TypeError, KeyError, IndexError, AttributeError) as err:
            raise _foreign(ckpt_path, err) from None
        if not 0 < start <= cfg.total_epochs:
            raise DataFileError(f"The checkpoint {str(ckpt_path)!r} is at epoch {start}, outside 1..{cfg.total_epochs} "
                                f"of this run. {resume_fix}")
        log.info("resuming %s at epoch %d", out, start)

    total = cfg.total_epochs
    rec_epochs = cfg.record_epochs()
    xte = torch.as_tensor(test_ds.x).to(device)
    yte = np.asarray(test_ds.y, dtype=np.int64)
    ff_style = cfg.model != "bp"
    rows = _condition_rows(cfg.record.conditions, yte, n_classes, ff_style)
    bounds = np.cumsum([0, *model.layer_sizes])
    diverged: dict | None = next((h.get("diverged") for h in history if h.get("diverged")), None)
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
            if not allow_divergence and not np.isfinite(block).all():
                col = int(np.flatnonzero(~np.isfinite(block).all(axis=0))[0])
                layer = int(np.searchsorted(bounds, col, side="right"))
                raise _divergence_error(out, ep, layer, "the recorded activations", history, ckpt_path)
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
                path = out / "checkpoints" / f"model_epoch{ep:04d}.pt"
                blob = _load(path, "model", resume_fix)
                try:
                    model.load_state_dict(blob["state_dict"])
                except (RuntimeError, ValueError, TypeError, KeyError) as err:
                    raise _foreign(path, err) from None
                do_record(ep, trainer.predict(xte).numpy())
            model.load_state_dict(live)

        bars = _Bars(progress, cfg, start, total)
        t_loop = time.perf_counter()
        for g in range(start, total):
            t0 = time.perf_counter()
            stats = trainer.run_epoch(g)
            entry = {"epoch": g + 1, **stats, "epoch_time_s": time.perf_counter() - t0}
            ep = g + 1
            bad = _divergence(model, stats)
            if bad is not None:
                if not allow_divergence:
                    raise _divergence_error(out, ep, bad[0], bad[1], history, ckpt_path)
                if diverged is None:
                    diverged = {"epoch": ep, "layer": bad[0], "what": bad[1]}
                    entry["diverged"] = diverged
                    log.warning("training diverged at epoch %d%s (%s); recording anyway (allow_divergence)", ep,
                                "" if bad[0] is None else f" in layer {bad[0]}", bad[1])
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
    if diverged is not None:
        metrics["diverged"] = diverged
    _atomic_torch_save(_model_blob(model, in_features, n_classes, image_shape,
                                   label_value if ff_style else None), out / "checkpoints" / "model.pt")
    # the final layers as plain arrays too, so that analyses (inhibition currents) need no torch (ensembles.layerweights)
    write_layer_weights(out, LayerWeights.from_model(model))
    _write_text(out / "history.json", json.dumps(history, indent=1))
    _write_text(out / "metrics.json", json.dumps(metrics, indent=1))
    _write_text(out / DONE, time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()) + "\n")
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


__all__ = ["train_run", "resolve_device", "check_threads", "load_model", "record_model", "layer_inputs", "layer_parameters", "prepare_data",
           "build_model", "iter_activations", "read_history", "read_metrics", "RunDirError", "config_from_dict"]
