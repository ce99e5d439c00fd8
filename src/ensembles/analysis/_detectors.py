"""Unsupervised ensemble (cell-assembly) detectors behind :class:`EnsembleDetector` (numpy only, no torch).

Methods (``method=``):

``"ica"``  Lopes-dos-Santos, Ribeiro & Tort (2013): z-score, count eigenvalues of the correlation matrix above a
           null bound, FastICA in the signal subspace, unit-norm patterns with the positive sign convention.
``"pca"``  the same without ICA (Peyrache et al. 2009): the signal eigenvectors are the patterns.
``"svd"``  Carrillo-Reid et al. (2015) style: binarise, keep significant co-activity frames (shuffle null), SVD of the
           frame x neuroid matrix (its Gram matrix is the frames' cosine similarity), number of states by a
           column-permutation null, frames grouped into states, core members by a one-sided binomial test.
``"graph"`` communities of a co-activity graph: pairwise correlations thresholded at a shuffle-calibrated,
           Bonferroni-corrected level, spectral clustering (Ng, Jordan & Weiss 2002) with the eigengap rule
           (von Luxburg 2007), then an affinity rule that lets a unit join several communities (overlap).
``"nmf"``  non-negative matrix factorisation (Lee & Seung 1999; scikit-learn ``NMF``) of the rectified z-scored
           activity ``max(z, 0)``, rank chosen by the same eigenvalue count as ``"ica"``.

Large recordings (``ica`` and ``pca``, :mod:`._detector_streamed`): when a float64 copy of the data would exceed
``_DENSE_MAX_BYTES`` (1 GiB), ``fit`` never forms one.  It reads the input in float32 row blocks (any array that slices by rows: numpy array or
memmap, ``h5py.Dataset``, zarr, dask), one pass for the column means and SDs, then ``q + 1`` passes of a randomized
block Krylov method (Musco & Musco 2015) on the implicit correlation matrix ``Z'Z / B``: the Rayleigh-Ritz values of
the Krylov space are lower bounds of the leading eigenvalues (so an approximation never adds an ensemble), the
count is taken against the same Marchenko-Pastur / Tracy-Widom bound, and FastICA runs on the projection of the data
on the signal eigenvectors, which the passes already hold (no further pass).  Memory: the row blocks, the Krylov basis (N x l(q+1))
and the projected data (B x l(q+1)), all float32 or small.

References
----------
Lopes-dos-Santos, V., Ribeiro, S. & Tort, A. B. L. (2013). J Neurosci Methods 220:149-166.
Peyrache, A. et al. (2009). Nat Neurosci 12:919-926.
Carrillo-Reid, L., Miller, J.-E. K., Hamm, J. P., Jackson, J. & Yuste, R. (2015). J Neurosci 35:8813-8828.
Marchenko, V. A. & Pastur, L. A. (1967). Math USSR Sbornik 1:457.
Johnstone, I. M. (2001). Ann Stat 29:295-327 (Tracy-Widom centring and scaling of the largest eigenvalue).
Chiani, M. (2014). J Multivariate Anal 129:69-81 (gamma approximation of the Tracy-Widom law).
Ng, A., Jordan, M. & Weiss, Y. (2002). NIPS 14. von Luxburg, U. (2007). Stat Comput 17:395-416.
Mölter, J., Avitan, L. & Goodhill, G. J. (2018). BMC Biol 16:143.
Musco, C. & Musco, C. (2015). Randomized block Krylov methods for stronger and faster approximate singular value
decomposition. NIPS 28.
"""

from __future__ import annotations

import numbers
import warnings

import numpy as np
from scipy import linalg, stats
from scipy.optimize import nnls
from sklearn.base import BaseEstimator, ClassNamePrefixFeaturesOutMixin, TransformerMixin
from sklearn.cluster import KMeans
from sklearn.decomposition import NMF, FastICA
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted, validate_data

from ensembles.errors import ParameterError

from .._validation import EnsemblesWarning
from ._detector_nulls import (
    _null_eig_threshold,
    _surrogate,
    _top_sv2,
    _zscore_cols,
    marchenko_pastur_bound,
    tracy_widom_bound,
)
from ._detector_streamed import _is_large, _StreamedFit
from ._stats import fdr_bh

METHODS = ("ica", "pca", "svd", "graph", "nmf")
SIGNIFICANCE = ("auto", "marchenko-pastur", "tracy-widom", "shuffle", "circular")
_EIG_SIGNIFICANCE = ("marchenko-pastur", "tracy-widom", "shuffle", "circular")



