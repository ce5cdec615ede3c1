"""Closed-form per-anchor InfoNCE gradients, a provable band on their norms, and batch spectra.

Why: gradient-norm studies (brief papers/spectral_bounds.md, section 3) need, for every
anchor of a batch, the exact gradient of the one-sided InfoNCE term l_i with respect to
its anchor, its squared norm in a numerically stable factored form, and spectral
quantities of the batch (a band on the norm, effective rank, in-batch whitening). All of
it is batched: no Python loop over anchors.

Conventions (the same as ``methods.common.infonce.info_nce`` with ``similarity="dot"``):
``z`` (N, d) are anchors, ``z_pos`` (N, d) the keys, row i of each a positive pair;
logits s_ij = z_i . z_j+ / tau, p_ij = softmax_j(s_ij), l_i = -log p_ii. The anchor is
treated as a free vector (no projection onto the sphere's tangent space). Then

    g_i = dl_i/dz_i = (mu_i - z_i+) / tau,                 mu_i = sum_j p_ij z_j+
    |g_i|^2 = (1 - p_ii)^2 |z_i+ - m_i|^2 / tau^2,         m_i = sum_{j != i} q_ij z_j+,
                                                           q_ij = p_ij / (1 - p_ii)

with 1 - p_ii = sigmoid(LSE_{j != i}(c_ij / tau) - a_i / tau) (a_i = z_i . z_i+,
c_ij = z_i . z_j+), never formed by subtraction, and q_i the softmax of row i with its
diagonal masked out. ``info_nce(..., reduction="mean")`` divides by N, so its gradient
with respect to z_i is g_i / N.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

EIG_METHODS = ("per_anchor", "all_keys")
EFFECTIVE_RANKS = ("roy_vetterli", "participation")
# Largest number of float64 entries one batched eigen-solve may allocate (about 256 MiB).
_EIG_CHUNK_ENTRIES = 2**25


def _check_pair(z: torch.Tensor, z_pos: torch.Tensor, temperature: float) -> None:
    if not isinstance(z, torch.Tensor) or not isinstance(z_pos, torch.Tensor):
        raise TypeError(
            f"z and z_pos must be torch tensors, got {type(z).__name__} and "
            f"{type(z_pos).__name__}"
        )
    if z.ndim != 2 or z.shape != z_pos.shape:
        raise ValueError(
            f"z and z_pos must both be (N, d) with the same shape; got {tuple(z.shape)} and "
            f"{tuple(z_pos.shape)}"
        )
    if z.shape[0] < 2 or z.shape[1] < 1:
        raise ValueError(
            f"need N >= 2 anchors (one negative at least) and d >= 1; got shape {tuple(z.shape)}"
        )
    if not z.dtype.is_floating_point or z.dtype != z_pos.dtype:
        raise ValueError(f"z and z_pos must share one floating dtype; got {z.dtype}, {z_pos.dtype}")
    t = float(temperature)
    if not (math.isfinite(t) and t > 0):
        raise ValueError(f"temperature must be a finite number > 0, got {temperature!r}")


@dataclass(frozen=True)
class AnchorGradients:
    """Per-anchor pieces of the InfoNCE gradient, all (N,) or (N, d) in the input dtype."""

    grad: torch.Tensor  # g_i = (mu_i - z_i+) / tau, (N, d)
    sq_norm: torch.Tensor  # (1 - p_ii)^2 |z_i+ - m_i|^2 / tau^2, (N,)
    one_minus_p: torch.Tensor  # 1 - p_ii, stable, (N,)
    q: torch.Tensor  # q_ij = p_ij / (1 - p_ii), zero on the diagonal, (N, N)
    pos_minus_neg_mean: torch.Tensor  # z_i+ - m_i, (N, d)


def anchor_gradients(
    z: torch.Tensor, z_pos: torch.Tensor, temperature: float
) -> AnchorGradients:
    """The exact gradient of l_i = -log p_ii with respect to z_i, for every anchor at once.

    g_i is computed as -(1 - p_ii)(z_i+ - m_i) / tau, which equals (mu_i - z_i+) / tau and
    stays accurate when 1 - p_ii underflows relative to 1 (autograd of the cross-entropy
    forms p_ii - 1 by subtraction and loses those digits).
    """
    _check_pair(z, z_pos, temperature)
    n = z.shape[0]
    logits = (z @ z_pos.T) / temperature
    diag = torch.eye(n, dtype=torch.bool, device=z.device)
    neg_logits = logits.masked_fill(diag, float("-inf"))
    q = torch.softmax(neg_logits, dim=1)  # exact zeros on the diagonal
    one_minus_p = torch.sigmoid(torch.logsumexp(neg_logits, dim=1) - logits.diagonal())
    diff = z_pos - q @ z_pos
    # mu_i - z_i+ = (1 - p_ii)(m_i - z_i+): the factored form keeps full relative precision
    # when p_ii rounds to 1 (sum_j p_ij z_j+ - z_i+ would cancel to 0 or noise).
    grad = -(one_minus_p / temperature).unsqueeze(1) * diff
    sq_norm = one_minus_p.square() * diff.square().sum(dim=1) / temperature**2
    return AnchorGradients(grad, sq_norm, one_minus_p, q, diff)


def anchor_gradient(z: torch.Tensor, z_pos: torch.Tensor, temperature: float) -> torch.Tensor:
    """g (N, d): g_i = (mu_i - z_i+) / tau."""
    return anchor_gradients(z, z_pos, temperature).grad


def anchor_grad_sq_norm(z: torch.Tensor, z_pos: torch.Tensor, temperature: float) -> torch.Tensor:
    """|g_i|^2 (N,) in the factored (1 - p_ii)^2 |z_i+ - m_i|^2 / tau^2 form."""
    return anchor_gradients(z, z_pos, temperature).sq_norm


def large_tau_limit(z_pos: torch.Tensor) -> torch.Tensor:
    """lim_{tau->inf} tau^2 mean_i |g_i|^2 = mean_i |z_i+|^2 - |mean_i z_i+|^2 (= tr Cov(keys),
    1/N normalisation; 1 - |z_bar+|^2 for unit keys). Brief section 3.3."""
    if z_pos.ndim != 2 or z_pos.shape[0] < 1:
        raise ValueError(f"z_pos must be (N, d) with N >= 1, got shape {tuple(z_pos.shape)}")
    return z_pos.square().sum(dim=1).mean() - z_pos.mean(dim=0).square().sum()


# ---- the provable band (brief section 3.2; ours, not the paper's formula) -----------------


def _chunks(n: int, per_item: int) -> list[tuple[int, int]]:
    size = max(1, _EIG_CHUNK_ENTRIES // max(per_item, 1))
    return [(s, min(n, s + size)) for s in range(0, n, size)]


def negatives_lambda_max(z_pos: torch.Tensor) -> torch.Tensor:
    """(N,) lambda_max of G_i^- = the Gram matrix of the keys j != i, for every i.

    Batched ``eigvalsh`` (in chunks of anchors to bound memory) on whichever of the two
    matrices with the same non-zero spectrum is smaller: the d x d scatter
    sum_{j != i} z_j+ z_j+^T = S - z_i+ z_i+^T, or the (N-1) x (N-1) Gram matrix.
    """
    n, d = z_pos.shape
    out = torch.empty(n, dtype=z_pos.dtype, device=z_pos.device)
    if d <= n - 1:
        scatter = z_pos.T @ z_pos
        for s, e in _chunks(n, d * d):
            zi = z_pos[s:e]
            mats = scatter.unsqueeze(0) - zi.unsqueeze(2) * zi.unsqueeze(1)
            out[s:e] = torch.linalg.eigvalsh(mats)[:, -1]
    else:
        gram = z_pos @ z_pos.T
        ar = torch.arange(n, device=z_pos.device)
        # row i of keep lists the indices j != i, in order
        keep = torch.arange(n - 1, device=z_pos.device).unsqueeze(0).expand(n, -1)
        keep = keep + (keep >= ar.unsqueeze(1)).to(keep.dtype)
        for s, e in _chunks(n, (n - 1) ** 2):
            idx = keep[s:e]
            mats = gram[idx.unsqueeze(2), idx.unsqueeze(1)]
            out[s:e] = torch.linalg.eigvalsh(mats)[:, -1]
    return out.clamp_min(0)


def keys_lambda_max(z_pos: torch.Tensor) -> torch.Tensor:
    """lambda_max of the Gram matrix of all N keys (an upper bound on every lambda_max(G_i^-)
    by interlacing: G_i^- is a principal submatrix of G)."""
    small = z_pos.T @ z_pos if z_pos.shape[1] <= z_pos.shape[0] else z_pos @ z_pos.T
    return torch.linalg.eigvalsh(small)[-1].clamp_min(0)


@dataclass(frozen=True)
class Band:
    """L_i <= |g_i|^2 <= U_i (brief section 3.2), with the pieces it is made of."""

    lower: torch.Tensor  # (N,)
    upper: torch.Tensor  # (N,)
    r: torch.Tensor  # r_i = |q_i| sqrt(lambda_max(G_i^-)) >= |m_i|, (N,)
    sq_norm: torch.Tensor  # the measured |g_i|^2, (N,)


def unit_norm_tolerance(dtype: torch.dtype) -> float:
    """How far from 1 a key's norm may be and still count as a unit vector: sqrt(eps)."""
    return math.sqrt(torch.finfo(dtype).eps)


