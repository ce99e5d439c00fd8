"""The FF fast paths give the values of the plain definition (embed the label into a copy of the image, normalise,
run every layer; autograd for the gradients): layer 1 without embedded copies, one image pass for all labels, shared
images of positives and negatives, the normalised layer-input cache, and whole training epochs.

Reference values come from the plain path (``FFNet.embed`` + ``FFLayer`` + autograd, i.e. the definition of the
model), computed in float64 so that agreement is checked to ~1e-12 rather than to float32 rounding."""

import pytest
import torch

from ensembles.models import FFNet, ff_loss, goodness, predict_from_goodness
from ensembles.models.goodness import embed_label, embed_label_, label_free_images, label_pixel_index
from ensembles.train import make_config
from ensembles.train.ff import BPFFTrainer, FFTrainer, TrainData
from ensembles.train.negatives import draw_negatives, wrong_label_table

torch.set_num_threads(1)


def test_embed_label_inplace_matches_copy():
    g = torch.Generator().manual_seed(0)
    for shape in [(8, 8), (3, 4, 12)]:
        pix = label_pixel_index(10, shape)
        d = int(torch.tensor(shape).prod())
        x = torch.rand(7, d, generator=g) + 0.5  # label pixels nonzero before embedding
        lab = torch.tensor([0, 9, 3, -1, 5, 5, 1])
        ref = embed_label(x, lab, value=2.5, pixel_index=pix)
        y = x.clone()
        out = embed_label_(y, lab, value=2.5, pixel_index=pix)
        assert out is y and torch.equal(out, ref)
        # row 0 (label 0): pixel 0 of every channel is M, the other label pixels 0; row 3 (-1): all label pixels 0
        assert torch.all(out[0, pix[:, 0]] == 2.5) and torch.all(out[0, pix[:, 1:].reshape(-1)] == 0)
        assert torch.all(out[3, pix.reshape(-1)] == 0)
        assert torch.equal(embed_label_(x.clone(), None, value=2.5, pixel_index=pix),
                           embed_label(x, None, value=2.5, pixel_index=pix))


def test_label_free_images_hand_example():
    # 2x5 greyscale image, 3 classes: label pixels 0, 1, 2.  x = [9, 9, 9, 3, 4, 0, 0, 0, 0, 0], M = 12:
    # x0 = [0, 0, 0, 3, 4, 0...], ||x0||^2 = 25, embedded norm sqrt(25 + 144) = 13 -> z = x0 / 13, c = 12 / 13;
    # unlabelled: norm 5 -> z = x0 / 5, c = 0.  RMS (D = 10): sqrt(169 / 10 + 1e-8).
    x = torch.tensor([[9.0, 9, 9, 3, 4, 0, 0, 0, 0, 0]] * 2, dtype=torch.float64)
    pix = label_pixel_index(3, (2, 5))
    z, c = label_free_images(x, pixel_index=pix, value=12.0, labelled=torch.tensor([True, False]), kind="l2")
    assert z[0].tolist()[:5] == pytest.approx([0, 0, 0, 3 / 13, 4 / 13]) and c[0].item() == pytest.approx(12 / 13)
    assert z[1].tolist()[:5] == pytest.approx([0, 0, 0, 3 / 5, 4 / 5]) and c[1].item() == 0
    z, c = label_free_images(x[:1], pixel_index=pix, value=12.0, labelled=True, kind="rms")
    assert c.item() == pytest.approx(12 / (16.9 + 1e-8) ** 0.5)
    z, c = label_free_images(x[:1], pixel_index=pix, value=12.0, labelled=True, kind="none")
    assert z[0, 3].item() == 3 and c.item() == 12


def _net(shape, norm, hidden=(24, 20, 16), activation="relu", good="l2_norm"):
    d = int(torch.tensor(shape).prod())
    torch.manual_seed(0)
    return FFNet(d, list(hidden), n_classes=10, image_shape=shape, label_value=2.8, input_norm=norm,
                 activation=activation, goodness=good).double(), d


