"""Sweep files: a grid of training configs, expanded into runs with stable ids.

A sweep file is TOML::

    [sweep]
    name = "demo"            # used for the default output directory
    preset = "paper"         # passed to ensembles.train.make_config
    scale = "cpu"            # "quick", "cpu" or "full"
    retries = 2              # failed runs are retried this many times (default 2)
    device = "cpu"

    [base]                   # values shared by every run (make_config arguments / config overrides)
    dataset = "mnist-5k"

    [grid]                   # cartesian product, in the order written
    model = ["ff", "bp_ff", "bp"]     # "rule" is accepted as an alias of "model"
    seed = [0, 1]
    # held_out = [[], [3]]            # held-out classes (zero-shot), alias of data.held_out
    # train.lr = [1e-2, 1e-3]         # any other key is a dotted config override (ensembles.train.config)

    [scheduler.local]        # options of the "local" scheduler (LocalCluster)
    n_workers = 2
    [scheduler.slurm]        # options of the "slurm" scheduler (see ensembles.sweep.cluster)
    queue = "gpu"

Aliases: ``rule`` = ``model``, ``held_out`` = ``data.held_out``, ``lr``/``epochs``/``batch_size`` =
``train.*``, ``hidden`` = ``network.hidden``.  Each grid point is resolved into a full training config with ``ensembles.train.make_config(model=, dataset=,
preset=, scale=, seed=, **overrides)``.  The **run id** is the first 12 hex digits of the SHA-256 of the resolved
config serialised as canonical JSON (sorted keys), so the same config always maps to the same run directory,
whatever the order of the grid or the sweep it appears in; re-submitting a sweep therefore finds the runs that
already finished.  The readable **name** lists the model, dataset, seed and every other grid key that varies.
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import itertools
import json
import os
import re
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ensembles._validation import closest
from ensembles.errors import DataFileError, InputTypeError, ParameterError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

SCALES = ("quick", "cpu", "full")
TOP_LEVEL = ("sweep", "base", "grid", "scheduler")
SWEEP_KEYS = ("name", "preset", "scale", "retries", "device", "description")
SCHEDULERS = ("local", "slurm")
# make_config's named arguments; every other key is passed on as an override
CONFIG_ARGS = ("model", "dataset", "preset", "scale", "seed")
ALIASES = {"rule": "model", "rules": "model", "models": "model", "datasets": "dataset", "seeds": "seed",
           "held_out": "data.held_out", "lr": "train.lr", "epochs": "train.epochs", "batch_size": "train.batch_size",
           "hidden": "network.hidden"}
DEFAULT_RETRIES = 2


@dataclass(frozen=True)
class SweepSpec:
    """A parsed sweep file (see the module docstring for the format)."""

    name: str
    preset: str = "paper"
    scale: str = "cpu"
    retries: int = DEFAULT_RETRIES
    device: str = "cpu"
    base: dict = field(default_factory=dict)
    grid: dict = field(default_factory=dict)
    scheduler: dict = field(default_factory=dict)
    source: str | None = None  # path of the sweep file, if read from one
    text: str | None = None  # the sweep file's text, copied into the output directory


@dataclass(frozen=True)
class RunSpec:
    """One run of a sweep.

    ``params`` holds the grid values of this run (plus the base values), ``config`` the resolved training config
    (whatever ``make_config`` returns), ``config_dict`` its canonical dict, ``run_id`` the hash of that dict.
    """

    run_id: str
    name: str
    params: dict
    config: Any
    config_dict: dict

    @property
    def dirname(self) -> str:
        """Directory name of the run inside ``<sweep>/runs/``: ``<name>-<run_id[:8]>``."""
        return f"{self.name}-{self.run_id[:8]}"


def _err(msg: str, source: str | None) -> ValueError:
    where = f" in sweep file {source}" if source else ""
    return ParameterError(msg + where)


def _check_table(name: str, value: Any, source: str | None) -> dict:
    if not isinstance(value, Mapping):
        raise _err(f"The [{name}] section must be a table. Got {type(value).__name__} instead", source)
    return dict(value)


def _check_keys(table: Mapping, allowed: tuple[str, ...], what: str, hint_fmt: str, source) -> None:
    """Raise the sweep-file error for the first key of ``table`` not in ``allowed`` (with the closest match)."""
    for key in table:
        if key not in allowed:
            hint = closest(key, allowed, n=1)
            raise _err(what.format(key=key) + f"; expected one of {', '.join(allowed)}"
                       + (f". Did you mean {hint_fmt.format(hint=hint[0])}?" if hint else ""), source)


def parse_sweep(data: Mapping[str, Any], *, source: str | None = None, text: str | None = None) -> SweepSpec:
    """Validate a sweep given as a dict (the parsed TOML) and return a :class:`SweepSpec`.

    Raises a ValueError naming the section and key for every structural mistake (unknown sections or keys, a grid
    value that is not a non-empty list, a bad scale, a negative retry count, ...).
    """
    if not isinstance(data, Mapping):
        raise InputTypeError(f"A sweep must be a mapping (a parsed TOML file). Got {type(data).__name__} instead.")
    _check_keys(data, TOP_LEVEL, "Unknown section [{key}]", "[{hint}]", source)
    sweep = _check_table("sweep", data.get("sweep", {}), source)
    _check_keys(sweep, SWEEP_KEYS, "Unknown key {key!r} in [sweep]", "{hint!r}", source)
    default_name = Path(source).stem if source else "sweep"
    name = sweep.get("name", default_name)
    if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z0-9_-][A-Za-z0-9_.-]*", name) or ".." in name:
        raise _err(f"[sweep] name must be a string of letters, digits, '_', '.', '-' that does not start with '.' "
                   f"nor contain '..' (it names a directory). Got {name!r} instead", source)
    scale = sweep.get("scale", "cpu")
    if scale not in SCALES:
        raise _err(f"[sweep] scale must be one of {', '.join(map(repr, SCALES))}. Got {scale!r} instead", source)
    preset = sweep.get("preset", "paper")
    if not isinstance(preset, str):
        raise _err(f"[sweep] preset must be a string. Got {preset!r} instead", source)
    retries = sweep.get("retries", DEFAULT_RETRIES)
    if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
        raise _err(f"[sweep] retries must be a non-negative integer. Got {retries!r} instead", source)
    device = sweep.get("device", "cpu")
    if not isinstance(device, str):
        raise _err(f"[sweep] device must be a string such as 'cpu' or 'cuda'. Got {device!r} instead", source)

    def flat(table: Mapping, prefix: str = "") -> dict:
        # TOML `train.lr = [...]` is a nested table: flatten it to the dotted config key "train.lr"
        out: dict = {}
        for key, value in table.items():
            if isinstance(value, Mapping):
                out.update(flat(value, f"{prefix}{key}."))
            else:
                out[f"{prefix}{key}"] = value
        return out

    def canon(section: str, table: dict) -> dict:
        out: dict = {}
        for key, value in flat(table).items():
            key2 = ALIASES.get(key, key)
            if key2 in out:
                raise _err(f"[{section}] gives {key2!r} twice (as {key!r} and as an alias)", source)
            if key2 in ("preset", "scale"):
                raise _err(f"[{section}] must not set {key2!r}; set it in [sweep]", source)
            out[key2] = value
        return out

    base = canon("base", _check_table("base", data.get("base", {}), source))
    grid = canon("grid", _check_table("grid", data.get("grid", {}), source))
    for key, values in grid.items():
        if not isinstance(values, list) or len(values) == 0:
            raise _err(f"[grid] {key} must be a non-empty list of values. Got {values!r} instead", source)
        if key in base:
            raise _err(f"{key!r} is set in both [base] and [grid]; keep one", source)
    if "model" not in grid and "model" not in base:
        raise _err("The sweep must give the model (training rule): [grid] model = [...] or [base] model = ...", source)
    if "dataset" not in grid and "dataset" not in base:
        raise _err("The sweep must give the dataset: [grid] dataset = [...] or [base] dataset = ...", source)
    scheduler = _check_table("scheduler", data.get("scheduler", {}), source)
    for key, value in scheduler.items():
        if key not in SCHEDULERS:
            raise _err(f"Unknown scheduler section [scheduler.{key}]; expected one of {', '.join(SCHEDULERS)}", source)
        _check_table(f"scheduler.{key}", value, source)
    return SweepSpec(name=name, preset=preset, scale=scale, retries=retries, device=device, base=base, grid=grid,
                     scheduler={k: dict(v) for k, v in scheduler.items()}, source=source, text=text)


def load_sweep(path_or_dict: str | os.PathLike | Mapping[str, Any]) -> SweepSpec:
    """Read and validate a sweep file (TOML path) or an already-parsed dict."""
    if isinstance(path_or_dict, Mapping):
        return parse_sweep(path_or_dict)
    path = Path(path_or_dict)
    if not path.is_file():
        raise FileNotFoundError(f"Sweep file not found: {path}")
    text = path.read_text(encoding="utf-8")
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise DataFileError(f"Sweep file {path} is not valid TOML: {err}") from err
    return parse_sweep(data, source=str(path), text=text)


def config_to_dict(config: Any) -> dict:
    """Canonical plain-dict form of a resolved config (dataclass, object with ``to_dict``, or mapping)."""
    if hasattr(config, "to_dict") and callable(config.to_dict):
        d = config.to_dict()
    elif dataclasses.is_dataclass(config) and not isinstance(config, type):
        d = dataclasses.asdict(config)
    elif isinstance(config, Mapping):
        d = copy.deepcopy(dict(config))
    else:
        raise TypeError(f"Cannot turn a resolved config of type {type(config).__name__} into a dict.")
    return json.loads(json.dumps(d, sort_keys=True, default=_json_default))


def _json_default(obj: Any) -> Any:
    if isinstance(obj, (set, frozenset)):
        return sorted(obj)
    if isinstance(obj, os.PathLike):
        return os.fspath(obj)
    if hasattr(obj, "tolist"):
        return obj.tolist()
    return repr(obj)


def config_hash(config_dict: Mapping[str, Any]) -> str:
    """SHA-256 (hex) of the canonical JSON of a config dict (sorted keys, no whitespace)."""
    blob = json.dumps(config_dict, sort_keys=True, separators=(",", ":"), default=_json_default)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def _slug(value: Any) -> str:
    if isinstance(value, (list, tuple)):
        return "none" if len(value) == 0 else "_".join(_slug(v) for v in value)
    if isinstance(value, float):
        value = f"{value:g}"
    s = re.sub(r"[^A-Za-z0-9.]+", "_", str(value))
    s = re.sub(r"\.{2,}", "_", s).strip("._")  # no "..", no leading dot: a name can never leave runs/
    return s or "x"


def run_name(params: Mapping[str, Any], varying: list[str]) -> str:
    """Readable run name: ``<model>-<dataset>-s<seed>`` then ``<key><value>`` for the other varying grid keys."""
    parts = [_slug(params.get("model", "model")), _slug(params.get("dataset", "data"))]
    if "seed" in params:
        parts.append(f"s{_slug(params['seed'])}")
    for key in varying:
        if key in ("model", "dataset", "seed"):
            continue
        parts.append(f"{_slug(key.split('.')[-1])}{_slug(params[key])}")
    return "-".join(parts)


def default_make_config() -> Callable[..., Any]:
    """``ensembles.train.make_config`` (imported lazily: the sweep spec itself does not need torch)."""
    try:
        from ensembles.train import make_config
    except ImportError as err:  # pragma: no cover - depends on the build
        raise ImportError(
            "ensembles.train.make_config is needed to resolve the sweep's configs but could not be imported: "
            f"{err}"
        ) from err
    return make_config


def expand_sweep(spec: SweepSpec, *, make_config: Callable[..., Any] | None = None) -> list[RunSpec]:
    """Expand the grid of ``spec`` into runs (cartesian product in the order the grid keys are written).

    ``make_config`` resolves one grid point into a training config; it defaults to
    ``ensembles.train.make_config`` and is called as ``make_config(model=, dataset=, preset=, scale=, seed=,
    **overrides)`` (``seed`` only when given).  Two grid points that resolve to the same config are an error.
    """
    if make_config is None:
        make_config = default_make_config()
    keys = list(spec.grid)
    varying = [k for k in keys if len(spec.grid[k]) > 1]
    runs: list[RunSpec] = []
    seen: dict[str, str] = {}
    for combo in itertools.product(*(spec.grid[k] for k in keys)):
        params = dict(spec.base)
        params.update(dict(zip(keys, combo, strict=True)))
        kwargs = {k: params[k] for k in ("model", "dataset", "seed") if k in params}
        overrides = {k: v for k, v in params.items() if k not in CONFIG_ARGS}
        try:
            config = make_config(preset=spec.preset, scale=spec.scale, **kwargs, **overrides)
        except (TypeError, ValueError, KeyError) as err:
            shown = ", ".join(f"{k}={v!r}" for k, v in params.items())
            raise ParameterError(f"Grid point ({shown}) does not give a valid training config: {err}") from err
        cdict = config_to_dict(config)
        rid = config_hash(cdict)[:12]
        name = run_name(params, varying)
        if rid in seen:
            raise ParameterError(f"Runs {seen[rid]!r} and {name!r} resolve to the same training config; "
                             "remove the duplicate from the grid")
        seen[rid] = name
        runs.append(RunSpec(run_id=rid, name=name, params=params, config=config, config_dict=cdict))
    return runs
