"""Closed forms of the Gaussian / linear-regression testbed (brief section 3.4), float64 numpy.

Model: X ~ N(0, Sx), views X_i = X + xi_i with xi_i ~ N(0, Sxi) i.i.d.; Sv = Sx + Sxi is the
view covariance and Cov(X1, X2) = Sx. A linear encoder W (p x d) maps x -> W x, and
sufficiency is always of W X1 for X2 (brief section 7: one direction everywhere).

* A   = Cov(X2 | X1)    = Sv - Sx Sv^-1 Sx
* B_W = Cov(X2 | W X1)  = Sv - Sx W^T (W Sv W^T)^-1 W Sx
* Suff_KL(W)  = 1/2 log(det B_W / det A)         (slogdet; ``suff_kl``)
              = I(X1; X2) - I(W X1; X2)          (canonical / s_k form; ``suff_kl_svals``)
* Suff_chi2(W) = det B_W / det A - 1 = exp(2 Suff_KL) - 1
* excess(W) = beta^T (B_W - A) beta, the excess risk of the best linear head on W X1 over
  the best linear head on X1 for Y = beta^T X + noise (``excess_regression`` is the same
  quantity written as a difference of explained variances)
* eps_aug = beta^T (Sx - Sx Sv^-1 Sx) beta, the risk floor of any predictor of Y from X1.

W may be ill-conditioned (e.g. during training); every function orthonormalises its rows
(QR) first, which is allowed because all these quantities are invariant to W -> T W for an
invertible T (brief section 3.7).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from methods.common.linalg import random_rotation as random_orthogonal

EIG_FLOOR = 1e-12


def _sym(m: np.ndarray) -> np.ndarray:
    return 0.5 * (m + m.T)


def _as_cov(m, name: str) -> np.ndarray:
    m = np.asarray(m, dtype=np.float64)
    if m.ndim != 2 or m.shape[0] != m.shape[1]:
        raise ValueError(f"{name} must be a square matrix, got shape {m.shape}")
    if not np.all(np.isfinite(m)):
        raise ValueError(f"{name} must be finite")
    return _sym(m)


def inv_sqrt(m: np.ndarray, floor: float = EIG_FLOOR) -> np.ndarray:
    """Symmetric inverse square root via eigh, eigenvalues floored at ``floor`` x the largest."""
    vals, vecs = np.linalg.eigh(_sym(m))
    vals = np.maximum(vals, floor * max(vals.max(), 0.0) + 1e-300)
    return (vecs / np.sqrt(vals)) @ vecs.T


def orthonormal_rows(W) -> np.ndarray:
    """Rows spanning the same space as W's rows, orthonormalised by QR (rank must be full)."""
    W = np.atleast_2d(np.asarray(W, dtype=np.float64))
    if W.ndim != 2 or W.shape[0] > W.shape[1] or W.shape[0] < 1:
        raise ValueError(f"W must be (p, d) with 1 <= p <= d, got shape {W.shape}")
    if not np.all(np.isfinite(W)):
        raise ValueError("W must be finite")
    q, r = np.linalg.qr(W.T)
    diag = np.abs(np.diag(r))
    if diag.min() <= 1e-12 * max(diag.max(), 1e-300):
        raise ValueError("W must have full row rank")
    return q.T


def view_cov(sx, sxi) -> np.ndarray:
    return _as_cov(sx, "sx") + _as_cov(sxi, "sxi")


def canonical_correlations(sx, sxi) -> np.ndarray:
    """rho_k: singular values of Sv^-1/2 Sx Sv^-1/2, in decreasing order."""
    sx = _as_cov(sx, "sx")
    r = inv_sqrt(view_cov(sx, sxi))
    return np.linalg.svd(r @ sx @ r, compute_uv=False)


def mutual_information(sx, sxi) -> float:
    """I(X1; X2) = -1/2 sum_k log(1 - rho_k^2)."""
    rho = canonical_correlations(sx, sxi)
    return float(-0.5 * np.sum(np.log1p(-(rho**2))))


def suff_star(p: int, sx, sxi) -> float:
    """min over rank-p W of Suff_KL(W) = -1/2 sum_{k > p} log(1 - rho_k^2) (top-p CCA)."""
    rho = canonical_correlations(sx, sxi)
    if not (1 <= p <= rho.size):
        raise ValueError(f"p must be in [1, {rho.size}], got {p!r}")
    return float(-0.5 * np.sum(np.log1p(-(rho[p:] ** 2))))


