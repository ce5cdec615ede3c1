"""InfoNCE (one-directional or CLIP-symmetric) and SimCLR's NT-Xent, shared by every paper.

Both losses are written as ``F.cross_entropy`` over similarity logits, i.e. through
log-sum-exp, so they stay finite in float32 at small temperatures (exp-then-log
formulations overflow near tau = 0.01).

Conventions: ``z1`` and ``z2`` are (N, d) batches; row i of ``z1`` and row i of ``z2`` are a
positive pair. ``similarity`` is ``"dot"`` (bilinear, no normalisation) or ``"cosine"``.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

SIMILARITIES = ("dot", "cosine")
REDUCTIONS = ("mean", "sum", "none")


def _check_inputs(
    z1: torch.Tensor, z2: torch.Tensor, temperature, similarity: str, reduction: str
) -> None:
    if not isinstance(z1, torch.Tensor) or not isinstance(z2, torch.Tensor):
        raise TypeError(
            f"z1 and z2 must be torch tensors, got {type(z1).__name__} and {type(z2).__name__}"
        )
    if z1.ndim != 2 or z2.ndim != 2:
        raise ValueError(
            "z1 and z2 must be 2-D (batch, dim); "
            f"got shapes {tuple(z1.shape)} and {tuple(z2.shape)}"
        )
    if z1.shape != z2.shape:
        raise ValueError(
            f"shape mismatch: z1 has shape {tuple(z1.shape)}, z2 has shape {tuple(z2.shape)}"
        )
    if z1.shape[0] < 1 or z1.shape[1] < 1:
        raise ValueError(f"z1 and z2 must be non-empty; got shape {tuple(z1.shape)}")
    t = float(temperature.detach()) if isinstance(temperature, torch.Tensor) else float(temperature)
    if not (math.isfinite(t) and t > 0):
        raise ValueError(f"temperature must be a finite number > 0, got {temperature!r}")
    if similarity not in SIMILARITIES:
        raise ValueError(f"unknown similarity {similarity!r}; expected one of {SIMILARITIES}")
    if reduction not in REDUCTIONS:
        raise ValueError(f"unknown reduction {reduction!r}; expected one of {REDUCTIONS}")


def pairwise_similarity(a: torch.Tensor, b: torch.Tensor, similarity: str = "dot") -> torch.Tensor:
    """(N, M) matrix of similarities between rows of ``a`` (N, d) and rows of ``b`` (M, d)."""
    if similarity == "cosine":
        a, b = F.normalize(a, dim=1), F.normalize(b, dim=1)
    elif similarity != "dot":
        raise ValueError(f"unknown similarity {similarity!r}; expected one of {SIMILARITIES}")
    return a @ b.T


def _reduce(loss: torch.Tensor, reduction: str) -> torch.Tensor:
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    return loss


def info_nce(
    z1: torch.Tensor,
    z2: torch.Tensor,
    *,
    temperature: float | torch.Tensor = 1.0,
    similarity: str = "dot",
    symmetric: bool = False,
    reduction: str = "mean",
) -> torch.Tensor:
    """InfoNCE with in-batch negatives: anchor z1[i], positive z2[i], negatives z2[j != i].

    loss_i = -log softmax_j(sim(z1_i, z2_j) / tau)[i]. ``symmetric=True`` averages this with
    the same loss taken from z2 to z1 (CLIP). ``reduction="none"`` returns the N per-anchor
    losses (averaged over both directions when symmetric).
    """
    _check_inputs(z1, z2, temperature, similarity, reduction)
    logits = pairwise_similarity(z1, z2, similarity) / temperature
    targets = torch.arange(z1.shape[0], device=z1.device)
    loss = F.cross_entropy(logits, targets, reduction="none")
    if symmetric:
        loss = 0.5 * (loss + F.cross_entropy(logits.T, targets, reduction="none"))
    return _reduce(loss, reduction)


def nt_xent(
    z1: torch.Tensor,
    z2: torch.Tensor,
    *,
    temperature: float | torch.Tensor = 0.5,
    similarity: str = "cosine",
    reduction: str = "mean",
) -> torch.Tensor:
    """SimCLR's NT-Xent over the 2N views: each view's positive is its pair, the other 2N-2
    views are its negatives.

    Self-similarities are masked with -inf before the cross-entropy. ``reduction="none"``
    returns the 2N per-view losses (views of z1 first).
    """
    _check_inputs(z1, z2, temperature, similarity, reduction)
    n = z1.shape[0]
    z = torch.cat([z1, z2], dim=0)
    logits = pairwise_similarity(z, z, similarity) / temperature
    self_mask = torch.eye(2 * n, dtype=torch.bool, device=z.device)
    logits = logits.masked_fill(self_mask, float("-inf"))
    idx = torch.arange(n, device=z.device)
    targets = torch.cat([idx + n, idx])
    return _reduce(F.cross_entropy(logits, targets, reduction="none"), reduction)
