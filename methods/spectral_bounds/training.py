"""A small MLP encoder trained SimCLR-style on the mixture, and a linear probe.

Why: the training-dynamics claims (band tracking, batch selection; brief section 4) need
a contrastive learner whose batches we can inspect and choose. A 2-layer MLP on a
Gaussian mixture trains in a second or so on a CPU. Views of a point x are
x + aug_noise * xi with xi drawn from the mixture's within-class covariance (ours: an
augmentation that keeps the class and randomises the within-class noise).

The loss is the shared one-sided ``info_nce`` (cosine similarity, the same term whose
per-anchor gradient the band bounds) or the shared ``nt_xent``.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import torch
from torch import nn

from methods.common.infonce import info_nce, nt_xent

LOSSES = ("info_nce", "nt_xent")


def make_encoder(
    input_dim: int, hidden: int, dim: int, generator: torch.Generator, device: str = "cpu"
) -> nn.Sequential:
    """Linear(input_dim, hidden) - ReLU - Linear(hidden, dim), float32.

    Weights and biases ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in)) drawn from ``generator`` (the
    scale of PyTorch's default init, but seeded locally instead of from the global RNG).
    """
    net = nn.Sequential(nn.Linear(input_dim, hidden), nn.ReLU(), nn.Linear(hidden, dim))
    with torch.no_grad():
        for layer in (net[0], net[2]):
            bound = 1.0 / math.sqrt(layer.in_features)
            for p in (layer.weight, layer.bias):
                p.copy_(torch.rand(p.shape, generator=generator, dtype=p.dtype) * 2 * bound - bound)
    return net.to(device)


def contrastive_loss(h1: torch.Tensor, h2: torch.Tensor, tau: float, loss: str) -> torch.Tensor:
    if loss == "info_nce":
        return info_nce(h1, h2, temperature=tau, similarity="cosine")
    if loss == "nt_xent":
        return nt_xent(h1, h2, temperature=tau, similarity="cosine")
    raise ValueError(f"loss must be one of {LOSSES}, got {loss!r}")


def train_contrastive(
    encoder: nn.Module,
    *,
    steps: int,
    lr: float,
    tau: float,
    loss: str,
    next_batch: Callable[[int], tuple[torch.Tensor, torch.Tensor]],
    on_batch: Callable[[int, torch.Tensor, torch.Tensor], None] | None = None,
    batch_every: int = 1,
    on_eval: Callable[[int], None] | None = None,
    eval_every: int = 0,
) -> np.ndarray:
    """Adam on the contrastive loss for ``steps`` steps; returns the loss per step.

    ``next_batch(step)`` gives the two views (N, D). ``on_batch(step, h1, h2)`` sees the
    detached embeddings of the batch about to be used at every ``batch_every``-th step
    (before its update); ``on_eval(step)`` runs every ``eval_every`` steps and once after
    the last step (step = steps), with the encoder in the state it has at that point.
    """
    opt = torch.optim.Adam(encoder.parameters(), lr=lr)
    losses = np.empty(steps)
    for step in range(steps):
        if on_eval is not None and eval_every and step % eval_every == 0:
            on_eval(step)
        v1, v2 = next_batch(step)
        h1, h2 = encoder(v1), encoder(v2)
        if on_batch is not None and step % batch_every == 0:
            on_batch(step, h1.detach(), h2.detach())
        value = contrastive_loss(h1, h2, tau, loss)
        opt.zero_grad(set_to_none=True)
        value.backward()
        opt.step()
        losses[step] = float(value.detach())
    if on_eval is not None:
        on_eval(steps)
    return losses
