"""Representational geometry: RDMs, RDM comparison, linear CKA, decoding and dimensionality.

All functions take ``x`` as array-like of shape (n_presentations, n_neuroids) -- a numpy array, an
``xr.DataArray`` with dims ``("presentation", "neuroid")`` (in memory or dask-backed) or a recording
(``xr.Dataset`` with an ``activity`` variable).  Labelled inputs carry their ``stimulus_id`` / ``label``
coordinates into the results, so that two recordings are only ever compared over the same stimuli.

The functions are defined in :mod:`.rsa` (RDMs and their comparison), :mod:`.cka` (linear CKA), :mod:`.decoding`
(cross-validated decoding) and :mod:`.dimensionality` (participation ratio, eigenspectrum, the tidy summary);
import them from here or from :mod:`ensembles.analysis`.

No torch here (``tests/test_layering.py``).

References
----------
Kriegeskorte, Mur & Bandettini (2008). Representational similarity analysis. Front Syst Neurosci 2:4.
Nili et al. (2014). A toolbox for representational similarity analysis. PLoS Comput Biol 10:e1003553.
Walther et al. (2016). Reliability of dissimilarity measures for multi-voxel pattern analysis. NeuroImage 137:188.
Kornblith, Norouzi, Lee & Hinton (2019). Similarity of neural network representations revisited. ICML.
Song, Smola, Gretton, Bedo & Borgwardt (2012). Feature selection via dependence maximization. JMLR 13:1393.
Stringer, Pachitariu, Steinmetz, Carandini & Harris (2019). High-dimensional geometry of population responses in
visual cortex. Nature 571:361.
Gao et al. (2017). A theory of multineuronal dimensionality, dynamics and measurement. bioRxiv 214262.
"""

from __future__ import annotations

from .cka import linear_cka
from .decoding import decode
from .dimensionality import (
    eigenspectrum,
    eigenspectrum_alpha,
    participation_ratio,
    summarize_geometry,
)
from .rsa import RDM_COMPARISONS, RDM_METRICS, compare_rdms, kendall_tau_a, rdm

__all__ = [
    "RDM_METRICS",
    "RDM_COMPARISONS",
    "rdm",
    "compare_rdms",
    "linear_cka",
    "decode",
    "participation_ratio",
    "eigenspectrum",
    "eigenspectrum_alpha",
    "kendall_tau_a",
    "summarize_geometry",
]
