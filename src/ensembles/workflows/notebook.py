"""The set-up every paper notebook shares (``notebooks/NN_*.py``): the setting, the cached runs and their recordings.

Every notebook runs standalone: it resolves the setting from the environment, then trains (or reuses) the runs it
needs in a cache directory, so re-running a notebook, or running the notebooks one after the other, trains each run
once.

* ``ENSEMBLES_QUICK`` -- any value other than ``""``/``"0"`` selects the test setting (the ``digits`` dataset at the
  ``quick`` scale: seconds on a CPU); otherwise the demo's setting (``mnist-5k`` at the ``cpu`` scale).
* ``ENSEMBLES_NOTEBOOK_CACHE`` -- where runs are cached (default ``results/notebooks``, relative to the working
  directory); the runs of one setting live in ``<cache>/<dataset>-<scale>/runs/<name>``.

No statistics here: this module only plans, trains (:func:`ensembles.train.train_run`) and loads.
"""

from __future__ import annotations

import os
from collections.abc import Hashable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ensembles.conventions import MODEL_NAMES, MODELS
from ensembles.errors import InputTypeError, ParameterError
from ensembles.layout import RunLayout

__all__ = ["QUICK_ENV", "CACHE_ENV", "NotebookSetting", "notebook_setting", "demo_runs", "DemoActivity",
           "demo_activity"]

QUICK_ENV = "ENSEMBLES_QUICK"
CACHE_ENV = "ENSEMBLES_NOTEBOOK_CACHE"
DEFAULT_CACHE = "results/notebooks"
#: (dataset, scale) of the two settings
SETTINGS = {True: ("digits", "quick"), False: ("mnist-5k", "cpu")}


@dataclass(frozen=True)
class NotebookSetting:
    """Where and at which size a notebook trains: ``quick`` (the test setting), ``dataset``, ``scale`` and
    ``cache`` (the directory of this setting's runs, ``<cache root>/<dataset>-<scale>``)."""

    quick: bool
    dataset: str
    scale: str
    cache: Path

    def __str__(self) -> str:
        return f"dataset {self.dataset}, scale {self.scale}, runs cached in {self.cache}"

    def run_dir(self, name: str) -> Path:
        """The directory of the cached run ``name``."""
        if not isinstance(name, str) or not name or "/" in name or "\\" in name or name in (".", ".."):
            raise ParameterError(f"The run 'name' must be a non-empty directory name without a path separator. "
                                 f"Got {name!r}.")
        return self.cache / "runs" / name

    def demo_plan(self) -> dict[str, Any]:
        """The configs of the demo's three main runs (``{"ff": ..., "bp_ff": ..., "bp": ...}``) at this setting:
        :func:`ensembles.workflows.demo_plan` without the held-out run and the sweep."""
        from ensembles.workflows.demo import demo_plan

        return demo_plan(self.dataset, self.scale, seed=0, held_out=(), sweep=False)

    def train(self, configs: Mapping[Hashable, Any], *, names: Mapping[Hashable, str] | None = None
              ) -> dict[Hashable, Path]:
        """Train every config into its cached run directory, reusing finished runs (``resume=True``: a finished
        run with the same config is returned as is; a different config is refused, naming the differing keys).

        Parameters
        ----------
        configs : mapping key -> RunConfig
            The runs, trained in order.
        names : mapping key -> str, optional
            The run directory name of each key (default: the key itself, which must then be a string).

        Returns
        -------
        dict key -> Path
            The run directories, in the order of ``configs``.
        """
        from ensembles.train import train_run

        if not isinstance(configs, Mapping):
            raise InputTypeError(f"The 'configs' parameter must be a mapping of run keys to configs. "
                                 f"Got {type(configs).__name__}.")
        if names is None:
            names = {key: key for key in configs}
        missing = [key for key in configs if key not in names]
        if missing:
            raise ParameterError(f"The 'names' parameter must name the run directory of every config. "
                                 f"Got none for {missing!r}.")
        runs = {key: self.run_dir(names[key]) for key in configs}
        for key, cfg in configs.items():
            train_run(cfg, runs[key], resume=True, progress=not self.quick)
        return runs

    def recordings(self, runs: Mapping[Hashable, str | os.PathLike]) -> dict[Hashable, Any]:
        """The recording (``recording.h5``) of every run directory, keyed as ``runs``."""
        from ensembles.record import load_recording

        return {key: load_recording(RunLayout(run).recording) for key, run in runs.items()}


