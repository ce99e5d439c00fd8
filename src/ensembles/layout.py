"""The on-disk layouts of ``ensembles``: training runs, sweeps and results (analysis) directories.

This is the one place that names files.  Each layout is a small frozen path object: ``RunLayout(d).recording`` is
``d/recording.h5``; nothing else in the package spells a file name of these directories.  It is a bottom-layer
module (it imports only the standard library, ``ensembles.errors`` and ``ensembles._lock``), so every part of the
package may use it.

Training run (``ensembles train``, written by :func:`ensembles.train.train_run`)::

    config.toml                  the resolved config
    history.json                 one record per epoch (schema: :mod:`ensembles.history`)
    metrics.json                 overall and per-class test accuracy, timings
    checkpoints/resume.pt        full training state for --resume
    checkpoints/model_epochNNNN.pt, checkpoints/model.pt   model weights (torch state dicts)
    weights.npz                  final layer weights and biases as plain arrays (no torch needed to read them)
    recording.h5                 the test-set recording (``recording.h5.partial`` while it is written)
    DONE                         written last: the run is complete iff it exists

Results (``ensembles analyze``, ``ensembles demo``, ``ensembles report RUN_DIR``)::

    manifest.json                written last: its presence marks finished results
    tables/<name>.csv            tidy tables
    figures/<id>.png|.svg        figures
    report.html                  the self-contained report

Reproduction (``ensembles reproduce``): a results directory (as above) plus::

    sweeps/<sweep>/              the training runs of each condition (SweepLayout; resumable)
    stats/<sweep>/<run>.csv|.json  each finished run's statistics (cached: a run is analysed once);
                                 <run>.v2.csv|.v2.json: its protocol-v2 statistics and trajectory
    claims.md, comparison.md     the claims table, and the results section generated from the directory
    timing.json                  the wall time of every call into the directory

Sweep (``ensembles sweep``)::

    sweep.toml, sweep_manifest.json, sweep.json
    runs/<name>-<id8>/           run directories (RunLayout)
    logs/<name>-<id8>/           log.txt, status.json, error.json, error.txt
    combined/                    runs.csv, summary.csv, recording.h5, README.txt
    analysis/                    the across-seed results (``sweep_report.json`` written last, then report.html)

Every directory written by a command is claimed first (:mod:`ensembles._lock`: ``.ensembles.lock``,
``.ensembles.json``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from ensembles._lock import MARKER_NAME, OutputDirClaim, claim_output_dir
from ensembles.errors import DataFileError, ParameterError, ResourceError

__all__ = ["DONE", "RESULTS_COMMANDS", "ReproductionLayout", "RunLayout", "ResultsLayout", "SweepLayout",
           "check_out", "claim_results_dir", "inside"]

DONE = "DONE"
# the commands that write results directories: each may continue what another wrote
RESULTS_COMMANDS = ("analyze", "demo", "report", "reproduce")
# private staging directories of a results writer (removed by the next claim when their writer was killed)
STAGING_PREFIX = ".staging-"


def _p(root: str | os.PathLike) -> Path:
    return Path(root)


@dataclass(frozen=True)
class RunLayout:
    """The files of one training run directory (names fixed: runs trained by earlier versions stay readable)."""

    root: Path

    def __init__(self, root: str | os.PathLike):
        object.__setattr__(self, "root", _p(root))

    DONE = DONE
    # names of everything the trainer owns in a run directory (a foreign file is not one of these)
    OWN = ("config.toml", "history.json", "metrics.json", "checkpoints", "recording.h5", "recording.h5.partial",
           "weights.npz", DONE)

    @property
    def config(self) -> Path:
        return self.root / "config.toml"

    @property
    def history(self) -> Path:
        return self.root / "history.json"

    @property
    def metrics(self) -> Path:
        return self.root / "metrics.json"

    @property
    def checkpoints(self) -> Path:
        return self.root / "checkpoints"

    @property
    def resume_state(self) -> Path:
        return self.checkpoints / "resume.pt"

    @property
    def model(self) -> Path:
        return self.checkpoints / "model.pt"

    def model_at(self, epoch: int) -> Path:
        return self.checkpoints / f"model_epoch{int(epoch):04d}.pt"

    @property
    def weights(self) -> Path:
        return self.root / "weights.npz"

    @property
    def recording(self) -> Path:
        return self.root / "recording.h5"

    @property
    def recording_partial(self) -> Path:
        return self.root / "recording.h5.partial"

    @property
    def done(self) -> Path:
        return self.root / DONE

    def is_done(self) -> bool:
        return self.done.exists()

    def is_run(self) -> bool:
        """True for a directory that looks like a training run (has ``config.toml`` or ``recording.h5``)."""
        return self.config.is_file() or self.recording.is_file()


@dataclass(frozen=True)
class ResultsLayout:
    """The files of a results directory (one analysis, or the across-seed analysis of a sweep)."""

    root: Path

    def __init__(self, root: str | os.PathLike):
        object.__setattr__(self, "root", _p(root))

    TABLES = "tables"
    FIGURES = "figures"
    MANIFEST = "manifest.json"
    SWEEP_MARKER = "sweep_report.json"
    REPORT = "report.html"

    @property
    def manifest(self) -> Path:
        return self.root / self.MANIFEST

    @property
    def sweep_marker(self) -> Path:
        return self.root / self.SWEEP_MARKER

    @property
    def report(self) -> Path:
        return self.root / self.REPORT

    @property
    def tables(self) -> Path:
        return self.root / self.TABLES

    @property
    def figures(self) -> Path:
        return self.root / self.FIGURES

    def table(self, name: str) -> Path:
        return self.tables / f"{name}.csv"

    @staticmethod
    def table_rel(name: str) -> str:
        """Path of a table relative to the results directory, as written in manifests."""
        return f"tables/{name}.csv"

    def figure(self, fid: str, ext: str) -> Path:
        return self.figures / f"{fid}.{ext}"

    @staticmethod
    def figure_rel(fid: str, ext: str) -> str:
        return f"figures/{fid}.{ext}"

    def is_finished(self) -> bool:
        """True when the directory holds a finished analysis (its ``manifest.json``)."""
        return self.manifest.is_file()

    def is_sweep_analysis(self) -> bool:
        return self.sweep_marker.is_file()

    def resolve(self, rel: str) -> Path:
        """``rel`` (a path written in a manifest) inside this directory; refused if it is absolute or escapes it."""
        return inside(self.root, rel)


@dataclass(frozen=True)
class SweepLayout:
    """The files of a sweep directory."""

    root: Path

    def __init__(self, root: str | os.PathLike):
        object.__setattr__(self, "root", _p(root))

    COMBINED = "combined"
    LEGACY_LOCK = ".sweep.lock"  # the flock of sweeps run by ensembles <= 0.x (still honoured by sweep-status)

    @property
    def spec_copy(self) -> Path:
        return self.root / "sweep.toml"

    @property
    def manifest(self) -> Path:
        return self.root / "sweep_manifest.json"

    @property
    def outcome(self) -> Path:
        return self.root / "sweep.json"

    @property
    def legacy_lock(self) -> Path:
        return self.root / self.LEGACY_LOCK

    @staticmethod
    def run_rel(dirname: str) -> str:
        return f"runs/{dirname}"

    @staticmethod
    def log_rel(dirname: str) -> str:
        return f"logs/{dirname}"

    def run(self, dirname: str) -> RunLayout:
        return RunLayout(self.root / "runs" / dirname)

    def log_dir(self, dirname: str) -> Path:
        return self.root / "logs" / dirname

    def resolve(self, rel: str) -> Path:
        """A directory named in the sweep manifest (``runs/...``, ``logs/...``), refused if it escapes the sweep."""
        return inside(self.root, rel)

    @property
    def combined(self) -> Path:
        return self.root / self.COMBINED

    @property
    def combined_runs(self) -> Path:
        return self.combined / "runs.csv"

    @property
    def combined_summary(self) -> Path:
        return self.combined / "summary.csv"

    @property
    def combined_recording(self) -> Path:
        return self.combined / "recording.h5"

    @property
    def combined_notes(self) -> Path:
        return self.combined / "README.txt"

    @property
    def analysis(self) -> ResultsLayout:
        return ResultsLayout(self.root / "analysis")

    def is_sweep(self) -> bool:
        """True for the output directory of ``ensembles sweep`` (its manifest or its combined summary)."""
        return self.manifest.is_file() or self.combined_summary.is_file()


@dataclass(frozen=True, init=False)  # ResultsLayout's __init__ (the root as a Path)
class ReproductionLayout(ResultsLayout):
    """The output directory of ``ensembles reproduce``: a results directory (tables, figures, manifest, report)
    with the training sweeps, the per-run statistics caches and the generated markdown beside it."""

    SWEEPS = "sweeps"
    STATS = "stats"
    CLAIMS_MD = "claims.md"
    COMPARISON_MD = "comparison.md"
    TIMING = "timing.json"
    # its tables (``tables/<name>.csv``)
    STATISTICS = "statistics"
    SEED_SUMMARY = "seed_summary"
    CLAIMS = "claims"
    SIGNIFICANT_PAIRS = "significant_pairs"
    VISUAL_SIMILARITY = "visual_similarity"
    TRAINING_COST = "training_cost"
    STATISTICS_V2 = "statistics_v2"
    TRAJECTORIES = "trajectories"
    CLAIMS_V2 = "claims_v2"

    @property
    def sweeps(self) -> Path:
        return self.root / self.SWEEPS

    def sweep(self, name: str) -> SweepLayout:
        return SweepLayout(self.sweeps / name)

    def sweep_layouts(self) -> list[SweepLayout]:
        """The sweeps that have a manifest, in name order."""
        found = [SweepLayout(p) for p in sorted(self.sweeps.glob("*"))]
        return [s for s in found if s.manifest.is_file()]

    def stats_cache(self, sweep: str, run: str) -> tuple[Path, Path]:
        """The cached statistics of one run: the rows (CSV) and the extras (JSON)."""
        base = self.root / self.STATS / sweep / run
        return base.with_name(f"{run}.csv"), base.with_name(f"{run}.json")

    def stats_cache_v2(self, sweep: str, run: str) -> tuple[Path, Path]:
        """The cached protocol-v2 statistics of one run: the rows (CSV) and the trajectory and reference (JSON)."""
        base = self.root / self.STATS / sweep / run
        return base.with_name(f"{run}.v2.csv"), base.with_name(f"{run}.v2.json")

    @property
    def claims_md(self) -> Path:
        return self.root / self.CLAIMS_MD

    @property
    def comparison_md(self) -> Path:
        return self.root / self.COMPARISON_MD

    @property
    def timing(self) -> Path:
        return self.root / self.TIMING


# log files of one run of a sweep (inside SweepLayout.log_dir(dirname))
LOG_TEXT, STATUS, ERROR_JSON, ERROR_TEXT = "log.txt", "status.json", "error.json", "error.txt"


def inside(root: str | os.PathLike, rel: str | os.PathLike) -> Path:
    """``root / rel`` if it stays inside ``root`` (after resolving ``..`` and symbolic links), else ValueError.

    For paths read from files (manifests): an absolute path, or one that leaves the directory, is refused, so a
    crafted manifest cannot make a report read (and embed) files elsewhere.
    """
    if not isinstance(rel, (str, os.PathLike)) or "\x00" in os.fspath(rel):
        raise DataFileError(f"The path {rel!r} named in {str(root)!r} is not a file name; refused.")
    rel_s = os.fspath(rel)
    base = Path(root).resolve()
    if not rel_s or os.path.isabs(rel_s):
        raise DataFileError(f"The path {rel_s!r} named in {str(root)!r} must be relative to that directory.")
    target = (base / rel_s).resolve()
    if target != base and base not in target.parents:
        raise DataFileError(f"The path {rel_s!r} named in {str(root)!r} leaves that directory; refused.")
    return target


def check_out(out, name: str = "out") -> Path:
    """``out`` as a Path; an empty path (which would mean the current directory) is refused."""
    if out is None or not str(os.fspath(out)).strip():
        raise ParameterError(f"The {name!r} parameter must name a directory. Got an empty path instead.")
    return Path(out)


def claim_results_dir(out: str | os.PathLike, *, command: str, force: bool = False) -> OutputDirClaim:
    """Claim a results directory for ``command`` (:func:`ensembles._lock.claim_output_dir`, family
    :data:`RESULTS_COMMANDS`).  A finished analysis written before directories were claimed (``manifest.json`` or
    ``sweep_report.json`` but no ownership marker) is adopted; staging directories of killed writers are removed."""
    import shutil

    lay = ResultsLayout(check_out(out))
    legacy = (lay.is_finished() or lay.is_sweep_analysis()) and not (lay.root / MARKER_NAME).exists()
    try:
        claim = claim_output_dir(lay.root, command=command, force=force or legacy, family=RESULTS_COMMANDS)
    except (NotADirectoryError, PermissionError) as err:  # a parent is a file, or no write permission
        raise ResourceError(f"The output directory {str(lay.root)!r} is not writable ({err.strerror or err}).") from None
    for stale in lay.root.glob(f"{STAGING_PREFIX}*"):
        shutil.rmtree(stale, ignore_errors=True)
    return claim
