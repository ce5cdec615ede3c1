"""GRACE (Zhu et al., 2020) on a sparse 2-layer GCN, and a training loop shared with
CaliGCL: two stochastic views per epoch (edge dropping, feature masking), a projection head
and a pluggable contrastive loss. GRACE's own loss is SimCLR's NT-Xent with cosine
similarity over the 2N views (``methods.common.infonce_blockwise.nt_xent_auto``: the dense
reference below 1024 nodes, the blockwise form on Cora and CiteSeer): for anchor u_i the
positive is v_i and the negatives are v_j and u_j, j != i.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from methods.common.infonce_blockwise import nt_xent_auto
from methods.common.seeding import torch_generator

from .data import Graph
from .gcn import (
    GCN,
    as_torch_features,
    drop_edges,
    mask_features,
    normalized_adjacency,
    undirected_edges,
)


@dataclass(frozen=True)
class ContrastConfig:
    """Encoder, augmentation and optimiser settings (GRACE's names)."""

    out_dim: int = 128
    proj_dim: int = 128
    tau: float = 0.5
    pe1: float = 0.3
    pe2: float = 0.3
    pf1: float = 0.3
    pf2: float = 0.3
    feature_mask: str = "column"
    lr: float = 1e-3
    weight_decay: float = 1e-5
    epochs: int = 200


class GraceModel(nn.Module):
    """GCN encoder plus GRACE's projection head (Linear, ELU, Linear)."""

    def __init__(self, in_dim: int, cfg: ContrastConfig):
        super().__init__()
        self.encoder = GCN(in_dim, cfg.out_dim)
        self.fc1 = nn.Linear(cfg.out_dim, cfg.proj_dim)
        self.fc2 = nn.Linear(cfg.proj_dim, cfg.out_dim)

    def project(self, h: torch.Tensor) -> torch.Tensor:
        return self.fc2(F.elu(self.fc1(h)))


class GraphTensors:
    """Torch views of a :class:`Graph`: features, undirected edges and the clean Â."""

    def __init__(self, g: Graph):
        self.n = g.n
        self.x = as_torch_features(g.features)
        self.edges = undirected_edges(g.adj)
        self.a_hat = normalized_adjacency(self.edges, self.n)


def make_view(t: GraphTensors, pe: float, pf: float, mode: str, gen: torch.Generator):
    """One augmented view: (masked features, normalised adjacency of the kept edges)."""
    return (mask_features(t.x, pf, gen, mode),
            normalized_adjacency(drop_edges(t.edges, pe, gen), t.n))


def grace_loss(z1: torch.Tensor, z2: torch.Tensor, tau: float) -> torch.Tensor:
    """GRACE's symmetric loss (1/2N) sum_i [l(u_i) + l(v_i)] = NT-Xent with cosine. On a
    whole real graph the batch is every node (Cora 2 708, CiteSeer 3 327), so from 1024
    nodes on the blockwise NT-Xent computes it (issue 20: faster, linear memory)."""
    return nt_xent_auto(z1, z2, temperature=tau, similarity="cosine")


LossFn = Callable[[torch.Tensor, torch.Tensor, int], torch.Tensor]


def train_contrastive(g: Graph | GraphTensors, cfg: ContrastConfig, seed: int,
                      loss_fn: LossFn | None = None,
                      before_epoch: Callable[[GraceModel, int], None] | None = None,
                      ) -> tuple[GraceModel, dict]:
    """Train a :class:`GraceModel` for ``cfg.epochs`` full-batch epochs.

    ``loss_fn(z1, z2, epoch)`` gets the projected views (default: GRACE's loss at
    ``cfg.tau``); ``before_epoch(model, epoch)`` runs before each epoch (CaliGCL refreshes
    its discriminator there). Returns the model and ``{"sec_per_epoch", "final_loss"}``;
    the time excludes ``before_epoch``.
    """
    t = g if isinstance(g, GraphTensors) else GraphTensors(g)
    torch.manual_seed(seed)  # parameter initialisation
    model = GraceModel(t.x.shape[1], cfg)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    gen = torch_generator(seed, "views")
    loss_fn = loss_fn or (lambda z1, z2, ep: grace_loss(z1, z2, cfg.tau))
    spent, loss = 0.0, torch.tensor(float("nan"))
    for ep in range(cfg.epochs):
        if before_epoch is not None:
            model.eval()
            before_epoch(model, ep)
        model.train()
        start = time.perf_counter()
        x1, a1 = make_view(t, cfg.pe1, cfg.pf1, cfg.feature_mask, gen)
        x2, a2 = make_view(t, cfg.pe2, cfg.pf2, cfg.feature_mask, gen)
        z1 = model.project(model.encoder(x1, a1))
        z2 = model.project(model.encoder(x2, a2))
        loss = loss_fn(z1, z2, ep)
        opt.zero_grad()
        loss.backward()
        opt.step()
        spent += time.perf_counter() - start
    return model, {"sec_per_epoch": spent / max(cfg.epochs, 1), "final_loss": float(loss.detach())}


@torch.no_grad()
def embed(model: GraceModel, t: GraphTensors) -> np.ndarray:
    """Frozen encoder output on the clean graph (what the linear probe sees)."""
    model.eval()
    return model.encoder(t.x, t.a_hat).numpy()
