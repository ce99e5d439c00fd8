"""Sparseness of responses: lifetime (one neuroid across stimuli) and population (one stimulus across neuroids).

Definitions, edge-case policies and reference values are in ``docs/methods.md`` §A1.

Measures (``measure=``)
    ``"vinje-gallant"``  S = [1 - (Σr)²/(n Σr²)] / (1 - 1/n), 0 (dense) ... 1 (sparse); Vinje & Gallant 2000, Science
                         287:1273; the form used by the AllenSDK (``lifetime_sparseness``), Olsen & Wilson 2008 and
                         Froudarakis et al. 2014.
    ``"treves-rolls"``   activity ratio a = (Σr/n)² / (Σr²/n), 1/n (sparse) ... 1 (dense); Rolls & Tovee 1995,
                         J Neurophysiol 73:713.  Note the direction: *small* a is sparse.
    ``"hoyer"``          H = (√n - ‖r‖₁/‖r‖₂) / (√n - 1), 0 ... 1 (one unit active); Hoyer 2004, JMLR 5:1457; the
                         per-sample (population) measure of Tosato et al. 2023 (arXiv 2305.18353).
    ``"gini"``           G = 1 - 2 Σ_k (c_(k)/‖c‖₁)(n - k + ½)/n over |r| sorted ascending, 0 ... 1 - 1/n; Hurley &
                         Rickard 2009, IEEE Trans Inf Theory 55:4723.
    ``"kurtosis"``       excess kurtosis, sample form Σ(r - r̄)⁴/((n - 1)s⁴) - 3 with s² = Σ(r - r̄)²/(n - 1)
                         (Willmore & Tolhurst 2001, Network 12:255; Lehky et al. 2005); alias ``"kurtosis-sample"``.
    ``"kurtosis-moment"`` population-moment form m₄/m₂² - 3 (Field 1994; equals ``scipy.stats.kurtosis`` with the
                         default ``bias=True``).

Policies (docs/methods.md §A1.4), recorded in the attrs of DataArray results
    silent (all-zero) vector → NaN, counted in ``n_silent``; constant non-zero vector (equal up to rounding: spread
    ≤ 8·n·ε·max|r|) → S = H = G = 0, a = 1, kurtosis NaN (counted in ``n_constant``); fewer than two values → NaN;
    ``negative="raise"`` (default) | ``"clip"``
    (max(r, 0)) | ``"abs"`` | ``"shift"`` (subtract the vector's minimum, Kreiman et al. 2006) | ``"allow"`` (only for
    the sign-tolerant measures hoyer, gini and kurtosis); ``nan_policy="propagate"`` | ``"omit"`` | ``"raise"``
    (scipy's convention).  +inf and -inf are treated alike: an error naming the parameter and the counts, unless
    ``nan_policy="omit"``, which skips them like NaN (never clipped; docs/architecture.md, "The analysis contract").

Input: ``x`` is array-like of shape (n_presentations, n_neuroids) or an ``xr.DataArray``; ``dim`` names the dim that
is reduced.  DataArray results keep the coords of the other dims.  Dask-backed input is reduced chunk by chunk:
Vinje–Gallant, Treves–Rolls, Hoyer, kurtosis and fraction active are computed from running sums (Σr, Σr², Σ|r|,
centred moments, counts, max/min), so a recording larger than memory is read once (twice for kurtosis and
``negative="shift"``); Gini and image selectivity need each vector whole, so the reduced dim is rechunked into one
chunk (cheap for population measures, whose vectors are one presentation).

Lifetime measures are defined on **trial-averaged** responses per stimulus condition (blank dropped): average
repeated presentations first with :func:`condition_means`.

Modules: :mod:`._engine` (measure kernels and the input policies), :mod:`.measures` (:func:`sparseness` and its named
forms, :func:`subsample_sparseness`), :mod:`.threshold` (:func:`fraction_active`, :func:`image_selectivity`) and
:mod:`.conditions` (:func:`condition_means`); import from here or from :mod:`ensembles.analysis`.
"""

from __future__ import annotations

from ._engine import DEFINITIONS as DEFINITIONS  # the measure definitions (cited), recorded in result attrs
from ._engine import MEASURES, NAN_POLICIES, NEGATIVE_POLICIES
from ._engine import SIGN_TOLERANT as SIGN_TOLERANT
from .conditions import condition_means
from .measures import (
    gini_sparseness,
    hoyer_sparseness,
    kurtosis_sparseness,
    lifetime_sparseness,
    population_sparseness,
    sparseness,
    subsample_sparseness,
    treves_rolls_activity,
    vinje_gallant_sparseness,
)
from .threshold import FRACTION_MODES as FRACTION_MODES
from .threshold import fraction_active, image_selectivity

__all__ = [
    "MEASURES",
    "NEGATIVE_POLICIES",
    "NAN_POLICIES",
    "condition_means",
    "fraction_active",
    "gini_sparseness",
    "hoyer_sparseness",
    "image_selectivity",
    "kurtosis_sparseness",
    "lifetime_sparseness",
    "population_sparseness",
    "sparseness",
    "subsample_sparseness",
    "treves_rolls_activity",
    "vinje_gallant_sparseness",
]
