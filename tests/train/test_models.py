"""ensembles.models: label embedding, goodness, FF loss, input normalisation and the prediction rules on
hand-built examples (reference values computed by hand in the comments)."""

import math

import pytest
import torch

from ensembles.models import (
    BPNet,
    FFLayer,
    FFNet,
    embed_label,
    ff_loss,
    goodness,
    label_pixel_index,
    normalize_input,
    predict_from_goodness,
)

torch.set_num_threads(1)


def test_greyscale_embedding_zeroes_first_pixels_then_sets_label():
    x = torch.full((3, 28 * 28), -0.4242)
    out = embed_label(x, torch.tensor([0, 7, -1]), value=2.8215, pixel_index=label_pixel_index(10, (28, 28)))
    assert out[0, 0] == pytest.approx(2.8215) and torch.all(out[0, 1:10] == 0)
    assert out[1, 7] == pytest.approx(2.8215) and torch.all(out[1, :7] == 0) and torch.all(out[1, 8:10] == 0)
    assert torch.all(out[2, :10] == 0)  # -1 = no label: pixels zeroed only
    assert torch.all(out[:, 10:] == x[:, 10:])  # the rest of the image is untouched
    assert torch.all(x[:, :10] == -0.4242)  # input not modified in place


def test_rgb_embedding_uses_row0_of_every_channel():
    idx = label_pixel_index(10, (3, 32, 32))
    assert idx.shape == (3, 10)
    assert idx[:, 4].tolist() == [4, 1024 + 4, 2048 + 4]  # c*1024 + k (docs/methods.md §M1.6)
    x = torch.ones(1, 3 * 32 * 32)
    out = embed_label(x, torch.tensor([4]), value=1.0, pixel_index=idx)
    img = out.reshape(3, 32, 32)
    assert torch.all(img[:, 0, 4] == 1.0)
    assert torch.all(img[:, 0, :4] == 0) and torch.all(img[:, 0, 5:10] == 0)
    assert torch.all(img[:, 0, 10:] == 1) and torch.all(img[:, 1:] == 1)


def test_digits_embedding_spills_onto_second_row():
    idx = label_pixel_index(10, (8, 8))
    assert idx.reshape(-1).tolist() == list(range(10))


def test_goodness_definitions():
    h = torch.tensor([[3.0, 4.0, 0.0], [-1.0, 0.0, 2.0]])
    assert goodness(h, "l2_norm").tolist() == pytest.approx([5.0, math.sqrt(5)])
    assert goodness(h, "sum_squares").tolist() == pytest.approx([25.0, 5.0])
    assert goodness(h, "mean_squares").tolist() == pytest.approx([25 / 3, 5 / 3])
    assert goodness(h, "l1").tolist() == pytest.approx([7.0, 3.0])
    assert goodness(h, "linf").tolist() == pytest.approx([4.0, 2.0])
    with pytest.raises(ValueError, match="'goodness'.*Did you mean 'l2_norm'"):
        goodness(h, "l2norm")


def test_ff_loss_matches_softplus_formula_and_does_not_overflow():
    gp, gn = torch.tensor([5.0, 1.0]), torch.tensor([0.0, 4.0])
    sp = lambda v: math.log1p(math.exp(v))  # noqa: E731
    want = (sp(3 - 5) + sp(3 - 1) + sp(0 - 3) + sp(4 - 3)) / 4
    assert ff_loss(gp, gn, 3.0).item() == pytest.approx(want, rel=1e-6)
    big = ff_loss(torch.tensor([-1e4]), torch.tensor([1e4]), 3.0)
    assert torch.isfinite(big) and big.item() == pytest.approx((1e4 + 3 + 1e4 - 3) / 2, rel=1e-4)


def test_normalize_input():
    x = torch.tensor([[3.0, 4.0], [0.0, 0.0]])
    assert torch.allclose(normalize_input(x, "l2"), torch.tensor([[0.6, 0.8], [0.0, 0.0]]))  # zero row stays zero (eps)
    rms = normalize_input(torch.tensor([[2.0, 2.0]]), "rms")
    assert rms.tolist()[0] == pytest.approx([1.0, 1.0], rel=1e-6)


def test_prediction_rules_on_hand_built_goodness():
    # one sample, K=3 labels, L=2 layers. Layer 1 strongly prefers label 0, layer 2 mildly prefers label 2.
    g = torch.tensor([[[10.0, 1.0], [0.0, 1.0], [0.0, 1.5]]])
    # goodness_sum: [11, 1, 1.5] -> 0
    assert predict_from_goodness(g, "goodness_sum").argmax().item() == 0
    # skip first: layer 2 only -> 2
    assert predict_from_goodness(g, "goodness_sum_skip_first").argmax().item() == 2
    assert predict_from_goodness(g, "softmax_sum_skip_first").argmax().item() == 2
    s = predict_from_goodness(g, "softmax_sum")[0]
    l1 = torch.softmax(torch.tensor([10.0, 0.0, 0.0]), 0)
    l2 = torch.softmax(torch.tensor([1.0, 1.0, 1.5]), 0)
    assert torch.allclose(s, l1 + l2)
    assert s.argmax().item() == 0
    # softmax per layer bounds each layer's vote: a huge goodness in one layer cannot outweigh two layers
    per_layer = torch.tensor([[100.0, 0.0, 0.0], [0.0, 5.0, 0.0], [0.0, 5.0, 0.0]])  # (L=3, K=3)
    g2 = per_layer.T.unsqueeze(0)  # (1, K, L)
    assert predict_from_goodness(g2, "goodness_sum").argmax().item() == 0  # 100 vs 10 vs 0
    assert predict_from_goodness(g2, "softmax_sum").argmax().item() == 1  # ~1.01 vs ~1.97 vs ~0.01


def test_ffnet_predict_embeds_each_label_and_uses_every_layer():
    torch.manual_seed(0)
    net = FFNet(64, [16, 8], n_classes=10, image_shape=(8, 8), label_value=2.5)
    x = torch.randn(7, 64)
    pred, scores = net.predict(x, "goodness_sum", batch_size=3)
    manual = torch.zeros(7, 10)
    for k in range(10):
        xe = x.clone()
        xe[:, :10] = 0
        xe[:, k] = 2.5
        hs = net(xe)
        manual[:, k] = sum(torch.linalg.vector_norm(h, dim=1) for h in hs)
    assert torch.allclose(scores, manual, atol=1e-5)
    assert torch.equal(pred, manual.argmax(1))
    assert "label_value" in net.state_dict() and net.state_dict()["label_value"].item() == 2.5


def test_layer_currents_and_normalised_input():
    torch.manual_seed(0)
    layer = FFLayer(5, 3, input_norm="l2")
    x = torch.randn(4, 5)
    xn = layer.normalized_input(x)
    assert torch.allclose(xn.norm(dim=1), torch.ones(4))
    assert torch.allclose(layer(x), torch.relu(xn @ layer.weight.T + layer.bias))
    with pytest.raises(ValueError, match="'activation'"):
        FFLayer(5, 3, activation="tanh")


def test_bpnet_layers_and_l2_hidden_only():
    net = BPNet(10, [6, 4], 3)
    assert net.layer_sizes == [6, 4] and net(torch.randn(2, 10)).shape == (2, 3)
    assert [lay.input_norm for lay in net.layers] == ["none", "none"]
    ff = FFNet(64, [6, 4], n_classes=10, image_shape=(8, 8), label_value=1.0, input_norm="l2_hidden_only")
    assert [lay.input_norm for lay in ff.layers] == ["none", "l2"]