def spectral_band(
    z: torch.Tensor, z_pos: torch.Tensor, temperature: float, *, eig: str = "per_anchor"
) -> Band:
    """The provable band on |g_i|^2 for unit-norm keys.

    r_i^2 = |q_i|^2 lambda_max(G_i^-) >= |m_i|^2 (and |m_i| <= 1, a convex combination of
    unit vectors), so |z_i+ - m_i| lies in [1 - min(1, r_i), 1 + min(1, r_i)] and

        L_i = (1 - p_ii)^2 (1 - min(1, r_i))^2 / tau^2
            <= |g_i|^2 <=
        U_i = (1 - p_ii)^2 (1 + min(1, r_i))^2 / tau^2.

    ``eig="per_anchor"`` uses lambda_max(G_i^-) for each anchor (batched eigvalsh);
    ``eig="all_keys"`` uses lambda_max(G) of all keys for every anchor (interlacing: still
    valid, looser, one eigen-solve).
    """
    _check_pair(z, z_pos, temperature)
    if eig not in EIG_METHODS:
        raise ValueError(f"eig must be one of {EIG_METHODS}, got {eig!r}")
    norms = z_pos.norm(dim=1)
    tol = unit_norm_tolerance(z_pos.dtype)
    if torch.any((norms - 1).abs() > tol):
        worst = float((norms - 1).abs().max())
        raise ValueError(
            "z_pos must have unit-norm rows for the band "
            f"(max |norm - 1| = {worst:.3g} > {tol:.3g})"
        )
    parts = anchor_gradients(z, z_pos, temperature)
    lam = negatives_lambda_max(z_pos) if eig == "per_anchor" else keys_lambda_max(z_pos)
    r = (parts.q.square().sum(dim=1) * lam).sqrt()
    rc = r.clamp(max=1.0)
    scale = parts.one_minus_p.square() / temperature**2
    return Band(
        lower=scale * (1 - rc).square(), upper=scale * (1 + rc).square(), r=r,
        sq_norm=parts.sq_norm,
    )