# ----------------------------------------------------------------------------------------------------------------------
# the estimator
# ----------------------------------------------------------------------------------------------------------------------
class EnsembleDetector(_StreamedFit, ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator):
    """Detect ensembles (cell assemblies) in a population without labels; scikit-learn transformer.

    Parameters
    ----------
    n_ensembles : int >= 1 or None, default=None
        Number of ensembles to extract; None chooses it by the ``significance`` rule.
    method : {"ica", "pca", "svd", "graph", "nmf"}, default="ica"
        Detection method (see the module docstring and Notes).
    significance : {"auto", "marchenko-pastur", "tracy-widom", "shuffle", "circular"}, default="auto"
        Null used to decide what is significant. ``"auto"`` is ``"tracy-widom"`` for ``ica``/``pca``/``nmf``
        (the Marchenko-Pastur edge plus its finite-size Tracy-Widom quantile, a test at level ``alpha``; the bare
        edge ``"marchenko-pastur"`` is the classic choice but is crossed by the largest null eigenvalue in ~15% of
        assembly-free populations of 80 neuroids x 800 presentations, measured in tests/analysis/test_ensembles_recovery.py)
        and ``"shuffle"`` for ``svd``/``graph``.  For ``ica``/``pca``/``nmf``: the number of ensembles is the number
        of correlation eigenvalues above the Marchenko-Pastur edge ``(1 + sqrt(N/B))**2``, above its Tracy-Widom
        ``1 - alpha`` quantile, or above the ``1 - alpha`` quantile of the largest eigenvalue of ``n_shuffles``
        surrogates (per-neuroid permutation or circular shift).  For ``svd`` the co-activity and state nulls are
        permutations (``"shuffle"``) or circular shifts (``"circular"``); for ``graph`` the SD of null correlations is
        estimated from surrogates.  ``svd`` and ``graph`` accept only ``"auto"``, ``"shuffle"`` and ``"circular"``.
    alpha : float in (0, 1), default=0.01
        Level of the significance rules (family-wise for eigenvalue counts and graph edges; per frame for ``svd``
        co-activity, per neuroid with Benjamini-Hochberg control for ``svd`` core members).
    n_shuffles : int >= 1, default=100
        Number of surrogates for the shuffle/circular nulls.
    member_threshold : float, default=2.0
        A neuroid is a member of ensemble k when its pattern weight exceeds ``mean + member_threshold * SD`` of that
        pattern's weights (after Lopes-dos-Santos 2013; docs/methods.md §A4.3).
    activity_threshold : float or None, default=None
        ``svd`` only: a neuroid is "active" on a presentation when its activity exceeds this value; None uses
        each neuroid's mean + 1 SD.
    max_iter : int, default=1000
        Iterations of FastICA / NMF.
    random_state : int, RandomState or None, default=None

    Attributes
    ----------
    n_features_in_ : int
    n_ensembles_ : int
    patterns_ : ndarray of shape (n_ensembles_, n_features_in_)
        Unit-norm patterns, largest absolute weight positive. Silent neuroids have weight 0.
    members_ : ndarray of bool, shape (n_ensembles_, n_features_in_)
    member_thresholds_ : ndarray of shape (n_ensembles_,)
    threshold_ : float
        The significance threshold applied: an eigenvalue bound (``ica``, ``pca``, ``nmf``), the squared-singular-
        value bound of the state count (``svd``) or the correlation edge threshold (``graph``).
    eigenvalues_ : ndarray
        Correlation eigenvalues, descending (``ica``, ``pca``, ``nmf``); squared singular values of the significant
        frame matrix (``svd``); smallest normalised-Laplacian eigenvalues, ascending (``graph``).  On the streamed
        path of large inputs (see Notes) only the leading ones: the Ritz values of the block Krylov space, each a
        lower bound of its eigenvalue (the first ones accurate to about 1e-6).
    participation_ratio_ : ndarray of shape (n_ensembles_,)
        ``1 / sum(w**4)`` of each unit-norm pattern: about the number of neuroids that carry it.
    global_ : ndarray of bool, shape (n_ensembles_,)
        True for population-wide components (participation ratio >= half the active neuroids), such as the mode a
        shared gain fluctuation creates: real correlation structure, but not a sparse assembly.  Their ``members_``
        (top weights by the mean + k SD rule) should not be read as an assembly.
    active_ : ndarray of bool, shape (n_features_in_,)
        Neuroids with non-zero variance in the fitted data. Silent neuroids are dropped before z-scoring, are never
        members, and count neither in N of the Marchenko-Pastur bound nor in any statistic.
    n_iter_ : int
        Iterations of the iterative step (FastICA, NMF or k-means); 1 when the fit is closed-form (``pca``, or
        no ensemble found).
    mean_, scale_ : ndarray of shape (n_features_in_,)
        z-scoring parameters used by :meth:`transform`.

    Notes
    -----
    *Fewer presentations than neuroids.* The Marchenko-Pastur / Tracy-Widom counts need ``B >= N`` (q = B/N >= 1,
    N = active neuroids): ``fit`` raises a ValueError otherwise; subsample neuroids, add presentations, give
    ``n_ensembles``, or use ``significance="shuffle"``/``"circular"``.

    *Large recordings.* For ``ica`` and ``pca``, when a float64 copy of ``X`` would exceed 1 GiB, ``fit`` and
    ``transform`` read ``X`` in float32 row blocks (a numpy array or memmap, an ``h5py.Dataset``, zarr or dask array
    is never loaded whole) and the eigenvalue count and signal subspace come from a randomized block Krylov method:
    one pass over the data for the column moments, four for the Krylov space (module docstring).  On the planted
    populations of the tests this gives the same ensembles and members as the full eigen-decomposition, patterns
    within 1e-4 (``pca``) or 1e-3 (``ica``, within FastICA's own tolerance).  Only ``significance="tracy-widom"``/``"marchenko-pastur"`` (or a given
    ``n_ensembles``) is available there.

    *Activation strength* (``transform``) follows Lopes-dos-Santos et al. (2013):
    ``R_k(t) = z(t)' P_k z(t)`` with ``P_k = w_k w_k'`` and its diagonal set to 0, where ``z`` is the input z-scored
    with the fitted mean and SD (``ica``, ``pca``, ``svd``, ``graph``); for ``nmf`` it is the non-negative least-squares
    activation of ``max(z, 0)`` on the fitted NMF components.

    Examples
    --------
    >>> from ensembles.data.synthetic import planted_ensembles
    >>> X, truth = planted_ensembles(200, 2000, 3, size=15, random_state=0)
    >>> det = EnsembleDetector(random_state=0).fit(X)
    >>> det.n_ensembles_, det.transform(X).shape
    (3, (2000, 3))
    """

    def __init__(
        self,
        n_ensembles=None,
        *,
        method="ica",
        significance="auto",
        alpha=0.01,
        n_shuffles=100,
        member_threshold=2.0,
        activity_threshold=None,
        max_iter=1000,
        random_state=None,
    ):
        self.n_ensembles = n_ensembles
        self.method = method
        self.significance = significance
        self.alpha = alpha
        self.n_shuffles = n_shuffles
        self.member_threshold = member_threshold
        self.activity_threshold = activity_threshold
        self.max_iter = max_iter
        self.random_state = random_state

    # -- parameter validation (sklearn wording, raised in fit) ----------------------------------------------------
    def _err(self, name, expected, got):
        return ParameterError(
            f"The {name!r} parameter of {type(self).__name__} must be {expected}. Got {got!r} instead."
        )

    def _validate_params_(self):
        n = self.n_ensembles
        if n is not None and (isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 1):
            raise self._err("n_ensembles", "an int >= 1 or None", n)
        if self.method not in METHODS:
            raise self._err("method", "a str among " + str(set(METHODS)), self.method)
        if self.significance not in SIGNIFICANCE:
            raise self._err("significance", "a str among " + str(set(SIGNIFICANCE)), self.significance)
        sig = self.significance
        if sig == "auto":
            sig = "shuffle" if self.method in ("svd", "graph") else "tracy-widom"
        if self.method in ("svd", "graph") and sig not in ("shuffle", "circular"):
            raise self._err("significance", f"one of 'auto', 'shuffle', 'circular' for method={self.method!r}", sig)
        a = self.alpha
        if isinstance(a, bool) or not isinstance(a, numbers.Real) or not 0 < a < 1:
            raise self._err("alpha", "a float in the range (0, 1)", a)
        s = self.n_shuffles
        if isinstance(s, bool) or not isinstance(s, numbers.Integral) or s < 1:
            raise self._err("n_shuffles", "an int >= 1", s)
        m = self.member_threshold
        if isinstance(m, bool) or not isinstance(m, numbers.Real) or not np.isfinite(m):
            raise self._err("member_threshold", "a finite float", m)
        t = self.activity_threshold
        if t is not None and (isinstance(t, bool) or not isinstance(t, numbers.Real)):
            raise self._err("activity_threshold", "a float or None", t)
        it = self.max_iter
        if isinstance(it, bool) or not isinstance(it, numbers.Integral) or it < 1:
            raise self._err("max_iter", "an int >= 1", it)
        return sig

    # -- fit ------------------------------------------------------------------------------------------------------
    def fit(self, X, y=None):
        """Fit the detector on ``X`` of shape (n_presentations, n_neuroids); ``y`` is ignored."""
        sig = self._validate_params_()
        if self.method in ("ica", "pca") and _is_large(X):
            return self._fit_streamed(X, sig)
        X = validate_data(self, X, dtype=np.float64, ensure_min_samples=2, reset=True)
        rng = np.random.default_rng(check_random_state(self.random_state).randint(2**31 - 1))
        B, N = X.shape
        mean = X.mean(axis=0)
        sd = X.std(axis=0)
        active = sd > 1e-12 * np.maximum(1.0, np.abs(mean))
        self.mean_ = mean
        self.scale_ = np.where(active, sd, 1.0)
        self.active_ = active
        self.significance_ = sig
        Z = (X[:, active] - mean[active]) / sd[active]
        self.n_iter_ = 1
        n_act = int(active.sum())
        if n_act == 0:
            warnings.warn(
                "All neuroids are silent (zero variance) in the data passed to EnsembleDetector.fit; 0 ensembles.",
                EnsemblesWarning,
                stacklevel=2,
            )
            W = np.zeros((0, 0))
            self.eigenvalues_, self.threshold_ = np.zeros(0), np.nan
        elif self.method in ("ica", "pca", "nmf"):
            W = self._fit_eig(Z, sig, rng, X[:, active] if self.method == "nmf" else None)
        elif self.method == "svd":
            W = self._fit_svd(X[:, active], sig, rng)
        else:
            W = self._fit_graph(Z, sig, rng)
        return self._finish(W, active, N)

    def _finish(self, W, active, N):
        """Patterns (unit norm, sign convention), members, participation ratio and the global flag from the active-
        neuroid weights ``W`` (n_ensembles, n_active)."""
        k = W.shape[0]
        patterns = np.zeros((k, N))
        patterns[:, active] = W
        norms = np.linalg.norm(patterns, axis=1, keepdims=True)
        patterns = np.divide(patterns, norms, out=np.zeros_like(patterns), where=norms > 0)
        # sign convention: the largest absolute weight is positive
        if k:
            big = patterns[np.arange(k), np.argmax(np.abs(patterns), axis=1)]
            patterns *= np.where(big < 0, -1.0, 1.0)[:, None]
        self.patterns_ = patterns
        self.member_thresholds_, self.members_ = self._members(patterns, active)
        if self.method == "svd" and k:
            # svd core members must also pass the per-neuroid binomial test (BH-controlled at alpha)
            self.members_[:, active] &= self._svd_significant
        # participation ratio PR = 1 / sum(w**4) of a unit-norm pattern: ~ the number of neuroids carrying it
        pr = 1.0 / np.maximum((patterns**4).sum(axis=1), 1e-300) if k else np.zeros(0)
        self.participation_ratio_ = pr
        self.global_ = pr >= 0.5 * max(int(active.sum()), 1)
        self.n_ensembles_ = k
        return self

    def _members(self, patterns, active):
        w = patterns[:, active]
        if w.shape[0] == 0:
            return np.zeros(0), np.zeros(patterns.shape, dtype=bool)
        thr = w.mean(axis=1) + self.member_threshold * w.std(axis=1)
        members = (patterns > thr[:, None]) & active[None, :]
        return thr, members

    def _count(self, shape, sig, rng, evals, Z=None):
        B, N = shape
        if sig in ("marchenko-pastur", "tracy-widom") and B < N and self.n_ensembles is None:
            raise ParameterError(
                f"EnsembleDetector(method={self.method!r}, significance={sig!r}) needs at least as many "
                f"presentations as active neuroids (q = B/N >= 1) for the Marchenko-Pastur bound; got {B} "
                f"presentations and {N} active neuroids. Subsample neuroids, add presentations, give n_ensembles, "
                "or use significance='shuffle' or 'circular'."
            )
        if sig == "marchenko-pastur":
            thr = marchenko_pastur_bound(N, B)
        elif sig == "tracy-widom":
            thr = tracy_widom_bound(N, B, self.alpha)
        else:
            thr = _null_eig_threshold(Z, sig, self.alpha, self.n_shuffles, rng)
        self.threshold_ = float(thr)
        k = int(np.sum(evals > thr)) if self.n_ensembles is None else int(self.n_ensembles)
        return min(k, N)

    def _fit_eig(self, Z, sig, rng, Xa):
        B, N = Z.shape
        C = Z.T @ Z / B
        evals, evecs = linalg.eigh(C)
        evals, evecs = evals[::-1], evecs[:, ::-1]
        self.eigenvalues_ = evals
        k = self._count(Z.shape, sig, rng, evals, Z)
        if k == 0:
            return np.zeros((0, N))
        if self.method == "pca":
            return evecs[:, :k].T.copy()
        seed = int(rng.integers(2**31 - 1))
        if self.method == "ica":
            proj = Z @ evecs[:, :k]
            ica = FastICA(n_components=k, whiten="unit-variance", random_state=seed, max_iter=self.max_iter, tol=1e-4)
            ica.fit(proj)
            self.n_iter_ = max(int(ica.n_iter_), 1)
            return ica.components_ @ evecs[:, :k].T
        # nmf on the rectified z-scores
        P = np.maximum(Z, 0.0)
        nmf = NMF(n_components=k, init="nndsvda", random_state=seed, max_iter=self.max_iter)
        nmf.fit(P)
        self.n_iter_ = max(int(nmf.n_iter_), 1)
        self._nmf_components = nmf.components_.copy()
        return nmf.components_.copy()

    def _fit_svd(self, Xa, sig, rng):
        B, N = Xa.shape
        if self.activity_threshold is None:
            thr_unit = Xa.mean(axis=0) + Xa.std(axis=0)
        else:
            thr_unit = np.full(N, float(self.activity_threshold))
        A = Xa > thr_unit
        counts = A.sum(axis=1)
        n_sh = self.n_shuffles
        null_counts = np.concatenate([_surrogate(A, sig, rng).sum(axis=1) for _ in range(min(n_sh, 20))])
        frame_thr = np.quantile(null_counts, 1.0 - self.alpha)
        frames = np.flatnonzero(counts > frame_thr)
        self.frame_threshold_ = float(frame_thr)
        self.significant_frames_ = frames
        if frames.size < 2:
            self.eigenvalues_, self.threshold_ = np.zeros(0), np.nan
            return np.zeros((0, N))
        M = A[frames].astype(np.float64)
        M /= np.maximum(np.linalg.norm(M, axis=1, keepdims=True), 1e-12)
        # centre the columns: the leading singular vector of a non-negative matrix otherwise only carries the mean
        Mc = M - M.mean(axis=0)
        # thin SVD through the (N x N) Gram matrix: Mc = U S V'
        ev, V = linalg.eigh(Mc.T @ Mc)
        ev, V = np.maximum(ev[::-1], 0.0), V[:, ::-1]
        s = np.sqrt(ev)
        U = (Mc @ V) / np.where(s > 0, s, 1.0)
        self.eigenvalues_ = ev
        # state-count null: permute each neuroid's column among the significant frames, take the largest squared
        # singular value; states = squared singular values above its 1 - alpha quantile (family-wise)
        null_top = []
        for _ in range(n_sh):
            Ms = rng.permuted(M, axis=0)
            null_top.append(_top_sv2(Ms - Ms.mean(axis=0)))
        self.threshold_ = float(np.quantile(null_top, 1.0 - self.alpha))
        k = int(np.sum(self.eigenvalues_ > self.threshold_)) if self.n_ensembles is None else int(self.n_ensembles)
        k = min(k, frames.size, N)
        if k == 0:
            return np.zeros((0, N))
        emb = U[:, :k] * s[:k]
        emb /= np.maximum(np.linalg.norm(emb, axis=1, keepdims=True), 1e-12)
        km = KMeans(n_clusters=k, n_init=4, random_state=int(rng.integers(2**31 - 1))).fit(emb)
        states = km.labels_
        self.n_iter_ = max(int(km.n_iter_), 1)
        W = np.zeros((k, N))
        sig_mask = np.zeros((k, N), dtype=bool)
        for j in range(k):
            in_state = frames[states == j]
            out = np.ones(B, dtype=bool)
            out[in_state] = False
            n_in = in_state.size
            c_in = A[in_state].sum(axis=0)
            p_out = A[out].mean(axis=0) if out.any() else np.zeros(N)
            contrast = c_in / max(n_in, 1) - p_out
            p = stats.binom.sf(c_in - 1, n_in, np.clip(p_out, 1e-12, 1 - 1e-12))
            q = fdr_bh(p)
            W[j] = np.maximum(contrast, 0.0)
            sig_mask[j] = q < self.alpha
        # a state with no significant unit is not an ensemble
        keep = sig_mask.any(axis=1) & (np.bincount(states, minlength=k) >= 2)
        self.frame_states_ = states
        self._svd_significant = sig_mask[keep]
        return W[keep]

    def _fit_graph(self, Z, sig, rng):
        B, N = Z.shape
        C = Z.T @ Z / B
        np.fill_diagonal(C, 0.0)
        # shuffle-calibrated edge threshold: SD of null correlations from surrogates of (at most) 200 neuroids,
        # Bonferroni-corrected Gaussian quantile over the N(N-1)/2 pairs
        sub = rng.choice(N, size=min(N, 200), replace=False)
        null_vals = []
        for _ in range(max(1, min(self.n_shuffles, 10))):
            Zs = _zscore_cols(_surrogate(Z[:, sub], sig, rng))
            Cs = Zs.T @ Zs / B
            null_vals.append(Cs[np.triu_indices(sub.size, 1)])
        null_vals = np.concatenate(null_vals) if sub.size > 1 else np.array([1.0 / np.sqrt(B)])
        sd0 = float(np.sqrt(np.mean(null_vals**2)))
        m = max(N * (N - 1) // 2, 1)
        thr = sd0 * stats.norm.isf(self.alpha / m)
        self.threshold_ = float(thr)
        Adj = np.where(C > thr, C, 0.0)
        deg = Adj.sum(axis=1)
        nodes = np.flatnonzero(deg > 0)
        if nodes.size < 2:
            self.eigenvalues_ = np.zeros(0)
            return np.zeros((0, N))
        A = Adj[np.ix_(nodes, nodes)]
        d = A.sum(axis=1)
        Dm = 1.0 / np.sqrt(d)
        L = np.eye(nodes.size) - Dm[:, None] * A * Dm[None, :]
        kmax = min(nodes.size - 1, 50)
        ev, evec = linalg.eigh(L, subset_by_index=[0, kmax])
        self.eigenvalues_ = ev
        if self.n_ensembles is None:
            k = int(np.argmax(np.diff(ev[: kmax + 1]))) + 1
        else:
            k = min(int(self.n_ensembles), nodes.size)
        Uk = evec[:, :k]
        Uk = Uk / np.maximum(np.linalg.norm(Uk, axis=1, keepdims=True), 1e-12)
        km = KMeans(n_clusters=k, n_init=10, random_state=int(rng.integers(2**31 - 1))).fit(Uk)
        labels = km.labels_
        self.n_iter_ = max(int(km.n_iter_), 1)
        W = np.zeros((k, N))
        for j in range(k):
            core = nodes[labels == j]
            aff = Adj[:, core].sum(axis=1) / max(core.size - 1, 1)
            W[j] = aff
        # drop communities of fewer than 3 units (an edge or two are not an assembly)
        sizes = np.bincount(labels, minlength=k)
        return W[sizes >= 3]

    # -- transform ------------------------------------------------------------------------------------------------
    def transform(self, X):
        """Activation strength of each ensemble per presentation, shape (n_presentations, n_ensembles_)."""
        check_is_fitted(self)
        if self.method != "nmf" and _is_large(X):
            return self._transform_streamed(X)
        X = validate_data(self, X, dtype=np.float64, reset=False)
        Z = (X - self.mean_) / self.scale_
        Z[:, ~self.active_] = 0.0
        if self.n_ensembles_ == 0:
            return np.zeros((X.shape[0], 0))
        if self.method == "nmf":
            # exact per-presentation non-negative least squares against the fitted components (row-independent,
            # unlike NMF.transform's joint tolerance)
            P = np.maximum(Z[:, self.active_], 0.0)
            H = self._nmf_components.T
            return np.array([nnls(H, row)[0] for row in P]).reshape(P.shape[0], self.n_ensembles_)
        W = self.patterns_
        proj = Z @ W.T
        return proj**2 - (Z**2) @ (W.T**2)

    @property
    def _n_features_out(self):
        return self.n_ensembles_

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float64"]
        return tags


# ----------------------------------------------------------------------------------------------------------------------
# streamed helpers (large inputs)
# ----------------------------------------------------------------------------------------------------------------------
