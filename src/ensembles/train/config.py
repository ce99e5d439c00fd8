"""Run configuration: TOML files → dataclasses, presets (the formulation) and scale profiles (the compute budget).

A config is resolved in this order, each step overriding the previous one key by key:

1. the **preset** (``"paper"``: EmergentRepresentations with its bugs fixed, docs/methods.md §M1 and §X; ``"hinton"``:
   Hinton 2022 / loeweX) gives the formulation;
2. the **scale** profile (``"quick"`` for tests, ``"cpu"`` for the demo and benchmarks, ``"full"`` for the authors'
   epochs and batch sizes, docs/methods.md §M1.9) gives widths, epochs, batch size and learning rate;
3. the keys of the TOML file (or dict);
4. ``overrides`` such as ``"train.lr=0.01"`` or ``"seed=3"`` (values parsed as TOML, bare words as strings).

Unknown keys raise a :class:`ValueError` naming the key and the closest valid one.  The presets and scale profiles
are :mod:`ensembles.train.presets`; ``config.toml`` is written by :mod:`ensembles.train.tomlwriter`.

File layout (every key optional)::

    model = "ff"            # "ff", "bp_ff" or "bp"
    preset = "paper"        # "paper" or "hinton"
    scale = "cpu"           # "quick", "cpu" or "full"
    seed = 0

    [data]     dataset, root, normalize, held_out, held_out_mode, train_subsample
    [network]  hidden, activation, input_norm
    [ff]       goodness, threshold, negatives, schedule, prediction, peer_norm, label_value   (ff and bp_ff)
    [bp]       l1                                                                                  (bp)
    [train]    optimizer, lr, batch_size, epochs, weight_decay, eval_every, checkpoint_every, eval_batch_size, threads
    [record]   enabled, epochs, conditions
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields
from typing import Any

try:
    import tomllib
except ModuleNotFoundError:  # pragma: no cover - python 3.10
    import tomli as tomllib

from ensembles._validation import check_choice, closest
from ensembles.conventions import MODELS
from ensembles.data.registry import DATASETS
from ensembles.errors import ParameterError
from ensembles.models.goodness import ACTIVATIONS, GOODNESS, INPUT_NORMS, PREDICTION_RULES
from ensembles.train.presets import preset_keys, scale_keys
from ensembles.train.tomlwriter import dumps_toml

PRESETS = ("paper", "hinton")
SCALES = ("quick", "cpu", "full")
NEGATIVES = ("fixed_subset", "one_per_image", "resample_each_epoch", "hardest")
SCHEDULES = ("layerwise", "joint", "end_to_end")
HELD_OUT_MODES = ("strict", "loose")
OPTIMIZERS = ("adam", "sgd", "rmsprop")
CONDITIONS = ("true", "none", "all")


@dataclass
class DataConfig:
    """Which data. ``held_out``: classes removed from training (zero-shot, docs/methods.md §A3.6); ``held_out_mode``:
    ``"strict"`` never uses a held-out label even as a negative label (variant A), ``"loose"`` allows it (variant
    B). ``train_subsample``: use only the first n training images of a fixed seeded permutation (None = all)."""

    dataset: str = "mnist-5k"
    root: str | None = None
    normalize: str = "paper"
    held_out: list[int] = field(default_factory=list)
    held_out_mode: str = "strict"
    train_subsample: int | None = None


@dataclass
class NetworkConfig:
    """Hidden widths (depth = len), activation and input normalisation (``None`` = the model's default: ``"l2"``
    on every layer incl. the image for FF/BP-FF in the paper preset, ``"rms"`` in the hinton preset, ``"none"`` for
    BP)."""

    hidden: list[int] = field(default_factory=lambda: [1000, 1000, 1000])
    activation: str = "relu"
    input_norm: str | None = None


@dataclass
class FFConfig:
    """The FF objective (FF and BP/FF).

    ``threshold``: a number, or ``"n_units"`` (θ = layer width, Hinton's rule for ``sum_squares``).
    ``schedule``: ``"layerwise"`` (greedy, the authors), ``"joint"`` (every layer every batch on detached inputs,
    Hinton); BP/FF is always ``"end_to_end"``. ``label_value``: M, the value of the label pixel; ``None`` = computed
    once as the training-set maximum and stored in the resolved config. ``peer_norm``: strength of Hinton's peer
    normalisation (0 = off).
    """

    goodness: str = "l2_norm"
    threshold: float | str = 3.0
    negatives: str = "fixed_subset"
    schedule: str = "layerwise"
    prediction: str = "softmax_sum"
    peer_norm: float = 0.0
    label_value: float | None = None


@dataclass
class BPConfig:
    """Backprop baseline. ``l1``: λ of the activity penalty λ·Σ|a| (sum over batch and all hidden units, the authors'
    ``REGULARIZATION`` control, docs/methods.md §M1.5)."""

    l1: float = 0.0


@dataclass
class TrainConfig:
    """Optimisation. ``epochs`` counts passes over the training set **per layer** for the layerwise FF schedule
    (as the authors' "1200 per layer") and in total otherwise. ``eval_every``: test accuracy every n epochs in the
    history (0 = only at record epochs and the end). ``checkpoint_every``: resumable checkpoint every n epochs.
    ``threads``: ``torch.set_num_threads`` for the run (0 = leave as is)."""

    optimizer: str = "adam"
    lr: float = 1e-2
    batch_size: int = 1024
    epochs: int = 20
    weight_decay: float = 0.0
    eval_every: int = 0
    checkpoint_every: int = 1
    eval_batch_size: int = 1000
    threads: int = 0


@dataclass
class RecordConfig:
    """Recording of the test split during training. ``epochs``: global epochs (1-based, after that epoch) at which
    to record, ``None`` = the end of each layer for the layerwise schedule, nothing else otherwise; the final epoch
    is always recorded. ``conditions``: for FF-style models ``"true"`` (true label embedded), ``"none"`` (label
    pixels zeroed), ``"all"`` (every label, K presentations per image); BP always records the raw image."""

    enabled: bool = True
    epochs: list[int] | None = None
    conditions: list[str] = field(default_factory=lambda: ["true"])


@dataclass
class RunConfig:
    """A fully resolved training run (see the module docstring for the file layout)."""

    model: str = "ff"
    preset: str = "paper"
    scale: str = "cpu"
    seed: int = 0
    data: DataConfig = field(default_factory=DataConfig)
    network: NetworkConfig = field(default_factory=NetworkConfig)
    ff: FFConfig = field(default_factory=FFConfig)
    bp: BPConfig = field(default_factory=BPConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    record: RecordConfig = field(default_factory=RecordConfig)

    # ---- derived quantities ----
    @property
    def n_layers(self) -> int:
        return len(self.network.hidden)

    @property
    def schedule(self) -> str:
        if self.model == "bp_ff":
            return "end_to_end"
        if self.model == "bp":
            return "end_to_end"
        return self.ff.schedule

    @property
    def total_epochs(self) -> int:
        if self.model == "ff" and self.ff.schedule == "layerwise":
            return self.train.epochs * self.n_layers
        return self.train.epochs

    def record_epochs(self) -> list[int]:
        """Sorted global epochs at which the test split is recorded (always includes the final epoch).

        Default (``record.epochs`` unset): two checkpoints per trained stage, so that every layer's statistics can
        be checked for stability between the last two checkpoints that trained it — for the greedy FF schedule the
        middle and the end of every layer's stage; otherwise after 1/3, 2/3 and all of the epochs.
        """
        if self.record.epochs is None:
            e = self.train.epochs
            if self.model == "ff" and self.ff.schedule == "layerwise":
                eps = [s * e + m for s in range(self.n_layers) for m in (max(1, e // 2), e)]
            else:
                eps = [max(1, round(e / 3)), max(1, round(2 * e / 3))]
        else:
            eps = [int(e) for e in self.record.epochs]
        total = self.total_epochs
        bad = [e for e in eps if not 1 <= e <= total]
        if bad:
            raise ParameterError(
                f"The 'record.epochs' parameter must contain epochs between 1 and {total} (the total number of "
                f"epochs). Got {bad!r}.")
        return sorted(set(eps) | {total})

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    def to_toml(self) -> str:
        return dumps_toml(self.to_dict())

    def validate(self) -> RunConfig:
        """Check every choice; raise ParameterError naming the parameter."""
        check_choice("model", self.model, MODELS)
        check_choice("preset", self.preset, PRESETS)
        check_choice("scale", self.scale, SCALES)
        if not _is_int(self.seed) or not 0 <= self.seed <= MAX_SEED:
            raise ParameterError(f"The 'seed' parameter must be an integer between 0 and 2**62 = {MAX_SEED} (the "
                                 f"random generators take 64-bit seeds). Got {self.seed!r} instead.")
        check_choice("data.held_out_mode", self.data.held_out_mode, HELD_OUT_MODES)
        check_choice("data.normalize", self.data.normalize, ("paper", "none"))
        if not isinstance(self.data.dataset, str) or not self.data.dataset:
            raise ParameterError(f"The 'data.dataset' parameter must be a dataset name (a string). Got "
                                 f"{self.data.dataset!r} instead.")
        check_choice("data.dataset", self.data.dataset, DATASETS)  # refused here, before any run or cluster starts
        if self.data.root is not None and not isinstance(self.data.root, str):
            raise ParameterError(f"The 'data.root' parameter must be a directory path (a string). Got "
                                 f"{self.data.root!r} instead.")
        if not isinstance(self.data.held_out, list) or not all(_is_int(c) and c >= 0 for c in self.data.held_out):
            raise ParameterError(f"The 'data.held_out' parameter must be a list of class indices. Got {self.data.held_out!r} instead.")
        if self.data.train_subsample is not None:
            _int("data.train_subsample", self.data.train_subsample, lo=1)
        h = self.network.hidden
        if not isinstance(h, list) or not h or not all(_is_int(v) and v >= 1 for v in h):
            raise ParameterError(f"The 'network.hidden' parameter must be a non-empty list of positive ints. Got {h!r} instead.")
        check_choice("network.activation", self.network.activation, ACTIVATIONS)
        if self.network.input_norm is not None:
            check_choice("network.input_norm", self.network.input_norm, INPUT_NORMS)
        f = self.ff
        check_choice("ff.goodness", f.goodness, GOODNESS)
        if isinstance(f.threshold, str):
            check_choice("ff.threshold", f.threshold, ("n_units",))
        elif isinstance(f.threshold, bool) or not isinstance(f.threshold, (int, float)) or not math.isfinite(f.threshold):
            raise ParameterError(f"The 'ff.threshold' parameter must be a finite number or 'n_units'. Got {f.threshold!r} instead.")
        check_choice("ff.negatives", f.negatives, NEGATIVES)
        check_choice("ff.schedule", f.schedule, ("layerwise", "joint"))
        check_choice("ff.prediction", f.prediction, PREDICTION_RULES)
        _num("ff.peer_norm", f.peer_norm, lo=0.0)
        if f.label_value is not None:
            _num("ff.label_value", f.label_value)
        _num("bp.l1", self.bp.l1, lo=0.0)
        t = self.train
        check_choice("train.optimizer", t.optimizer, OPTIMIZERS)
        _num("train.lr", t.lr, lo=0.0, strict=True)
        _int("train.batch_size", t.batch_size, lo=1)
        _int("train.epochs", t.epochs, lo=1)
        _num("train.weight_decay", t.weight_decay, lo=0.0)
        _int("train.eval_every", t.eval_every, lo=0)
        _int("train.checkpoint_every", t.checkpoint_every, lo=1)
        _int("train.eval_batch_size", t.eval_batch_size, lo=1)
        _int("train.threads", t.threads, lo=0)
        r = self.record
        if not isinstance(r.enabled, bool):
            raise ParameterError(f"The 'record.enabled' parameter must be true or false. Got {r.enabled!r} instead.")
        if r.epochs is not None and (not isinstance(r.epochs, list) or not all(_is_int(e) for e in r.epochs)):
            raise ParameterError(f"The 'record.epochs' parameter must be a list of integer epochs. Got {r.epochs!r} "
                                 "instead.")
        if not r.conditions or not isinstance(r.conditions, list):
            raise ParameterError(f"The 'record.conditions' parameter must be a non-empty list. Got {r.conditions!r} instead.")
        for c in r.conditions:
            check_choice("record.conditions", c, CONDITIONS)
        if len(set(r.conditions)) != len(r.conditions):
            raise ParameterError(f"The 'record.conditions' parameter must not repeat a condition. Got {r.conditions!r}.")
        self.record_epochs()
        return self


def _is_int(v) -> bool:
    """An integer that is not a bool (``True`` is an ``int`` in Python, but never a width, epoch or class here)."""
    return isinstance(v, int) and not isinstance(v, bool)


#: the largest seed: torch's and numpy's generators take 64-bit seeds, and a second stream uses seed + 1_000_003
MAX_SEED = 2**62


def _int(name, v, lo=None):
    if not _is_int(v) or (lo is not None and v < lo):
        raise ParameterError(f"The {name!r} parameter must be an integer >= {lo}. Got {v!r} instead.")


def _num(name, v, lo=None, strict=False):
    ok = isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
    if ok and lo is not None:
        ok = v > lo if strict else v >= lo
    if not ok:
        cmp = ">" if strict else ">="
        raise ParameterError(f"The {name!r} parameter must be a finite number{'' if lo is None else f' {cmp} {lo}'}. Got {v!r} instead.")


_SECTIONS = {
    "data": DataConfig, "network": NetworkConfig, "ff": FFConfig, "bp": BPConfig, "train": TrainConfig,
    "record": RecordConfig,
}
_TOP = ("model", "preset", "scale", "seed")


def valid_keys() -> list[str]:
    """Every valid dotted key (``"train.lr"``, ``"seed"``, ...)."""
    keys = list(_TOP)
    for sec, cls in _SECTIONS.items():
        keys += [f"{sec}.{f.name}" for f in fields(cls)]
    return keys


def _unknown(key: str) -> ValueError:
    hint = closest(key, valid_keys(), n=1)
    msg = f"Unknown config key {key!r}."
    if hint:
        msg += f" Did you mean {hint[0]!r}?"
    else:
        msg += f" Valid keys: {', '.join(valid_keys())}."
    return ParameterError(msg)


def _flatten(d: Mapping[str, Any]) -> dict[str, Any]:
    """{"train": {"lr": 1}} → {"train.lr": 1}; checks every key."""
    out = {}
    for k, v in d.items():
        if k in _SECTIONS:
            if not isinstance(v, Mapping):
                raise ParameterError(f"The config section {k!r} must be a table. Got {v!r} instead.")
            for kk, vv in v.items():
                key = f"{k}.{kk}"
                if key not in valid_keys():
                    raise _unknown(key)
                out[key] = vv
        elif k in _TOP:
            out[k] = v
        else:
            raise _unknown(k)
    return out


# ---------------------------------------------------------------- public constructors

def parse_override(item: str) -> tuple[str, Any]:
    """``"train.lr=0.01"`` → ``("train.lr", 0.01)``; values are parsed as TOML, bare words become strings."""
    if "=" not in item:
        raise ParameterError(f"An override must look like 'section.key=value'. Got {item!r} instead.")
    key, raw = item.split("=", 1)
    key, raw = key.strip(), raw.strip()
    try:
        value = tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw
    if key not in valid_keys():
        raise _unknown(key)
    return key, value


def _build(flat: Mapping[str, Any]) -> RunConfig:
    cfg = RunConfig()
    for key, value in flat.items():
        if "." in key:
            sec, name = key.split(".", 1)
            setattr(getattr(cfg, sec), name, value)
        else:
            setattr(cfg, key, value)
    return cfg


def _resolve(flat: dict[str, Any]) -> RunConfig:
    model = flat.get("model", "ff")
    preset = flat.get("preset", "paper")
    scale = flat.get("scale", "cpu")
    check_choice("model", model, MODELS)
    check_choice("preset", preset, PRESETS)
    check_choice("scale", scale, SCALES)
    dataset = flat.get("data.dataset", DataConfig.dataset)
    merged = {**preset_keys(model, preset), **scale_keys(model, preset, scale, str(dataset)), **flat}
    if model == "bp" and "train.batch_size" not in flat:
        merged["train.batch_size"] = 2048 if scale != "quick" else merged["train.batch_size"]
    if isinstance(merged.get("ff.threshold"), int) and not isinstance(merged.get("ff.threshold"), bool):
        merged["ff.threshold"] = float(merged["ff.threshold"])
    return _build(merged).validate()


def load_config(path_or_dict: str | os.PathLike | Mapping[str, Any], overrides: Iterable[str] | Mapping[str, Any] = ()
                ) -> RunConfig:
    """Read a TOML file (or a nested dict in the same layout) and resolve it into a :class:`RunConfig`.

    Parameters
    ----------
    path_or_dict : path or mapping
        The TOML config, or its parsed content.
    overrides : iterable of str or mapping
        ``["train.lr=0.01", "seed=3"]`` or ``{"train.lr": 0.01}``; applied last, key by key.
    """
    if isinstance(path_or_dict, Mapping):
        data = dict(path_or_dict)
    else:
        path = os.fspath(path_or_dict)
        if not os.path.isfile(path):
            raise FileNotFoundError(f"Config file not found: {path!r}")
        with open(path, "rb") as fh:
            try:
                data = tomllib.load(fh)
            except tomllib.TOMLDecodeError as err:
                raise ParameterError(f"Config file {path!r} is not valid TOML: {err}") from err
            except UnicodeDecodeError as err:
                raise ParameterError(f"Config file {path!r} is not UTF-8 text (byte {err.start}: "
                                     f"{err.object[err.start:err.start + 1]!r}); TOML files must be UTF-8 encoded: "
                                     "save it as UTF-8.") from None
    flat = _flatten(data)
    if isinstance(overrides, Mapping):
        for k in overrides:
            if k not in valid_keys():
                raise _unknown(k)
        flat.update(overrides)
    else:
        for item in overrides:
            k, v = parse_override(item)
            flat[k] = v
    return _resolve(flat)


def make_config(model: str = "ff", dataset: str = "mnist-5k", preset: str = "paper", scale: str = "cpu", seed: int = 0,
                **overrides: Any) -> RunConfig:
    """Build a :class:`RunConfig` from a preset and a scale profile.

    ``overrides`` use ``section__key`` names (``train__lr=0.01``, ``network__hidden=[500, 500]``) or dotted keys
    passed via ``**{"train.lr": 0.01}``.
    """
    flat: dict[str, Any] = {"model": model, "preset": preset, "scale": scale, "seed": seed, "data.dataset": dataset}
    for k, v in overrides.items():
        key = k.replace("__", ".")
        if key not in valid_keys():
            raise _unknown(key)
        flat[key] = v
    return _resolve(flat)


def config_from_dict(d: Mapping[str, Any]) -> RunConfig:
    """Rebuild a resolved config from :meth:`RunConfig.to_dict` output (no preset defaults re-applied)."""
    return _build(_flatten(d)).validate()
