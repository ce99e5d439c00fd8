"""ensembles.train.config: presets, scale profiles, overrides, typo errors, TOML round trip."""

import pytest

from ensembles.train import load_config, make_config, valid_keys
from ensembles.train.config import dumps_toml


def test_paper_preset_is_the_authors_formulation():
    c = make_config("ff", "mnist-5k", preset="paper", scale="full")
    assert (c.ff.goodness, c.ff.threshold, c.network.input_norm) == ("l2_norm", 3.0, "l2")
    assert (c.ff.schedule, c.ff.negatives, c.ff.prediction) == ("layerwise", "fixed_subset", "softmax_sum")
    # docs/methods.md §M1.9: FF MNIST lr 1e-2, 1200 epochs per layer, batch 1024, 3 x 1000
    assert (c.train.lr, c.train.epochs, c.train.batch_size, c.network.hidden) == (1e-2, 1200, 1024, [1000] * 3)
    assert c.total_epochs == 3600
    bp = make_config("bp", "fashion-mnist", scale="full")
    assert (bp.train.lr, bp.train.epochs, bp.train.batch_size, bp.network.input_norm) == (1e-4, 80, 2048, "none")
    bpff = make_config("bp_ff", "mnist-5k", scale="full")
    assert (bpff.train.lr, bpff.train.epochs, bpff.schedule) == (1e-4, 300, "end_to_end")


def test_hinton_preset():
    c = make_config("ff", "digits", preset="hinton", scale="quick")
    assert (c.ff.goodness, c.ff.threshold, c.network.input_norm) == ("sum_squares", "n_units", "rms")
    assert (c.ff.schedule, c.ff.negatives, c.ff.peer_norm) == ("joint", "resample_each_epoch", 0.03)
    assert c.total_epochs == c.train.epochs


def test_typos_name_the_key_and_the_closest_valid_one():
    with pytest.raises(ValueError, match=r"Unknown config key 'train\.lrr'\. Did you mean 'train\.lr'\?"):
        load_config({"model": "ff", "train": {"lrr": 0.1}})
    with pytest.raises(ValueError, match=r"'network\.hiden'.*Did you mean 'network\.hidden'"):
        load_config({"network": {"hiden": [10]}})
    with pytest.raises(ValueError, match=r"'seeed'.*Did you mean 'seed'"):
        load_config({"seeed": 1})
    with pytest.raises(ValueError, match=r"'ff\.goodnes'.*'ff\.goodness'"):
        load_config({}, overrides=["ff.goodnes=l1"])
    with pytest.raises(ValueError, match=r"'ff\.negatives' parameter must be one of.*Did you mean 'fixed_subset'"):
        load_config({"ff": {"negatives": "fixed_subst"}})
    with pytest.raises(ValueError, match=r"'model' parameter must be one of"):
        make_config("fff")


def test_bad_values_name_the_parameter():
    with pytest.raises(ValueError, match=r"'train\.lr' parameter must be a finite number > 0"):
        load_config({}, overrides=["train.lr=-1"])
    with pytest.raises(ValueError, match=r"'record\.epochs'.*between 1 and"):
        make_config("bp", "digits", scale="quick", record__epochs=[1000])
    with pytest.raises(ValueError, match=r"'network\.hidden'"):
        make_config("ff", "digits", network__hidden=[])


def test_overrides_are_applied_last_and_parsed_as_toml(tmp_path):
    p = tmp_path / "c.toml"
    p.write_text('model = "bp"\nscale = "quick"\n[train]\nlr = 0.5\n[data]\ndataset = "digits"\n')
    c = load_config(p, ["train.lr=0.25", "network.hidden=[7, 5]", "ff.goodness=l1", "seed=3"])
    assert (c.model, c.train.lr, c.network.hidden, c.ff.goodness, c.seed) == ("bp", 0.25, [7, 5], "l1", 3)
    assert load_config(p).train.lr == 0.5  # file beats the scale profile


def test_resolved_toml_round_trips(tmp_path):
    c = make_config("ff", "digits", preset="hinton", scale="quick", seed=4, data__held_out=[3],
                    record__conditions=["true", "all"])
    c.ff.label_value = 2.8214867
    p = tmp_path / "r.toml"
    p.write_text(c.to_toml())
    assert load_config(p).to_dict() == c.to_dict()
    assert dumps_toml({"a": None, "s": {"x": 1}}) == "\n[s]\nx = 1\n"


def test_valid_keys_cover_every_section():
    keys = valid_keys()
    for k in ("model", "seed", "data.held_out_mode", "ff.threshold", "bp.l1", "train.checkpoint_every",
              "record.conditions"):
        assert k in keys
