"""Training loops for Forward-Forward (greedy layer-wise or joint) and BP/FF (end to end on the summed goodness).

Every epoch draws its randomness (shuffles, negative labels) from one dedicated :class:`torch.Generator` whose
state is part of :meth:`state_dict`, so a run resumed from a checkpoint is bitwise identical on the CPU.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

import torch

from ensembles.models import FFNet, ff_loss, predict_from_goodness
from ensembles.train.config import RunConfig
from ensembles.train.negatives import draw_negatives, hardest_wrong_labels, wrong_label_table

log = logging.getLogger(__name__)

BatchObserver = Callable[..., None]


@dataclass
class TrainData:
    """Training tensors after held-out classes were removed. ``train_classes``: labels present in training;
    ``neg_classes``: labels allowed as negative labels."""

    x: torch.Tensor
    y: torch.Tensor
    n_classes: int
    train_classes: list[int]
    neg_classes: list[int]


def make_optimizer(params, cfg: RunConfig) -> torch.optim.Optimizer:
    """The optimiser of ``cfg.train`` (Adam with default betas, as the authors). Adam uses torch's fused kernel
    (about 10x faster than the default multi-tensor step on the CPU for a 1000x1000 layer, which otherwise costs
    ~20% of an FF epoch); it is deterministic, so runs stay bitwise reproducible."""
    t = cfg.train
    if t.optimizer == "adam":
        params = list(params)
        try:
            return torch.optim.Adam(params, lr=t.lr, weight_decay=t.weight_decay, fused=True)
        except (RuntimeError, ValueError, TypeError):  # pragma: no cover - device/dtype without a fused kernel
            return torch.optim.Adam(params, lr=t.lr, weight_decay=t.weight_decay)
    if t.optimizer == "sgd":
        return torch.optim.SGD(params, lr=t.lr, momentum=0.9, weight_decay=t.weight_decay)
    return torch.optim.RMSprop(params, lr=t.lr, weight_decay=t.weight_decay)


def _batches(n: int, batch_size: int, gen: torch.Generator):
    perm = torch.randperm(n, generator=gen)
    for s in range(0, n, batch_size):
        yield perm[s:s + batch_size]


class _FFStyleTrainer:
    """Shared pieces of FF and BP/FF: negatives, per-batch label embedding, state for resume."""

    def __init__(self, model: FFNet, cfg: RunConfig, data: TrainData, gen: torch.Generator, device: str = "cpu",
                 observer: BatchObserver | None = None):
        self.model, self.cfg, self.data, self.gen, self.device = model, cfg, data, gen, torch.device(device)
        self.observer = observer
        self.table = wrong_label_table(data.n_classes, data.train_classes, data.neg_classes)
        self.neg_img, self.neg_lab = draw_negatives(cfg.ff.negatives, data.y.cpu(), self.table, gen)
        self.thresholds = [
            float(h) if cfg.ff.threshold == "n_units" else float(cfg.ff.threshold) for h in model.layer_sizes
        ]

    # --- negatives
    def _refresh_negatives(self, upto: int | None = None) -> None:
        rule = self.cfg.ff.negatives
        y = self.data.y.cpu()
        if rule == "resample_each_epoch":
            self.neg_img, self.neg_lab = draw_negatives(rule, y, self.table, self.gen)
        elif rule == "hardest":
            scores = self.label_scores(self.data.x, upto=upto).cpu()
            self.neg_img, self.neg_lab = torch.arange(y.shape[0]), hardest_wrong_labels(scores, y, self.table)

    @torch.no_grad()
    def label_scores(self, x: torch.Tensor, upto: int | None = None) -> torch.Tensor:
        """Prediction scores (N, K) from the layers ``0..upto`` (all when None)."""
        rule = self.cfg.ff.prediction
        out = []
        bs = self.cfg.train.eval_batch_size
        for s in range(0, x.shape[0], bs):
            g = self.model.label_goodness(x[s:s + bs].to(self.device))
            if upto is not None:
                g = g[..., :upto + 1]
                if g.shape[-1] < 2 and rule.endswith("_skip_first"):
                    rule = rule.replace("_skip_first", "")
            out.append(predict_from_goodness(g, rule))
        return torch.cat(out)

    def _embedded(self, idx: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Positive and paired negative inputs (label embedded per batch) for positive indices ``idx``."""
        x, y = self.data.x, self.data.y
        nimg, nlab = self.neg_img[idx], self.neg_lab[idx]
        if self.observer is not None:
            self.observer(image_labels=y[idx].cpu(), pos_labels=y[idx].cpu(), neg_image_labels=y[nimg].cpu(),
                          neg_labels=nlab.clone())
        # index_select already returns a fresh copy, so the label is embedded in place (no second copy)
        idx, nimg = idx.to(x.device), nimg.to(x.device)
        xp = self.model.embed_(torch.index_select(x, 0, idx), torch.index_select(y, 0, idx))
        xn = self.model.embed_(torch.index_select(x, 0, nimg), nlab.to(x.device))
        return xp, xn

    # --- prediction
    @torch.no_grad()
    def predict(self, x: torch.Tensor) -> torch.Tensor:
        self.model.eval()
        return self.model.predict(x.to(self.device), self.cfg.ff.prediction,
                                  batch_size=self.cfg.train.eval_batch_size)[0].cpu()

    # --- state for resume
    def state_dict(self) -> dict:
        return {"neg_img": self.neg_img, "neg_lab": self.neg_lab,
                "optimizers": [o.state_dict() for o in self.optimizers]}

    def load_state_dict(self, state: dict) -> None:
        self.neg_img, self.neg_lab = state["neg_img"], state["neg_lab"]
        for o, s in zip(self.optimizers, state["optimizers"], strict=True):
            o.load_state_dict(s)