def _quick_from_env() -> bool:
    return os.environ.get(QUICK_ENV, "0") not in ("", "0")


def notebook_setting(quick: bool | None = None, cache: str | os.PathLike | None = None) -> NotebookSetting:
    """The notebooks' setting.

    Parameters
    ----------
    quick : bool, optional
        The test setting (``digits``, scale ``quick``) or the demo's (``mnist-5k``, scale ``cpu``).  Default: from
        ``ENSEMBLES_QUICK`` (set and not ``"0"``: quick).
    cache : path, optional
        The root of the run cache.  Default: ``ENSEMBLES_NOTEBOOK_CACHE``, else ``results/notebooks``.
    """
    if quick is None:
        quick = _quick_from_env()
    if not isinstance(quick, bool):
        raise InputTypeError(f"The 'quick' parameter must be a bool or None. Got {type(quick).__name__}.")
    if cache is None:
        cache = os.environ.get(CACHE_ENV) or DEFAULT_CACHE
    if not isinstance(cache, str | os.PathLike):
        raise InputTypeError(f"The 'cache' parameter must be a path or None. Got {type(cache).__name__}.")
    dataset, scale = SETTINGS[quick]
    return NotebookSetting(quick=quick, dataset=dataset, scale=scale, cache=Path(cache) / f"{dataset}-{scale}")


def demo_runs(setting: NotebookSetting | None = None) -> tuple[dict[str, Path], dict[str, Any]]:
    """Train (or reuse) the demo's three runs at ``setting`` (default :func:`notebook_setting`).

    Returns
    -------
    runs : dict
        ``{"ff": Path, "bp_ff": Path, "bp": Path}``, the run directories.
    recs : dict
        ``{"FF": Dataset, "BP/FF": Dataset, "BP": Dataset}``, their recordings, keyed by the display names of
        :data:`ensembles.conventions.MODEL_NAMES`.
    """
    if setting is None:
        setting = notebook_setting()
    if not isinstance(setting, NotebookSetting):
        raise InputTypeError(f"The 'setting' parameter must be a NotebookSetting (from notebook_setting()). "
                             f"Got {type(setting).__name__}.")
    runs = setting.train(setting.demo_plan())
    recs = setting.recordings({MODEL_NAMES[m]: runs[m] for m in MODELS})
    return runs, recs


@dataclass(frozen=True)
class DemoActivity:
    """What the analysis notebooks start from: the ``setting``, the demo's three ``runs`` (directories) and
    recordings ``recs`` (as :func:`demo_runs`), and ``final``, each recording's activity under the paper's protocol
    (docs/methods.md §A3.1): the last checkpoint, correctly classified test presentations only."""

    setting: NotebookSetting
    runs: dict[str, Path]
    recs: dict[str, Any]
    final: dict[str, Any]

    def __str__(self) -> str:
        used = ", ".join(f"{name} {act.sizes['presentation']}" for name, act in self.final.items())
        return f"{self.setting}\npresentations used (last checkpoint, correctly classified): {used}"


def demo_activity(setting: NotebookSetting | None = None) -> DemoActivity:
    """Train (or reuse) the demo's three runs at ``setting`` (default :func:`notebook_setting`) and select the
    activity the paper analyses: :func:`ensembles.record.select_presentations` with ``correct_only=True`` at the
    last checkpoint, keyed by display name (``"FF"``, ``"BP/FF"``, ``"BP"``)."""
    from ensembles.record import select_presentations

    setting = notebook_setting() if setting is None else setting
    runs, recs = demo_runs(setting)
    final = {name: select_presentations(rec["activity"], correct_only=True, checkpoint=-1)
             for name, rec in recs.items()}
    return DemoActivity(setting=setting, runs=runs, recs=recs, final=final)
