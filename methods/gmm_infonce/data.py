"""Gaussian mixtures with a shared covariance: instances, the Fisher subspace, posteriors, sampling.

Why: the paper (arXiv 2411.03517) studies InfoNCE on K-component mixtures with shared,
non-isotropic Sigma. This module draws seeded instances of the brief's base configuration
(section 4), gives the target subspace F = span(Sigma^-1 M) and the closed-form posterior
P(c|x) (section 3.2-3.3), and samples data and coupled positive pairs with the alpha knob
of section 3.1 (c+ = c with probability alpha, else c+ ~ Cat(pi)).

Convention: a k-dim subspace of R^D is given by a (k, D) array whose rows span it, the
same shape as a linear encoder W.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
from scipy import linalg
from scipy.special import log_softmax

from methods.common.linalg import random_rotation

BASE_SPECTRUM = (25.0, 25.0, 25.0, 4.0, 0.25)  # head of Sigma's eigenvalues; the rest are 1


@dataclass(frozen=True, eq=False)
class GaussianMixture:
    """x | c ~ N(means[c], cov), c ~ Cat(weights); float64 numpy arrays."""

    means: np.ndarray  # (K, D)
    cov: np.ndarray  # (D, D), shared, symmetric positive definite
    weights: np.ndarray  # (K,), sums to 1

    @property
    def components(self) -> int:
        return self.means.shape[0]

    @property
    def dim(self) -> int:
        return self.means.shape[1]

    @cached_property
    def _chol(self) -> np.ndarray:
        return linalg.cholesky(self.cov, lower=True)

    @cached_property
    def _precision_means(self) -> np.ndarray:
        """Rows Sigma^-1 mu_c, (K, D)."""
        return linalg.cho_solve((self._chol, True), self.means.T).T

    def fisher_basis(self) -> np.ndarray:
        """(K-1, D) orthonormal rows spanning F = span(Sigma^-1 (mu_c - mu_bar)).

        Top K-1 left singular vectors of Sigma^-1 M (M has K columns but rank K-1, so a QR
        would add a spurious direction).
        """
        centred = self.means - self.weights @ self.means
        a = linalg.solve(self.cov, centred.T, assume_a="pos")  # (D, K)
        u, s, _ = linalg.svd(a, full_matrices=False)
        k = self.components - 1
        if k < 1 or s[k - 1] <= 1e-10 * s[0]:
            raise ValueError("the component means are degenerate: Sigma^-1 M has rank < K-1")
        return u[:, :k].T.copy()

    def fisher_ratios(self) -> np.ndarray:
        """(K-1,) discriminant ratios along F, largest first: the non-zero generalised
        eigenvalues of (S_B, Sigma), S_B = sum_c pi_c (mu_c - mu_bar)(mu_c - mu_bar)'.

        The smallest says how weakly the least-separated Fisher direction is expressed; a
        direction with a tiny ratio carries little signal and is learned slowly by any method.
        """
        centred = self.means - self.weights @ self.means
        s_b = (centred * self.weights[:, None]).T @ centred
        vals = linalg.eigh(s_b, self.cov, eigvals_only=True)
        return vals[::-1][: self.components - 1].copy()

    def log_posterior(self, x: np.ndarray) -> np.ndarray:
        """(n, K) log P(c | x), closed form.

        log P(c | x) = log softmax_c(mu_c' Sigma^-1 x - mu_c' Sigma^-1 mu_c / 2 + log pi_c).
        """
        x = np.asarray(x, dtype=np.float64)
        pm = self._precision_means
        logits = x @ pm.T - 0.5 * np.sum(self.means * pm, axis=1) + np.log(self.weights)
        return log_softmax(logits, axis=1)

    def posterior(self, x: np.ndarray) -> np.ndarray:
        """(n, K) P(c | x), closed form."""
        return np.exp(self.log_posterior(x))

    def sample_given(self, c: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """(n, D) draws x_i ~ N(means[c_i], cov)."""
        noise = rng.standard_normal((len(c), self.dim))
        return self.means[c] + noise @ self._chol.T

    def sample(self, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """n i.i.d. draws: x (n, D) and components c (n,)."""
        c = rng.choice(self.components, size=n, p=self.weights)
        return self.sample_given(c, rng), c

    def sample_pairs(
        self, n: int, alpha: float, rng: np.random.Generator
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """n coupled pairs (x, x+, c, c+).

        c+ = c with probability alpha, else c+ ~ Cat(pi); x+ | c+ ~ N(mu_c+, Sigma).

        P(c+ = c | c) = alpha + (1 - alpha) pi_c. alpha = 1 is the v1/v2 augmentation
        (an independent draw from the same component).
        """
        if not 0.0 <= alpha <= 1.0:
            raise ValueError(f"alpha must be in [0, 1], got {alpha}")
        x, c = self.sample(n, rng)
        keep = rng.random(n) < alpha
        other = rng.choice(self.components, size=n, p=self.weights)
        c_plus = np.where(keep, c, other)
        return x, self.sample_given(c_plus, rng), c, c_plus


def make_gmm(
    rng: np.random.Generator,
    *,
    dim: int = 20,
    components: int = 4,
    mean_std: float = 2.0,
    spectrum: tuple[float, ...] = BASE_SPECTRUM,
    weights: np.ndarray | None = None,
) -> GaussianMixture:
    """A random instance of the brief's base configuration (section 4).

    Means: coordinates ~ N(0, mean_std^2) in a random (K-1)-dim subspace, centred (pi-weighted).
    Sigma = R diag(spectrum, 1, ..., 1) R' with a random rotation R independent of the means,
    so large-variance noise directions are generically not aligned with the means (this is
    what makes PCA fail). ``weights`` default to uniform.
    """
    k = components - 1
    if components < 2 or dim < k:
        raise ValueError(
            "need components >= 2 and dim >= components - 1; "
            f"got dim={dim}, components={components}"
        )
    if len(spectrum) > dim or min(spectrum, default=1.0) <= 0:
        raise ValueError(f"spectrum must have at most dim={dim} positive entries, got {spectrum}")
    w = (
        np.full(components, 1.0 / components)
        if weights is None
        else np.asarray(weights, dtype=np.float64)
    )
    if w.shape != (components,) or np.any(w <= 0) or not np.isclose(w.sum(), 1.0):
        raise ValueError(
            f"weights must be {components} positive numbers summing to 1, got {weights}"
        )
    basis, _ = np.linalg.qr(rng.standard_normal((dim, k)))  # (D, K-1), orthonormal columns
    coords = mean_std * rng.standard_normal((components, k))
    coords -= w @ coords
    means = coords @ basis.T
    eig = np.ones(dim)
    eig[: len(spectrum)] = spectrum
    rot = random_rotation(dim, rng)
    cov = (rot * eig) @ rot.T
    cov = 0.5 * (cov + cov.T)
    return GaussianMixture(means=means, cov=cov, weights=w)
