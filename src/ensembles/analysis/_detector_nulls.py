"""Null models of :class:`~ensembles.analysis.EnsembleDetector`: eigenvalue bounds of a white correlation matrix and
independent per-neuroid surrogates (shuffled or circularly shifted) with the largest eigen/singular value of each.

References
----------
Marchenko, V. A. & Pastur, L. A. (1967). Math USSR Sbornik 1:457.
Johnstone, I. M. (2001). Ann Stat 29:295-327 (Tracy-Widom centring and scaling of the largest eigenvalue).
Chiani, M. (2014). J Multivariate Anal 129:69-81 (gamma approximation of the Tracy-Widom law).
Lopes-dos-Santos, V., Ribeiro, S. & Tort, A. B. L. (2013). J Neurosci Methods 220:149-166.
"""

from __future__ import annotations

import numpy as np
from scipy import linalg, stats
from scipy.sparse.linalg import LinearOperator, eigsh

__all__ = ["marchenko_pastur_bound", "tracy_widom_bound"]


# ----------------------------------------------------------------------------------------------------------------------
# eigenvalue bounds
# ----------------------------------------------------------------------------------------------------------------------
def marchenko_pastur_bound(n_neuroids: int, n_presentations: int) -> float:
    """Upper edge of the Marchenko-Pastur spectrum of an (n_neuroids x n_neuroids) correlation matrix of independent
    neuroids over n_presentations: ``(1 + sqrt(N/B))**2`` (Marchenko & Pastur 1967; Lopes-dos-Santos 2013 eq. 5)."""
    return float((1.0 + np.sqrt(n_neuroids / n_presentations)) ** 2)


def tracy_widom_bound(n_neuroids: int, n_presentations: int, alpha: float) -> float:
    """``1 - alpha`` quantile of the largest eigenvalue of a white correlation matrix: Johnstone's (2001) centring
    ``mu = (sqrt(B-1) + sqrt(N))**2`` and scale ``sigma = (sqrt(B-1) + sqrt(N)) (1/sqrt(B-1) + 1/sqrt(N))**(1/3)``
    for the largest eigenvalue of ``Z'Z``, divided by B, with the Tracy-Widom (beta = 1) quantile from Chiani's (2014)
    shifted-gamma approximation ``Gamma(46.446, 0.186054) - 9.84801``."""
    b1 = max(n_presentations - 1, 1)
    s = np.sqrt(b1) + np.sqrt(n_neuroids)
    mu = s**2
    sigma = s * (1.0 / np.sqrt(b1) + 1.0 / np.sqrt(n_neuroids)) ** (1.0 / 3.0)
    tw = stats.gamma.ppf(1.0 - alpha, 46.446, scale=0.186054) - 9.84801
    return float((mu + tw * sigma) / n_presentations)


def _surrogate(Z: np.ndarray, kind: str, rng: np.random.Generator) -> np.ndarray:
    """Independent per-neuroid surrogate: permutation of presentations ("shuffle") or a random circular shift
    ("circular", keeps each neuroid's autocorrelation)."""
    B, N = Z.shape
    if kind == "shuffle":
        return rng.permuted(Z, axis=0)
    else:
        shifts = rng.integers(0, B, size=N)
        idx = (np.arange(B)[:, None] - shifts[None, :]) % B
    return np.take_along_axis(Z, idx, axis=0)


def _largest_eig(Z: np.ndarray) -> float:
    """Largest eigenvalue of Z'Z / B without forming it when N is large (Lanczos on a linear operator)."""
    B, N = Z.shape
    if N <= 200:
        return float(linalg.eigvalsh(Z.T @ Z / B, subset_by_index=[N - 1, N - 1])[0])
    op = LinearOperator((N, N), matvec=lambda v: Z.T @ (Z @ v) / B, dtype=np.float64)
    return float(eigsh(op, k=1, which="LA", return_eigenvectors=False, tol=1e-6)[0])


def _null_eig_threshold(Z, kind, alpha, n_shuffles, rng) -> float:
    null = np.array([_largest_eig(_zscore_cols(_surrogate(Z, kind, rng))) for _ in range(n_shuffles)])
    return float(np.quantile(null, 1.0 - alpha))


def _zscore_cols(Z):
    sd = Z.std(axis=0)
    sd[sd == 0] = 1.0
    return (Z - Z.mean(axis=0)) / sd


def _top_sv2(M):
    B, N = M.shape
    if min(B, N) <= 64:
        return float(linalg.svdvals(M)[0] ** 2)
    op = LinearOperator((N, N), matvec=lambda v: M.T @ (M @ v), dtype=np.float64)
    return float(eigsh(op, k=1, which="LA", return_eigenvectors=False, tol=1e-6)[0])
