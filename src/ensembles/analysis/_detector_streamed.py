"""The streamed path of :class:`ensembles.analysis.EnsembleDetector` for ``ica`` and ``pca`` on large inputs.

When a float64 copy of the data would exceed ``_DENSE_MAX_BYTES``, the input is read in float32 row blocks (any
array that slices by rows: numpy array or memmap, ``h5py.Dataset``, zarr, dask): one pass for the column means and
SDs, then ``q + 1`` passes of a randomized block Krylov method (Musco & Musco 2015, NIPS 28) on the implicit
correlation matrix ``Z'Z / B``; FastICA runs on the projection of the data on the signal eigenvectors, which the
passes already hold.  See :mod:`ensembles.analysis._detectors` for the method and its references.
"""

from __future__ import annotations

import warnings

import numpy as np
from scipy import linalg, sparse
from sklearn.decomposition import FastICA
from sklearn.utils import check_random_state

from ensembles.errors import ParameterError

from .._validation import EnsemblesWarning

_DENSE_MAX_BYTES = 2**30  # ica/pca: above this size of a float64 copy of X, fit and transform stream row blocks
_BLOCK_BYTES = 64 * 2**20  # float32 bytes of one row block in the streamed path
_KRYLOV_WIDTH = 64  # block width l of the Krylov method (doubled while the signal subspace does not fit)
_KRYLOV_DEPTH = 3  # q: the Krylov space is [V, CV, ..., C^q V]


class _StreamedFit:
    """The streamed ``fit`` and ``transform`` of :class:`~ensembles.analysis.EnsembleDetector` (a mixin)."""

    def _fit_streamed(self, X, sig):
        if sig not in ("marchenko-pastur", "tracy-widom") and self.n_ensembles is None:
            raise ParameterError(
                f"EnsembleDetector(method={self.method!r}) on a recording of {X.shape[0]} x {X.shape[1]} (larger "
                f"than a float64 copy of {_DENSE_MAX_BYTES / 2**30:g} GiB) counts ensembles with significance="
                f"'tracy-widom' or 'marchenko-pastur' only; a surrogate null would need the whole matrix in memory. "
                f"Got significance={sig!r} instead."
            )
        B, N = (int(n) for n in X.shape)
        kind = np.dtype(getattr(X, "dtype", np.float64)).kind
        if kind not in "biuf":
            raise ParameterError(f"The 'X' parameter must hold numbers. Got dtype {X.dtype!r} instead.")
        for attr in ("feature_names_in_",):  # a refit on an array without names (as sklearn's reset does)
            if hasattr(self, attr):
                delattr(self, attr)
        self.n_features_in_ = N
        rng = np.random.default_rng(check_random_state(self.random_state).randint(2**31 - 1))
        rows = _block_rows(N)
        mean, sd = _column_moments(X, rows)
        active = sd > 1e-12 * np.maximum(1.0, np.abs(mean))
        self.mean_ = mean
        self.scale_ = np.where(active, sd, 1.0)
        self.active_ = active
        self.significance_ = sig
        self.n_iter_ = 1
        if not active.any():
            warnings.warn(
                "All neuroids are silent (zero variance) in the data passed to EnsembleDetector.fit; 0 ensembles.",
                EnsemblesWarning,
                stacklevel=2,
            )
            self.eigenvalues_, self.threshold_ = np.zeros(0), np.nan
            return self._finish(np.zeros((0, 0)), active, N)
        return self._finish(self._fit_krylov(X, active, rows, sig, rng), active, N)

    def _fit_krylov(self, X, active, rows, sig, rng):
        B = X.shape[0]
        n_act = int(active.sum())
        blocks = _ZBlocks(X, active, self.mean_, self.scale_, rows)
        width = _KRYLOV_WIDTH if self.n_ensembles is None else max(_KRYLOV_WIDTH, int(self.n_ensembles) + 8)
        while True:
            theta, S, ZK = _block_krylov(blocks, B, n_act, width, _KRYLOV_DEPTH)
            self.eigenvalues_ = theta if ZK is None else theta[:width]  # exact (all) or the leading Ritz values
            k = self._count((B, n_act), sig, rng, theta)
            # the signal subspace must sit well inside the block: otherwise widen it and start again
            if self.n_ensembles is not None or k <= width - 8 or theta.size >= n_act:
                break
            width *= 2
        if k == 0:
            return np.zeros((0, n_act))
        if self.method == "pca":
            return (blocks.basis @ S[:, :k]).T
        seed = int(rng.integers(2**31 - 1))
        proj = np.zeros((B, k))
        if ZK is None:  # identity basis (few neuroids): one more pass, Z @ S
            for r0, b in blocks:
                proj[r0 : r0 + b.shape[0]] = b @ S[:, :k].astype(np.float32)
        col = 0
        for y in ZK or ():  # Z @ (K S) = sum over the Krylov blocks of (Z K_i) S_i, without another pass over X
            proj += y @ S[col : col + y.shape[1], :k].astype(np.float32)
            col += y.shape[1]
        ica = FastICA(n_components=k, whiten="unit-variance", random_state=seed, max_iter=self.max_iter, tol=1e-4)
        ica.fit(proj)
        self.n_iter_ = max(int(ica.n_iter_), 1)
        return ica.components_ @ (blocks.basis @ S[:, :k]).T

    def _transform_streamed(self, X):
        B, N = (int(n) for n in X.shape)
        if N != self.n_features_in_:
            raise ParameterError(
                f"X has {N} features, but {type(self).__name__} is expecting {self.n_features_in_} features as input."
            )
        out = np.zeros((B, self.n_ensembles_))
        if self.n_ensembles_ == 0:
            return out
        W = self.patterns_
        rows = _block_rows(N)
        for r0 in range(0, B, rows):
            Z = (_read_block(X, r0, rows, np.float64) - self.mean_) / self.scale_
            Z[:, ~self.active_] = 0.0
            proj = Z @ W.T
            out[r0 : r0 + Z.shape[0]] = proj**2 - (Z**2) @ (W.T**2)
        return out


