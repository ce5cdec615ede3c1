"""Subspaces of R^D: the distance used by the claims and the two classical estimators (LDA, PCA).

Why: the claims compare where each method's linear map points, not its particular basis.
sdist (brief section 3.5) depends only on the row spaces; LDA is the supervised reference
that should find F; PCA is the spectral baseline that should not (for non-isotropic Sigma).

Convention: a subspace is given by a (k, D) array whose rows span it (any basis).
"""

from __future__ import annotations

import numpy as np
from scipy import linalg


def _as_numpy(a) -> np.ndarray:
    if hasattr(a, "detach"):
        a = a.detach().cpu().numpy()
    a = np.asarray(a, dtype=np.float64)
    if a.ndim != 2:
        raise ValueError(f"expected a (k, D) matrix, got shape {a.shape}")
    return a


def orthonormal_basis(rows) -> np.ndarray:
    """(D, k) orthonormal columns spanning the row space of a full-rank (k, D) matrix.

    Computed by QR of the transpose; refuses (numerically) rank-deficient input.
    """
    q, r = np.linalg.qr(_as_numpy(rows).T)
    d = np.abs(np.diag(r))
    if d.size == 0 or d.min() <= 1e-12 * d.max():
        raise ValueError("rows are (numerically) linearly dependent; the subspace is ill-defined")
    return q


def projector(rows) -> np.ndarray:
    """(D, D) orthogonal projector onto the row space of ``rows``."""
    q = orthonormal_basis(rows)
    return q @ q.T


def subspace_distance(a, b) -> float:
    """sdist = ||P_a - P_b||_F / sqrt(k_a + k_b): 0 for the same subspace, 1 for orthogonal ones.

    For equal dims k this is the brief's ||P_W - P_F||_F / sqrt(2k) = sqrt(mean sin^2 of the
    principal angles). It is invariant to any invertible change of basis of either argument.
    """
    pa, pb = projector(a), projector(b)
    if pa.shape != pb.shape:
        raise ValueError(
            f"subspaces live in different ambient dims: {pa.shape[0]} vs {pb.shape[0]}"
        )
    ka, kb = _as_numpy(a).shape[0], _as_numpy(b).shape[0]
    return float(np.linalg.norm(pa - pb) / np.sqrt(ka + kb))


def lda_directions(x: np.ndarray, labels: np.ndarray, k: int) -> np.ndarray:
    """(k, D) top-k generalised eigenvectors of (S_b, S_w).

    Solved by scipy.linalg.eigh as a symmetric-definite problem (no inverse of S_w).

    Rows are S_w-orthonormal, i.e. the projection whitens the within-class scatter (the usual
    LDA embedding).
    """
    x = np.asarray(x, dtype=np.float64)
    labels = np.asarray(labels)
    classes, inverse, counts = np.unique(labels, return_inverse=True, return_counts=True)
    if len(classes) < k + 1:
        raise ValueError(f"LDA to {k} dims needs at least {k + 1} classes, got {len(classes)}")
    n, dim = x.shape
    sums = np.zeros((len(classes), dim))
    np.add.at(sums, inverse, x)
    class_means = sums / counts[:, None]
    within = x - class_means[inverse]
    s_w = within.T @ within / n
    between = class_means - x.mean(axis=0)
    s_b = (between * (counts / n)[:, None]).T @ between
    _, vecs = linalg.eigh(s_b, s_w)  # ascending eigenvalues
    return vecs[:, ::-1][:, :k].T.copy()


def pca_directions(x: np.ndarray, k: int) -> np.ndarray:
    """(k, D) top-k eigenvectors of the total (unlabelled) covariance."""
    x = np.asarray(x, dtype=np.float64)
    cov = np.cov(x, rowvar=False)
    _, vecs = linalg.eigh(cov)
    return vecs[:, ::-1][:, :k].T.copy()
