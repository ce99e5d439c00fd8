"""Training runs for Forward-Forward (FF), backprop on the FF objective (BP/FF) and backprop (BP).

Public API::

    cfg = make_config(model="ff", dataset="mnist-5k", preset="paper", scale="cpu", seed=0, train__lr=0.01)
    cfg = load_config("configs/ff_mnist5k.toml", overrides=["train.epochs=10"])
    metrics = train_run(cfg, "runs/ff0", resume=False, device="cpu", progress=True)
    model, cfg = load_model("runs/ff0")
    rec = record_model(model, load_dataset("mnist-5k", "test"), condition="none", config=cfg)
"""

from ensembles.train.config import (
    BPConfig,
    DataConfig,
    FFConfig,
    NetworkConfig,
    RecordConfig,
    RunConfig,
    TrainConfig,
    config_from_dict,
    load_config,
    make_config,
    parse_override,
    valid_keys,
)
from ensembles.train.run import (
    RunDirError,
    build_model,
    iter_activations,
    layer_inputs,
    layer_parameters,
    load_model,
    prepare_data,
    read_metrics,
    record_model,
    train_run,
)
from ensembles.train.seeding import seed_everything

__all__ = [
    "RunConfig", "DataConfig", "NetworkConfig", "FFConfig", "BPConfig", "TrainConfig", "RecordConfig",
    "load_config", "make_config", "config_from_dict", "parse_override", "valid_keys", "train_run", "load_model",
    "record_model", "layer_inputs", "layer_parameters", "prepare_data", "build_model", "iter_activations",
    "read_metrics", "RunDirError", "seed_everything",
]