class FFTrainer(_FFStyleTrainer):
    """Forward-Forward: each layer minimises its own FF loss on detached inputs.

    ``schedule="layerwise"`` (EmergentRepresentations, paper-spec §1.2): layer k trains for ``epochs`` passes,
    then its outputs on all positive and negative training inputs are computed once (eval mode, detached) and
    become layer k+1's inputs (cached when the negatives are fixed). ``schedule="joint"`` (Hinton/loeweX): every
    batch updates every layer, each on the detached output of the layer below. One optimiser per layer.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.optimizers = [make_optimizer(layer.parameters(), self.cfg) for layer in self.model.layers]
        self._cache: tuple[int, torch.Tensor, torch.Tensor] | None = None

    @property
    def layerwise(self) -> bool:
        return self.cfg.ff.schedule == "layerwise"

    def _layer_loss(self, k: int, hp: torch.Tensor, hn: torch.Tensor):
        layer = self.model.layers[k]
        gp, gn = self.model.goodness(hp), self.model.goodness(hn)
        loss = ff_loss(gp, gn, self.thresholds[k])
        peer = self.cfg.ff.peer_norm
        if peer > 0:  # Hinton's peer normalisation, as loeweX: running mean activity on positive data
            rm = layer.running_mean.detach() * 0.9 + hp.mean(dim=0) * 0.1
            loss = loss + peer * (rm.mean() - rm).pow(2).mean()
            layer.running_mean.copy_(rm.detach())
        return loss, gp.detach(), gn.detach()

    @torch.no_grad()
    def _frozen(self, xin: torch.Tensor, upto: int) -> torch.Tensor:
        """Output of layers 0..upto-1 (eval mode, detached) for embedded inputs."""
        for layer in self.model.layers[:upto]:
            xin = layer(xin)
        return xin

    @torch.no_grad()
    def _build_cache(self, k: int) -> None:
        """All positive and paired negative inputs of layer k, pushed once through the trained layers below."""
        # The previous layer's cache is not an input of this one (every layer below is re-run from the embedded
        # images), so it is released first, and the outputs are written into preallocated tensors instead of
        # being concatenated from a list: the peak is one 2N x H cache instead of three (old cache, list, cat).
        self._cache = None
        self.model.eval()
        bs = self.cfg.train.eval_batch_size
        n = self.data.y.shape[0]
        pos = neg = None
        obs, self.observer = self.observer, None
        try:
            for s in range(0, n, bs):
                idx = torch.arange(s, min(s + bs, n))
                xp, xn = self._embedded(idx)
                hp, hn = self._frozen(xp, k), self._frozen(xn, k)
                if pos is None:
                    pos, neg = hp.new_empty((n, hp.shape[1])), hn.new_empty((n, hn.shape[1]))
                pos[s:s + hp.shape[0]] = hp
                neg[s:s + hn.shape[0]] = hn
                del xp, xn, hp, hn
        finally:
            self.observer = obs
        self._cache = (k, pos, neg)

    def run_epoch(self, epoch: int) -> dict:
        """Train one epoch (0-based global epoch; layerwise: layer = epoch // epochs) and return its scalars."""
        E = self.cfg.train.epochs
        L = len(self.model.layers)
        layers = [epoch // E] if self.layerwise else list(range(L))
        k0 = layers[0]
        fixed = self.cfg.ff.negatives in ("fixed_subset", "one_per_image")
        self._refresh_negatives(upto=k0 if self.layerwise else None)
        if self.layerwise and k0 > 0 and fixed and (self._cache is None or self._cache[0] != k0):
            self._build_cache(k0)
        self.model.train()
        sums = {k: torch.zeros(3, dtype=torch.float64) for k in layers}
        n_seen = 0
        for idx in _batches(self.data.y.shape[0], self.cfg.train.batch_size, self.gen):
            if self.layerwise and k0 > 0 and fixed:
                if self.observer is not None:
                    self.observer(image_labels=self.data.y[idx].cpu(), pos_labels=self.data.y[idx].cpu(),
                                  neg_image_labels=self.data.y[self.neg_img[idx]].cpu(), neg_labels=self.neg_lab[idx])
                ip, ineg = self._cache[1][idx.to(self._cache[1].device)], self._cache[2][idx.to(self._cache[1].device)]
            else:
                xp, xn = self._embedded(idx)
                if self.layerwise and k0 > 0:
                    ip, ineg = self._frozen(xp, k0), self._frozen(xn, k0)
                else:
                    ip, ineg = xp, xn
            total = 0.0
            for k in layers:
                hp, hn = self.model.layers[k](ip), self.model.layers[k](ineg)
                loss, gp, gn = self._layer_loss(k, hp, hn)
                total = total + loss
                sums[k] += torch.stack([loss.detach() * idx.numel(), gp.sum(), gn.sum()]).double().cpu()
                ip, ineg = hp.detach(), hn.detach()
            for k in layers:
                self.optimizers[k].zero_grad(set_to_none=True)
            total.backward()
            for k in layers:
                self.optimizers[k].step()
            n_seen += idx.numel()
        out = {"layer": k0 + 1 if self.layerwise else 0}
        for k in layers:
            s = (sums[k] / n_seen).tolist()
            out[f"loss_l{k + 1}"], out[f"g_pos_l{k + 1}"], out[f"g_neg_l{k + 1}"] = s
        out["loss"] = sum(out[f"loss_l{k + 1}"] for k in layers)
        return out


class BPFFTrainer(_FFStyleTrainer):
    """BP/FF (paper-spec §1.3): one optimiser over all parameters, backprop end to end (through the input
    normalisations) on the FF loss of the summed goodness G_tot = Σ_l G(h_l) with threshold θ (``"n_units"`` =
    total number of hidden units)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.optimizers = [make_optimizer(self.model.parameters(), self.cfg)]
        thr = self.cfg.ff.threshold
        self.threshold = float(sum(self.model.layer_sizes)) if thr == "n_units" else float(thr)

    def run_epoch(self, epoch: int) -> dict:
        self._refresh_negatives()
        self.model.train()
        L = len(self.model.layers)
        sums = torch.zeros(1 + 2 * L, dtype=torch.float64)
        n_seen = 0
        opt = self.optimizers[0]
        for idx in _batches(self.data.y.shape[0], self.cfg.train.batch_size, self.gen):
            xp, xn = self._embedded(idx)
            gp = torch.stack([self.model.goodness(h) for h in self.model(xp)], dim=1)
            gn = torch.stack([self.model.goodness(h) for h in self.model(xn)], dim=1)
            loss = ff_loss(gp.sum(dim=1), gn.sum(dim=1), self.threshold)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sums += torch.cat([(loss.detach() * idx.numel()).reshape(1), gp.detach().sum(0), gn.detach().sum(0)]
                              ).double().cpu()
            n_seen += idx.numel()
        s = (sums / n_seen).tolist()
        out = {"loss": s[0]}
        for k in range(L):
            out[f"g_pos_l{k + 1}"] = s[1 + k]
            out[f"g_neg_l{k + 1}"] = s[1 + L + k]
        return out