@pytest.mark.parametrize("shape,norm", [((28, 28), "l2"), ((28, 28), "rms"), ((28, 28), "l2_hidden_only"),
                                        ((3, 8, 12), "l2"), ((3, 8, 12), "rms")])
def test_first_layer_currents_and_gradients_equal_the_embedded_path(shape, norm):
    net, d = _net(shape, norm)
    g = torch.Generator().manual_seed(1)
    x = torch.randn(12, d, generator=g, dtype=torch.float64)
    lab = torch.randint(0, 10, (12,), generator=g)
    lab[3] = -1
    ref = net(net.embed(x, lab))
    fast = net.forward_labels(x, lab)
    for a, b in zip(ref, fast, strict=True):
        torch.testing.assert_close(b, a, rtol=0, atol=1e-12)
    # samples sharing images (a positive and a negative of the same image, with different labels)
    imgs, labs = torch.tensor([0, 1, 2, 3, 0, 1, 5, 3]), torch.tensor([1, 2, 3, 4, 5, 6, 7, 8])
    layer = net.layers[0]
    wt = torch.randn(8, 24, generator=g, dtype=torch.float64)
    r = (layer(net.embed(x[imgs], labs)) * wt).sum()
    ref_grads = torch.autograd.grad(r, [layer.weight, layer.bias])
    z, c = net.label_free(x)
    u, rows = torch.unique(imgs, return_inverse=True)
    f = (layer._act(net.first_currents(z[u], labs, c[imgs], rows)) * wt).sum()
    grads = torch.autograd.grad(f, [layer.weight, layer.bias])
    torch.testing.assert_close(f, r, rtol=0, atol=1e-12)
    for a, b in zip(ref_grads, grads, strict=True):
        torch.testing.assert_close(b, a, rtol=0, atol=1e-12)


