"""Synthetic data for the spectral-bounds paper: Gaussian clouds of embeddings and a mixture.

Why: the paper's own data (ImageNet, ImageNet-100, CIFAR-10) is not available offline, and
its synthetic settings are not available to us (brief section 6). Two seeded substitutes:

* Gaussian clouds of unit embeddings with positives (brief section 4): x ~ N(mu, Sigma),
  anchor z = x/|x|, positive z+ = normalise(x + noise * xi), xi ~ N(0, Sigma) (ours: the
  augmentation noise has the cloud's own shape, so alignment does not depend on the scale
  of a direction). Three kinds:
  - ``isotropic``: Sigma = I, mu = 0;
  - ``anisotropic``: Sigma = R diag(s^2) R^T, standard deviations s geometric from 1 down
    to 1/anisotropy, R a random rotation, mu = 0;
  - ``noncentred``: the anisotropic Sigma plus a mean mu = offset * sqrt(tr Sigma) * u,
    u a random unit vector (|z_bar| is then large, so tr Cov(keys) is far below 1).
* A K-class Gaussian mixture in D dimensions (brief section 4: K = 10, D = 64): means in a
  random (K-1)-dim subspace with N(0, mean_std^2) coordinates; a shared within-class
  covariance R diag(s^2) R^T with standard deviations geometric from ``anisotropy`` down
  to 1, R a random rotation independent of the means.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from methods.common.linalg import random_rotation

CLOUDS = ("isotropic", "anisotropic", "noncentred")


def geometric_stds(dim: int, ratio: float) -> np.ndarray:
    """``dim`` standard deviations geometric from 1 down to 1/ratio (all 1 when ratio = 1)."""
    if dim == 1:
        return np.ones(1)
    return ratio ** (-np.arange(dim) / (dim - 1))


def _normalise(x: np.ndarray) -> np.ndarray:
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def gaussian_cloud(
    rng: np.random.Generator,
    *,
    n: int,
    dim: int,
    kind: str,
    anisotropy: float = 10.0,
    offset: float = 1.5,
    noise: float = 0.5,
) -> tuple[torch.Tensor, torch.Tensor]:
    """(z, z_pos): n anchors and their positives, unit rows, float64 torch tensors."""
    if kind not in CLOUDS:
        raise ValueError(f"cloud must be one of {CLOUDS}, got {kind!r}")
    if kind == "isotropic":
        stds, mean = np.ones(dim), np.zeros(dim)
        rot = np.eye(dim)
    else:
        stds = geometric_stds(dim, anisotropy)
        rot = random_rotation(dim, rng)
        mean = np.zeros(dim)
        if kind == "noncentred":
            u = _normalise(rng.standard_normal((1, dim)))[0]
            mean = offset * np.sqrt(np.sum(stds**2)) * u
    shape = rot * stds  # x = mean + xi @ shape.T has covariance R diag(s^2) R^T
    x = mean + rng.standard_normal((n, dim)) @ shape.T
    x_pos = x + noise * (rng.standard_normal((n, dim)) @ shape.T)
    return torch.from_numpy(_normalise(x)), torch.from_numpy(_normalise(x_pos))


@dataclass(frozen=True, eq=False)
class Mixture:
    """x | c ~ N(means[c], shape shape^T), c uniform over the K classes; float64 numpy."""

    means: np.ndarray  # (K, D)
    shape: np.ndarray  # (D, D): within-class covariance = shape @ shape.T

    @property
    def classes(self) -> int:
        return self.means.shape[0]

    @property
    def dim(self) -> int:
        return self.means.shape[1]

    def noise(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """n draws from N(0, within-class covariance)."""
        return rng.standard_normal((n, self.dim)) @ self.shape.T

    def sample(self, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """n labelled points: x (n, D) and labels (n,)."""
        c = rng.integers(0, self.classes, size=n)
        return self.means[c] + self.noise(n, rng), c


def make_mixture(
    rng: np.random.Generator,
    *,
    classes: int = 10,
    dim: int = 64,
    mean_std: float = 2.0,
    anisotropy: float = 3.0,
) -> Mixture:
    """A random K-class mixture (module docstring); needs dim >= classes - 1."""
    if classes < 2 or dim < classes - 1:
        raise ValueError(f"need classes >= 2 and dim >= classes - 1; got {classes}, {dim}")
    basis, _ = np.linalg.qr(rng.standard_normal((dim, classes - 1)))
    coords = mean_std * rng.standard_normal((classes, classes - 1))
    coords -= coords.mean(axis=0)
    means = coords @ basis.T
    stds = anisotropy * geometric_stds(dim, anisotropy)  # from anisotropy down to 1
    shape = random_rotation(dim, rng) * stds
    return Mixture(means=means, shape=shape)
