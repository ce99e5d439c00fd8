"""Workflows: the compositions behind ``ensembles analyze``, ``demo`` and ``report`` (no statistics of their own).

Each workflow is built from four reusable steps:

1. **tables** -- :func:`analyze_sources` (one or more recordings -> :class:`Analysis`, a dict of tidy tables from
   :mod:`ensembles.analysis.tables` and :mod:`ensembles.analysis.summary`) and :func:`analyze_runs` (conditions ×
   seeds -> per-run and across-seed tables);
2. **figures** -- :data:`FIGURES`, a declarative list of :class:`FigureSpec` (id, title, caption, tables needed,
   drawing function), drawn by :func:`draw_figures`;
3. **results** -- :class:`ResultsDir` claims the output directory, stages tables and figures and publishes them with
   the manifest written last;
4. **report** -- :func:`ensembles.report.build_report` renders a finished results directory.

:func:`analyze` (recordings -> results directory), :func:`run_demo` (train, then analyze) and
:func:`analyze_sweep` (a sweep's combined tables -> across-seed results) compose them.
"""

from ensembles.workflows.analyze import analyze, manifest_of
from ensembles.workflows.compute import Analysis, AnalysisParams, Progress, analyze_runs, analyze_sources
from ensembles.workflows.demo import demo_plan, run_demo
from ensembles.workflows.figures import FIGURES, FigureSpec, draw_figures, save_figure
from ensembles.workflows.results import ResultsDir
from ensembles.workflows.sources import Source, load_source, load_sources
from ensembles.workflows.sweep_report import analyze_sweep, is_sweep_dir

__all__ = [
    "FIGURES", "Analysis", "AnalysisParams", "FigureSpec", "Progress", "ResultsDir", "Source", "analyze_runs",
    "analyze_sources", "analyze", "analyze_sweep", "demo_plan", "draw_figures", "is_sweep_dir", "load_source",
    "load_sources", "manifest_of", "run_demo", "save_figure",
]
