"""The backprop baseline: hidden layers (the same :class:`~ensembles.models.ff.FFLayer` as FF, with no input
normalisation by default) plus a linear readout (EmergentRepresentations' BP network: 3 × (Linear → ReLU →
Dropout(0)) → Linear(hidden, 10))."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from ensembles.errors import ParameterError
from ensembles.models.ff import FFLayer, _layer_norms, layer_activities


class BPNet(nn.Module):
    """MLP classifier with cross-entropy readout.

    Parameters
    ----------
    in_features : int
        Flattened input size.
    hidden_sizes : sequence of int
        Hidden widths.
    n_classes : int
        Number of outputs of the linear readout.
    activation : {"relu", "sigmoid"}
        Hidden non-linearity.
    input_norm : {"none", "l2", "l2_hidden_only", "rms"}
        ``"none"`` as the authors (BP sees the raw normalised image); ``"l2"`` is the ablation in docs/methods.md §A3.7
        (BP with the FF divisive normalisation).
    """

    def __init__(self, in_features: int, hidden_sizes: Sequence[int], n_classes: int, *, activation: str = "relu",
                 input_norm: str = "none"):
        super().__init__()
        hidden_sizes = [int(h) for h in hidden_sizes]
        if not hidden_sizes or min(hidden_sizes) < 1:
            raise ParameterError(f"The 'hidden_sizes' parameter must be a non-empty list of positive ints. Got {hidden_sizes!r}.")
        norms = _layer_norms(input_norm, len(hidden_sizes))
        sizes = [int(in_features), *hidden_sizes]
        self.layers = nn.ModuleList(
            FFLayer(sizes[i], sizes[i + 1], activation=activation, input_norm=norms[i]) for i in range(len(hidden_sizes))
        )
        self.head = nn.Linear(sizes[-1], int(n_classes))
        self.n_classes = int(n_classes)
        self.activation = activation
        self.input_norm = input_norm

    @property
    def layer_sizes(self) -> list[int]:
        return [layer.out_features for layer in self.layers]

    def hidden(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Activities of every hidden layer."""
        return layer_activities(self.layers, x)

    def forward_all(self, x: torch.Tensor) -> tuple[list[torch.Tensor], torch.Tensor]:
        hs = self.hidden(x)
        return hs, self.head(hs[-1])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits ``(B, n_classes)``."""
        return self.forward_all(x)[1]

    @torch.no_grad()
    def predict(self, x: torch.Tensor, *, batch_size: int = 4096, candidates: Sequence[int] | None = None
                ) -> tuple[torch.Tensor, torch.Tensor]:
        """Predicted labels (argmax of the logits, optionally restricted to ``candidates``) and logits."""
        logits = torch.cat([self.forward(x[s:s + batch_size]) for s in range(0, x.shape[0], batch_size)])
        if candidates is None:
            return logits.argmax(dim=1), logits
        cands = torch.as_tensor(list(candidates), device=logits.device)
        return cands[logits[:, cands].argmax(dim=1)], logits
