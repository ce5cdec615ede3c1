"""CRTR / CRL training pieces shared by every domain: positive-pair sampling with the
repeat factor R, the encoder, the loss (the shared InfoNCE) and the supervised baseline.

The one difference between CRL and CRTR is the batch: CRL (R = 1) draws B distinct
trajectories; CRTR draws B / R trajectories and repeats each R times, every copy drawing
its own (anchor, offset), so every anchor meets negatives from its own trajectory, which
share its static context (brief section 3.1).
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from methods.common.infonce import info_nce
from methods.common.params import is_int, require


def batch_trajectories(rng: np.random.Generator, n_traj: int, batch: int,
                       repeats: int) -> np.ndarray:
    """Trajectory id of each of the ``batch`` rows: batch / R distinct ids, each R times."""
    require(is_int(repeats) and repeats >= 1 and batch % repeats == 0, "repeats",
            f"must be an int >= 1 dividing batch={batch}", repeats)
    k = batch // repeats
    require(k <= n_traj, "batch", f"needs batch / R <= {n_traj} trajectories", batch)
    return np.repeat(rng.choice(n_traj, size=k, replace=False), repeats)


def sample_offsets(rng: np.random.Generator, batch: int, length: int, gamma: float):
    """(anchor, goal) time indices in a trajectory of ``length`` states: anchor uniform on
    0..L-2, offset k in 0..L-1-anchor with P(k) proportional to gamma^k (k = 0 allowed)."""
    a = rng.integers(0, length - 1, batch)
    kmax = length - 1 - a
    u = rng.random(batch)
    if gamma >= 1.0:
        d = np.floor(u * (kmax + 1)).astype(np.int64)
    else:
        tail = 1.0 - gamma ** (kmax + 1)
        d = np.floor(np.log1p(-u * tail) / math.log(gamma)).astype(np.int64)
    return a, a + np.minimum(d, kmax)


class Encoder(nn.Module):
    """Linear(in, w)-LN-ReLU, ``hidden`` more [Linear-LN-ReLU], ``blocks`` residual blocks
    [Lin, LN, ReLU, Lin, LN] (+ skip, ReLU), then Linear(w, out)."""

    def __init__(self, in_dim: int, width: int, out_dim: int, hidden: int = 0, blocks: int = 0):
        super().__init__()
        layers: list[nn.Module] = [nn.Linear(in_dim, width), nn.LayerNorm(width), nn.ReLU()]
        for _ in range(hidden):
            layers += [nn.Linear(width, width), nn.LayerNorm(width), nn.ReLU()]
        self.stem = nn.Sequential(*layers)
        self.blocks = nn.ModuleList(
            nn.Sequential(nn.Linear(width, width), nn.LayerNorm(width), nn.ReLU(),
                          nn.Linear(width, width), nn.LayerNorm(width))
            for _ in range(blocks))
        self.head = nn.Linear(width, out_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.stem(x)
        for b in self.blocks:
            h = torch.relu(h + b(h))
        return self.head(h)


def _l2_augment(psi0: torch.Tensor, psit: torch.Tensor):
    """Rows whose dot product is -|psi0_i - psiT_k|^2 + |psi0_i|^2: the last term is constant
    in k, so a softmax over goals k of these dots equals the softmax of -squared distances."""
    one = torch.ones_like(psi0[:, :1])
    return (torch.cat([2 * psi0, -one], 1),
            torch.cat([psit, (psit * psit).sum(1, keepdim=True)], 1))


def crtr_loss(psi0: torch.Tensor, psit: torch.Tensor, kind: str = "dot",
              tau: float | None = None) -> torch.Tensor:
    """Backward loss of the paper's code: d * mean_i CE(softmax_k(-D_ki), k = i) with
    D_ki = (tau/d)|psiT_k - psi0_i|^2 ("l2") or -(tau/d) psiT_k . psi0_i ("dot"),
    tau = 1/sqrt(d) by default. Computed by the shared ``info_nce`` at temperature d / tau."""
    d = psi0.shape[1]
    tau = 1.0 / math.sqrt(d) if tau is None else tau
    if kind == "l2":
        psi0, psit = _l2_augment(psi0, psit)
    elif kind != "dot":
        raise ValueError(f"parameter 'loss' must be 'dot' or 'l2', got {kind!r}")
    return d * info_nce(psi0, psit, temperature=d / tau, similarity="dot")


def crtr_loss_broadcast(psi0: torch.Tensor, psit: torch.Tensor, kind: str = "dot",
                        tau: float | None = None) -> torch.Tensor:
    """Reference form of ``crtr_loss``: the (B, B) matrix D built by broadcasting."""
    d = psi0.shape[1]
    tau = 1.0 / math.sqrt(d) if tau is None else tau
    if kind == "l2":
        dmat = (tau / d) * ((psit[:, None, :] - psi0[None, :, :]) ** 2).sum(-1)  # [k, i]
    else:
        dmat = -(tau / d) * (psit[:, None, :] * psi0[None, :, :]).sum(-1)
    diag = torch.diagonal(dmat)
    return d * (diag + torch.logsumexp(-dmat, dim=0)).mean()


def latent_distance(psi: torch.Tensor, goal: torch.Tensor, kind: str) -> torch.Tensor:
    """Distance used by search: |psi - goal|^2 (l2) or -psi . goal (dot); goal (d,) or (B, d)."""
    if kind == "l2":
        return ((psi - goal) ** 2).sum(-1)
    return -(psi * goal).sum(-1)


def train_contrastive(encode, sample_batch, *, in_dim: int, width: int, out_dim: int,
                      hidden: int, blocks: int, steps: int, lr: float, loss: str,
                      seed_gen: torch.Generator, device: str = "cpu") -> nn.Module:
    """Adam on ``crtr_loss`` with one shared encoder f; ``sample_batch(step)`` returns the
    (anchor, goal) observation arrays of one batch, ``encode`` maps them to float tensors."""
    torch.manual_seed(int(torch.randint(0, 2**31 - 1, (1,), generator=seed_gen)))
    net = Encoder(in_dim, width, out_dim, hidden, blocks).to(device)
    if steps == 0:
        return net.eval()
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    for step in range(steps):
        x0, xt = sample_batch(step)
        psi = net(torch.cat([encode(x0), encode(xt)]).to(device))
        b = len(x0)
        lval = crtr_loss(psi[:b], psi[b:], loss)
        opt.zero_grad(set_to_none=True)
        lval.backward()
        opt.step()
    return net.eval()


def train_supervised(encode, sample_labelled, *, in_dim: int, width: int, n_classes: int,
                     hidden: int, blocks: int, steps: int, lr: float,
                     seed_gen: torch.Generator, device: str = "cpu") -> nn.Module:
    """The supervised distance baseline: the same encoder (output = class logits) trained to
    classify the number of steps to the goal; ``sample_labelled(step)`` -> (obs, labels)."""
    torch.manual_seed(int(torch.randint(0, 2**31 - 1, (1,), generator=seed_gen)))
    net = Encoder(in_dim, width, n_classes, hidden, blocks).to(device)
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    for step in range(steps):
        x, y = sample_labelled(step)
        logits = net(encode(x).to(device))
        lval = nn.functional.cross_entropy(logits, torch.as_tensor(y, device=device))
        opt.zero_grad(set_to_none=True)
        lval.backward()
        opt.step()
    return net.eval()


def expected_class(logits: torch.Tensor) -> torch.Tensor:
    """Predicted distance of the supervised baseline: the mean of its class distribution."""
    k = torch.arange(logits.shape[1], dtype=logits.dtype, device=logits.device)
    return torch.softmax(logits, 1) @ k
