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
    """Shared pieces of FF and BP/FF: negatives, layer 1 without embedded copies, state for resume.

    Layer 1 never sees an embedded copy of a batch: the training images are prepared once (label pixels zeroed,
    divided by the input normalisation of the embedded image, :meth:`FFNet.label_free`), and a batch of B positives
    and B negatives is one GEMM on its distinct images plus one gathered weight column per sample
    (:meth:`FFNet.first_currents`).  A positive and a negative of the same image (``one_per_image``,
    ``resample_each_epoch``, ``hardest``; by chance under ``fixed_subset``) share that image's row, forward and in
    the weight gradient.  The layers above see the 2B samples as one matrix (positives first).
    """

    def __init__(self, model: FFNet, cfg: RunConfig, data: TrainData, gen: torch.Generator, device: str = "cpu",
                 observer: BatchObserver | None = None):
        self.model, self.cfg, self.data, self.gen, self.device = model, cfg, data, gen, torch.device(device)
        self.observer = observer
        self.table = wrong_label_table(data.n_classes, data.train_classes, data.neg_classes)
        self.neg_img, self.neg_lab = draw_negatives(cfg.ff.negatives, data.y.cpu(), self.table, gen)
        self.thresholds = [
            float(h) if cfg.ff.threshold == "n_units" else float(cfg.ff.threshold) for h in model.layer_sizes
        ]
        # once per dataset: label-free normalised images z and label coefficients c (no per-batch embedding)
        with torch.no_grad():
            self.z, self.c = model.label_free(data.x.to(self.device))
        self._slot = torch.full((data.y.shape[0],), -1, dtype=torch.long)  # image -> row of a batch (scratch)

    # --- negatives
    def _refresh_negatives(self, upto: int | None = None) -> None:
        rule = self.cfg.ff.negatives
        y = self.data.y.cpu()
        if rule == "resample_each_epoch":
            self.neg_img, self.neg_lab = draw_negatives(rule, y, self.table, self.gen)
        elif rule == "hardest":
            scores = self._train_label_scores(upto).cpu()
            self.neg_img, self.neg_lab = torch.arange(y.shape[0]), hardest_wrong_labels(scores, y, self.table)

    @torch.no_grad()
    def _train_label_scores(self, upto: int | None = None) -> torch.Tensor:
        """Prediction scores (N, K) of the training images from the layers ``0..upto`` (all when None)."""
        rule = self.cfg.ff.prediction
        if upto is not None and upto < 1 and rule.endswith("_skip_first"):
            rule = rule.replace("_skip_first", "")
        bs = self.cfg.train.eval_batch_size
        out = [predict_from_goodness(self.model.prepared_label_goodness(self.z[s:s + bs], self.c[s:s + bs], upto=upto),
                                     rule) for s in range(0, self.z.shape[0], bs)]
        return torch.cat(out)

    @torch.no_grad()
    def label_scores(self, x: torch.Tensor, upto: int | None = None) -> torch.Tensor:
        """Prediction scores (N, K) of un-embedded images ``x`` from the layers ``0..upto`` (all when None)."""
        rule = self.cfg.ff.prediction
        if upto is not None and upto < 1 and rule.endswith("_skip_first"):
            rule = rule.replace("_skip_first", "")
        bs = self.cfg.train.eval_batch_size
        out = [predict_from_goodness(self.model.label_goodness(x[s:s + bs].to(self.device), upto=upto), rule)
               for s in range(0, x.shape[0], bs)]
        return torch.cat(out)

    def _observe(self, idx: torch.Tensor) -> None:
        if self.observer is not None:
            y = self.data.y
            self.observer(image_labels=y[idx].cpu(), pos_labels=y[idx].cpu(),
                          neg_image_labels=y[self.neg_img[idx]].cpu(), neg_labels=self.neg_lab[idx].clone())

    def _first_currents(self, idx: torch.Tensor) -> torch.Tensor:
        """Layer 1's pre-activation ``(2B, H)`` for the positives ``idx`` (rows ``:B``) and their paired negatives
        (rows ``B:``): one GEMM on the distinct images of the batch, one label column per sample.

        The images are the B positives followed by the negatives' images that are not among them (a negative of a
        positive's image reuses that row: always for same-image negatives, by chance for ``fixed_subset``).  When
        fewer than B/8 negatives share a positive's image (``fixed_subset`` with N >> B), sharing saves less than
        its gathers and scatters cost: every sample then gets its own gathered row with its label written in, and
        layer 1 is a plain linear map of those rows (the label columns come out of the same GEMM)."""
        b = idx.numel()
        nimg = self.neg_img[idx]
        slot = self._slot
        slot[idx] = torch.arange(b)
        r = slot[nimg]
        slot[idx] = -1
        new = r < 0
        m = int(new.sum())
        dev = self.device
        labels = torch.cat([self.data.y[idx.to(self.data.y.device)].to(dev), self.neg_lab[idx].to(dev)])
        every = torch.cat([idx, nimg]).to(dev)
        c = self.c.index_select(0, every)
        if 8 * (b - m) < b:
            z = self.model.put_labels_(self.z.index_select(0, every), labels, c)
            return self.model.layers[0].linear(z)
        r[new] = torch.arange(b, b + m)
        imgs, rows = torch.cat([idx, nimg[new]]), torch.cat([torch.arange(b), r]).to(dev)
        return self.model.first_currents(self.z.index_select(0, imgs.to(dev)), labels, c, rows)

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

    ``schedule="layerwise"`` (EmergentRepresentations, docs/methods.md §M1.2): layer k trains for ``epochs`` passes,
    then its outputs on all positive and negative training inputs are computed once (eval mode, detached) and
    become layer k+1's inputs (cached when the negatives are fixed). ``schedule="joint"`` (Hinton/loeweX): every
    batch updates every layer, each on the detached output of the layer below. One optimiser per layer.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.optimizers = [make_optimizer(layer.parameters(), self.cfg) for layer in self.model.layers]
        self._cache: tuple[int, torch.Tensor] | None = None

    @property
    def layerwise(self) -> bool:
        return self.cfg.ff.schedule == "layerwise"

    def _layer_loss(self, k: int, h: torch.Tensor, g: torch.Tensor, b: int):
        """FF loss of layer k from the activity ``h`` and goodness ``g`` of B positives (rows ``:b``) and B
        negatives (rows ``b:``)."""
        layer = self.model.layers[k]
        gp, gn = g[:b], g[b:]
        loss = ff_loss(gp, gn, self.thresholds[k])
        peer = self.cfg.ff.peer_norm
        if peer > 0:  # Hinton's peer normalisation, as loeweX: running mean activity on positive data
            rm = layer.running_mean.detach() * 0.9 + h[:b].mean(dim=0) * 0.1
            loss = loss + peer * (rm.mean() - rm).pow(2).mean()
            layer.running_mean.copy_(rm.detach())
        return loss, gp.detach(), gn.detach()

    @torch.no_grad()
    def _build_cache(self, k: int) -> None:
        """Layer k's normalised inputs x̂ for all positives (rows ``:N``) and paired negatives (rows ``N:``), pushed
        once through the trained layers below; the input normalisation of layer k is applied here once, not per
        batch and epoch."""
        # the previous layer's cache is released first (every layer below is re-run from the prepared images):
        # the peak is one 2N x H cache
        self._cache = None
        self.model.eval()
        bs = self.cfg.train.eval_batch_size
        n = self.data.y.shape[0]
        layer = self.model.layers[k]
        cache = None
        for s in range(0, n, bs):
            idx = torch.arange(s, min(s + bs, n))
            h = self.model.layers[0]._act(self._first_currents(idx))
            for below in self.model.layers[1:k]:
                h = below(h)
            xin = layer.normalized_input(h)
            if cache is None:
                cache = xin.new_empty((2 * n, xin.shape[1]))
            b = idx.numel()
            cache[s:s + b] = xin[:b]
            cache[n + s:n + s + b] = xin[b:]
            del h, xin
        self._cache = (k, cache)

    def run_epoch(self, epoch: int) -> dict:
        """Train one epoch (0-based global epoch; layerwise: layer = epoch // epochs) and return its scalars."""
        E = self.cfg.train.epochs
        L = len(self.model.layers)
        layers = [epoch // E] if self.layerwise else list(range(L))
        k0 = layers[0]
        n = self.data.y.shape[0]
        cached = self.layerwise and k0 > 0 and self.cfg.ff.negatives in ("fixed_subset", "one_per_image")
        self._refresh_negatives(upto=k0 if self.layerwise else None)
        if cached and (self._cache is None or self._cache[0] != k0):
            self._build_cache(k0)
        self.model.train()
        sums = {k: torch.zeros(3, dtype=torch.float64) for k in layers}
        n_seen = 0
        for idx in _batches(n, self.cfg.train.batch_size, self.gen):
            self._observe(idx)
            b = idx.numel()
            total = 0.0
            if cached:  # layer k0 on its cached normalised inputs: one gather, one GEMM for pos and neg
                cache = self._cache[1]
                pre = self.model.layers[k0].linear(cache.index_select(0, torch.cat([idx, idx + n]).to(cache.device)))
            elif k0 == 0:
                pre = self._first_currents(idx)
            else:  # layers below k0 frozen, recomputed per batch (negatives that change every epoch)
                with torch.no_grad():
                    h = self.model.layers[0]._act(self._first_currents(idx))
                    for below in self.model.layers[1:k0]:
                        h = below(h)
                pre = self.model.layers[k0].currents(h)
            for k in layers:
                if k != k0:
                    pre = self.model.layers[k].currents(h.detach())
                h, g = self.model.activity_goodness(pre)
                loss, gp, gn = self._layer_loss(k, h, g, b)
                total = total + loss
                sums[k] += torch.stack([loss.detach() * b, gp.sum(), gn.sum()]).double().cpu()
            for k in layers:
                self.optimizers[k].zero_grad(set_to_none=True)
            total.backward()
            for k in layers:
                self.optimizers[k].step()
            n_seen += b
        out = {"layer": k0 + 1 if self.layerwise else 0}
        for k in layers:
            s = (sums[k] / n_seen).tolist()
            out[f"loss_l{k + 1}"], out[f"g_pos_l{k + 1}"], out[f"g_neg_l{k + 1}"] = s
        out["loss"] = sum(out[f"loss_l{k + 1}"] for k in layers)
        return out


class BPFFTrainer(_FFStyleTrainer):
    """BP/FF (docs/methods.md §M1.3): one optimiser over all parameters, backprop end to end (through the input
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
            self._observe(idx)
            b = idx.numel()
            h, g = self.model.activity_goodness(self._first_currents(idx))
            gs = [g]
            for layer in self.model.layers[1:]:
                h, g = self.model.activity_goodness(layer.currents(h))
                gs.append(g)
            g = torch.stack(gs, dim=1)
            gp, gn = g[:b], g[b:]
            loss = ff_loss(gp.sum(dim=1), gn.sum(dim=1), self.threshold)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sums += torch.cat([(loss.detach() * b).reshape(1), gp.detach().sum(0), gn.detach().sum(0)]
                              ).double().cpu()
            n_seen += b
        s = (sums / n_seen).tolist()
        out = {"loss": s[0]}
        for k in range(L):
            out[f"g_pos_l{k + 1}"] = s[1 + k]
            out[f"g_neg_l{k + 1}"] = s[1 + L + k]
        return out
