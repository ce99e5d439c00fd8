"""Hidden activity of a model: batch-wise activations, recordings of a trained model, and the per-layer inputs,
currents and parameters the inhibition analyses need.

Used by :func:`ensembles.train.train_run` to record at the recorded epochs (:mod:`ensembles.train.recorder`) and by
users through :func:`record_model`, :func:`layer_inputs` and :func:`layer_parameters`.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np
import torch

from ensembles.models import FFNet
from ensembles.train.config import RunConfig

__all__ = ["iter_activations", "record_model", "layer_inputs", "layer_parameters", "condition_rows",
           "presentation_coords", "model_attrs"]


def _site(cfg_or_model) -> str:
    act = cfg_or_model.network.activation if isinstance(cfg_or_model, RunConfig) else cfg_or_model.activation
    return "post-relu" if act == "relu" else "post-activation"


def condition_rows(conditions: Sequence[str], labels: np.ndarray, n_classes: int, ff_style: bool):
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


def presentation_coords(test, rows, held_out: Sequence[int], ff_style: bool) -> tuple[dict, np.ndarray]:
    """The presentation coords of the rows of :func:`condition_rows` on split ``test``, and each row's image index."""
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


def model_attrs(cfg: RunConfig) -> dict:
    """The recording attrs that describe the run of ``cfg``."""
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
    rows = condition_rows(conds, np.asarray(dataset.y), model.n_classes, ff_style)
    pres, idx = presentation_coords(dataset, rows, held_out, ff_style)
    act = np.concatenate(list(iter_activations(model, dataset.x, [r[1] for r in rows], batch_size=batch_size,
                                               device=device)))
    pred = _predict(model, dataset.x, config, batch_size, device)
    pres["predicted"] = pred[idx]
    pres["correct"] = pred[idx] == pres["label"]
    if config is not None:
        base = model_attrs(config)
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
