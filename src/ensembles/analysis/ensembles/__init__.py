"""Ensembles: category (supervised) ensembles, their overlap, and unsupervised cell assemblies (no torch).

Category ensembles
    :func:`category_ensembles` (rules ``"paper"``, ``"test"``, ``"fraction"``, optional shuffled-label null),
    :func:`ensemble_sizes`, :func:`ensemble_core`; against their shuffled-label null over a range of τ, with
    per-unit significance: :func:`ensemble_null`; specificity (mean pairwise Jaccard): :func:`ensemble_specificity`.
Overlap and mixed selectivity
    :func:`ensemble_overlap` (count / Jaccard / overlap coefficient, expected value under random membership and a
    hypergeometric p-value), :func:`class_mean_similarity`, :func:`overlap_vs_similarity` (Spearman + Mantel-style
    permutation p-value).
Unsupervised assemblies
    :class:`EnsembleDetector` (scikit-learn transformer; ``ica``, ``pca``, ``svd``, ``graph``, ``nmf``),
    :func:`detect_ensembles` (labelled adapter), :func:`match_ensembles` (best-match Jaccard scoring).

Inputs are numpy arrays of shape (n_presentations, n_neuroids) or ``xr.DataArray`` with dims ``presentation`` and
``neuroid`` (dask-backed arrays are computed: every rule here needs the whole matrix).

Modules: :mod:`.category` (category ensembles, sizes, core), :mod:`.null` (null, τ sensitivity, specificity), :mod:`.overlap` (overlap and similarity) and
:mod:`.assemblies` (the labelled adapter and scoring of :class:`EnsembleDetector`, which is defined with its nulls in
:mod:`ensembles.analysis._detectors`); import from here or from :mod:`ensembles.analysis`.

References
----------
Tosato, N., Basile, L., Ballarin, E., de Alteriis, G., Cazzaniga, A. & Ansuini, A. (2023). Emergent representations
in networks trained with the Forward-Forward algorithm. arXiv:2305.18353 (the leave-one-out ensemble rule).
Lopes-dos-Santos, V., Ribeiro, S. & Tort, A. B. L. (2013). J Neurosci Methods 220:149-166.
Mölter, J., Avitan, L. & Goodhill, G. J. (2018). BMC Biol 16:143 (best-match scoring).
Benjamini, Y. & Hochberg, Y. (1995). J R Stat Soc B 57:289-300.
Mantel, N. (1967). Cancer Res 27:209-220 (permutation test for matrix correlation).
"""

from __future__ import annotations

from .._detectors import EnsembleDetector, marchenko_pastur_bound, tracy_widom_bound
from ._common import CATEGORY as CATEGORY  # result dims (ensembles.conventions)
from ._common import ENSEMBLE as ENSEMBLE
from ._common import OTHER as OTHER
from .assemblies import detect_ensembles, match_ensembles
from .category import category_ensembles, ensemble_core, ensemble_sizes
from .null import ENSEMBLE_TAUS, ensemble_null, ensemble_specificity
from .overlap import class_mean_similarity, ensemble_overlap, overlap_vs_similarity

__all__ = [
    "category_ensembles",
    "ensemble_sizes",
    "ensemble_core",
    "ensemble_overlap",
    "class_mean_similarity",
    "overlap_vs_similarity",
    "EnsembleDetector",
    "detect_ensembles",
    "match_ensembles",
    "marchenko_pastur_bound",
    "tracy_widom_bound",
    "ensemble_null",
    "ensemble_specificity",
    "ENSEMBLE_TAUS",
]