@pytest.mark.parametrize("good,rule", [("l2_norm", "softmax_sum"), ("sum_squares", "goodness_sum_skip_first")])
def test_one_image_pass_prediction_equals_the_naive_k_pass(good, rule):
    net, d = _net((28, 28), "l2", good=good)
    x = torch.randn(9, d, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    naive = torch.stack([net.layer_goodness(net.embed(x, torch.full((9,), k))) for k in range(10)], dim=1)
    torch.testing.assert_close(net.label_goodness(x), naive, rtol=0, atol=1e-10)
    torch.testing.assert_close(net.label_goodness(x, [2, 7], upto=1), naive[:, [2, 7], :2], rtol=0, atol=1e-10)
    pred, scores = net.predict(x, rule, batch_size=4)
    s_naive = predict_from_goodness(naive, rule)
    torch.testing.assert_close(scores, s_naive, rtol=0, atol=1e-10)
    assert torch.equal(pred, s_naive.argmax(1))


def test_fused_relu_l2_goodness_gradient_equals_autograd():
    from ensembles.models.goodness import activity_goodness

    pre = torch.randn(6, 5, dtype=torch.float64, generator=torch.Generator().manual_seed(3))
    pre[2] = -1.0  # an all-zero activity row: goodness 0, gradient 0
    a = pre.clone().requires_grad_()
    h, g = activity_goodness(a)
    loss = (g * torch.arange(6)).sum() + (h[:, :2] ** 3).sum()  # gradient through G and through h
    loss.backward()
    b = pre.clone().requires_grad_()
    h2 = torch.relu(b)
    g2 = goodness(h2, "l2_norm")
    ((g2 * torch.arange(6)).sum() + (h2[:, :2] ** 3).sum()).backward()
    torch.testing.assert_close(a.grad, b.grad, rtol=0, atol=1e-12)
    assert torch.all(a.grad[2] == 0)


def _data(n=40, d=64, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, d, generator=g, dtype=torch.float64)
    y = torch.arange(n) % 10
    return TrainData(x, y, 10, list(range(10)), list(range(10)))


def _naive_layer_epochs(net, data, cfg, layer_k, epochs, gen, neg):
    """The plain FF layer-wise epoch: embedded copies per batch, every layer below re-run, autograd, Adam."""
    layer = net.layers[layer_k]
    opt = torch.optim.Adam(layer.parameters(), lr=cfg.train.lr)
    x, y = data.x, data.y
    table = wrong_label_table(10, list(range(10)), list(range(10)))
    nimg, nlab = neg
    for _ in range(epochs):
        if cfg.ff.negatives == "resample_each_epoch":
            nimg, nlab = draw_negatives("resample_each_epoch", y, table, gen)
        perm = torch.randperm(y.shape[0], generator=gen)
        for s in range(0, y.shape[0], cfg.train.batch_size):
            idx = perm[s:s + cfg.train.batch_size]
            hp, hn = net.embed(x[idx], y[idx]), net.embed(x[nimg[idx]], nlab[idx])
            with torch.no_grad():
                for below in net.layers[:layer_k]:
                    hp, hn = below(hp), below(hn)
            hp, hn = layer(hp), layer(hn)
            loss = ff_loss(goodness(hp), goodness(hn), 3.0)
            opt.zero_grad()
            loss.backward()
            opt.step()
    return nimg, nlab


# fixed_subset with N=40, B=8: negatives often share a positive's image (shared rows); N=120, B=4: almost never
# (each sample gets its own row with the label written in); resample_each_epoch: every negative shares its row
@pytest.mark.parametrize("negatives,n,batch", [("fixed_subset", 40, 8), ("fixed_subset", 120, 4),
                                               ("resample_each_epoch", 40, 8)])
def test_ff_epochs_equal_the_plain_embedded_training(negatives, n, batch):
    cfg = make_config("ff", "digits", preset="paper", scale="quick", seed=0,
                      **{"network.hidden": [16, 12], "train.epochs": 2, "train.batch_size": batch,
                         "train.eval_batch_size": 16, "ff.negatives": negatives})
    data = _data(n)
    fast, _ = _net((8, 8), "l2", hidden=(16, 12))
    ref, _ = _net((8, 8), "l2", hidden=(16, 12))
    tr = FFTrainer(fast, cfg, data, torch.Generator().manual_seed(0))
    g_ref = torch.Generator().manual_seed(0)
    neg = draw_negatives(negatives, data.y, wrong_label_table(10, list(range(10)), list(range(10))), g_ref)
    for epoch in range(4):  # 2 epochs of layer 1, then 2 of layer 2 (cached inputs under fixed_subset)
        tr.run_epoch(epoch)
    neg = _naive_layer_epochs(ref, data, cfg, 0, 2, g_ref, neg)
    _naive_layer_epochs(ref, data, cfg, 1, 2, g_ref, neg)
    for (name, a), b in zip(ref.state_dict().items(), fast.state_dict().values(), strict=True):
        torch.testing.assert_close(b, a, rtol=0, atol=1e-9, msg=name)


def test_bp_ff_epoch_equals_the_plain_embedded_training():
    cfg = make_config("bp_ff", "digits", preset="paper", scale="quick", seed=0,
                      **{"network.hidden": [16, 12], "train.epochs": 1, "train.batch_size": 8,
                         "ff.negatives": "one_per_image"})
    data = _data()
    fast, _ = _net((8, 8), "l2", hidden=(16, 12))
    ref, _ = _net((8, 8), "l2", hidden=(16, 12))
    tr = BPFFTrainer(fast, cfg, data, torch.Generator().manual_seed(0))
    tr.run_epoch(0)
    g = torch.Generator().manual_seed(0)
    nimg, nlab = draw_negatives("one_per_image", data.y, wrong_label_table(10, list(range(10)), list(range(10))), g)
    opt = torch.optim.Adam(ref.parameters(), lr=cfg.train.lr)
    perm = torch.randperm(40, generator=g)
    for s in range(0, 40, 8):
        idx = perm[s:s + 8]
        gp = sum(goodness(h) for h in ref(ref.embed(data.x[idx], data.y[idx])))
        gn = sum(goodness(h) for h in ref(ref.embed(data.x[nimg[idx]], nlab[idx])))
        loss = ff_loss(gp, gn, tr.threshold)
        opt.zero_grad()
        loss.backward()
        opt.step()
    for (name, a), b in zip(ref.state_dict().items(), fast.state_dict().values(), strict=True):
        torch.testing.assert_close(b, a, rtol=0, atol=1e-9, msg=name)


def test_layer_cache_holds_the_normalised_frozen_outputs():
    cfg = make_config("ff", "digits", preset="paper", scale="cpu", seed=0,
                      **{"network.hidden": [16, 12, 8], "train.eval_batch_size": 16, "train.epochs": 1})
    data = _data(50)
    net, _ = _net((8, 8), "l2", hidden=(16, 12, 8))
    tr = FFTrainer(net, cfg, data, torch.Generator().manual_seed(0))
    x, y = data.x, data.y
    for k in (1, 2):
        tr._build_cache(k)
        assert tr._cache[0] == k and tr._cache[1].shape == (100, net.layer_sizes[k - 1])
        hp, hn = net.embed(x, y), net.embed(x[tr.neg_img], tr.neg_lab)
        with torch.no_grad():
            for layer in net.layers[:k]:
                hp, hn = layer(hp), layer(hn)
        ref = torch.cat([net.layers[k].normalized_input(hp), net.layers[k].normalized_input(hn)])
        torch.testing.assert_close(tr._cache[1], ref, rtol=0, atol=1e-12)


def test_hardest_scores_use_the_layers_up_to_the_current_one():
    cfg = make_config("ff", "digits", preset="paper", scale="quick", seed=0,
                      **{"network.hidden": [16, 12], "ff.negatives": "hardest"})
    data = _data()
    net, _ = _net((8, 8), "l2", hidden=(16, 12))
    tr = FFTrainer(net, cfg, data, torch.Generator().manual_seed(0))
    naive = torch.stack([net.layer_goodness(net.embed(data.x, torch.full((40,), k))) for k in range(10)], dim=1)
    torch.testing.assert_close(tr._train_label_scores(upto=0), predict_from_goodness(naive[..., :1], "softmax_sum"),
                               rtol=0, atol=1e-10)
    torch.testing.assert_close(tr._train_label_scores(), predict_from_goodness(naive, "softmax_sum"), rtol=0, atol=1e-10)
    torch.testing.assert_close(tr.label_scores(data.x, upto=1), predict_from_goodness(naive, "softmax_sum"), rtol=0,
                               atol=1e-10)


def test_all_label_recording_blocks_equal_the_embedded_forward():
    from ensembles.train import iter_activations

    torch.manual_seed(0)
    net = FFNet(64, [16, 12], n_classes=10, image_shape=(8, 8), label_value=2.8)
    x = torch.randn(23, 64).numpy()
    rows = [(torch.arange(23) % 10).numpy(), torch.full((23,), -1).numpy()] + [torch.full((23,), k).numpy()
                                                                             for k in range(10)]
    shared = list(iter_activations(net, x, rows, batch_size=10))  # layer 1's image pass shared by 11 rows
    assert len(shared) == 12 * 3
    for i, emb in enumerate(rows):
        alone = list(iter_activations(net, x, emb, batch_size=10))
        for s, block in enumerate(alone):
            assert (block == shared[3 * i + s]).all()  # same floats with or without the shared image pass
            xb = torch.as_tensor(x[10 * s:10 * s + 10])
            ref = torch.cat(net(net.embed(xb, torch.as_tensor(emb[10 * s:10 * s + 10]))), dim=1)
            torch.testing.assert_close(torch.as_tensor(block), ref.detach(), rtol=1e-5, atol=1e-5)