def cond_cov_full(sx, sxi) -> np.ndarray:
    """A = Cov(X2 | X1) = Sv - Sx Sv^-1 Sx."""
    sx = _as_cov(sx, "sx")
    sv = view_cov(sx, sxi)
    return _sym(sv - sx @ np.linalg.solve(sv, sx))


def cond_cov_encoder(W, sx, sxi) -> np.ndarray:
    """B_W = Cov(X2 | W X1) = Sv - Sx W^T (W Sv W^T)^-1 W Sx."""
    sx = _as_cov(sx, "sx")
    sv = view_cov(sx, sxi)
    W = orthonormal_rows(W)
    wsx = W @ sx
    return _sym(sv - wsx.T @ np.linalg.solve(W @ sv @ W.T, wsx))


def _logdet(m: np.ndarray, name: str) -> float:
    sign, val = np.linalg.slogdet(m)
    if sign <= 0:
        raise ValueError(f"{name} is not positive definite")
    return float(val)


def suff_kl(W, sx, sxi) -> float:
    """Suff_KL(W) = 1/2 log(det B_W / det A), in nats."""
    return 0.5 * (
        _logdet(cond_cov_encoder(W, sx, sxi), "B_W") - _logdet(cond_cov_full(sx, sxi), "A")
    )


def encoder_svals(W, sx, sxi) -> np.ndarray:
    """s_k: singular values of (W Sv W^T)^-1/2 W Sx Sv^-1/2."""
    sx = _as_cov(sx, "sx")
    sv = view_cov(sx, sxi)
    W = orthonormal_rows(W)
    return np.linalg.svd(inv_sqrt(W @ sv @ W.T) @ W @ sx @ inv_sqrt(sv), compute_uv=False)


def encoder_information(W, sx, sxi) -> float:
    """I(W X1; X2) = -1/2 sum_k log(1 - s_k^2)."""
    s = encoder_svals(W, sx, sxi)
    return float(-0.5 * np.sum(np.log1p(-(s**2))))


def suff_kl_svals(W, sx, sxi) -> float:
    """Suff_KL(W) = I(X1; X2) - I(W X1; X2) from the canonical / s_k formulas."""
    return mutual_information(sx, sxi) - encoder_information(W, sx, sxi)


def suff_chi2(W, sx, sxi) -> float:
    """Suff_chi2(W) = det B_W / det A - 1 (closed form; never Monte Carlo, brief 3.4)."""
    return float(np.expm1(2.0 * suff_kl(W, sx, sxi)))


def _gauss_logpdf(x: np.ndarray, cov: np.ndarray) -> np.ndarray:
    """log N(x; 0, cov) for the rows of x, by a Cholesky solve."""
    lc = np.linalg.cholesky(cov)
    z = np.linalg.solve(lc, x.T)
    half_logdet = np.sum(np.log(np.diag(lc)))
    return -0.5 * np.sum(z * z, axis=0) - half_logdet - 0.5 * cov.shape[0] * math.log(2 * math.pi)