def band_contains(band: Band, *, rtol: float = 1e-9) -> torch.Tensor:
    """(N,) bool: L_i - rtol U_i <= |g_i|^2 <= (1 + rtol) U_i.

    The band is a theorem in exact arithmetic; the slack absorbs float64 round-off at tight
    anchors. It is relative to U_i, the band's own scale, because the round-off in
    |z_i+ - m_i|^2 and in r_i is absolute on the unit-vector scale: e.g. when every key is
    the same vector, r_i = 1 and L_i = 0 = |g_i|^2 exactly, but the computed r_i is
    1 - 1e-16 and the computed L_i about 1e-32 (found by the property search in
    tests/methods/test_infonce_grad.py).
    """
    g = band.sq_norm
    return (g >= band.lower - rtol * band.upper) & (g <= band.upper * (1 + rtol))


# ---- batch spectra: effective rank and whitening (brief section 3.4) ----------------------


def covariance_eigenvalues(x: torch.Tensor) -> torch.Tensor:
    """Eigenvalues (ascending, float64, clipped at 0) of the batch covariance (1/N, centred)."""
    if x.ndim != 2 or x.shape[0] < 1 or x.shape[1] < 1:
        raise ValueError(f"x must be a non-empty (N, d) batch, got shape {tuple(x.shape)}")
    x = x.detach().to(torch.float64)
    xc = x - x.mean(dim=0)
    small = xc.T @ xc if x.shape[1] <= x.shape[0] else xc @ xc.T
    return torch.linalg.eigvalsh(small / x.shape[0]).clamp_min(0)


