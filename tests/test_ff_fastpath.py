"""The FF trainer's cheaper per-batch embedding and layer-input cache give exactly the values of the plain path."""

import torch

from ensembles.models import FFNet
from ensembles.models.goodness import embed_label, embed_label_, label_pixel_index
from ensembles.train import make_config
from ensembles.train.ff import FFTrainer, TrainData

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


def test_layer_cache_equals_frozen_forward_of_all_inputs():
    torch.manual_seed(0)
    n, d = 50, 64
    x, y = torch.rand(n, d), torch.arange(n) % 10
    cfg = make_config("ff", "digits", preset="paper", scale="cpu", seed=0,
                      **{"network.hidden": [16, 12, 8], "train.eval_batch_size": 16, "train.epochs": 1})
    net = FFNet(d, [16, 12, 8], n_classes=10, image_shape=(8, 8), label_value=1.0)
    tr = FFTrainer(net, cfg, TrainData(x, y, 10, list(range(10)), list(range(10))), torch.Generator().manual_seed(0))
    for k in (1, 2):
        tr._build_cache(k)
        assert tr._cache[0] == k
        # reference: the previous implementation (embed, run the frozen layers per batch of 16, torch.cat)
        ps, ns = [], []
        for s in range(0, n, 16):
            i = torch.arange(s, min(s + 16, n))
            xp, xn = net.embed(x[i], y[i]), net.embed(x[tr.neg_img[i]], tr.neg_lab[i])
            with torch.no_grad():
                for layer in net.layers[:k]:
                    xp, xn = layer(xp), layer(xn)
            ps.append(xp)
            ns.append(xn)
        assert torch.equal(tr._cache[1], torch.cat(ps)) and torch.equal(tr._cache[2], torch.cat(ns))
        assert tr._cache[1].shape == (n, net.layer_sizes[k - 1])
