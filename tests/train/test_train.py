"""ensembles.train: the three learning rules on `digits` (quick scale), recording during training, held-out
classes, negatives, resume after an interruption (bitwise), run-directory protection and model reuse."""

import json

import numpy as np
import pytest
import torch

from ensembles.data import load_dataset
from ensembles.record import load_recording
from ensembles.train import (
    RunDirError,
    layer_inputs,
    layer_parameters,
    load_model,
    make_config,
    record_model,
    train_run,
)
from ensembles.train.negatives import fixed_subset, hardest_wrong_labels, wrong_label_table

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """One quick run per learning rule, recorded at epoch 2 and at the end."""
    out = {}
    for model in ("ff", "bp_ff", "bp"):
        d = tmp_path_factory.mktemp(model)
        cfg = make_config(model, "digits", scale="quick", seed=0, record__epochs=[2])
        metrics = train_run(cfg, d, progress=False)
        out[model] = (d, cfg, metrics, json.loads((d / "history.json").read_text()))
    return out


def test_losses_fall(runs):
    for model in ("bp_ff", "bp"):
        h = runs[model][3]
        assert h[-1]["loss"] < 0.5 * h[0]["loss"], model
    d, cfg, _, h = runs["ff"]
    E = cfg.train.epochs
    for k in range(cfg.n_layers):  # layerwise: each layer's own loss falls during its phase
        first, last = h[k * E][f"loss_l{k + 1}"], h[(k + 1) * E - 1][f"loss_l{k + 1}"]
        assert last < 0.8 * first, (k, first, last)


def test_ff_positive_goodness_exceeds_negative_in_every_layer(runs):
    _, cfg, _, h = runs["ff"]
    E = cfg.train.epochs
    for k in range(cfg.n_layers):
        end = h[(k + 1) * E - 1]
        assert end[f"g_pos_l{k + 1}"] > 1.5 * end[f"g_neg_l{k + 1}"], (k, end)


def test_predictions_beat_chance_by_a_wide_margin(runs):
    # 10 balanced classes: chance = 0.1
    for model, (_, _, metrics, _) in runs.items():
        assert metrics["test_accuracy"] > 0.75, (model, metrics["test_accuracy"])
        assert set(metrics["per_class_accuracy"]) == set(load_dataset("digits", "test").classes)
        # not degenerate: every class is mostly recognised, so quick-mode analyses of correctly classified
        # presentations have every class (measured at seed 0: lowest class FF 0.82, BP/FF 0.79, BP 0.91; a 32-unit,
        # 5-epoch FF, the demo smoke test's setting, gives 0.37 overall with classes at 0.0)
        worst = min(metrics["per_class_accuracy"].values())
        assert worst > 0.5, (model, metrics["per_class_accuracy"])


def test_run_dir_layout_and_recording(runs):
    for model, (d, cfg, metrics, h) in runs.items():
        for name in ("config.toml", "history.json", "metrics.json", "recording.h5", "DONE", "checkpoints/model.pt",
                     "checkpoints/resume.pt"):
            assert (d / name).exists(), (model, name)
        rec = load_recording(d / "recording.h5")
        total = cfg.total_epochs
        assert rec["activity"].dims == ("checkpoint", "presentation", "neuroid")
        assert rec["epoch"].values.tolist() == [2, total]
        assert rec.sizes["presentation"] == 355 and rec.sizes["neuroid"] == sum(cfg.network.hidden)
        assert rec.attrs["model"] == model and rec.attrs["site"] == "post-relu"
        assert json.loads(rec.attrs["config"])["model"] == model
        emb = rec["embedded_label"].values
        if model == "bp":
            assert np.all(emb == -1)
        else:
            assert np.array_equal(emb, rec["label"].values)
        # the final checkpoint's `correct` agrees with metrics.json; activity is post-ReLU (non-negative)
        assert rec["correct"].values[-1].mean() == pytest.approx(metrics["test_accuracy"])
        assert float(rec["activity"].min()) >= 0
        assert h[-1]["test_accuracy"] == pytest.approx(metrics["test_accuracy"])
        assert "record_time_s" in h[1] and "record_time_s" in h[-1]


