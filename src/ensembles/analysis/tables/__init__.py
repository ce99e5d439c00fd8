"""The tidy tables of an analysis: one function per table family, each taking a recording (or a selection of it).

This is the one producer of the tables that ``ensembles analyze``, ``ensembles demo`` and the sweep reports write
(``ensembles.workflows`` only composes these functions; it computes nothing itself).  Every function chooses
presentations with :func:`ensembles.record.select_presentations` (the last checkpoint, correctly classified
presentations, every presentation of a held-out class: docs/methods.md §A3.1 and §A3.6), so the same recording gives the
same numbers in every table, in :func:`ensembles.analysis.summary.summarize` and in a sweep's combined summary.

Tables (one row per ...; the columns are documented in ``docs/architecture.md``):

=====================  ==========================================================  ============================
table                  rows                                                        function
=====================  ==========================================================  ============================
accuracy               model × class (and "all": the seen classes)                 :func:`accuracy_rows`
sparseness_by_layer    model × layer: mean population Hoyer with a bootstrap CI    :func:`recording_tables`
sparseness_by_class    model × layer × class                                       :func:`recording_tables`
sparseness_values      model × layer × presentation/neuroid (violin data)          :func:`recording_tables`
ensemble_sizes         model × layer × class: authors' rule, shuffled-label null   :func:`recording_tables`
ensemble_overlap       model × layer × class pair: hypergeometric p, BH q          :func:`recording_tables`
selectivity            model × layer × neuroid: CSI and driven classes             :func:`recording_tables`
checkpoints            model × checkpoint × layer                                  :func:`checkpoint_rows`
sweep                  run × layer: Hoyer and accuracy                             :func:`sweep_rows`
zero_shot              model × layer × class × condition                           :func:`zero_shot_rows`
weights, currents      model × layer (× class × member)                            :func:`weight_rows`,
                                                                                   :func:`current_rows`
headline               model × layer                                               :func:`headline_table`
units                  model × layer: silent, all-zero and responsive counts       :func:`unit_rows`
ensemble_null          model × layer × τ: ensemble sizes vs shuffled labels        :func:`ensemble_null_rows`
ensemble_null_classes  model × layer × τ × class                                   :func:`ensemble_null_rows`
=====================  ==========================================================  ============================

Random numbers (bootstrap resamples, label shuffles, weight samples) come from one ``numpy.random.Generator``
passed in, consumed in a fixed order, so an analysis is reproducible from its seed.

Modules: :mod:`._common` (selection helpers), :mod:`.recording` (the tables of one
recording at its last checkpoint: accuracy, sparseness, ensembles, overlaps, selectivity, weights, currents),
:mod:`.training` (checkpoints, stability, sweep runs, held-out classes), :mod:`.controls` (silent and responsive
neuroids, ensembles against their null) and :mod:`.combine` (headline table, aggregation
across seeds); import from here.
"""

from __future__ import annotations

from ._common import class_names, layer_activity, layers_of
from .combine import across_seeds, headline_table
from .controls import ENSEMBLE_TAUS, RESPONSIVE_DEFAULTS, ensemble_null_rows, unit_rows
from .recording import accuracy_rows, current_rows, recording_tables, weight_rows
from .training import checkpoint_rows, sweep_rows, zero_shot_rows
from .training import stability_rows as stability_rows

__all__ = [
    "class_names", "layers_of", "layer_activity", "accuracy_rows", "recording_tables",
    "checkpoint_rows", "sweep_rows", "zero_shot_rows", "weight_rows", "current_rows", "headline_table",
    "across_seeds", "unit_rows", "ensemble_null_rows", "RESPONSIVE_DEFAULTS", "ENSEMBLE_TAUS",
]
