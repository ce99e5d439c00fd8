"""Checkpoint files (``checkpoints/*.pt``) that are written atomically and verified whenever they are read, and the
models rebuilt from them (:func:`load_model`).

Every checkpoint a run writes carries its own checksum: the saved dict gets an entry ``"_integrity"`` holding the
SHA-256 of its contents (every tensor's dtype, shape and bytes, and every number, string and key of the nested
containers around them, in a canonical order).  Reading a checkpoint checks, in order:

1. the zip container's CRC-32 of every member (``torch.save`` writes a zip archive with a CRC per member; torch
   itself does not check them when loading) -- this also covers checkpoints written by earlier versions, which
   have no ``_integrity`` entry;
2. that ``torch.load(..., weights_only=True)`` can read it (never unpickling arbitrary objects);
3. that it is a dict with the keys this kind of checkpoint needs;
4. the SHA-256 of the contents against the stored one.

Any failure raises :class:`~ensembles.errors.DataFileError` naming the file and what to do; a damaged checkpoint
is never loaded silently.  The checksum lives inside the file, so a checkpoint and its checksum are replaced
together by one atomic rename: a process killed between two writes can never leave a stale checksum behind.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import zipfile
from pathlib import Path
from typing import Any

import torch

from ensembles._io import atomic_write
from ensembles.errors import DataFileError, ResourceError
from ensembles.layout import RunLayout
from ensembles.train.build import build_model
from ensembles.train.config import RunConfig, load_config

__all__ = ["save_checkpoint", "load_checkpoint", "content_digest", "load_model", "model_blob", "model_from_blob",
           "foreign_checkpoint", "RESUME_KEYS", "MODEL_KEYS", "INTEGRITY_KEY"]

INTEGRITY_KEY = "_integrity"
_ALGORITHM = "sha256-contents-v1"
RESUME_KEYS = ("epoch", "model", "trainer", "gen", "torch_rng", "history", "elapsed")
MODEL_KEYS = ("state_dict", "in_features", "n_classes", "image_shape", "label_value")


# ---------------------------------------------------------------- the checksum

def _feed(h, obj: Any) -> None:
    if isinstance(obj, torch.Tensor):
        t = obj.detach().cpu().contiguous().reshape(-1)
        h.update(b"T" + str(t.dtype).encode() + repr(tuple(obj.shape)).encode() + b"|")
        if t.numel():
            h.update(t.view(torch.uint8).numpy())
        return
    if obj is None:
        h.update(b"N")
    elif isinstance(obj, bool):
        h.update(b"B1" if obj else b"B0")
    elif isinstance(obj, int):
        h.update(b"I" + str(obj).encode() + b"|")
    elif isinstance(obj, float):
        h.update(b"F" + obj.hex().encode() + b"|")
    elif isinstance(obj, str):
        data = obj.encode("utf-8", "surrogatepass")
        h.update(b"S" + str(len(data)).encode() + b"|" + data)
    elif isinstance(obj, bytes):
        h.update(b"Y" + str(len(obj)).encode() + b"|" + obj)
    elif isinstance(obj, (list, tuple)):
        h.update(b"L" + str(len(obj)).encode() + b"|")
        for v in obj:
            _feed(h, v)
    elif isinstance(obj, dict):
        h.update(b"D" + str(len(obj)).encode() + b"|")
        for k in sorted(obj, key=lambda k: (type(k).__name__, repr(k))):
            _feed(h, k)
            _feed(h, obj[k])
    else:  # torch.Size, torch.dtype, ... (not used by ensembles' checkpoints, but hashed deterministically)
        h.update(b"O" + type(obj).__name__.encode() + b"|" + repr(obj).encode() + b"|")


def content_digest(obj: Any) -> str:
    """SHA-256 of the contents of a checkpoint dict (without its ``_integrity`` entry), see the module docstring."""
    h = hashlib.sha256()
    if isinstance(obj, dict):
        obj = {k: v for k, v in obj.items() if k != INTEGRITY_KEY}
    _feed(h, obj)
    return h.hexdigest()


# ---------------------------------------------------------------- writing

def save_checkpoint(obj: dict, path: str | os.PathLike) -> Path:
    """Write ``obj`` (a dict of tensors and plain containers) with its checksum to ``path``, atomically.

    The file is written by :func:`ensembles._io.atomic_write` (temporary name + ``os.replace``, the permissions of
    any new file of the process: 0o666 less the umask), so it appears under its final name only when complete.  It
    is written *without* fsync (``fsync=False``): a run saves a checkpoint every epoch (33 MB for the paper's
    network) and an fsync adds ~40 % to each save.  A process killed at any point still leaves the previous file or
    the complete new one; after an operating-system crash a damaged file is caught by the checks of
    :func:`load_checkpoint` (CRC-32 and SHA-256), never loaded.  A failed write (disk full, file-size limit,
    permissions) raises :class:`~ensembles.errors.ResourceError` naming the file; any previous file is untouched.
    """
    path = Path(path)
    blob = {**obj, INTEGRITY_KEY: {"algorithm": _ALGORITHM, "sha256": content_digest(obj)}}
    started = []

    def write(tmp: Path) -> None:
        started.append(tmp)
        torch.save(blob, tmp)

    try:
        atomic_write(path, write, fsync=False)
    except (OSError, RuntimeError) as err:  # torch.save reports ENOSPC/EFBIG as RuntimeError
        if not started:  # the temporary file could not be created
            raise ResourceError(f"Cannot write the checkpoint {str(path)!r} ({_short_error(err)}); check the "
                                "permissions of the run directory.") from None
        raise ResourceError(
            f"Cannot write the checkpoint {str(path)!r} ({_short_error(err)}); check the free disk space and "
            "the permissions of the run directory; the previous checkpoint, if any, is unchanged") from None
    return path


def _short_error(err: BaseException) -> str:
    text = str(err).strip().splitlines()
    return f"{type(err).__name__}: {text[0] if text else ''}"[:300]


# ---------------------------------------------------------------- reading

def _corrupt(path: Path, what: str, fix: str) -> DataFileError:
    return DataFileError(f"The checkpoint {str(path)!r} {what}. {fix}")


def _check_zip(path: Path, fix: str) -> None:
    try:
        with zipfile.ZipFile(path) as zf:
            bad = zf.testzip()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, ValueError, UnicodeDecodeError,
            RuntimeError, NotImplementedError, OverflowError) as err:
        size = path.stat().st_size if path.exists() else 0
        what = ("is empty" if size == 0 else
                f"is not a readable checkpoint (truncated or corrupt: {_short_error(err)})")
        raise _corrupt(path, what, fix) from None
    if bad is not None:
        raise _corrupt(path, f"is corrupt: the CRC-32 of its member {bad!r} does not match its contents (the file "
                             "changed after it was written)", fix)


def load_checkpoint(path: str | os.PathLike, *, kind: str, fix: str = "") -> dict:
    """Read and verify a checkpoint written by :func:`save_checkpoint` (or by an earlier version of ensembles).

    Parameters
    ----------
    path : path
        The ``.pt`` file.
    kind : {"resume", "model"}
        Which keys the checkpoint must hold (:data:`RESUME_KEYS` or :data:`MODEL_KEYS`).
    fix : str
        What the user can do about a bad file (appended to the message).

    Returns
    -------
    dict
        The checkpoint without its ``_integrity`` entry.

    Raises
    ------
    FileNotFoundError
        No such file.
    DataFileError
        (a ``ValueError``) truncated, corrupt (CRC or checksum mismatch), holding objects other than tensors and
        plain containers (never unpickled), or not a checkpoint of this kind.
    """
    path = Path(path)
    required = {"resume": RESUME_KEYS, "model": MODEL_KEYS}[kind]
    fix = fix or "Delete it (and retrain) or restore it from a backup."
    if not path.is_file():
        raise FileNotFoundError(f"No checkpoint file {str(path)!r}.")
    _check_zip(path, fix)
    try:
        blob = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        raise _corrupt(path, "is not a trusted ensembles checkpoint: it contains objects other than tensors and "
                             f"plain containers, so it was not loaded ({_short_error(err)})", fix) from None
    except (MemoryError, KeyboardInterrupt):
        raise
    except Exception as err:  # torch raises RuntimeError, OSError, EOFError, ValueError... for damaged files
        raise _corrupt(path, f"is not a readable checkpoint (truncated or corrupt: {_short_error(err)})",
                       fix) from None
    if not isinstance(blob, dict):
        raise _corrupt(path, f"is not an ensembles {kind} checkpoint: it holds a {type(blob).__name__}, not a dict",
                       fix)
    integrity = blob.pop(INTEGRITY_KEY, None)
    missing = [k for k in required if k not in blob]
    if missing:
        raise _corrupt(path, f"is not an ensembles {kind} checkpoint: it lacks {', '.join(map(repr, missing))}", fix)
    if integrity is not None:
        stored = integrity.get("sha256") if isinstance(integrity, dict) else None
        algorithm = integrity.get("algorithm") if isinstance(integrity, dict) else None
        if algorithm != _ALGORITHM or not isinstance(stored, str):
            raise _corrupt(path, f"has an unreadable checksum entry ({integrity!r:.80})", fix)
        actual = content_digest(blob)
        if actual != stored:
            raise _corrupt(path, f"is corrupt: the SHA-256 of its contents is {actual[:16]}..., but "
                                 f"{stored[:16]}... was stored when it was written", fix)
    return blob


# ---------------------------------------------------------------- models

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
    lay = RunLayout(run_dir)
    if not lay.config.is_file():
        raise FileNotFoundError(f"{str(lay.root)!r} is not a run directory (no config.toml).")
    cfg = load_config(lay.config)
    path = lay.model if epoch is None else lay.model_at(epoch)
    if not path.is_file():
        raise FileNotFoundError(f"No model weights at {str(path)!r}" + (
            "" if epoch is None else f"; recorded epochs: {cfg.record_epochs()}"))
    blob = load_checkpoint(path, kind="model")
    model = model_from_blob(cfg, blob, path)
    return model.to(device).eval(), cfg


def model_from_blob(cfg: RunConfig, blob: dict, path: Path) -> torch.nn.Module:
    """The model of ``cfg`` with the weights of a model checkpoint; a checkpoint of another model is refused."""
    try:
        model = build_model(cfg, int(blob["in_features"]), int(blob["n_classes"]), blob["image_shape"],
                            blob["label_value"])
        model.load_state_dict(blob["state_dict"])
    except (RuntimeError, ValueError, TypeError, KeyError, IndexError, AttributeError) as err:
        raise foreign_checkpoint(path, err) from None
    return model


def foreign_checkpoint(path: Path, err: BaseException) -> DataFileError:
    """The error for a checkpoint whose tensors do not fit the run's model (``err``: what loading raised)."""
    lines = [ln.strip() for ln in str(err).strip().splitlines() if ln.strip()] or [""]
    first = next((ln for ln in lines if ln.startswith(("size mismatch", "Missing key", "Unexpected key"))), lines[0])
    return DataFileError(
        f"The checkpoint {str(path)!r} does not belong to the run of {str(RunLayout(path.parent.parent).config)!r}: "
        f"it was written for another model or config ({type(err).__name__}: {first[:200].rstrip('.')}). Restore the run's own "
        "checkpoint, or start the run over with --force.")


def model_blob(model, in_features, n_classes, image_shape, label_value) -> dict:
    """A model checkpoint (:data:`MODEL_KEYS`): the weights and the sizes needed to rebuild the network."""
    return {"state_dict": {k: v.detach().cpu().clone() for k, v in model.state_dict().items()},
            "in_features": int(in_features), "n_classes": int(n_classes),
            "image_shape": [int(s) for s in image_shape],
            "label_value": None if label_value is None else float(label_value)}
