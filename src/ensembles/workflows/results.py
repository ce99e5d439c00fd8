"""Writing a results directory (layout: :class:`ensembles.layout.ResultsLayout`) so that it is never half-finished.

:class:`ResultsDir` claims the directory (:func:`ensembles._lock.claim_output_dir`: one writer at a time, never over
files another program wrote), writes tables and figures into a private staging directory, and publishes them only
at the end: the old ``manifest.json`` and ``report.html`` are removed first (from then on the directory does not look
finished), the staged ``tables/`` and ``figures/`` replace the old ones, and the new ``manifest.json`` is written
last.  A command that fails, or is killed, leaves the previous results (or nothing) and no manifest of its own; the
staging directory of a killed writer is removed by the next claim.
"""

from __future__ import annotations

import datetime as _dt
import os
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from ensembles._io import atomic_write_json, atomic_write_text
from ensembles._lock import OutputDirClaim
from ensembles.errors import OutputDirError
from ensembles.layout import RESULTS_COMMANDS, ResultsLayout, check_out, claim_results_dir
from ensembles.layout import STAGING_PREFIX as _STAGING

__all__ = ["RESULTS_COMMANDS", "ResultsDir", "claim_results_dir", "versions", "now"]



def now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


class ResultsDir:
    """A claimed results directory being written (see the module docstring); use as a context manager.

    Parameters
    ----------
    out : path
    command : str
        The command writing it (``"analyze"``, ``"demo"``, ``"report"``).
    force : bool
        Replace finished results; write into a directory holding files ensembles did not write.
    claim : OutputDirClaim, optional
        A claim the caller already holds on ``out`` (the demo claims its directory before training).
    """

    def __init__(self, out: str | os.PathLike, *, command: str, force: bool = False,
                 claim: OutputDirClaim | None = None):
        self.layout = ResultsLayout(check_out(out))
        self.command, self.force = command, force
        self._claim, self._own_claim = claim, claim is None
        self.staging: Path | None = None

    # ------------------------------------------------------------------ lifecycle
    def __enter__(self) -> ResultsDir:
        if self._claim is None:
            self._claim = claim_results_dir(self.layout.root, command=self.command, force=self.force)
        try:
            if self.layout.is_finished() and not self.force:
                raise OutputDirError(f"{self.layout.root} already holds finished results ({self.layout.MANIFEST}); "
                                     "pass --force to overwrite them")
            self.staging = Path(tempfile.mkdtemp(prefix=_STAGING, dir=self.layout.root))
            (self.staging / ResultsLayout.TABLES).mkdir()
            (self.staging / ResultsLayout.FIGURES).mkdir()
        except BaseException as err:
            self.__exit__(type(err), err, None)
            raise
        return self

    def __exit__(self, exc_type=None, *exc) -> None:
        if self.staging is not None:
            shutil.rmtree(self.staging, ignore_errors=True)
            self.staging = None
        if self._own_claim and self._claim is not None:
            self._claim.release(failed=exc_type is not None)
            self._claim = None

    @property
    def claim(self) -> OutputDirClaim | None:
        return self._claim

    @property
    def figures_dir(self) -> Path:
        assert self.staging is not None, "use ResultsDir as a context manager"
        return self.staging / ResultsLayout.FIGURES

    # ------------------------------------------------------------------ writing
    def write_tables(self, tables: Mapping[str, pd.DataFrame]) -> dict[str, str]:
        """Stage every non-empty table as ``tables/<name>.csv``; returns ``{name: relative path}``."""
        assert self.staging is not None, "use ResultsDir as a context manager"
        written = {}
        for name, df in tables.items():
            if len(df):
                atomic_write_text(self.staging / ResultsLayout.table_rel(name), df.to_csv(index=False))
                written[name] = ResultsLayout.table_rel(name)
        return written

    def publish(self, manifest: Mapping[str, Any], *, marker: Path | None = None) -> dict:
        """Move the staged tables and figures into place and write ``manifest.json`` (or ``marker``) last."""
        assert self.staging is not None, "use ResultsDir as a context manager"
        lay = self.layout
        for finished in (lay.manifest, lay.report, lay.sweep_marker):  # from now on: not a finished directory
            finished.unlink(missing_ok=True)
        trash = Path(tempfile.mkdtemp(prefix=_STAGING, dir=lay.root))
        for sub in (ResultsLayout.TABLES, ResultsLayout.FIGURES):
            if (lay.root / sub).exists():
                os.replace(lay.root / sub, trash / sub)
            os.replace(self.staging / sub, lay.root / sub)
        shutil.rmtree(trash, ignore_errors=True)
        manifest = {**manifest, "out_dir": str(lay.root)}
        atomic_write_json(marker or lay.manifest, manifest)
        return manifest


def versions() -> dict[str, str]:
    """Python, platform and the versions of the packages an analysis depends on."""
    import contextlib
    import platform
    from importlib import metadata

    out = {"python": platform.python_version(), "platform": platform.platform()}
    for pkg in ("ensembles-toolkit", "numpy", "scipy", "pandas", "xarray", "h5py", "h5netcdf", "matplotlib",
                "seaborn", "scikit-learn", "torch"):
        with contextlib.suppress(metadata.PackageNotFoundError):
            out[pkg] = metadata.version(pkg)
    return out
