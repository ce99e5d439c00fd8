"""Training loop for the backprop baseline (docs/methods.md §M1.4–M1.5): cross-entropy on a linear readout of the hidden
layers, raw normalised image (no label embedding), optional L1 activity penalty λ·Σ|a| (sum over the batch and all
hidden units, as the authors' ``REGULARIZATION`` control)."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ensembles.models import BPNet
from ensembles.train.config import RunConfig
from ensembles.train.ff import BatchObserver, TrainData, _batches, make_optimizer


class BPTrainer:
    """Backprop with one optimiser over all parameters; the prediction is the argmax of the logits."""

    def __init__(self, model: BPNet, cfg: RunConfig, data: TrainData, gen: torch.Generator, device: str = "cpu",
                 observer: BatchObserver | None = None):
        self.model, self.cfg, self.data, self.gen, self.device = model, cfg, data, gen, torch.device(device)
        self.observer = observer
        self.optimizers = [make_optimizer(model.parameters(), cfg)]

    def run_epoch(self, epoch: int) -> dict:
        self.model.train()
        lam = float(self.cfg.bp.l1)
        sums = torch.zeros(3, dtype=torch.float64)
        n_seen = 0
        opt = self.optimizers[0]
        x, y = self.data.x, self.data.y
        for idx in _batches(y.shape[0], self.cfg.train.batch_size, self.gen):
            if self.observer is not None:
                self.observer(image_labels=y[idx].cpu(), pos_labels=None, neg_image_labels=None, neg_labels=None)
            xb, yb = x[idx.to(x.device)], y[idx.to(x.device)]
            hs, logits = self.model.forward_all(xb)
            ce = F.cross_entropy(logits, yb)
            l1 = sum(h.abs().sum() for h in hs) if lam > 0 else torch.zeros((), device=xb.device)
            loss = ce + lam * l1
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            n = idx.numel()
            sums += torch.stack([loss.detach() * n, ce.detach() * n, (logits.argmax(1) == yb).sum()]).double().cpu()
            n_seen += n
        s = (sums / n_seen).tolist()
        return {"loss": s[0], "ce": s[1], "train_accuracy_running": s[2]}

    @torch.no_grad()
    def predict(self, x: torch.Tensor) -> torch.Tensor:
        self.model.eval()
        return self.model.predict(x.to(self.device), batch_size=self.cfg.train.eval_batch_size)[0].cpu()

    def state_dict(self) -> dict:
        return {"optimizers": [o.state_dict() for o in self.optimizers]}

    def load_state_dict(self, state: dict) -> None:
        for o, s in zip(self.optimizers, state["optimizers"], strict=True):
            o.load_state_dict(s)