def effective_rank_from_eigenvalues(lam: torch.Tensor, kind: str = "roy_vetterli") -> float:
    """R_eff of a non-negative spectrum; 0 for an all-zero one.

    roy_vetterli: exp(-sum p_k log p_k), p = lam / sum(lam), with 0 log 0 = 0 (our default);
    participation: (sum lam)^2 / sum lam^2.
    """
    if kind not in EFFECTIVE_RANKS:
        raise ValueError(f"kind must be one of {EFFECTIVE_RANKS}, got {kind!r}")
    lam = lam.to(torch.float64).clamp_min(0)
    total = lam.sum()
    if float(total) <= 0:
        return 0.0
    if kind == "participation":
        return float(total.square() / lam.square().sum())
    p = lam / total
    entropy = -torch.special.xlogy(p, p).sum()
    return float(entropy.exp())


def effective_rank(x: torch.Tensor, kind: str = "roy_vetterli") -> float:
    """R_eff of the batch covariance of the rows of ``x`` (see effective_rank_from_eigenvalues)."""
    return effective_rank_from_eigenvalues(covariance_eigenvalues(x), kind)


def zca_whiten(h: torch.Tensor, eps: float) -> torch.Tensor:
    """In-batch ZCA: (h - h_bar) Sigma_B^{-1/2}, Sigma_B = (1/N) sum_i (h_i - h_bar)(h_i - h_bar)^T
    + eps I.

    Sigma_B^{-1/2} comes from a float64 ``eigh`` with the eigenvalues floored at ``eps``
    (their exact lower bound; the floor only removes round-off). Returns the input dtype;
    differentiable through ``eigh`` (ill-conditioned when eigenvalues nearly coincide).
    Needs N > d, otherwise the whitened batch cannot be isotropic.
    """
    if h.ndim != 2:
        raise ValueError(f"h must be (N, d), got shape {tuple(h.shape)}")
    n, d = h.shape
    if n <= d:
        raise ValueError(f"whitening needs N > d, got N={n}, d={d}")
    e = float(eps)
    if not (math.isfinite(e) and e > 0):
        raise ValueError(f"eps must be a finite number > 0, got {eps!r}")
    x = h.to(torch.float64)
    xc = x - x.mean(dim=0)
    cov = xc.T @ xc / n + e * torch.eye(d, dtype=torch.float64, device=h.device)
    lam, vec = torch.linalg.eigh(0.5 * (cov + cov.T))
    inv_sqrt = (vec * lam.clamp_min(e).rsqrt()) @ vec.T
    return (xc @ inv_sqrt).to(h.dtype)
