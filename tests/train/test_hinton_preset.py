"""The `hinton` preset pinned choice by choice against loeweX/Forward-Forward (docs/methods.md §M1.10).

Each test states the loeweX choice (read from its src/ff_model.py, src/ff_mnist.py, src/utils.py and config.yaml)
and pins ours, so a change to either side of the comparison table is deliberate."""

import math

import numpy as np
import pytest
import torch

from ensembles.train import make_config


@pytest.fixture(scope="module")
def cfg():
    return make_config("ff", "digits", preset="hinton", scale="quick")


def test_same_as_loewex(cfg):
    # loeweX: logits = sum(z**2) - z.shape[1] (BCEWithLogits), layer norm on every input incl. the image, every layer
    # every batch, a fresh wrong label per sample, peer normalisation 0.03 with momentum 0.9 on positives,
    # multi-pass prediction on all layers but the first
    assert (cfg.ff.goodness, cfg.ff.threshold) == ("sum_squares", "n_units")
    assert cfg.network.input_norm == "rms"
    assert (cfg.ff.schedule, cfg.ff.negatives) == ("joint", "resample_each_epoch")
    assert cfg.ff.peer_norm == 0.03
    assert cfg.ff.prediction == "goodness_sum_skip_first"


def test_deviation_optimiser_and_input_scaling(cfg):
    # loeweX: SGD(momentum 0.9, lr 1e-3, weight decay 3e-4), batch 100; pixels in [0, 1], one-hot label value 1
    assert cfg.train.optimizer == "adam"
    assert cfg.data.normalize == "paper"
    assert (cfg.train.batch_size, cfg.train.lr) != (100, 1e-3)


def _tiny_net(cfg):
    from ensembles.models import FFNet

    return FFNet(64, [16, 16], n_classes=10, image_shape=(8, 8), label_value=2.8, input_norm="rms",
                 goodness="sum_squares")


def test_deviation_relu_gradient_is_not_straight_through(cfg):
    # loeweX's ReLU_full_grad passes the gradient for negative pre-activations too (a unit pushed far below zero
    # would still get d(sum h)/d(bias) = n_samples); ours is the ordinary ReLU: exactly 0 for a unit that is off
    torch.manual_seed(0)
    layer = _tiny_net(cfg).layers[0]
    bias = [p for p in layer.parameters() if p.ndim == 1][0]
    with torch.no_grad():
        bias[0] = -100.0  # unit 0 is off for every input
    h = layer(torch.randn(32, 64))
    assert torch.all(h[:, 0] == 0)
    h.sum().backward()
    assert bias.grad[0].item() == 0.0
    assert bias.grad[1:].abs().sum().item() > 0  # the other units do get gradient


def test_deviation_initialisation_is_pytorch_default(cfg):
    # loeweX: weights ~ N(0, 1/sqrt(n_out)), biases 0; ours: PyTorch's uniform(-1/sqrt(n_in), 1/sqrt(n_in))
    torch.manual_seed(0)
    net = _tiny_net(cfg)
    w = next(p for p in net.layers[0].parameters() if p.ndim == 2).detach().numpy()
    b = [p for p in net.layers[0].parameters() if p.ndim == 1][0].detach().numpy()
    bound = 1 / math.sqrt(w.shape[1])
    assert np.abs(w).max() <= bound + 1e-7 and np.abs(b).max() <= bound + 1e-7
    assert np.abs(b).max() > 0  # not zero biases
    # a uniform(-a, a) has SD a/sqrt(3); N(0, 1/sqrt(16)) would have SD 0.25 — far from ours
    assert w.std() == pytest.approx(bound / math.sqrt(3), rel=0.1)
