"""Forward-Forward networks: :class:`FFLayer` and :class:`FFNet` (also used, trained end to end, for BP/FF).

Modules take sizes and hyper-parameters directly; ``ensembles.train.config`` builds them.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from ensembles._validation import check_choice
from ensembles.errors import ParameterError
from ensembles.models.goodness import (
    ACTIVATIONS,
    GOODNESS,
    INPUT_NORMS,
    PREDICTION_RULES,
    activation_,
    activation_fn,
    activity_goodness,
    embed_label,
    embed_label_,
    goodness,
    label_free_images,
    label_pixel_index,
    label_weights,
    norm_denominator,
    normalize_input,
    predict_from_goodness,
)


class _EmbeddedLinear(torch.autograd.Function):
    """W·x̂ + b for label-embedded, normalised inputs x̂ = z + c·e_label, without building x̂.

    ``z`` ``(U, D)``: label-free normalised images (:func:`~ensembles.models.goodness.label_free_images`);
    ``rows`` ``(n,)`` or None: which row of ``z`` each of the n samples uses (several samples may share one
    image, e.g. a positive and its same-image negative); ``labels`` ``(n,)`` (all >= 0) and ``c`` ``(n,)``: label
    and label coefficient per sample; ``pix``: the label pixel index ``(C, K)``.  Forward: one GEMM on the U
    images, a gather of its rows, plus c·(label weight row) per sample.  Backward (weights and bias only; the
    inputs are data): the weight gradient is one GEMM on the U images (the gradients of samples sharing an image
    summed first) plus a scatter-add of the c-weighted gradients into the label columns.
    """

    @staticmethod
    def forward(ctx, z, rows, labels, c, pix, weight, bias):
        out = torch.addmm(bias, z, weight.t()) if bias is not None else torch.mm(z, weight.t())
        if rows is not None:
            out = out.index_select(0, rows)
        out.addcmul_(label_weights(weight, pix).index_select(0, labels), c.unsqueeze(1))
        ctx.save_for_backward(z, rows, labels, c, pix)
        ctx.has_bias = bias is not None
        ctx.n_images = z.shape[0]
        return out

    @staticmethod
    def backward(ctx, grad):
        z, rows, labels, c, pix = ctx.saved_tensors
        grad = grad.contiguous()
        gw = gb = None
        if ctx.needs_input_grad[5]:
            g_img = grad if rows is None else grad.new_zeros((ctx.n_images, grad.shape[1])).index_add_(0, rows, grad)
            gw = torch.mm(g_img.t(), z)
            # (K, H): the gradient of every label column, added to each channel's label pixel
            g_lab = grad.new_zeros((pix.shape[1], grad.shape[1])).index_add_(0, labels, grad * c.unsqueeze(1))
            gw.index_add_(1, pix.reshape(-1), g_lab.t().repeat(1, pix.shape[0]))
        if ctx.has_bias and ctx.needs_input_grad[6]:
            gb = grad.sum(dim=0)
        return None, None, None, None, None, gw, gb


class FFLayer(nn.Module):
    """One fully connected layer h = act(W · norm(x) + b).

    Parameters
    ----------
    in_features, out_features : int
        Sizes.
    activation : {"relu", "sigmoid"}
        Non-linearity (ReLU in EmergentRepresentations and Hinton; sigmoid supported but unused by the authors).
    input_norm : {"l2", "rms", "none"}
        Normalisation of the layer *input* (see :func:`~ensembles.models.goodness.normalize_input`).
    bias : bool
        Whether the linear map has a bias (True in all reference implementations).

    Notes
    -----
    The un-normalised activity ``h`` is what the next layer receives (and normalises) and what recordings store.
    ``running_mean`` (a buffer) tracks the mean activity of each unit for Hinton's optional peer normalisation.
    """

    def __init__(self, in_features: int, out_features: int, *, activation: str = "relu", input_norm: str = "l2",
                 bias: bool = True):
        super().__init__()
        check_choice("activation", activation, ACTIVATIONS)
        check_choice("input_norm", input_norm, ("l2", "rms", "none"))
        self.linear = nn.Linear(int(in_features), int(out_features), bias=bias)
        self.activation = activation
        self.input_norm = input_norm
        self._act = activation_fn(activation)
        self.register_buffer("running_mean", torch.zeros(int(out_features)))

    @property
    def weight(self) -> torch.Tensor:
        """Weight matrix, shape ``(out_features, in_features)``."""
        return self.linear.weight

    @property
    def bias(self) -> torch.Tensor | None:
        """Bias vector, shape ``(out_features,)`` (None without bias)."""
        return self.linear.bias

    @property
    def in_features(self) -> int:
        return self.linear.in_features

    @property
    def out_features(self) -> int:
        return self.linear.out_features

    def normalized_input(self, x: torch.Tensor) -> torch.Tensor:
        """The layer's input after its input normalisation: x̂ in h = act(W x̂ + b)."""
        return normalize_input(x, self.input_norm)

    def currents(self, x: torch.Tensor) -> torch.Tensor:
        """Pre-activation input current W x̂ + b."""
        return self.linear(self.normalized_input(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._act(self.currents(x))

    def extra_repr(self) -> str:
        return f"activation={self.activation!r}, input_norm={self.input_norm!r}"


def layer_activities(layers: Sequence[nn.Module], x: torch.Tensor) -> list[torch.Tensor]:
    """The activity of each of ``layers`` applied in turn to ``x`` (FF and BP networks alike)."""
    hs = []
    for layer in layers:
        x = layer(x)
        hs.append(x)
    return hs


def _layer_norms(input_norm: str, depth: int) -> list[str]:
    check_choice("input_norm", input_norm, INPUT_NORMS)
    if input_norm == "l2_hidden_only":
        return ["none"] + ["l2"] * (depth - 1)
    return [input_norm] * depth


class FFNet(nn.Module):
    """A stack of :class:`FFLayer` with label embedding, per-layer goodness and the FF prediction rule.

    Parameters
    ----------
    in_features : int
        Flattened input size D.
    hidden_sizes : sequence of int
        Widths of the hidden layers (``[1000, 1000, 1000]`` in the paper preset for 28x28 inputs).
    n_classes : int
        Number of candidate labels embedded into the image.
    image_shape : tuple
        ``(H, W)`` or ``(C, H, W)``; decides where the label pixels are (docs/methods.md §M1.6).
    label_value : float
        The value M written into the label pixel (the training-set maximum; stored as a buffer, so it travels
        with the state dict).
    activation, input_norm :
        See :class:`FFLayer`; ``input_norm="l2_hidden_only"`` leaves the image un-normalised (Hinton).
    goodness : {"l2_norm", "sum_squares", "mean_squares", "l1", "linf"}
        Goodness of a layer's activity (see :func:`~ensembles.models.goodness.goodness`).
    threshold : float or None
        θ of the FF loss (3 on the L2-norm scale in EmergentRepresentations); ``None`` when it is per layer (the
        layer width, Hinton's rule for ``sum_squares``). Informational: the trainers compute the loss.
    """

    def __init__(self, in_features: int, hidden_sizes: Sequence[int], *, n_classes: int, image_shape: Sequence[int],
                 label_value: float, activation: str = "relu", input_norm: str = "l2", goodness: str = "l2_norm",
                 threshold: float | None = 3.0):
        super().__init__()
        hidden_sizes = [int(h) for h in hidden_sizes]
        if not hidden_sizes or min(hidden_sizes) < 1:
            raise ParameterError(f"The 'hidden_sizes' parameter must be a non-empty list of positive ints. Got {hidden_sizes!r}.")
        check_choice("goodness", goodness, GOODNESS)
        norms = _layer_norms(input_norm, len(hidden_sizes))
        sizes = [int(in_features), *hidden_sizes]
        self.layers = nn.ModuleList(
            FFLayer(sizes[i], sizes[i + 1], activation=activation, input_norm=norms[i]) for i in range(len(hidden_sizes))
        )
        self.n_classes = int(n_classes)
        self.image_shape = tuple(int(s) for s in image_shape)
        self.goodness_kind = goodness
        self.threshold = None if threshold is None else float(threshold)
        self.input_norm = input_norm
        self.activation = activation
        self.register_buffer("label_value", torch.tensor(float(label_value)))
        self.register_buffer("pixel_index", label_pixel_index(self.n_classes, self.image_shape), persistent=False)

    @property
    def layer_sizes(self) -> list[int]:
        return [layer.out_features for layer in self.layers]

    def embed(self, x: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor:
        """Embed ``labels`` (None or -1 = no label) into flattened images ``x``."""
        return embed_label(x, labels, value=float(self.label_value), pixel_index=self.pixel_index)

    def embed_(self, x: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor:
        """In-place :meth:`embed` (``x`` must be a copy the caller owns); returns ``x``."""
        return embed_label_(x, labels, value=float(self.label_value), pixel_index=self.pixel_index)

    # --- layer 1 without embedded copies (see label_free_images for the algebra)
    def label_free(self, x: torch.Tensor, labelled: torch.Tensor | bool = True) -> tuple[torch.Tensor, torch.Tensor]:
        """``(z, c)`` for un-embedded images ``x``: the label-free images divided by layer 1's input normalisation
        of the embedded image, and the label coefficient M / d (0 where ``labelled`` is False)."""
        return label_free_images(x, pixel_index=self.pixel_index, value=float(self.label_value), labelled=labelled,
                                 kind=self.layers[0].input_norm)

    def first_currents(self, z: torch.Tensor, labels: torch.Tensor, c: torch.Tensor,
                       rows: torch.Tensor | None = None) -> torch.Tensor:
        """Layer 1's pre-activation W·x̂ + b for n samples: image ``z[rows[i]]`` (``z[i]`` when ``rows`` is None)
        with label ``labels[i]`` (-1 = none) and label coefficient ``c[i]``; gradients reach W and b."""
        lin = self.layers[0].linear
        lab = labels.clamp_min(0)
        c = torch.where(labels >= 0, c, torch.zeros((), dtype=c.dtype, device=c.device))
        return _EmbeddedLinear.apply(z, rows, lab, c, self.pixel_index, lin.weight, lin.bias)

    def put_labels_(self, z: torch.Tensor, labels: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        """Write ``c[i]`` into the label pixel(s) of label ``labels[i]`` (all >= 0) of row i of label-free images
        ``z`` (a copy the caller owns), which makes row i the normalised embedded input x̂ itself; returns ``z``.
        For rows that no other sample shares, this lets layer 1's GEMM compute the label part as well."""
        pix = self.pixel_index.to(z.device)[:, labels]  # (C, n)
        z[torch.arange(z.shape[0], device=z.device).expand_as(pix), pix] = c.to(z.dtype).expand_as(pix)
        return z

    def forward_from(self, h: torch.Tensor, start: int, stop: int | None = None) -> list[torch.Tensor]:
        """Activities of layers ``start..stop-1`` given the activity ``h`` of layer ``start - 1``."""
        return layer_activities(self.layers[start:stop], h)

    def forward_labels(self, x: torch.Tensor, labels: torch.Tensor | None) -> list[torch.Tensor]:
        """Activities of every hidden layer for un-embedded images ``x`` with ``labels`` embedded (None or -1 = no
        label), equal to ``self(self.embed(x, labels))`` up to float rounding, without the embedded copy."""
        n = x.shape[0]
        lab = (torch.full((n,), -1, dtype=torch.long) if labels is None else torch.as_tensor(labels)).to(
            device=x.device, dtype=torch.long)
        z, c = self.label_free(x, lab >= 0)
        h = self.layers[0]._act(self.first_currents(z, lab, c))
        return [h, *self.forward_from(h, 1)]

    @torch.no_grad()
    def label_activations(self, x: torch.Tensor, embedded: Sequence[torch.Tensor | None], *, batch_size: int = 1000,
                          device: str | torch.device = "cpu"):
        """Yield ``(n, sum(layer_sizes))`` blocks of hidden activity for un-embedded images ``x``, for each entry of
        ``embedded`` in turn (labels per image, -1 or None = no label), ``batch_size`` images at a time.

        When two or more entries embed a label in every image (e.g. the K presentations of an ``all`` recording),
        layer 1's image pass W·z + b is computed once for all of ``x`` (``(N, H₁)``) and shared by them; the same
        floats as :meth:`forward_labels` either way.
        """
        self.eval()
        labelled = [e is not None and bool((torch.as_tensor(e) >= 0).all()) for e in embedded]
        base = None
        if sum(labelled) > 1:
            lin = self.layers[0].linear
            base = torch.empty((x.shape[0], lin.out_features))
            cs = torch.empty(x.shape[0])
            for s in range(0, x.shape[0], batch_size):
                z, c = self.label_free(x[s:s + batch_size].to(device))
                base[s:s + z.shape[0]] = torch.addmm(lin.bias, z, lin.weight.t()).cpu()
                cs[s:s + z.shape[0]] = c.cpu()
            wl = label_weights(lin.weight, self.pixel_index)
        for emb, lab_all in zip(embedded, labelled, strict=True):
            for s in range(0, x.shape[0], batch_size):
                if base is not None and lab_all:
                    lab = torch.as_tensor(emb[s:s + batch_size]).to(device=device, dtype=torch.long)
                    pre = base[s:s + batch_size].to(device, copy=True)
                    pre.addcmul_(wl.index_select(0, lab), cs[s:s + batch_size].to(device).unsqueeze(1))
                    h = self.layers[0]._act(pre)
                    hs = [h, *self.forward_from(h, 1)]
                else:
                    hs = self.forward_labels(x[s:s + batch_size].to(device),
                                             None if emb is None else torch.as_tensor(emb[s:s + batch_size]))
                yield torch.cat(hs, dim=1).float().cpu().numpy()

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Activities of every hidden layer for already-embedded inputs ``x``."""
        return layer_activities(self.layers, x)

    def goodness(self, h: torch.Tensor) -> torch.Tensor:
        return goodness(h, self.goodness_kind)

    def activity_goodness(self, pre: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(h, G)`` for a layer's pre-activation ``pre`` (fused backward for ReLU with the L2-norm goodness)."""
        return activity_goodness(pre, self.activation, self.goodness_kind)

    def layer_goodness(self, x: torch.Tensor) -> torch.Tensor:
        """Goodness per layer, ``(B, L)``, for already-embedded inputs."""
        return torch.stack([self.goodness(h) for h in self.forward(x)], dim=-1)

    def label_goodness(self, x: torch.Tensor, candidates: Sequence[int] | None = None, *,
                       upto: int | None = None) -> torch.Tensor:
        """Goodness ``(B, K, L)`` of each layer with each candidate label embedded, for un-embedded images ``x``.

        Layer 1 runs one image pass for all labels (W·z once, plus the K label columns); the layers above run per
        label.  ``upto``: only layers ``0..upto`` (L = upto + 1)."""
        z, c = self.label_free(x)
        return self.prepared_label_goodness(z, c, candidates, upto=upto)

    def prepared_label_goodness(self, z: torch.Tensor, c: torch.Tensor, candidates: Sequence[int] | None = None, *,
                                upto: int | None = None) -> torch.Tensor:
        """:meth:`label_goodness` for images already prepared by :meth:`label_free`."""
        cands = list(range(self.n_classes)) if candidates is None else [int(k) for k in candidates]
        stop = len(self.layers) if upto is None else int(upto) + 1
        first = self.layers[0]
        lin = first.linear
        with torch.no_grad():
            base = torch.addmm(lin.bias, z, lin.weight.t()) if lin.bias is not None else torch.mm(z, lin.weight.t())
            wl = label_weights(lin.weight, self.pixel_index)
            out = []
            for k in cands:
                h = activation_(torch.addr(base, c, wl[k]), self.activation)
                out.append(torch.stack(self._goodness_from(h, stop), dim=-1))
            return torch.stack(out, dim=1)

    def _goodness_from(self, h: torch.Tensor, stop: int) -> list[torch.Tensor]:
        """Goodness of layer 1 (activity ``h``) and of layers 2..stop (no gradients).  W·(h/d) + b is computed as
        (W·h)/d + b, and ‖h‖, needed by both, is computed once per layer when the goodness is the L2 norm."""
        l2 = torch.linalg.vector_norm(h, ord=2, dim=-1)
        gs = [l2 if self.goodness_kind == "l2_norm" else self.goodness(h)]
        for layer in self.layers[1:stop]:
            d = norm_denominator(l2, layer.input_norm, h.shape[1]).unsqueeze(1)
            pre = torch.mm(h, layer.weight.t())
            pre = torch.addcdiv(layer.bias, pre, d) if layer.bias is not None else pre.div_(d)
            h = activation_(pre, self.activation)
            l2 = torch.linalg.vector_norm(h, ord=2, dim=-1)
            gs.append(l2 if self.goodness_kind == "l2_norm" else self.goodness(h))
        return gs

    @torch.no_grad()
    def predict(self, x: torch.Tensor, rule: str = "softmax_sum", *, candidates: Sequence[int] | None = None,
                batch_size: int = 1000) -> tuple[torch.Tensor, torch.Tensor]:
        """Predicted labels ``(N,)`` and scores ``(N, K)`` for un-embedded images ``x``.

        For every candidate label the image (with that label embedded) runs through all layers, layer 1 in one
        image pass for all labels (:meth:`label_goodness`); the per-layer goodness is turned into scores by
        ``rule`` (see :func:`~ensembles.models.goodness.predict_from_goodness`).  Done per batch of ``batch_size``
        images.
        """
        check_choice("prediction", rule, PREDICTION_RULES)
        cands = torch.arange(self.n_classes) if candidates is None else torch.as_tensor(list(candidates))
        scores = []
        for start in range(0, x.shape[0], batch_size):
            g = self.label_goodness(x[start:start + batch_size], cands.tolist())
            scores.append(predict_from_goodness(g, rule))
        s = torch.cat(scores)
        return cands.to(s.device)[s.argmax(dim=1)], s
