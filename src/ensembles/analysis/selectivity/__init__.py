"""Class selectivity of single neuroids, given responses and class labels (docs/methods.md §A2).

Statistics (one value per neuroid unless noted), each with its significance:

- :func:`class_means`, :func:`preferred_class` -- class-conditional means and the argmax class (Allen
  ``pref_image_ns``).
- :func:`class_selectivity_index` -- CSI = (μ_max - μ_-max)/(μ_max + μ_-max + ε), μ_-max the mean of the other class
  means (Morcos et al. 2018, ICLR; ε-regularised variant of Leavitt & Morcos 2021, ICLR); label-shuffle p-value.
- :func:`dprime` -- d' = (μ_pref - μ_rest)/√((σ²_pref + σ²_rest)/2), preferred class vs the rest; label-shuffle
  p-value.
- :func:`anova` -- one-way F across classes, p (F distribution, as ``scipy.stats.f_oneway``), η² = SS_b/SS_t and
  ω² = (SS_b - (k - 1)MS_w)/(SS_t + MS_w) (Hays 1963; Olejnik & Algina 2003).
- :func:`mutual_information` -- plug-in I(class; response) in bits with equal-population response bins, minus the
  mean over label shuffles (shuffle bias correction), shuffle p-value (docs/methods.md §A2.5).
- :func:`tuning_sparseness` -- a sparseness measure of the class-mean tuning curve (lifetime sparseness across
  classes); label-shuffle p-value.
- :func:`n_driven_classes` -- how many classes drive each neuroid significantly: one-sided Welch t (or
  Mann–Whitney U) of class c vs the rest per neuroid × class, with a stated multiple-comparison correction
  (Benjamini–Hochberg FDR over all neuroid × class tests by default): mixed selectivity (Rigotti et al. 2013).

Significance by label shuffles uses a seeded generator (``random_state``) and ``n_shuffles`` permutations of the
labels; p = (1 + #{null ≥ observed})/(1 + n_shuffles) (Phipson & Smyth 2010); q = Benjamini–Hochberg over neuroids.
Shuffled class sums are accumulated in float32 (sgemm), so "≥" allows a relative round-off of 1e-6.
``n_shuffles=0`` skips the shuffles (p, q NaN).  Results are ``xr.Dataset`` objects with one variable per quantity
(``csi``, ``p``, ``q``, ...), the neuroid coords of a DataArray input and attrs stating definitions and corrections.

Non-finite values: ``nan_policy="propagate"`` (default; a neuroid with a NaN gives NaN), ``"omit"`` (each neuroid's
statistic from its complete presentations; the shuffle null permutes all labels and keeps those of the complete
presentations) or ``"raise"``; +-inf is an error unless ``"omit"`` (docs/architecture.md, "The analysis contract").

Input: ``x`` array-like of shape (n_presentations, n_neuroids) or a 2-D ``xr.DataArray`` with presentation dim

Modules: :mod:`._core` (preparation, chunk-wise class sums, the label-shuffle null and p-values), :mod:`.tuning`
(class means, preferred class, preference order, tuning sparseness), :mod:`.indices` (CSI, d', ANOVA), :mod:`.driven`
(number of driven classes) and :mod:`.information` (mutual information); import from here or from
:mod:`ensembles.analysis`.
"""

from __future__ import annotations

from ._core import CLASS as CLASS  # the result dim of one entry per class
from .driven import CORRECTIONS as CORRECTIONS
from .driven import n_driven_classes
from .indices import anova, class_selectivity_index, dprime
from .information import mutual_information
from .tuning import class_means, preference_order, preferred_class, tuning_sparseness

__all__ = [
    "anova",
    "class_means",
    "class_selectivity_index",
    "dprime",
    "mutual_information",
    "n_driven_classes",
    "preference_order",
    "preferred_class",
    "tuning_sparseness",
]
