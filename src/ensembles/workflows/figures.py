"""The figures of an analysis, declared as data: id, title, caption, the tables each needs and how to draw it.

:data:`FIGURES` lists them in report order; :func:`draw_figures` draws those whose tables exist and saves each as PNG
and SVG (atomically), returning what the manifest records.  A figure whose tables are missing is skipped with the
reason the analysis recorded (``Analysis.unavailable``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from ensembles._io import atomic_write
from ensembles.layout import ResultsLayout
from ensembles.record import select_presentations
from ensembles.workflows.compute import Analysis, Progress

__all__ = ["FigureSpec", "FIGURES", "draw_figures", "save_figure", "figure_list"]


@dataclass(frozen=True)
class FigureSpec:
    """One figure: ``draw(analysis)`` returns a matplotlib Figure; ``used(analysis)`` describes its data."""

    id: str
    title: str
    caption: str
    needs: tuple[str, ...]
    draw: Callable[[Analysis], Any]
    used: Callable[[Analysis], str]


def _plot():
    from ensembles import plot

    return plot


def _walls(an: Analysis):
    recs = {s.name: select_presentations(s.rec, correct_only=an.params.correct_only,
                                         keep_held_out=an.params.keep_held_out) for s in an.sources}
    names = getattr(an, "layer_names", {}) or {}
    first = next(iter(names.values()), None)  # the panels' layers are those of the first recording
    return _plot().activation_walls(recs, correct_only=False, max_rows=600,
                                    layer_names=None if first is None else {int(k): v for k, v in first.items()})


def _inhibition(an: Analysis):
    return _plot().inhibition(an.table("weights_sample"), an.table("weights"),
                              an.table("currents_summary") if "currents_summary" in an.tables else None)


def _cortex(an: Analysis):
    return _plot().plot_cortex_comparison(an.table("cortex_recipes"))


def _ensemble_null(an: Analysis):
    from ensembles.plot.controls import ensemble_null_curves

    return ensemble_null_curves(an.table("ensemble_null"))


def _data(an: Analysis) -> str:
    return an.data_used


FIGURES: tuple[FigureSpec, ...] = (
    FigureSpec("walls", "1. Activation walls", "Presentations grouped by class (rows) × neuroids ordered by preferred "
               "class.", (), _walls, _data),
    FigureSpec("sparseness_bars", "2a. Sparseness per class", "Population Hoyer sparseness per class, layer and "
               "model, mean with a 95% bootstrap CI over presentations.", ("sparseness_by_class",),
               lambda an: _plot().sparseness_bars(an.table("sparseness_by_class"), measure="hoyer"), _data),
    FigureSpec("sparseness_violins", "2b. Lifetime vs population sparseness", "Distributions of Hoyer sparseness per "
               "neuroid (lifetime, across presentations) and per presentation (population, across neuroids).",
               ("sparseness_values",), lambda an: _plot().sparseness_violins(an.table("sparseness_values")), _data),
    FigureSpec("ensemble_sizes", "3a. Ensemble sizes", "Category-ensemble size per class (leave-one-out rule of the "
               "authors, τ as stated), with the mean size under shuffled labels.", ("ensemble_sizes",),
               lambda an: _plot().ensemble_sizes(an.table("ensemble_sizes")),
               lambda an: f"{an.data_used}; τ={an.params.tau}; null = mean over {an.params.n_shuffles} label "
                          "shuffles"),
    FigureSpec("overlap", "3b. Ensemble overlap", "Shared neuroids between category ensembles; * = more than expected "
               "for random ensembles of the same sizes (hypergeometric test, Benjamini–Hochberg q < 0.05).",
               ("ensemble_overlap",),
               lambda an: _plot().overlap_heatmaps(an.table("ensemble_overlap"), alpha=an.params.alpha),
               lambda an: f"{an.data_used}; τ={an.params.tau}; hypergeometric p, BH-FDR per model × layer"),
    FigureSpec("ensemble_null", "3c. Ensembles against shuffled labels", "Category-ensemble size (mean over classes) "
               "against τ, real (solid) and with shuffled labels (dashed: mean; band: 95% interval over shuffles).",
               ("ensemble_null",),
               _ensemble_null,
               lambda an: an.used.get("ensemble_null", an.data_used)),
    FigureSpec("selectivity", "4. Selectivity", "Class selectivity index (Morcos et al. 2018) and number of "
               "significantly driven classes per neuroid.", ("selectivity",),
               lambda an: _plot().selectivity_distributions(an.table("selectivity")), _data),
    FigureSpec("training", "5. Training curves", "Positive vs negative goodness per layer; loss and accuracy.",
               ("history",), lambda an: _plot().training_curves(an.table("history")),
               lambda an: "history.json of each training run"),
    FigureSpec("checkpoints", "6. Emergence during training", "Sparseness and median ensemble size at every recorded "
               "checkpoint.", ("checkpoints",), lambda an: _plot().checkpoint_trajectories(an.table("checkpoints")),
               lambda an: "every recorded checkpoint, presentations correctly classified at that checkpoint"),
    FigureSpec("sweep", "7. Sparsity vs accuracy", "Layer sparseness vs test accuracy across a hyper-parameter sweep, "
               "L1 vs L2 goodness.", ("sweep",), lambda an: _plot().sweep_scatter(an.table("sweep")),
               lambda an: an.used.get("sweep", "")),
    FigureSpec("zero_shot", "8. Zero-shot ensembles", "Ensembles of classes held out of training vs the seen classes "
               "and vs the same classes in a model trained on all classes.", ("zero_shot",),
               lambda an: _plot().zero_shot(an.table("zero_shot")), lambda an: an.used.get("zero_shot", "")),
    FigureSpec("inhibition", "9. Inhibition", "Weight and bias distributions; excitatory vs inhibitory input currents "
               "of neuroids inside vs outside the class's ensemble; fraction silenced by inhibition.",
               ("weights", "weights_sample"), _inhibition, lambda an: an.used.get("inhibition", "")),
    FigureSpec("cortex", "10. Comparison with cortex", "Each published value of the default comparison next to the "
               "model statistic computed by the source's recipe at the source's numbers of stimuli and units (points: "
               "mean over draws; bars: central 95 % of the draws; open points: not matched). The table below says, "
               "row by row, what is matched and what is not.", ("cortex_recipes",), _cortex,
               lambda an: f"{an.data_used}; stimulus means; each row's recipe in "
                          f"{ResultsLayout.table_rel('cortex_recipes')}"),
)


def figure_list(specs: tuple[FigureSpec, ...] = FIGURES) -> list[dict[str, str]]:
    """``[{"id", "title", "caption"}]`` in report order (written to the manifest for the report)."""
    return [{"id": f.id, "title": f.title, "caption": f.caption} for f in specs]


def save_figure(fig: Any, base: Path) -> list[str]:
    """Save ``fig`` as ``base.png`` and ``base.svg`` atomically; returns the file names."""
    files = []
    for ext in ("png", "svg"):
        target = base.with_suffix(f".{ext}")
        atomic_write(target, lambda tmp, ext=ext: fig.savefig(tmp, dpi=110 if ext == "png" else None, format=ext))
        files.append(target.name)
    return files


def _named_layers(an: Analysis, unit_groups: dict[str, dict]) -> Analysis:
    """``an`` with the ``layer`` column of every table holding names: the group names of sources whose units were
    grouped (``unit_groups``, :func:`ensembles.workflows.analyze.group_units`), "layer N" for the others."""
    import pandas as pd

    def relabel(df: pd.DataFrame) -> pd.DataFrame:
        if "layer" not in df.columns or "model" not in df.columns:
            return df
        def name(model, layer):
            if pd.isna(layer):
                return layer
            grouping = unit_groups.get(str(model))
            key = str(int(layer)) if float(layer).is_integer() else str(layer)
            return grouping["names"].get(key, key) if grouping else f"layer {key}"
        return df.assign(layer=[name(m, v) for m, v in zip(df["model"], df["layer"], strict=True)])

    view = replace(an, tables={k: relabel(v) for k, v in an.tables.items()})
    view.layer_names = {m: g["names"] for m, g in unit_groups.items()}
    return view


def draw_figures(an: Analysis, fig_dir: Path, *, specs: tuple[FigureSpec, ...] = FIGURES,
                 progress: Progress | None = None, unit_groups: dict[str, dict] | None = None,
                 ) -> tuple[dict[str, dict], dict[str, str]]:
    """Draw and save every figure of ``specs`` whose tables exist; returns (manifest entries, skipped reasons).
    ``unit_groups`` (per source name, ``{"by": coord, "names": {"1": name}}``) titles the panels of grouped
    recordings by their group names instead of layer numbers."""
    import matplotlib

    if matplotlib.get_backend().lower() not in ("agg", "svg", "pdf", "cairo",
                                                 "module://matplotlib_inline.backend_inline"):
        matplotlib.use("Agg")
    log = progress or Progress(False)
    if unit_groups:
        an = _named_layers(an, unit_groups)
    meta: dict[str, dict] = {}
    skipped: dict[str, str] = {}
    for spec in specs:
        missing = [t for t in spec.needs if t not in an.tables]
        if missing:
            skipped[spec.id] = an.unavailable.get(spec.id, f"no {missing[0]} table (see the notes)")
            continue
        with log.step(f"figure {spec.id}"):
            fig = spec.draw(an)
            files = save_figure(fig, fig_dir / spec.id)
        meta[spec.id] = {"title": spec.title, "caption": spec.caption, "data_used": spec.used(an),
                         "files": [f"{ResultsLayout.FIGURES}/{f}" for f in files]}
    return meta, skipped
