"""Compatibility shim: the analysis pipeline moved to :mod:`ensembles.workflows` (tables in
:mod:`ensembles.analysis.tables`, reports in :mod:`ensembles.report`).  Kept so that existing code and notebooks
importing ``ensembles.pipeline`` keep working; new code should import from the modules above."""

from ensembles.analysis import tables as _tables
from ensembles.analysis.tables import headline_table
from ensembles.report import summary_text
from ensembles.workflows import Source, analyze, load_sources

__all__ = ["Source", "analyze", "bootstrap_mean_ci", "headline_table", "load_sources", "results_exist",
           "summary_text"]


def results_exist(out_dir) -> bool:
    """True when ``out_dir`` holds finished results (its ``manifest.json``)."""
    from ensembles.layout import ResultsLayout

    return ResultsLayout(out_dir).is_finished()


def bootstrap_mean_ci(values, *, n_boot: int | None = None, n_bootstrap: int = 1000, ci: float = 95.0, rng):
    """:func:`ensembles.analysis.tables.bootstrap_mean_ci` (``n_boot`` is the old name of ``n_bootstrap``)."""
    return _tables.bootstrap_mean_ci(values, n_bootstrap=n_bootstrap if n_boot is None else n_boot, ci=ci, rng=rng)
