"""Train a linear encoder W (k x D) with the shared InfoNCE on fresh coupled GMM pairs.

Why: brief section 3.4. Each step draws a new batch of coupled pairs (x, x+) from the
mixture (so there is no finite training set to overfit), scores f(x_i) . f(x_j+) (bilinear,
or cosine / temperature) and takes an Adam step; the learning rate follows a cosine decay
to 0 (constant lr converges markedly worse, brief section 5).

Data are drawn with numpy from a seeded stream and moved to ``device``, so the training
data do not depend on the device; the initialisation is drawn on the CPU for the same reason.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from methods.common.infonce import info_nce

from .data import GaussianMixture

LR_SCHEDULES = ("cosine", "constant")


@dataclass(frozen=True)
class TrainResult:
    """The learned encoder (float64 numpy, (k, D)), the same encoder at its initialisation
    (the untrained control) and the training loss at every step."""

    W: np.ndarray
    losses: np.ndarray  # (steps,)
    W0: np.ndarray | None = None


def train_linear_infonce(
    gmm: GaussianMixture,
    *,
    k: int,
    alpha: float,
    batch: int,
    steps: int,
    lr: float,
    data_rng: np.random.Generator,
    init_generator: torch.Generator,
    similarity: str = "dot",
    temperature: float = 1.0,
    lr_schedule: str = "cosine",
    init_std: float = 0.1,
    device: str = "cpu",
    dtype: torch.dtype = torch.float32,
) -> TrainResult:
    """Adam on InfoNCE(W x, W x+) over ``steps`` fresh batches of ``batch`` coupled pairs.

    W starts as N(0, init_std^2 / D) entries (drawn from ``init_generator`` on the CPU).
    """
    if lr_schedule not in LR_SCHEDULES:
        raise ValueError(f"unknown lr_schedule {lr_schedule!r}; expected one of {LR_SCHEDULES}")
    dim = gmm.dim
    w0 = torch.randn(k, dim, generator=init_generator, dtype=torch.float64) * (init_std / dim**0.5)
    w_init = w0.numpy().copy()  # before training: .to() may share w0's storage (float64, CPU)
    W = torch.nn.Parameter(w0.to(device=device, dtype=dtype))
    opt = torch.optim.Adam([W], lr=lr)
    sched = (
        torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=steps)
        if lr_schedule == "cosine"
        else None
    )
    losses = torch.empty(steps, dtype=dtype, device=device)
    for step in range(steps):
        x, x_plus, _, _ = gmm.sample_pairs(batch, alpha, data_rng)
        xb = torch.as_tensor(x, dtype=dtype).to(device)
        xpb = torch.as_tensor(x_plus, dtype=dtype).to(device)
        loss = info_nce(xb @ W.T, xpb @ W.T, temperature=temperature, similarity=similarity)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if sched is not None:
            sched.step()
        losses[step] = loss.detach()
    return TrainResult(
        W=W.detach().cpu().to(torch.float64).numpy(),
        losses=losses.cpu().to(torch.float64).numpy(),
        W0=w_init,
    )


def block_means(values: np.ndarray, points: int = 50) -> list[float]:
    """``values`` summarised as the means of ``min(points, len)`` consecutive, near-equal blocks."""
    values = np.asarray(values, dtype=np.float64)
    if values.size == 0:
        return []
    return [float(b.mean()) for b in np.array_split(values, min(points, values.size))]
