"""Sparse GCN pieces: the normalised adjacency as a ``torch.sparse`` tensor, a 2-layer
GCN, GRACE-style augmentations and training-free propagation (Â^k X).

Edges are kept as an undirected list ``(2, m)`` with i < j, so that dropping an edge
drops both directions and every view stays symmetric.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import torch
from torch import nn

FEATURE_MASKS = ("column", "element")


def undirected_edges(adj: sp.spmatrix) -> torch.Tensor:
    """(2, m) int64 tensor of the upper-triangle edges (i < j) of a symmetric adjacency."""
    up = sp.triu(adj, k=1).tocoo()
    return torch.from_numpy(np.vstack([up.row, up.col]).astype(np.int64))


def normalized_adjacency(edges: torch.Tensor, n: int, weight: torch.Tensor | None = None,
                         dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """Â = D̃^{-1/2}(A + I)D̃^{-1/2} as a coalesced sparse COO tensor, from undirected
    ``edges`` (2, m) with optional edge weights (m,)."""
    w = torch.ones(edges.shape[1], dtype=dtype) if weight is None else weight.to(dtype)
    loop = torch.arange(n)
    row = torch.cat([edges[0], edges[1], loop])
    col = torch.cat([edges[1], edges[0], loop])
    val = torch.cat([w, w, torch.ones(n, dtype=dtype)])
    deg = torch.zeros(n, dtype=dtype).index_add_(0, row, val)
    dinv = deg.pow(-0.5)
    val = dinv[row] * val * dinv[col]
    return torch.sparse_coo_tensor(torch.stack([row, col]), val, (n, n),
                                   check_invariants=False).coalesce()


def as_torch_features(x: np.ndarray, max_density: float = 0.1) -> torch.Tensor:
    """float32 features, stored as a sparse COO tensor when at most ``max_density`` of the
    entries are non-zero (Cora: 1.3 %), so that X W costs O(nnz) per epoch."""
    x = np.ascontiguousarray(x, dtype=np.float32)
    if np.count_nonzero(x) <= max_density * x.size:
        c = sp.coo_matrix(x)
        idx = torch.from_numpy(np.vstack([c.row, c.col]).astype(np.int64))
        return torch.sparse_coo_tensor(idx, torch.from_numpy(c.data), x.shape,
                                       check_invariants=False).coalesce()
    return torch.from_numpy(x)


def propagate(a_hat: torch.Tensor, x: torch.Tensor, k: int) -> torch.Tensor:
    """Â^k X by k sparse products (never forms Â^k)."""
    for _ in range(k):
        x = torch.sparse.mm(a_hat, x)
    return x


def drop_edges(edges: torch.Tensor, p: float, gen: torch.Generator) -> torch.Tensor:
    """Keep each undirected edge independently with probability 1 - p."""
    keep = torch.rand(edges.shape[1], generator=gen) >= p
    return edges[:, keep]


def mask_features(x: torch.Tensor, p: float, gen: torch.Generator,
                  mode: str = "column") -> torch.Tensor:
    """Zero features with probability p: whole columns (GRACE) or single entries.

    ``x`` may be a sparse COO tensor (bag-of-words features); then only its stored values
    are masked and the result stays sparse (the same mask distribution: a zero stays zero).
    """
    if x.is_sparse:
        idx, val = x.indices(), x.values()
        if mode == "column":
            keep = (torch.rand(x.shape[1], generator=gen) >= p).to(val.dtype)[idx[1]]
        elif mode == "element":
            keep = (torch.rand(val.shape, generator=gen) >= p).to(val.dtype)
        else:
            raise ValueError(f"feature mask mode must be one of {FEATURE_MASKS}, got {mode!r}")
        return torch.sparse_coo_tensor(idx, val * keep, x.shape, is_coalesced=True,
                                       check_invariants=False)
    if mode == "column":
        keep = (torch.rand(x.shape[1], generator=gen) >= p).to(x.dtype)
        return x * keep[None, :]
    if mode == "element":
        return x * (torch.rand(x.shape, generator=gen) >= p).to(x.dtype)
    raise ValueError(f"feature mask mode must be one of {FEATURE_MASKS}, got {mode!r}")


class GCN(nn.Module):
    """Two GCN layers, H = act(Â act(Â X W1) W2), with PReLU as in GRACE; hidden width is
    twice the output width (GRACE's encoder)."""

    def __init__(self, in_dim: int, out_dim: int, hidden: int | None = None):
        super().__init__()
        hidden = hidden or 2 * out_dim
        self.w1 = nn.Linear(in_dim, hidden)
        self.w2 = nn.Linear(hidden, out_dim)
        self.act1, self.act2 = nn.PReLU(hidden), nn.PReLU(out_dim)

    def forward(self, x: torch.Tensor, a_hat: torch.Tensor) -> torch.Tensor:
        xw = (torch.sparse.mm(x, self.w1.weight.T) + self.w1.bias) if x.is_sparse else self.w1(x)
        h = self.act1(torch.sparse.mm(a_hat, xw))
        return self.act2(torch.sparse.mm(a_hat, self.w2(h)))
