"""RAGC, code-faithful (brief papers/ragc.md section 3, from github.com/TianxiangZhao0474/RAGC),
plus the HSAN-like and SCGC-like baselines it is compared with.

Variants (``RagcConfig.variant``):
* ``ragc``: node + edge encoders, learnable alpha, RAGC's CSADA weights
  W = exp(|Q - S_n|^beta Q) + exp(|1 - S_n|^gamma (1 - Q)), multiplicative edge
  reweighting A <- A * minmax(Z_a Z_b^T + E_a E_b^T) every epoch;
* ``hsan``: alpha fixed at 1 (no edge branch), HSAN's weights W = |Q - S_n|^beta, no edge
  reweighting;
* ``plain``: alpha fixed at 1, all weights 1 (InfoNCE on the two views; the SCGC-like base);
* ``plain_csada``: ``plain`` plus RAGC's CSADA weights (the plug-in claim).

Labels never enter training: :func:`train_ragc` takes an optional ``evaluate(z)``
callback, used only for the reported metrics and the label-informed "oracle-best" epoch.

As released (methods/ragc/README.md has the parity table with file:line): gradients
accumulate across epochs (train.py:71-72 call ``loss.backward(); optimizer.step()`` and
never ``optimizer.zero_grad()``; ``accumulate_grads = False`` is our former behaviour),
and weights are updated and the model evaluated at 0-based epochs with
``epoch % update_every == 0`` (train.py:81), after that epoch's step. The code never
evaluates the final model; we add that evaluation (it feeds nothing back).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.cluster import KMeans
from sklearn.decomposition import PCA
from torch import nn

from methods.common.seeding import child_seed, torch_generator
from methods.graphs.data import Graph
from methods.graphs.gcn import normalized_adjacency, propagate, undirected_edges

VARIANTS = ("ragc", "hsan", "plain", "plain_csada")


@dataclass(frozen=True)
class RagcConfig:
    variant: str = "ragc"
    hidden: int = 256
    t_l: int = 2
    t_m: int = 2
    lr: float = 1e-3
    act: str = "identity"
    tau: float = 0.85  # high-confidence rate, not a temperature
    beta: float = 0.9
    gamma: float = 2.0
    sigma: float = 0.001
    mask_ratio: float = 0.005
    epochs: int = 400
    update_every: int = 5
    alpha_init: float = 0.99999
    pca_dims: int = 0  # 0: raw features
    kmeans_init: int = 10
    accumulate_grads: bool = True  # the released train.py never zeroes gradients

    @property
    def edges_on(self) -> bool:
        return self.variant == "ragc"

    @property
    def weighting(self) -> str:
        return {"ragc": "ragc", "hsan": "hsan", "plain": "none",
                "plain_csada": "ragc"}[self.variant]


def augmented_features(g: Graph, cfg: RagcConfig, seed: int) -> torch.Tensor:
    """X_aug = (Â^{t_l}(X + N(0, sigma^2)) + Â^{t_m}(X * M)) / 2, M ~ Bern(1 - mask_ratio),
    after an optional PCA; computed once before training (float32)."""
    x = g.features.astype(np.float64)
    if cfg.pca_dims:
        x = PCA(n_components=cfg.pca_dims, random_state=child_seed(seed, "pca")).fit_transform(x)
    x = torch.from_numpy(x)
    gen = torch_generator(seed, "node_aug")
    a_hat = normalized_adjacency(undirected_edges(g.adj), g.n, dtype=torch.float64)
    noise = cfg.sigma * torch.randn(x.shape, generator=gen, dtype=torch.float64)
    mask = (torch.rand(x.shape, generator=gen) >= cfg.mask_ratio).to(torch.float64)
    x_l = propagate(a_hat, x + noise, cfg.t_l)
    x_m = propagate(a_hat, x * mask, cfg.t_m)
    return ((x_l + x_m) / 2).float()


def adjacency_tensor(g: Graph) -> torch.Tensor:
    """A (no self-loops) as a sparse COO float32 tensor with both directions stored."""
    c = g.adj.tocoo()
    idx = torch.from_numpy(np.vstack([c.row, c.col]).astype(np.int64))
    return torch.sparse_coo_tensor(idx, torch.ones(c.nnz), (g.n, g.n),
                                   check_invariants=False).coalesce()


class RagcNet(nn.Module):
    def __init__(self, in_dim: int, n: int, cfg: RagcConfig):
        super().__init__()
        self.cfg = cfg
        self.node_a, self.node_b = nn.Linear(in_dim, cfg.hidden), nn.Linear(in_dim, cfg.hidden)
        if cfg.edges_on:
            self.edge_a, self.edge_b = nn.Linear(n, cfg.hidden), nn.Linear(n, cfg.hidden)
            self.alpha = nn.Parameter(torch.tensor(cfg.alpha_init))
        else:
            self.register_buffer("alpha", torch.tensor(1.0))

    def _act(self, v: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(v) if self.cfg.act == "sigmoid" else v

    def forward(self, x: torch.Tensor, a: torch.Tensor):
        za = F.normalize(self._act(self.node_a(x)), dim=1)
        zb = F.normalize(self._act(self.node_b(x)), dim=1)
        if not self.cfg.edges_on:
            return za, zb, None, None
        ea = F.normalize(torch.sparse.mm(a, self.edge_a.weight.T) + self.edge_a.bias, dim=1)
        eb = F.normalize(torch.sparse.mm(a, self.edge_b.weight.T) + self.edge_b.bias, dim=1)
        return za, zb, ea, eb

    def similarity(self, za, zb, ea, eb) -> torch.Tensor:
        """S = alpha [Z_a; Z_b][Z_a; Z_b]^T + (1 - alpha) [E_a; E_b][E_a; E_b]^T."""
        z = torch.cat([za, zb])
        if ea is None:
            return z @ z.T
        e = torch.cat([ea, eb])
        # one (2N, 2N) product: [Z, E][alpha Z, (1 - alpha) E]^T
        return torch.cat([z, e], 1) @ torch.cat([self.alpha * z, (1 - self.alpha) * e], 1).T


def partner_index(n: int) -> torch.Tensor:
    """i' = i + N for the first view, i - N for the second."""
    idx = torch.arange(n)
    return torch.cat([idx + n, idx])