def suff_chi2_quadrature(W, sx, sxi, *, nodes: int = 25, radius: float = 7.0) -> float:
    """Suff_chi2(W) = E_X1 chi2(P(X2|X1) || P(X2|W X1)) by numerical integration of its
    definition, an independent route to ``suff_chi2`` (no conditional covariance, no det B / det A).

    1 + Suff_chi2 = integral over (x1, x2) of p(x1, x2)^2 / (p(x1) q(x2 | W x1)), with every
    density read from a joint Gaussian: p(x1, x2) with covariance [[Sv, Sx], [Sx, Sv]], p(x1)
    with Sv, and q(x2 | u) = p(u, x2) / p(u) for u = W x1 with covariance [[W Sv W^T, W Sx],
    [Sx W^T, Sv]]. The integral runs over R^(2d) on a tensor trapezoid grid of ``nodes`` points
    per axis over +-``radius`` in coordinates whitened by the log-integrand's Hessian (taken by
    central differences of the log-integrand, exact for a quadratic); a log-integrand that is
    not concave (the chi^2 is infinite) returns inf. Cost nodes^(2d) evaluations: meant for
    d = 2 (25^4 = 390 625 points).
    """
    sx = _as_cov(sx, "sx")
    sv = view_cov(sx, sxi)
    W = np.atleast_2d(np.asarray(W, dtype=np.float64))
    d = sx.shape[0]
    joint = np.block([[sv, sx], [sx, sv]])
    wsw = W @ sv @ W.T
    joint_u = np.block([[wsw, W @ sx], [sx @ W.T, sv]])

    def log_integrand(xx: np.ndarray) -> np.ndarray:
        x1, x2 = xx[:, :d], xx[:, d:]
        u = x1 @ W.T
        return (
            2.0 * _gauss_logpdf(xx, joint)
            - _gauss_logpdf(x1, sv)
            - _gauss_logpdf(np.hstack([u, x2]), joint_u)
            + _gauss_logpdf(u, wsw)
        )

    m = 2 * d
    eye = np.eye(m)
    hess = np.empty((m, m))
    for i in range(m):
        for j in range(m):
            pts = np.stack([eye[i] + eye[j], eye[i] - eye[j], -eye[i] + eye[j], -eye[i] - eye[j]])
            v = log_integrand(pts)
            hess[i, j] = (v[0] - v[1] - v[2] + v[3]) / 4.0
    vals, vecs = np.linalg.eigh(-_sym(hess))
    if vals.min() <= 0:
        return math.inf
    scale = vecs / np.sqrt(vals)
    t = np.linspace(-radius, radius, int(nodes))
    h = t[1] - t[0]
    grid = np.stack(np.meshgrid(*([t] * m), indexing="ij"), axis=-1).reshape(-1, m)
    total = np.exp(log_integrand(grid @ scale.T)).sum() * h**m * abs(np.linalg.det(scale))
    return float(total) - 1.0


def excess(W, beta, sx, sxi) -> float:
    """beta^T (B_W - A) beta."""
    beta = np.asarray(beta, dtype=np.float64)
    diff = cond_cov_encoder(W, sx, sxi) - cond_cov_full(sx, sxi)
    return float(beta @ diff @ beta)


def excess_regression(W, beta, sx, sxi) -> float:
    """(Sx b)^T Sv^-1 (Sx b) - (W Sx b)^T (W Sv W^T)^-1 (W Sx b): the same excess as a
    difference of the variance of Y explained by X1 and by W X1."""
    sx = _as_cov(sx, "sx")
    sv = view_cov(sx, sxi)
    W = orthonormal_rows(W)
    c = sx @ np.asarray(beta, dtype=np.float64)
    wc = W @ c
    return float(c @ np.linalg.solve(sv, c) - wc @ np.linalg.solve(W @ sv @ W.T, wc))


def chi2_bound(W, beta, sx, sxi) -> float:
    """The template bound beta^T B_W beta * Suff_chi2(W) on excess(W) (brief 3.4)."""
    b = cond_cov_encoder(W, sx, sxi)
    beta = np.asarray(beta, dtype=np.float64)
    return float(beta @ b @ beta) * suff_chi2(W, sx, sxi)


def eps_aug(beta, sx, sxi) -> float:
    """beta^T (Sx - Sx Sv^-1 Sx) beta: excess risk of the best predictor of Y from X1."""
    sx = _as_cov(sx, "sx")
    sv = view_cov(sx, sxi)
    beta = np.asarray(beta, dtype=np.float64)
    return float(beta @ _sym(sx - sx @ np.linalg.solve(sv, sx)) @ beta)


def linear_risk(w, W, beta, sx, sxi, noise_var: float, bias: float = 0.0) -> float:
    """Population risk E(Y - w^T W X1 - bias)^2 of a linear probe w on the raw encoder W."""
    sx = _as_cov(sx, "sx")
    sv = view_cov(sx, sxi)
    W = np.atleast_2d(np.asarray(W, dtype=np.float64))
    beta = np.asarray(beta, dtype=np.float64)
    u = W.T @ np.asarray(w, dtype=np.float64)
    return float(
        beta @ sx @ beta + noise_var - 2.0 * u @ sx @ beta + u @ sv @ u + float(bias) ** 2
    )


