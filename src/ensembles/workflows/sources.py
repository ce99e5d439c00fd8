"""Recordings to analyse, with the training run each came from (its history, weights and config)."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import xarray as xr

from ensembles import conventions as C
from ensembles._validation import describe
from ensembles.errors import DataFileError, InputTypeError, ParameterError
from ensembles.layout import RunLayout

__all__ = ["Source", "load_sources", "load_source"]


@dataclass
class Source:
    """One recording to analyse, with the training run it came from (if any)."""

    name: str
    rec: xr.Dataset
    path: str | None = None
    run_dir: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def model(self) -> str:
        return str(self.rec.attrs.get("model", "unknown"))

    @property
    def run(self) -> RunLayout | None:
        return RunLayout(self.run_dir) if self.run_dir else None

    @property
    def config(self) -> dict[str, Any]:
        """The training config stored in the recording (``{}`` for recordings of other origin)."""
        try:
            cfg = json.loads(self.rec.attrs.get("config", "{}") or "{}")
        except (TypeError, ValueError):
            cfg = {}
        return cfg if isinstance(cfg, dict) else {}

    def describe(self) -> dict[str, Any]:
        """What the manifest records about this source."""
        rec = self.rec
        layers = [int(v) for v in sorted(set(rec["layer"].values.tolist()))]
        info = {"name": self.name, "model": self.model, "dataset": rec.attrs.get("dataset", ""),
                "seed": rec.attrs.get("seed", -1), "path": self.path, "run_dir": self.run_dir,
                "n_presentations": int(rec.sizes[C.PRESENTATION]), "layers": layers,
                "layer_sizes": [int((rec["layer"].values == lay).sum()) for lay in layers],
                "package_version": rec.attrs.get("package_version", ""), "created": rec.attrs.get("created", ""),
                "site": rec.attrs.get("site", ""), "config": self.config}
        if C.CHECKPOINT in rec[C.ACTIVITY].dims:
            info["epochs"] = [int(e) for e in rec["epoch"].values]
        return info


def _load_recording_file(path: Path) -> xr.Dataset:
    from ensembles.record import load_recording

    if not path.exists():
        raise FileNotFoundError(f"recording not found: {path}")
    if path.is_dir():
        raise IsADirectoryError(f"expected a recording file, got a directory without recording.h5: {path}")
    try:
        return load_recording(path)
    except (OSError, ValueError) as err:
        msg = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise DataFileError(f"{path} is not a readable recording ({msg})") from err


def load_source(item: Any) -> Source:
    """One :class:`Source` from a recording file, a training-run directory, an ``xr.Dataset`` or a Source."""
    if isinstance(item, Source):
        return item
    if isinstance(item, xr.Dataset):
        if C.ACTIVITY not in item:
            raise ParameterError(f"The 'recordings' parameter must hold recordings with an 'activity' variable. "
                                 f"Got {describe(item)} instead.")
        return Source(name="", rec=item)
    if isinstance(item, str | os.PathLike):
        p = Path(item)
        run = RunLayout(p)
        if p.is_dir() and run.recording.exists():
            return Source(name="", rec=_load_recording_file(run.recording), path=str(run.recording), run_dir=str(p))
        rec = _load_recording_file(p)
        run_dir = str(p.parent) if RunLayout(p.parent).config.exists() else None
        return Source(name="", rec=rec, path=str(p), run_dir=run_dir)
    raise InputTypeError(f"The 'recordings' parameter must hold paths or xr.Dataset recordings. "
                         f"Got {describe(item)} instead.")


def load_sources(inputs: Iterable[Any] | Any, *, names: Sequence[str] | None = None) -> list[Source]:
    """Resolve recordings (see :func:`load_source`) and give each a unique display name.

    Names default to the model's display name (FF, BP/FF, BP), made unique with the seed or an index.
    """
    if isinstance(inputs, str | os.PathLike | xr.Dataset | Source):
        inputs = [inputs]
    inputs = list(inputs)
    if not inputs:
        raise ParameterError("The 'recordings' parameter must name at least one recording. Got an empty list instead.")
    sources = [load_source(item) for item in inputs]
    if names is not None:
        if len(names) != len(sources):
            raise ParameterError(f"The 'names' parameter must have one name per recording ({len(sources)}). "
                                 f"Got {len(names)} instead.")
        for s, n in zip(sources, names, strict=True):
            s.name = str(n)
    for s in sources:
        if not s.name:
            s.name = C.MODEL_NAMES.get(s.model, s.model)
    groups: dict[str, list[Source]] = {}
    for s in sources:
        groups.setdefault(s.name, []).append(s)
    for base, group in groups.items():
        if len(group) < 2:
            continue
        seeds = [g.rec.attrs.get("seed", -1) for g in group]
        by_seed = len(set(seeds)) == len(seeds) and -1 not in seeds
        for k, g in enumerate(group, start=1):
            g.name = f"{base} (seed {seeds[k - 1]})" if by_seed else f"{base} #{k}"
    if len({s.name for s in sources}) != len(sources):
        raise ParameterError("The 'names' parameter must give each recording a unique name.")
    return sources
