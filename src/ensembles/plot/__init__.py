"""Figures of the paper and of the report (seaborn/matplotlib).

Every function takes results (recordings, or the tidy tables that :func:`ensembles.workflows.analyze` writes as
CSV) and returns a :class:`matplotlib.figure.Figure` built without pyplot, so it is safe under the Agg backend
and never calls ``show``.  The ``*_axes`` helpers draw into a given Axes and return it.

=====  ===========================================  =========================================
fig.   function                                     input
=====  ===========================================  =========================================
1      :func:`activation_walls`, :func:`wall_axes`   recordings / (x, labels)
2      :func:`sparseness_bars`                       ``sparseness_by_class.csv``
2      :func:`sparseness_violins`                    ``sparseness_values.csv``
3      :func:`ensemble_sizes`                        ``ensemble_sizes.csv``
3      :func:`overlap_heatmaps`, :func:`overlap_axes` ``ensemble_overlap.csv``
4      :func:`selectivity_distributions`             ``selectivity.csv``
5      :func:`training_curves`                       ``history.csv`` (:func:`history_frame`)
6      :func:`checkpoint_trajectories`               ``checkpoints.csv``
7      :func:`sweep_scatter`                         ``sweep.csv``
8      :func:`zero_shot`                             ``zero_shot.csv``
9      :func:`inhibition`                            ``weights_sample.csv``, ``currents.csv``
=====  ===========================================  =========================================
"""

from .activity import activation_walls, order_neuroids_by_preference, recording_layer, wall_axes
from .cortex import plot_cortex_comparison
from .ensembles import ensemble_sizes, overlap_axes, overlap_heatmaps, zero_shot
from .inhibition import inhibition
from .statistics import selectivity_distributions, sparseness_bars, sparseness_violins
from .training import checkpoint_trajectories, history_frame, sweep_scatter, training_curves

__all__ = [
    "activation_walls",
    "wall_axes",
    "order_neuroids_by_preference",
    "recording_layer",
    "sparseness_bars",
    "sparseness_violins",
    "ensemble_sizes",
    "overlap_heatmaps",
    "overlap_axes",
    "selectivity_distributions",
    "training_curves",
    "history_frame",
    "checkpoint_trajectories",
    "sweep_scatter",
    "zero_shot",
    "inhibition",
    "plot_cortex_comparison",
]
from .sweep import sweep_error_bars; __all__.append("sweep_error_bars")  # noqa: E402, E702, I001, F401
