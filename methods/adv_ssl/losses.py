"""Cross-correlation losses of the brief (section 3) and their Monte Carlo estimators.

* ``cross_corr``: C_hat_B = (1/B) sum_i z1_i z2_i^T (torch, any dtype);
* the training objectives: Barlow Twins, the HaoChen 2022 "BS" baseline, and the Adv-SSL
  family (``adv_loss``): align + lam <C_hat - I, G> with G same-batch detached ("code", as
  released), G from the previous step ("xbatch"), or the biased twin align + lam/2 |C_hat - I|^2;
* numpy batch estimators over many batches drawn from a finite population (``batch_stats``).
"""

from __future__ import annotations

import numpy as np
import torch

ADV_VARIANTS = ("code", "xbatch", "twin")


def cross_corr(z1: torch.Tensor, z2: torch.Tensor) -> torch.Tensor:
    return z1.T @ z2 / z1.shape[0]


def align(z1: torch.Tensor, z2: torch.Tensor) -> torch.Tensor:
    """Mean over the batch of |z1 - z2|^2."""
    return ((z1 - z2) ** 2).sum(dim=1).mean()


def adv_loss(z1: torch.Tensor, z2: torch.Tensor, lam: float, variant: str,
             g_prev: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Adv-SSL loss on embeddings; returns (loss, detached C_hat - I for the next step).

    "code": G = sg(C_hat - I) of this batch (the released code); "xbatch": G = ``g_prev``
    (an independent batch, e.g. the previous step), same-batch on the first step; "twin":
    lam/2 |C_hat - I|^2 with no detach (the biased twin).
    """
    c = cross_corr(z1, z2)
    dev = c - torch.eye(c.shape[0], dtype=c.dtype, device=c.device)
    if variant == "twin":
        return align(z1, z2) + 0.5 * lam * (dev ** 2).sum(), dev.detach()
    if variant == "code":
        g = dev.detach()
    elif variant == "xbatch":
        g = dev.detach() if g_prev is None else g_prev
    else:
        raise ValueError(f"variant must be one of {ADV_VARIANTS}, got {variant!r}")
    return align(z1, z2) + lam * (dev * g).sum(), dev.detach()


def barlow_twins(z1: torch.Tensor, z2: torch.Tensor, offdiag: float = 5e-3) -> torch.Tensor:
    """BN-standardised cross-correlation: sum (1 - c_ii)^2 + offdiag * sum_{i!=j} c_ij^2."""
    n1 = (z1 - z1.mean(0)) / (z1.std(0) + 1e-5)
    n2 = (z2 - z2.mean(0)) / (z2.std(0) + 1e-5)
    c = cross_corr(n1, n2)
    on = ((1 - torch.diagonal(c)) ** 2).sum()
    off = (c ** 2).sum() - (torch.diagonal(c) ** 2).sum()
    return on + offdiag * off


def haochen_bs(z1: torch.Tensor, z2: torch.Tensor, lam: float = 1.0) -> torch.Tensor:
    """Alignment MSE + lam |(C0 + C1)/2 - I|^2 with auto-covariances C_k = z_k^T z_k / B."""
    c = 0.5 * (cross_corr(z1, z1) + cross_corr(z2, z2))
    eye = torch.eye(c.shape[0], dtype=c.dtype, device=c.device)
    return align(z1, z2) + lam * ((c - eye) ** 2).sum()


def whiten(z: torch.Tensor, eps: float = 1e-3) -> torch.Tensor:
    """Cholesky whitening of a batch (centred; eps on the diagonal before factorising)."""
    zc = z - z.mean(0)
    cov = zc.T @ zc / (z.shape[0] - 1) + eps * torch.eye(z.shape[1], dtype=z.dtype, device=z.device)
    chol = torch.linalg.cholesky(cov)
    return torch.linalg.solve_triangular(chol, zc.T, upper=False).T


# ---- Monte Carlo over batches from a finite population --------------------------------------


def batch_corrs(z1: np.ndarray, z2: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """C_hat for every row of ``idx`` (n_batches, B): array (n_batches, d, d)."""
    return np.einsum("nbi,nbj->nij", z1[idx], z2[idx]) / idx.shape[1]


def mean_se(x: np.ndarray) -> tuple[float, float]:
    return float(x.mean()), float(x.std(ddof=1) / np.sqrt(len(x)))