def _is_large(X) -> bool:
    """True for a 2-D array-like whose float64 copy would exceed ``_DENSE_MAX_BYTES``."""
    shape = getattr(X, "shape", None)
    if shape is None or len(shape) != 2 or sparse.issparse(X):  # sparse input: the dense path's error
        return False
    return int(shape[0]) * int(shape[1]) * 8 > _DENSE_MAX_BYTES


def _block_rows(n_columns: int) -> int:
    return max(1, _BLOCK_BYTES // (4 * max(n_columns, 1)))


def _read_block(X, r0: int, rows: int, dtype) -> np.ndarray:
    """Rows ``r0 : r0 + rows`` of ``X`` as a fresh array of ``dtype``, never a view of the caller's data (a reader
    that returns a new array, as h5py and zarr do, is not copied again)."""
    b = X[r0 : r0 + rows]
    if isinstance(X, np.ndarray) or not isinstance(b, np.ndarray) or b.base is not None:
        return np.array(b, dtype=dtype)
    return b.astype(dtype, copy=False)


def _column_moments(X, rows: int):
    """Column means and SDs (ddof 0) in one pass over float64 row blocks, moments of ``x - x[0]`` (no cancellation
    for large offsets); raises on NaN or +-inf."""
    B = X.shape[0]
    shift = None
    s1 = s2 = None
    for r0 in range(0, B, rows):
        b = _read_block(X, r0, rows, np.float64)
        if not np.isfinite(b).all():
            what = "NaN" if np.isnan(b).any() else "infinity"
            raise ParameterError(f"Input X contains {what} (rows {r0} to {r0 + b.shape[0] - 1}).")
        if shift is None:
            shift = b[0].copy()
            s1, s2 = np.zeros_like(shift), np.zeros_like(shift)
        b -= shift
        s1 += b.sum(axis=0)
        s2 += np.einsum("ij,ij->j", b, b)
    m = s1 / B
    return shift + m, np.sqrt(np.maximum(s2 / B - m * m, 0.0))


class _ZBlocks:
    """Iterate over float32 row blocks of the z-scored active columns of ``X``: ``(first row, block)``."""

    def __init__(self, X, active, mean, scale, rows):
        self.X, self.rows = X, rows
        self.idx = np.flatnonzero(active)
        self.all = self.idx.size == X.shape[1]
        self.mean = mean[active].astype(np.float32)
        self.inv = (1.0 / scale[active]).astype(np.float32)
        self.basis = None  # the orthonormal Krylov basis K (n_active, width), set by _block_krylov

    def __iter__(self):
        for r0 in range(0, self.X.shape[0], self.rows):
            b = _read_block(self.X, r0, self.rows, np.float32)
            if not self.all:
                b = b[:, self.idx]
            b -= self.mean
            b *= self.inv
            yield r0, b


def _block_krylov(blocks: _ZBlocks, B: int, N: int, width: int, depth: int):
    """Rayleigh-Ritz on the block Krylov space ``[V, CV, ..., C^q V]`` of ``C = Z'Z / B`` (Musco & Musco 2015),
    ``V`` a Gaussian start block (fixed seed: the result does not depend on the detector's random stream).

    One pass over the data per block: pass ``i`` computes ``Y_i = Z Q_i`` (kept) and ``C Q_i = Z' Y_i / B``, so the
    q + 1 passes give both ``K' C K`` and ``Z K`` (the projection FastICA needs).  When ``width * (q + 1) >= N`` the
    basis is the identity (one pass accumulating ``Z'Z``; exact eigenvalues; ``Z`` itself is not kept).  Returns the
    Ritz values (descending), the Ritz vectors in the basis ``S`` (basis stored on ``blocks.basis``) and the list of
    ``Z Q_i`` blocks (float32; None for the identity basis)."""
    if width * (depth + 1) >= N:
        C = np.zeros((N, N))
        for _, b in blocks:
            C += b.T @ b
        C /= B
        theta, S = linalg.eigh((C + C.T) / 2.0)
        blocks.basis = np.eye(N)
        return theta[::-1], S[:, ::-1], None
    else:
        Q, _ = linalg.qr(np.random.default_rng(0).standard_normal((N, width)), mode="economic")
    basis, cq, zk = [Q], [], []
    for i in range(depth + 1):
        Q32 = Q.astype(np.float32)
        Y = np.empty((B, Q.shape[1]), dtype=np.float32)
        CQ = np.zeros((N, Q.shape[1]))
        for r0, b in blocks:
            y = b @ Q32
            Y[r0 : r0 + y.shape[0]] = y
            CQ += b.T @ y
        CQ /= B
        zk.append(Y)
        cq.append(CQ)
        if i < depth:
            K = np.hstack(basis)
            W = CQ - K @ (K.T @ CQ)
            W -= K @ (K.T @ W)  # a second Gram-Schmidt sweep keeps the basis orthonormal to round-off
            Q, _ = linalg.qr(W, mode="economic")
            basis.append(Q)
    K = np.hstack(basis)
    T = K.T @ np.hstack(cq)
    theta, S = linalg.eigh((T + T.T) / 2.0)
    blocks.basis = K
    return theta[::-1], S[:, ::-1], zk
