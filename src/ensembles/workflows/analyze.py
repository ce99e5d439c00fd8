"""``ensembles analyze``: recordings in, a finished results directory out (tables, figures, manifest).

The composition of the parts of this package: resolve the sources (:mod:`.sources`), compute the tables
(:mod:`.tables`), draw the declared figures (:mod:`.figures`) and publish everything with the manifest last
(:mod:`.results`).  Statistics use the last checkpoint and the presentations chosen by
:func:`ensembles.record.select_presentations` (docs/methods.md §A3.1); accuracy uses all presentations.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from ensembles.layout import check_out
from ensembles.workflows.compute import Analysis, AnalysisParams, Progress, analyze_sources
from ensembles.workflows.figures import draw_figures, figure_list
from ensembles.workflows.results import ResultsDir, now, versions
from ensembles.workflows.sources import load_sources

__all__ = ["analyze", "manifest_of", "GROUP_COORDS", "group_units"]

# neuroid coords that name a group of units, in order of preference: the brain area first (NWB's Units `location`,
# the AllenSDK's `ecephys_structure_acronym`), then the electrode group, then the cell type
GROUP_COORDS = ("brain_area", "area", "location", "ecephys_structure_acronym", "structure_acronym", "region",
                "electrode_group", "electrode_group_name", "group_name", "cell_type", "celltype", "cell_class")


def group_units(rec) -> tuple[Any, dict[str, Any] | None]:
    """A recording without layers (all neuroids in layer 1, e.g. imported neural data) grouped by the first unit
    property of :data:`GROUP_COORDS` it has: its ``layer`` coord becomes the group number (1, 2, ... in order of
    first appearance), so every per-layer statistic is computed per group.  Returns ``(recording, grouping)`` with
    ``grouping = {"by": coord, "names": {"1": name, ...}}``, or the recording unchanged and None (several layers, or
    no such coord)."""
    if "layer" in rec.coords and np.unique(np.asarray(rec["layer"].values)).size > 1:
        return rec, None
    for coord in GROUP_COORDS:
        if coord not in rec.coords or rec[coord].dims != ("neuroid",):
            continue
        raw = np.asarray(rec[coord].values)
        names = np.array([str(v).strip() for v in raw], dtype=object)
        missing = np.array([n.lower() in ("", "nan", "none", "unknown") for n in names])
        if missing.all():
            continue
        names[missing] = f"no {coord.replace('_', ' ')}"
        order = list(dict.fromkeys(names.tolist()))
        codes = np.array([order.index(n) + 1 for n in names], dtype=np.int64)
        return (rec.assign_coords(layer=("neuroid", codes)),
                {"by": coord, "names": {str(i + 1): n for i, n in enumerate(order)}})
    return rec, None


def manifest_of(an: Analysis, tables: dict[str, str], figures: dict[str, dict], skipped: dict[str, str],
                *, tool: str = "ensembles analyze", unit_groups: dict[str, dict] | None = None) -> dict[str, Any]:
    """The manifest of an analysis (what was computed, on which data, what was skipped and why); ``unit_groups``:
    per source name, the unit property its layers stand for (:func:`group_units`)."""
    from ensembles import __version__

    return {"tool": tool, "package_version": __version__, "created": now(), "parameters": an.params.manifest(),
            "sources": an.infos, "tables": tables, "figures": figures, "figure_list": figure_list(),
            "skipped": skipped, "notes": an.notes, "headline": an.headline().to_dict("records"),
            "timings_s": an.timings, "versions": versions(), "unit_groups": unit_groups or {}}


def analyze(recordings: Iterable[Any] | Any, out_dir: str | os.PathLike, *, correct_only: bool = True,
            keep_held_out: bool = True, force: bool = False, tau: float = 1.0, alpha: float = 0.05,
            n_bootstrap: int = 1000, n_shuffles: int = 5, seed: int = 0, names: Sequence[str] | None = None,
            sweep: Sequence[Any] | None = None, zero_shot: Sequence[tuple[Any, Any]] | None = None,
            figures: bool = True, progress: bool = True, command: str = "analyze", claim=None) -> dict[str, Any]:
    """Compute every statistic and figure for ``recordings`` and write them under ``out_dir``.

    Parameters
    ----------
    recordings : path, run directory, xr.Dataset, or a sequence of them
        The recordings to compare (e.g. FF, BP/FF and BP runs).  Run directories also provide ``history.json``
        (figure 5) and the weights (figure 9).
    out_dir : path
        The results directory (:class:`ensembles.layout.ResultsLayout`).  It is claimed for the duration (a second
        writer gets :class:`~ensembles.errors.OutputDirError`); nothing is created before the inputs are read.
    correct_only, keep_held_out : bool
        The presentations used (:func:`ensembles.record.select_presentations`).
    force : bool
        Replace finished results, or write into a directory holding files ensembles did not write.
    tau, alpha, n_bootstrap, n_shuffles, seed
        See :class:`ensembles.workflows.compute.AnalysisParams`.
    sweep : sequence, optional
        Run directories / recordings of a hyper-parameter sweep (figure 7).
    zero_shot : sequence of (held-out, all-classes) pairs, optional
        Runs trained without some classes, each with a run of the same model trained on all classes (figure 8).
    figures : bool
        Also draw and save the figures.

    Returns
    -------
    dict
        The manifest (also written to ``out_dir/manifest.json``, last).
    """
    params = AnalysisParams(correct_only=correct_only, keep_held_out=keep_held_out, tau=tau, alpha=alpha,
                            n_bootstrap=n_bootstrap, n_shuffles=n_shuffles, seed=seed)
    check_out(out_dir, "out_dir")
    sources = load_sources(recordings, names=names)  # bad input fails here, before anything is written
    groups: dict[str, dict] = {}
    for src in sources:  # recordings without layers (neural data): statistics per brain area, electrode group, ...
        src.rec, grouping = group_units(src.rec)
        if grouping is not None:
            groups[src.name] = grouping
    log = Progress(progress)
    with ResultsDir(out_dir, command=command, force=force, claim=claim) as res:
        note = res.claim.note_stale() if res.claim is not None else None
        if note:
            log(note)
        an = analyze_sources(sources, params, sweep=sweep, zero_shot=zero_shot, progress=log)
        with log.step("writing tables"):
            tables = res.write_tables(an.tables)
        fig_meta, skipped = (draw_figures(an, res.figures_dir, progress=log, unit_groups=groups) if figures
                             else ({}, {}))
        manifest = res.publish(manifest_of(an, tables, fig_meta, skipped, unit_groups=groups))
    from ensembles.report.findings import failures

    for note in failures(manifest):  # said even with --quiet: a part of the analysis that did not work
        print(f"ensembles {command}: warning: {note}", file=sys.stderr, flush=True)
    log(f"analysis written to {res.layout.root}")
    return manifest
