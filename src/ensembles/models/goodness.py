"""Pure functions of the Forward-Forward formulation: goodness, the FF loss, input normalisation, label embedding.

Each choice names the reference implementation it matches:

* ``EmergentRepresentations`` = the released code of Tosato et al. (arXiv 2305.18353),
* ``Hinton`` = Hinton (2022), "The Forward-Forward Algorithm: Some Preliminary Investigations", and the
  open reproduction by loeweX (``pytorch_forward_forward``).

No function here sees a config object; they take tensors and explicit arguments only.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F

from ensembles._validation import check_choice
from ensembles.errors import ParameterError

GOODNESS = ("l2_norm", "sum_squares", "mean_squares", "l1", "linf")
INPUT_NORMS = ("l2", "l2_hidden_only", "rms", "none")
ACTIVATIONS = ("relu", "sigmoid")

_EPS = 1e-12


def goodness(h: torch.Tensor, kind: str = "l2_norm") -> torch.Tensor:
    """Goodness of each row of ``h`` (shape ``(B, H)`` → ``(B,)``).

    Parameters
    ----------
    h : torch.Tensor
        Layer activity, one sample per row.
    kind : {"l2_norm", "sum_squares", "mean_squares", "l1", "linf"}
        ``"l2_norm"``: G = ‖h‖₂, the plain Euclidean norm used by EmergentRepresentations (threshold 3 on the norm
        scale). ``"sum_squares"``: G = Σ h², Hinton's (2022) definition (threshold on its own scale, e.g. the number
        of units). ``"mean_squares"``: Σ h² / H (loeweX's variant). ``"l1"``: ‖h‖₁ and ``"linf"``: ‖h‖∞, the other
        values of EmergentRepresentations' ``norm`` option.
    """
    check_choice("goodness", kind, GOODNESS)
    if kind == "l2_norm":
        return torch.linalg.vector_norm(h, ord=2, dim=-1)
    if kind == "sum_squares":
        return h.pow(2).sum(dim=-1)
    if kind == "mean_squares":
        return h.pow(2).mean(dim=-1)
    if kind == "l1":
        return h.abs().sum(dim=-1)
    return h.abs().amax(dim=-1)


class _ReluL2Goodness(torch.autograd.Function):
    """h = relu(pre) and G = ‖h‖₂ per row, with one fused backward pass: ∂L/∂pre = (∂L/∂h + h·(∂L/∂G)/G) where
    h > 0, else 0 (autograd's chain through ``vector_norm`` and ``relu`` takes four passes over the batch)."""

    @staticmethod
    def forward(ctx, pre):
        ctx.set_materialize_grads(False)
        h = torch.relu(pre)
        g = torch.linalg.vector_norm(h, ord=2, dim=-1)
        ctx.save_for_backward(h, g)
        return h, g

    @staticmethod
    def backward(ctx, grad_h, grad_g):
        h, g = ctx.saved_tensors
        if grad_g is None and grad_h is None:
            return None
        if grad_g is not None:
            coef = torch.where(g > 0, grad_g / g.clamp_min(_EPS), torch.zeros((), dtype=g.dtype, device=g.device))
            out = h * coef.unsqueeze(-1)
            if grad_h is not None:
                out.add_(grad_h * (h > 0))
            return out
        return grad_h * (h > 0)


def activity_goodness(pre: torch.Tensor, activation: str = "relu", kind: str = "l2_norm"
                      ) -> tuple[torch.Tensor, torch.Tensor]:
    """``(h, G)``: the activity ``activation(pre)`` and its goodness per row (:func:`goodness`); for ReLU with the
    L2-norm goodness (the paper preset) the gradient is computed in one fused pass."""
    if activation == "relu" and kind == "l2_norm" and pre.requires_grad:
        return _ReluL2Goodness.apply(pre)
    h = activation_fn(activation)(pre)
    return h, goodness(h, kind)


def ff_loss(g_pos: torch.Tensor, g_neg: torch.Tensor, threshold: float) -> torch.Tensor:
    """Forward-Forward loss: mean over the 2B items of softplus(θ − G⁺) and softplus(G⁻ − θ).

    This is the logistic loss of Hinton (2022) on p(positive) = σ(G − θ), written with ``softplus`` (the authors'
    ``log(1 + exp(·))`` overflows; docs/methods.md §X10).  ``g_pos`` and ``g_neg`` are ``(B,)`` tensors.
    """
    return torch.cat([F.softplus(threshold - g_pos), F.softplus(g_neg - threshold)]).mean()


def normalize_input(x: torch.Tensor, kind: str = "l2") -> torch.Tensor:
    """Normalise each row of a layer input.

    ``"l2"``: x / max(‖x‖₂, 1e-12) (EmergentRepresentations; ``torch.nn.functional.normalize``).
    ``"rms"``: x / sqrt(mean(x²) + 1e-8) (Hinton 2022: the length of the activity vector is removed so that the
    next layer only sees its orientation; RMS keeps the scale independent of the width, as in loeweX).
    ``"none"``: unchanged.  (``"l2_hidden_only"`` is resolved by the network: ``"none"`` for the image,
    ``"l2"`` for hidden layers.)
    """
    if kind == "l2":
        return F.normalize(x, p=2.0, dim=-1, eps=_EPS)
    if kind == "rms":
        return x / torch.sqrt(x.pow(2).mean(dim=-1, keepdim=True) + 1e-8)
    if kind == "none":
        return x
    raise check_choice("input_norm", kind, ("l2", "rms", "none"))


def norm_denominator(l2: torch.Tensor, kind: str, n_features: int) -> torch.Tensor:
    """The per-row divisor of :func:`normalize_input` from the rows' L2 norms ``l2``: normalize_input(x, kind) =
    x / d (``"l2"``: max(‖x‖, 1e-12); ``"rms"``: sqrt(‖x‖²/D + 1e-8); ``"none"``: 1)."""
    if kind == "l2":
        return l2.clamp_min(_EPS)
    if kind == "rms":
        return (l2 * l2 / n_features + 1e-8).sqrt()
    if kind == "none":
        return torch.ones_like(l2)
    raise check_choice("input_norm", kind, ("l2", "rms", "none"))


def activation_fn(kind: str):
    """The elementwise non-linearity named ``kind`` (``"relu"`` or ``"sigmoid"``)."""
    check_choice("activation", kind, ACTIVATIONS)
    return torch.relu if kind == "relu" else torch.sigmoid


def activation_(x: torch.Tensor, kind: str) -> torch.Tensor:
    """In-place :func:`activation_fn` (for a fresh tensor the caller owns; no gradients)."""
    check_choice("activation", kind, ACTIVATIONS)
    return x.relu_() if kind == "relu" else x.sigmoid_()


def label_pixel_index(n_classes: int, image_shape: Sequence[int]) -> torch.Tensor:
    """Flat indices of the label pixels, shape ``(n_channels, n_classes)``.

    Greyscale ``(H, W)``: the first ``n_classes`` pixels of the flattened image (the top row, continuing onto the
    next row when W < n_classes, as for 8x8 digits).  RGB ``(C, H, W)`` flattened channel-major: row 0, columns
    0..n_classes-1 of every channel, i.e. ``c·H·W + k`` (docs/methods.md §M1.6).
    """
    shape = tuple(int(s) for s in image_shape)
    if len(shape) == 2:
        if n_classes > shape[0] * shape[1]:
            raise ParameterError(f"The image of shape {shape} has fewer pixels than the {n_classes} classes to embed.")
        return torch.arange(n_classes).reshape(1, n_classes)
    if len(shape) == 3:
        c, h, w = shape
        if n_classes > w:
            raise ParameterError(f"The image rows (width {w}) are shorter than the {n_classes} classes to embed.")
        return (torch.arange(c).reshape(c, 1) * (h * w) + torch.arange(n_classes).reshape(1, n_classes))
    raise ParameterError(f"The 'image_shape' parameter must be (H, W) or (C, H, W). Got {shape!r} instead.")


def embed_label(x: torch.Tensor, labels: torch.Tensor | None, *, value: float, pixel_index: torch.Tensor) -> torch.Tensor:
    """Return a copy of ``x`` (flattened images, ``(B, D)``) with a one-hot label written into the label pixels.

    As EmergentRepresentations (docs/methods.md §M1.6): the label pixels are set to 0, then pixel ``label`` (in every
    channel) is set to ``value`` (the training-set maximum M after normalisation).  ``labels=None`` gives the
    neutral "no label" input (label pixels zeroed only); a label of -1 does the same for single rows.
    ``pixel_index`` comes from :func:`label_pixel_index`.
    """
    return embed_label_(x.clone(), labels, value=value, pixel_index=pixel_index)


def embed_label_(x: torch.Tensor, labels: torch.Tensor | None, *, value: float, pixel_index: torch.Tensor
                 ) -> torch.Tensor:
    """In-place :func:`embed_label`: writes the label pixels of ``x`` itself and returns ``x``.

    For callers that already hold a fresh copy of the images (e.g. a gathered mini-batch), which saves
    :func:`embed_label`'s clone; the pixel values written are the same.
    """
    pix = pixel_index.to(x.device)
    x[:, pix.reshape(-1)] = 0.0
    if labels is None:
        return x
    labels = labels.to(device=x.device, dtype=torch.long)
    rows = torch.nonzero(labels >= 0).squeeze(1)
    if rows.numel():
        cols = pix[:, labels[rows]]  # (C, n)
        x[rows.unsqueeze(0).expand_as(cols), cols] = value
    return x


def label_free_images(x: torch.Tensor, *, pixel_index: torch.Tensor, value: float, labelled: torch.Tensor | bool,
                      kind: str, chunk: int = 4096) -> tuple[torch.Tensor, torch.Tensor]:
    """Images with zeroed label pixels, already divided by the input normalisation of the *embedded* image.

    Writing value M into label pixel k of an image whose label pixels are zeroed (x₀) changes its squared norm by
    C·M² whatever k is (C = channels, one label pixel each), so the normalised embedded input is
    x̂_k = (x₀ + M·e_k) / d with one denominator d per image:

    * ``"l2"``: d = max(sqrt(‖x₀‖² + C·M²), 1e-12) (:func:`normalize_input`),
    * ``"rms"``: d = sqrt((‖x₀‖² + C·M²) / D + 1e-8),
    * ``"none"``: d = 1,

    and a layer's pre-activation is W·x̂_k + b = W·z + c·Σ_ch W[:, pix[ch, k]] + b with z = x₀ / d and c = M / d.
    Returns ``(z, c)``: ``z`` of shape ``(N, D)`` and ``c`` of shape ``(N,)``.  Rows whose ``labelled`` entry is
    False get the denominator of the label-free input (C·M² left out) and c = 0.  ‖x₀‖² is summed in float64
    (``chunk`` rows at a time), so d is at least as accurate as the norm of the embedded image.
    """
    check_choice("input_norm", kind, ("l2", "rms", "none"))
    n_channels = int(pixel_index.shape[0])
    pix = pixel_index.to(x.device).reshape(-1)
    z = x.clone()
    z[:, pix] = 0.0
    n, d_in = z.shape
    lab = torch.as_tensor(labelled, dtype=torch.bool, device=x.device).expand(n)
    energy = n_channels * float(value) ** 2
    denom = torch.empty(n, dtype=torch.float64, device=x.device)
    for s in range(0, n, chunk):
        zz = z[s:s + chunk].double()
        denom[s:s + chunk] = (zz * zz).sum(dim=1)
    denom += lab.double() * energy
    if kind == "l2":
        denom = denom.sqrt().clamp_min(_EPS)
    elif kind == "rms":
        denom = (denom / d_in + 1e-8).sqrt()
    else:
        denom.fill_(1.0)
    denom = denom.to(x.dtype)
    if kind != "none":
        z.div_(denom.unsqueeze(1))
    c = torch.where(lab, float(value) / denom, torch.zeros((), dtype=x.dtype, device=x.device))
    return z, c


def label_weights(weight: torch.Tensor, pixel_index: torch.Tensor) -> torch.Tensor:
    """``(K, H)``: row k = Σ_ch W[:, pix[ch, k]], the weight column(s) a one-hot label k adds to W·x₀."""
    pix = pixel_index.to(weight.device)
    return weight.t().index_select(0, pix.reshape(-1)).reshape(pix.shape[0], pix.shape[1], -1).sum(dim=0)


def predict_from_goodness(g: torch.Tensor, rule: str = "softmax_sum") -> torch.Tensor:
    """Scores per candidate label from per-layer goodness ``g`` of shape ``(B, K, L)`` (K labels, L layers).

    ``"softmax_sum"``: Σ_l softmax_k G_l(k) over all layers (EmergentRepresentations' ``predict``, layer 1 included).
    ``"softmax_sum_skip_first"``: the same without layer 1 (Hinton 2022 skips the first hidden layer).
    ``"goodness_sum"``: Σ_l G_l(k) (EmergentRepresentations' ``predict_old``).
    ``"goodness_sum_skip_first"``: Σ_{l≥2} G_l(k), Hinton's (2022) accumulated goodness over all but the first
    hidden layer (loeweX).
    Returns ``(B, K)`` scores; the prediction is their argmax over k.
    """
    check_choice("prediction", rule, PREDICTION_RULES)
    if rule.endswith("_skip_first"):
        if g.shape[-1] < 2:
            raise ParameterError(f"The {rule!r} prediction rule needs at least 2 layers. Got {g.shape[-1]}.")
        g = g[..., 1:]
    if rule.startswith("goodness_sum"):
        return g.sum(dim=-1)
    return torch.softmax(g, dim=1).sum(dim=-1)


PREDICTION_RULES = ("softmax_sum", "softmax_sum_skip_first", "goodness_sum", "goodness_sum_skip_first")