def test_load_model_and_record_model_reproduce_the_recording(runs):
    d, cfg, metrics, _ = runs["ff"]
    model, cfg2 = load_model(d)
    assert cfg2.ff.label_value == pytest.approx(float(load_dataset("digits", "train").x.max()))
    test = load_dataset("digits", "test")
    rec = load_recording(d / "recording.h5")
    mine = record_model(model, test, condition=["true", "none"], config=cfg2)
    n = test.x.shape[0]
    assert np.array_equal(mine["activity"].values[:n], rec["activity"].values[-1])
    assert np.all(mine["embedded_label"].values[n:] == -1)
    assert mine["correct"].values[:n].mean() == pytest.approx(metrics["test_accuracy"])
    # layer_inputs: currents = W x̂ + b, activity = relu(current), consistent with the recording
    io = layer_inputs(model, test.x, test.y)
    params = layer_parameters(model)
    for lay, p in zip(io, params, strict=True):
        np.testing.assert_allclose(lay["current"], lay["normalized_input"] @ p["weight"].T + p["bias"], atol=1e-5)
        np.testing.assert_array_equal(lay["activity"], np.maximum(lay["current"], 0))
    # the recording's layer 1 is W·z + c·W[:, label] + b (no embedded copy), layer_inputs' is W·x̂ + b on the embedded
    # image: equal up to float32 rounding
    np.testing.assert_allclose(np.concatenate([lay["activity"] for lay in io], 1), rec["activity"].values[-1],
                               rtol=1e-5, atol=1e-5)
    with pytest.raises(FileNotFoundError, match="recorded epochs"):
        load_model(d, epoch=1)
    # every label embedded: K presentations per image, in label-major order
    small = load_dataset("digits", "test")
    allrec = record_model(model, small, condition="all", config=cfg2)
    assert allrec.sizes["presentation"] == 10 * n
    assert np.array_equal(allrec["embedded_label"].values, np.repeat(np.arange(10), n))
    k3 = allrec["activity"].values[3 * n:4 * n]  # label 3 embedded into every image
    is3 = small.y == 3  # for true-3 images that is the true-label condition
    np.testing.assert_array_equal(k3[is3], rec["activity"].values[-1][is3])
    assert not np.array_equal(k3[~is3], rec["activity"].values[-1][~is3])
    epoch2, _ = load_model(d, epoch=2)
    assert not torch.equal(epoch2.layers[0].weight, model.layers[0].weight)


def test_finished_run_is_never_overwritten(runs):
    d, cfg, metrics, _ = runs["bp"]
    with pytest.raises(RunDirError, match="finished run; pass --force"):
        train_run(cfg, d, progress=False)
    assert train_run(cfg, d, resume=True, progress=False) == metrics


class _Tally:
    def __init__(self):
        self.seen = {"image_labels": set(), "pos_labels": set(), "neg_image_labels": set(), "neg_labels": set()}
        self.calls = 0

    def __call__(self, **kw):
        self.calls += 1
        for k, v in kw.items():
            if v is not None:
                self.seen[k] |= set(v.tolist())


@pytest.mark.parametrize("model,mode", [("ff", "strict"), ("ff", "loose"), ("bp_ff", "strict"), ("bp", "strict")])
def test_held_out_classes_never_reach_a_training_batch(tmp_path, model, mode):
    held = [3, 7]
    cfg = make_config(model, "digits", scale="quick", data__held_out=held, data__held_out_mode=mode,
                      train__epochs=2, record__conditions=["true"])
    tally = _Tally()
    metrics = train_run(cfg, tmp_path, progress=False, batch_observer=tally)
    assert tally.calls >= cfg.total_epochs
    for key in ("image_labels", "pos_labels", "neg_image_labels"):
        assert not tally.seen[key] & set(held), (key, tally.seen[key])
    assert tally.seen["image_labels"] == set(range(10)) - set(held)
    if model != "bp":
        if mode == "strict":
            assert not tally.seen["neg_labels"] & set(held)
        else:  # loose: held-out labels may serve as wrong labels (and with ~1150 negatives per epoch they do)
            assert set(held) <= tally.seen["neg_labels"]
    rec = load_recording(tmp_path / "recording.h5")
    assert np.array_equal(rec["held_out"].values, np.isin(rec["label"].values, held))
    assert metrics["held_out"] == held and "seen_class_accuracy" in metrics


def test_fixed_subset_negatives_are_wrong_labels_drawn_without_replacement():
    y = torch.tensor([0, 1, 2, 2, 1, 0, 0, 1])
    table = wrong_label_table(3, [0, 1, 2], [0, 1, 2])
    assert table.tolist() == [[1, 2], [0, 2], [0, 1]]
    g = torch.Generator().manual_seed(0)
    img, lab = fixed_subset(y, table, g)
    assert img.shape == lab.shape == y.shape
    assert torch.all(lab != y[img])
    pairs = set(zip(img.tolist(), lab.tolist(), strict=True))
    assert len(pairs) == y.numel()  # without replacement
    strict = wrong_label_table(4, [0, 1], [0, 1])  # held-out 2, 3 never allowed
    assert strict[0].tolist() == [1] and strict[1].tolist() == [0]
    scores = torch.tensor([[5.0, 1.0, 3.0], [9.0, 0.0, 2.0]])
    assert hardest_wrong_labels(scores, torch.tensor([0, 0]), table).tolist() == [2, 2]