def cca_encoder(p: int, sx, sxi) -> np.ndarray:
    """Top-p CCA directions as rows: U_p^T Sv^-1/2, U the eigenvectors of Sv^-1/2 Sx Sv^-1/2."""
    sx = _as_cov(sx, "sx")
    r = inv_sqrt(view_cov(sx, sxi))
    vals, vecs = np.linalg.eigh(_sym(r @ sx @ r))
    if not (1 <= p <= vals.size):
        raise ValueError(f"p must be in [1, {vals.size}], got {p!r}")
    order = np.argsort(vals)[::-1][:p]
    return vecs[:, order].T @ r


def pca_encoder(p: int, sx, sxi) -> np.ndarray:
    """Top-p principal directions of the view covariance Sv (what PCA on views finds)."""
    sv = view_cov(sx, sxi)
    vals, vecs = np.linalg.eigh(sv)
    if not (1 <= p <= vals.size):
        raise ValueError(f"p must be in [1, {vals.size}], got {p!r}")
    return vecs[:, np.argsort(vals)[::-1][:p]].T


@dataclass(frozen=True)
class Testbed:
    """One Gaussian configuration: covariances, regression vector and basis."""

    sx: np.ndarray
    sxi: np.ndarray
    beta: np.ndarray
    Q: np.ndarray

    @property
    def dim(self) -> int:
        return self.sx.shape[0]

    @property
    def sv(self) -> np.ndarray:
        return self.sx + self.sxi

    def sample_views(self, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """n view pairs (X1, X2), each (n, d), from one shared X."""
        lx = np.linalg.cholesky(self.sx)
        lxi = np.linalg.cholesky(self.sxi)
        x = rng.standard_normal((n, self.dim)) @ lx.T
        x1 = x + rng.standard_normal((n, self.dim)) @ lxi.T
        x2 = x + rng.standard_normal((n, self.dim)) @ lxi.T
        return x1, x2


def make_testbed(
    rng: np.random.Generator,
    *,
    dim: int = 10,
    destroyed: int = 3,
    aug_var: float = 20.0,
    keep_var: float = 0.5,
    aug_scale: float | None = None,
) -> Testbed:
    """The brief's section 4 configuration, drawn from ``rng``.

    Sx = Q diag(linspace(3, 0.5, dim)) Q^T; Sxi = Q diag(aug_var x destroyed, keep_var, ...) Q^T
    (the augmentation swamps the ``destroyed`` highest-variance directions), or Sxi =
    aug_scale * I when ``aug_scale`` is given; beta = Q[:, destroyed:] g with g ~ N(0, I),
    rescaled to unit signal variance beta^T Sx beta = 1, i.e. beta lies in the preserved
    directions and Var(beta^T X) is the same for every seed.
    """
    if not isinstance(dim, (int, np.integer)) or dim < 2:
        raise ValueError(f"dim must be an int >= 2, got {dim!r}")
    if not isinstance(destroyed, (int, np.integer)) or not (0 <= destroyed < dim):
        raise ValueError(f"destroyed must be an int in [0, dim), got {destroyed!r}")
    if not (aug_var > 0) or not (keep_var > 0):
        raise ValueError(f"aug_var and keep_var must be > 0, got {aug_var!r}, {keep_var!r}")
    if aug_scale is not None and not (aug_scale > 0):
        raise ValueError(f"aug_scale must be > 0, got {aug_scale!r}")
    Q = random_orthogonal(dim, rng)
    ex = np.linspace(3.0, 0.5, dim)
    exi = np.full(dim, float(keep_var))
    exi[:destroyed] = float(aug_var)
    sx = _sym((Q * ex) @ Q.T)
    sxi = float(aug_scale) * np.eye(dim) if aug_scale is not None else _sym((Q * exi) @ Q.T)
    g = rng.standard_normal(dim - destroyed) / np.sqrt(dim - destroyed)
    beta = Q[:, destroyed:] @ g
    beta /= np.sqrt(beta @ sx @ beta)
    return Testbed(sx=sx, sxi=sxi, beta=beta, Q=Q)


def random_spd(d: int, rng: np.random.Generator, ridge: float = 0.2) -> np.ndarray:
    """A well-conditioned random SPD matrix G G^T / d + ridge I."""
    g = rng.standard_normal((d, d))
    return _sym(g @ g.T / d + ridge * np.eye(d))