def csada_loss(s: torch.Tensor, w_mat: torch.Tensor, w_pos: torch.Tensor) -> torch.Tensor:
    """(1/2N) sum_i -log(pos_i / (pos_i + neg_i)) with pos_i = exp(S_ii' w_i) and
    neg_i = sum_{j != i} exp(S_ij W_ij) - pos_i (the code's form). The subtraction
    cancels, so -log(...) = log sum_{j != i} exp(S_ij W_ij) - S_ii' w_i, which is what is
    computed. The row sums are taken in linear space (all entries, minus the diagonal term)
    because |S_ij W_ij| <= |S_ij| (1 + e) stays small (|S| <= 1 for unit rows and alpha in
    [0, 1]); ``max_abs`` guards that and switches to logsumexp otherwise."""
    m = s.shape[0]
    partner = partner_index(m // 2)
    rows = torch.arange(m)
    pos = s[rows, partner] * w_pos
    sw = s * w_mat
    if float(sw.detach().abs().max()) < 60.0:
        den = (sw.exp().sum(dim=1) - sw.diagonal().exp()).log()
    else:
        den = torch.logsumexp(sw.masked_fill(torch.eye(m, dtype=torch.bool), float("-inf")),
                              dim=1)
    return (den - pos).mean()


def csada_loss_reference(s: torch.Tensor, w_mat: torch.Tensor, w_pos: torch.Tensor
                         ) -> torch.Tensor:
    """The official code's arithmetic, literally (exp, masked sum, subtract, -log)."""
    m = s.shape[0]
    partner = partner_index(m // 2)
    pos = torch.exp(s[torch.arange(m), partner] * w_pos)
    neg = (torch.exp(s * w_mat) * (1 - torch.eye(m, dtype=s.dtype))).sum(1) - pos
    return (-torch.log(pos / (pos + neg))).mean()


def minmax(v: torch.Tensor) -> torch.Tensor:
    lo, hi = v.min(), v.max()
    return (v - lo) / (hi - lo).clamp_min(1e-12)


def new_weights(q: torch.Tensor, s_norm: torch.Tensor, cfg: RagcConfig) -> torch.Tensor:
    """The weight matrix for pseudo-label agreement ``q`` (0/1) and min-max similarity."""
    if cfg.weighting == "ragc":
        return (torch.exp((q - s_norm).abs().pow(cfg.beta) * q)
                + torch.exp((1 - s_norm).abs().pow(cfg.gamma) * (1 - q)))
    return (q - s_norm).abs().pow(cfg.beta)  # hsan


def high_confidence(z: np.ndarray, centres: np.ndarray, rate: float) -> np.ndarray:
    """HSAN/RAGC selection: per node the minimum over centres of softmax(squared distances);
    the nodes at or below the ``int(N (1 - rate))``-th largest such value are kept (about
    a ``rate`` fraction, those with the smallest value)."""
    d = ((z[:, None, :] - centres[None, :, :]) ** 2).sum(-1)
    d = d - d.max(axis=1, keepdims=True)
    p = np.exp(d) / np.exp(d).sum(axis=1, keepdims=True)
    v = p.min(axis=1)
    top = int(len(z) * (1 - rate))
    if top < 1:
        return np.arange(len(z))
    thresh = np.sort(v)[::-1][top - 1]
    return np.flatnonzero(v <= thresh)


@dataclass
class RagcResult:
    z: np.ndarray
    losses: list[float]
    evals: list[tuple[int, dict]]  # (steps done, scores) at the code's cadence epochs
    final: dict | None  # scores of the final model (None without ``evaluate``)
    untrained: dict | None  # scores of the untrained encoder (same k-means)
    alpha: list[float]
    edge_mass: float
    w_min: float  # range of the values written by weight updates (nan if none)
    w_max: float
    a_min: float
    a_excess: float
    sec_per_epoch: float


def train_ragc(g: Graph, cfg: RagcConfig, seed: int,
               evaluate: Callable[[np.ndarray], dict] | None = None,
               x_aug: torch.Tensor | None = None) -> RagcResult:
    """Full-batch Adam for ``cfg.epochs`` epochs (gradients accumulated across epochs as
    released unless ``cfg.accumulate_grads`` is False); at 0-based epochs with
    ``ep % update_every == 0`` (the code's cadence, after that epoch's step) k-means
    pseudo-labels update the weights and ``evaluate`` scores the clustering. ``evaluate``
    is also called on the untrained encoder and on the final model; it never feeds back
    into training."""
    if cfg.variant not in VARIANTS:
        raise ValueError(f"variant must be one of {VARIANTS}, got {cfg.variant!r}")
    x = augmented_features(g, cfg, seed) if x_aug is None else x_aug
    a0 = adjacency_tensor(g)
    a_val = a0.values().clone()
    a_idx = a0.indices()
    n = g.n
    torch.manual_seed(child_seed(seed, "init"))
    net = RagcNet(x.shape[1], n, cfg)
    opt = torch.optim.Adam(net.parameters(), lr=cfg.lr)
    w_mat = torch.ones(2 * n, 2 * n)
    w_pos = torch.ones(2 * n)
    partner = partner_index(n)
    rate = cfg.tau
    w_lo, w_hi = math.inf, -math.inf
    losses, evals, alphas = [], [], []
    final = untrained = None
    spent = 0.0
    km_seed = child_seed(seed, "kmeans")

    def sparse_a():
        return torch.sparse_coo_tensor(a_idx, a_val, (n, n), is_coalesced=True,
                                       check_invariants=False)

    def cluster():
        net.eval()
        with torch.no_grad():
            za, zb, ea, eb = net(x, sparse_a())
            z = ((za + zb) / 2).numpy().astype(np.float64)
            km = KMeans(g.classes, n_init=cfg.kmeans_init, random_state=km_seed).fit(z)
        return (za, zb, ea, eb), z, km

    if evaluate is not None:
        _, _, km0 = cluster()
        untrained = evaluate(km0.labels_)
    for ep in range(cfg.epochs):
        start = time.perf_counter()
        net.train()
        za, zb, ea, eb = net(x, sparse_a())
        s = net.similarity(za, zb, ea, eb)
        loss = csada_loss(s, w_mat, w_pos)
        if not cfg.accumulate_grads:
            opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
        alphas.append(float(net.alpha.detach()))
        if cfg.edges_on:  # edge-level augmentation, no gradient
            with torch.no_grad():
                full = za @ zb.T + ea @ eb.T
                lo, hi = full.min(), full.max()
                a_val = a_val * ((full[a_idx[0], a_idx[1]] - lo) / (hi - lo).clamp_min(1e-12))
        spent += time.perf_counter() - start
        on_cadence = ep % cfg.update_every == 0
        if on_cadence or ep + 1 == cfg.epochs:
            (za, zb, ea, eb), z, km = cluster()
            if evaluate is not None:
                sc = evaluate(km.labels_)
                if on_cadence:
                    evals.append((ep + 1, sc))
                if ep + 1 == cfg.epochs:
                    final = sc
            if on_cadence and cfg.weighting != "none":
                start = time.perf_counter()
                with torch.no_grad():
                    hc = high_confidence(z, km.cluster_centers_, rate)
                    h = torch.from_numpy(np.concatenate([hc, hc + n]))
                    p2 = torch.from_numpy(np.concatenate([km.labels_, km.labels_]))
                    sub_q = (p2[h][:, None] == p2[h][None, :]).float()
                    s_full = net.similarity(za, zb, ea, eb)
                    lo, hi = s_full.min(), s_full.max()
                    sub_s = (s_full[h][:, h] - lo) / (hi - lo).clamp_min(1e-12)
                    w_new = new_weights(sub_q, sub_s, cfg)
                    w_mat[h[:, None], h[None, :]] = w_new
                    # positive weights: the (i, i') entries of the same update
                    pq = torch.ones(len(h))
                    ps = (s_full[h, partner[h]] - lo) / (hi - lo).clamp_min(1e-12)
                    w_pos[h] = new_weights(pq, ps, cfg)
                w_lo = min(w_lo, float(w_new.min()), float(w_pos[h].min()))
                w_hi = max(w_hi, float(w_new.max()), float(w_pos[h].max()))
                rate = max(0.1 * cfg.tau, 0.95 * rate)
                spent += time.perf_counter() - start
    return RagcResult(
        z=z, losses=losses, evals=evals, final=final, untrained=untrained, alpha=alphas,
        edge_mass=float(a_val.sum() / a0.values().sum()),
        w_min=w_lo if w_lo < math.inf else math.nan,
        w_max=w_hi if w_hi > -math.inf else math.nan,
        a_min=float(a_val.min()), a_excess=float((a_val - a0.values()).max()),
        sec_per_epoch=spent / max(cfg.epochs, 1))