def test_hardest_negatives_train(tmp_path):
    cfg = make_config("ff", "digits", scale="quick", ff__negatives="hardest", train__epochs=3, record__enabled=False)
    tally = _Tally()
    m = train_run(cfg, tmp_path, progress=False, batch_observer=tally)
    assert m["test_accuracy"] > 0.3


class _Interrupt(Exception):
    pass


def _interrupt_after(n):
    count = {"n": 0}

    def obs(**kw):
        count["n"] += 1
        if count["n"] == n:
            raise _Interrupt

    return obs


def _final_state(d):
    return torch.load(d / "checkpoints" / "model.pt", weights_only=True)["state_dict"]


# digits: 1442 training images / batch 64 (FF) = 23 batches per epoch, batch 128 (BP/FF) = 12; the interruption falls after the recorded epoch 3
# (FF paper: in layer 2's phase, where layer 2 trains on cached outputs of layer 1)
@pytest.mark.parametrize("model,preset,n_batches", [("ff", "paper", 170), ("ff", "hinton", 100), ("bp_ff", "paper", 50)])
def test_resume_after_interruption_is_bitwise_identical(tmp_path, model, preset, n_batches):
    kw = dict(scale="quick", seed=1, record__epochs=[3], train__epochs=6)
    if model == "bp_ff":
        kw["ff__negatives"] = "resample_each_epoch"
    cfg = make_config(model, "digits", preset=preset, **kw)
    ref, cut = tmp_path / "ref", tmp_path / "cut"
    train_run(cfg, ref, progress=False)
    with pytest.raises(_Interrupt):
        train_run(cfg, cut, progress=False, batch_observer=_interrupt_after(n_batches))
    assert not (cut / "DONE").exists() and not (cut / "recording.h5").exists()
    with pytest.raises(RunDirError, match="unfinished run; pass --resume"):
        train_run(cfg, cut, progress=False)
    m = train_run(cfg, cut, resume=True, progress=False)
    assert m["resumed_at_epoch"] > 3  # interrupted after the first recorded epoch: that checkpoint is replayed
    a, b = _final_state(ref), _final_state(cut)
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    ra, rb = load_recording(ref / "recording.h5"), load_recording(cut / "recording.h5")
    np.testing.assert_array_equal(ra["activity"].values, rb["activity"].values)
    np.testing.assert_array_equal(ra["predicted"].values, rb["predicted"].values)
    strip = lambda h: [{k: v for k, v in e.items() if not k.endswith("_time_s")} for e in h]  # noqa: E731
    ha = json.loads((ref / "history.json").read_text())
    hb = json.loads((cut / "history.json").read_text())
    assert strip(ha) == strip(hb)


@pytest.mark.parametrize("model", ["ff", "bp_ff", "bp"])
def test_the_test_set_is_predicted_once_per_evaluated_epoch(tmp_path, model, monkeypatch):
    """The final metrics reuse the prediction made after the last epoch (the model is unchanged between the two):
    one prediction of the test set per recorded epoch, none repeated at the end (for FF on 10,000 test images the
    repeat cost about 5 s of a 170-s run). The accuracy in metrics.json is the one in the history's last entry."""
    from ensembles.train.backprop import BPTrainer
    from ensembles.train.ff import _FFStyleTrainer

    cls = BPTrainer if model == "bp" else _FFStyleTrainer
    calls = []
    original = cls.predict

    def counting(self, x):
        calls.append(int(x.shape[0]))
        return original(self, x)

    monkeypatch.setattr(cls, "predict", counting)
    cfg = make_config(model, "digits", scale="quick", seed=0, train__epochs=3, record__epochs=[1])
    metrics = train_run(cfg, tmp_path, progress=False)
    history = json.loads((tmp_path / "history.json").read_text())
    evaluated = [h for h in history if "test_accuracy" in h]
    assert len(calls) == len(evaluated) == len(cfg.record_epochs())  # epochs 1 and the last, per the config
    assert metrics["test_accuracy"] == evaluated[-1]["test_accuracy"]
    # a resume of the finished run reads the metrics back and predicts nothing
    calls.clear()
    assert train_run(cfg, tmp_path, resume=True, progress=False) == metrics
    assert calls == []
