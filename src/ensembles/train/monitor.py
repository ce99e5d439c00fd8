"""Watching a training run: divergence (non-finite losses, weights or activations), the final metrics, and the
progress bars."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from ensembles.errors import DivergenceError
from ensembles.train.config import RunConfig

__all__ = ["divergence", "divergence_error", "run_metrics", "ProgressBars"]


def _nonfinite_stats(stats: dict) -> list[str]:
    return [k for k, v in stats.items() if isinstance(v, float) and not np.isfinite(v)]


def divergence(model: torch.nn.Module, stats: dict) -> tuple[int | None, str] | None:
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


def divergence_error(out: Path, ep: int, layer: int | None, what: str, history: list[dict],
                     ckpt_path: Path) -> DivergenceError:
    """The error of a run that diverged at epoch ``ep``: where, the last finite loss, what was kept, what to do."""
    finite = [(h["epoch"], h["loss"]) for h in history if isinstance(h.get("loss"), float) and np.isfinite(h["loss"])]
    last = f"the last finite loss was {finite[-1][1]:.6g} at epoch {finite[-1][0]}" if finite else \
        "no epoch had a finite loss"
    kept = (f"the last good checkpoint is kept in {str(ckpt_path)!r} (no recording or DONE was written)"
            if ckpt_path.exists() else f"no epoch finished cleanly, so nothing was kept in {str(out)!r}")
    where = f" in layer {layer}" if layer is not None else ""
    return DivergenceError(
        f"Training diverged at epoch {ep}{where}: non-finite values in {what}; {last}; {kept}. Lower 'train.lr' "
        "and start over with --force, or pass --allow-divergence to record the diverged run anyway.")


def run_metrics(cfg: RunConfig, test_ds, pred: np.ndarray, y: np.ndarray, n_train: int) -> dict:
    """Overall, per-class and (with held-out classes) seen/held-out test accuracy of the predictions ``pred``."""
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


class ProgressBars:
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
