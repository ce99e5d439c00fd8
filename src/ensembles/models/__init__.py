"""Network modules (``nn.Module`` only) and pure goodness functions for FF, BP/FF and BP.

No module here sees a config object: ``ensembles.train`` builds them from a :class:`~ensembles.train.RunConfig`.
"""

from ensembles.models.ff import FFLayer, FFNet
from ensembles.models.goodness import (
    ACTIVATIONS,
    GOODNESS,
    INPUT_NORMS,
    PREDICTION_RULES,
    embed_label,
    ff_loss,
    goodness,
    label_pixel_index,
    normalize_input,
    predict_from_goodness,
)
from ensembles.models.mlp import BPNet

__all__ = [
    "FFLayer", "FFNet", "BPNet", "goodness", "ff_loss", "normalize_input", "embed_label", "label_pixel_index",
    "predict_from_goodness", "GOODNESS", "INPUT_NORMS", "ACTIVATIONS", "PREDICTION_RULES",
]
