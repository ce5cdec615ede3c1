"""InfoNCE and NT-Xent in linear memory: logits block by block, never the full matrix.

Why: the reference losses (:mod:`methods.common.infonce`) materialise the (2N × 2N) logits
and their gradient, so memory grows as N² (N = 65,536 pairs would need ~69 GB per float32
copy) and large-batch training cannot run on them. Here each loss is a
``torch.autograd.Function`` whose forward visits (B × B) blocks of logits and keeps only a
running log-sum-exp per row (``torch.logaddexp`` of block ``logsumexp``s: stable at any
temperature), and whose backward recomputes each block. Extra memory is O(N · B).

The work that cannot be avoided. Dense NT-Xent costs three (2N × d)·(d × 2N) matmuls: the
logits, and the two products of their gradient with the embeddings. Its logits are
symmetric, so this one computes only the blocks on and above the diagonal: each block
serves the rows of both its row block and its column block (``logsumexp`` over dim 1 and
dim 0). The backward recomputes those blocks and forms, per block, the gradient of both
triangles at once, H = w_I·softmax_I + (w_J·softmax_J)ᵀ, then grad_I += H Z_J and
grad_J += Hᵀ Z_I. Total: half a matmul forward, half to recompute, one for the gradients —
two matmul-equivalents against the dense three; the element-wise work (one exp per logit
forward and one backward) is the same as the dense loss's. InfoNCE (anchors ≠ keys) has no
such symmetry: one matmul forward, one to recompute and two backward.

Numerics and API follow the reference exactly (same arguments, same conventions for
``similarity``, ``symmetric``, ``reduction``, float16/bfloat16 inputs: similarities in the
input dtype, logits and the log-sum-exp in float32, the loss returned in float32). The
temperature may be a tensor that requires a gradient (a learned τ, as in CLIP). First
derivatives only (``once_differentiable``): a second backward raises.
Tested against the reference: ``tests/methods/test_infonce_blockwise.py``.
"""

from __future__ import annotations

import torch
from torch.autograd.function import once_differentiable

from .infonce import _check_inputs, _embed, _reduce, nt_xent

# 512 rows: fastest on one CPU core at N = 4096, d = 128 (0.80x the three-matmul bound,
# against 0.87x at 256 and 1.16x at 1024; benchmarks/bench_infonce.py)
DEFAULT_BLOCK = 512


def _acc_dtype(dtype: torch.dtype) -> torch.dtype:
    """Where logits live: float32 for half inputs, else the input's own dtype."""
    return torch.promote_types(dtype, torch.float32)


def _block_logits(a: torch.Tensor, b: torch.Tensor, tau: float) -> torch.Tensor:
    """sim(a_i, b_j) / tau for one block, as the reference's ``_logits`` computes it."""
    if _acc_dtype(a.dtype) == a.dtype:
        return a @ (b / tau).T
    return (a @ b.T).float() / tau


def _pair_logits(a: torch.Tensor, b: torch.Tensor, tau: float) -> torch.Tensor:
    """sim(a_i, b_i) / tau for every row i: the positives, O(N d)."""
    acc = _acc_dtype(a.dtype)
    if acc == a.dtype:
        return (a * (b / tau)).sum(1)
    # a half matmul accumulates in float32 and rounds once: the same here
    return (a.float() * b.float()).sum(1).to(a.dtype).float() / tau


def _spans(n: int, block: int) -> list[tuple[int, int]]:
    return [(i, min(i + block, n)) for i in range(0, n, block)]


class _RunningLSE:
    """Per-row log-sum-exp over blocks, kept as (max m, log-sum r relative to m).

    Why not one running ``logaddexp``: at tau = 1e-4 logits are ~1e4, and a float32 lse of
    that size is only known to ~1e-3, so p = exp(s - lse) near 1 would carry a 1e-3 error
    into the gradient. With the max kept apart, s - m is exact for the largest logit
    (Sterbenz) and p is as accurate as the dense softmax's."""

    def __init__(self, n: int, dtype: torch.dtype, device: torch.device):
        self.m = torch.full((n,), float("-inf"), dtype=dtype, device=device)
        self.r = torch.full((n,), float("-inf"), dtype=dtype, device=device)

    def add(self, lo: int, hi: int, s: torch.Tensor, dim: int) -> None:
        """Fold block logits ``s`` into rows lo:hi, reducing over ``dim``."""
        bm = s.amax(dim)
        bm_safe = torch.where(torch.isfinite(bm), bm, torch.zeros_like(bm))
        br = torch.exp(s - bm_safe.unsqueeze(dim)).sum(dim).log()
        m, r = self.m[lo:hi], self.r[lo:hi]
        new = torch.maximum(m, bm)
        safe = torch.where(torch.isfinite(new), new, torch.zeros_like(new))
        self.r[lo:hi] = torch.logaddexp(r + (m - safe), br + (bm_safe - safe))
        self.m[lo:hi] = new

    def lse(self) -> torch.Tensor:
        return self.m + self.r


class _NTXent(torch.autograd.Function):
    """Per-view NT-Xent losses of embedded views ``z`` (2N, d); the partner of view i is
    view (i + N) mod 2N."""

    @staticmethod
    def forward(ctx, z: torch.Tensor, tau_t: torch.Tensor, block: int) -> torch.Tensor:
        tau = float(tau_t.detach())
        m = z.shape[0]
        n = m // 2
        acc = _acc_dtype(z.dtype)
        run = _RunningLSE(m, acc, z.device)
        spans = _spans(m, block)
        for bi, (i0, i1) in enumerate(spans):
            zi = z[i0:i1]
            for j0, j1 in spans[bi:]:
                s = _block_logits(zi, z[j0:j1], tau)
                if j0 == i0:
                    s.fill_diagonal_(float("-inf"))
                run.add(i0, i1, s, 1)
                if j0 != i0:
                    run.add(j0, j1, s, 0)
        partner = torch.cat([z[n:], z[:n]])
        pos = _pair_logits(z, partner, tau)
        ctx.save_for_backward(z, run.m, run.r)
        ctx.tau, ctx.block = tau, block
        ctx.tau_dtype, ctx.tau_shape = tau_t.dtype, tau_t.shape
        return (run.m - pos) + run.r

    @staticmethod
    @once_differentiable
    def backward(ctx, g: torch.Tensor):
        z, mx, r = ctx.saved_tensors
        tau, block = ctx.tau, ctx.block
        m, n = z.shape[0], z.shape[0] // 2
        acc = mx.dtype
        w = g.to(acc)
        want_tau = ctx.needs_input_grad[1]
        grad = torch.zeros(z.shape, dtype=acc, device=z.device)
        tau_sum = torch.zeros((), dtype=acc, device=z.device)  # sum_ij dL/ds_ij * s_ij
        w_pair = w + torch.cat([w[n:], w[:n]])  # row i's target and its partner's
        spans = _spans(m, block)
        for bi, (i0, i1) in enumerate(spans):
            zi = z[i0:i1]
            for j0, j1 in spans[bi:]:
                zj = z[j0:j1]
                s = _block_logits(zi, zj, tau)
                diag = j0 == i0
                if diag:
                    s.fill_diagonal_(float("-inf"))
                h = torch.exp((s - mx[i0:i1, None]) - r[i0:i1, None]).mul_(w[i0:i1, None])
                if diag:
                    h = h + h.T
                else:
                    h.add_(torch.exp((s - mx[None, j0:j1]) - r[None, j0:j1])
                           .mul_(w[None, j0:j1]))
                # the positives (i, i + n), i < n, inside this block: subtract the one-hot
                # here, not after the matmul, where p_ii ~ 1 would cancel catastrophically
                rows = torch.arange(i0, max(i0, min(i1, n)), device=z.device)
                rows = rows[(rows + n >= j0) & (rows + n < j1)]
                if len(rows):
                    h[rows - i0, rows + n - j0] -= w_pair[rows]
                    if diag:
                        h[rows + n - i0, rows - j0] -= w_pair[rows]
                if want_tau:
                    if diag:
                        s.fill_diagonal_(0.0)
                    tau_sum += (h * s).sum() * (0.5 if diag else 1.0)
                hm = h.to(z.dtype)
                grad[i0:i1] += (hm @ zj).to(acc)
                if not diag:
                    grad[j0:j1] += (hm.T @ zi).to(acc)
        grad /= tau
        grad_tau = None
        if want_tau:  # dL/dtau = -(1/tau) sum_ab dL/ds_ab s_ab
            grad_tau = (-tau_sum / tau).to(ctx.tau_dtype).reshape(ctx.tau_shape)
        return grad.to(z.dtype), grad_tau, None


class _InfoNCE(torch.autograd.Function):
    """Per-anchor InfoNCE losses of embedded anchors ``a`` and keys ``b`` (N, d); with
    ``symmetric`` the mean of both directions (CLIP)."""

    @staticmethod
    def forward(ctx, a: torch.Tensor, b: torch.Tensor, tau_t: torch.Tensor, block: int,
                symmetric: bool) -> torch.Tensor:
        tau = float(tau_t.detach())
        n = a.shape[0]
        acc = _acc_dtype(a.dtype)
        rows = _RunningLSE(n, acc, a.device)
        cols = _RunningLSE(n, acc, a.device)
        spans = _spans(n, block)
        for i0, i1 in spans:
            ai = a[i0:i1]
            for j0, j1 in spans:
                s = _block_logits(ai, b[j0:j1], tau)
                rows.add(i0, i1, s, 1)
                if symmetric:
                    cols.add(j0, j1, s, 0)
        pos = _pair_logits(a, b, tau)
        loss = (rows.m - pos) + rows.r
        if symmetric:
            loss = 0.5 * (loss + ((cols.m - pos) + cols.r))
        ctx.save_for_backward(a, b, rows.m, rows.r, cols.m, cols.r)
        ctx.tau, ctx.block, ctx.symmetric = tau, block, symmetric
        ctx.tau_dtype, ctx.tau_shape = tau_t.dtype, tau_t.shape
        return loss

    @staticmethod
    @once_differentiable
    def backward(ctx, g: torch.Tensor):
        a, b, mr, rr, mc, rc = ctx.saved_tensors
        tau, block, symmetric = ctx.tau, ctx.block, ctx.symmetric
        acc = mr.dtype
        w = g.to(acc) * (0.5 if symmetric else 1.0)  # per direction
        want_tau = ctx.needs_input_grad[2]
        ga = torch.zeros(a.shape, dtype=acc, device=a.device)
        gb = torch.zeros(b.shape, dtype=acc, device=b.device)
        tau_sum = torch.zeros((), dtype=acc, device=a.device)
        wp = w * (2.0 if symmetric else 1.0)  # the positive s_ii: once per direction
        spans = _spans(a.shape[0], block)
        for i0, i1 in spans:
            ai = a[i0:i1]
            for j0, j1 in spans:
                bj = b[j0:j1]
                s = _block_logits(ai, bj, tau)
                h = torch.exp((s - mr[i0:i1, None]) - rr[i0:i1, None]).mul_(w[i0:i1, None])
                if symmetric:
                    h.add_(torch.exp((s - mc[None, j0:j1]) - rc[None, j0:j1])
                           .mul_(w[None, j0:j1]))
                if i0 == j0:  # the one-hot inside the block (see _NTXent.backward)
                    h.diagonal().sub_(wp[i0:i1])
                if want_tau:
                    tau_sum += (h * s).sum()
                hm = h.to(a.dtype)
                ga[i0:i1] += (hm @ bj).to(acc)
                gb[j0:j1] += (hm.T @ ai).to(acc)
        ga /= tau
        gb /= tau
        grad_tau = None
        if want_tau:
            grad_tau = (-tau_sum / tau).to(ctx.tau_dtype).reshape(ctx.tau_shape)
        return ga.to(a.dtype), gb.to(b.dtype), grad_tau, None, None


def nt_xent_blockwise(
    z1: torch.Tensor,
    z2: torch.Tensor,
    *,
    temperature: float | torch.Tensor = 0.5,
    similarity: str = "cosine",
    reduction: str = "mean",
    block: int = DEFAULT_BLOCK,
) -> torch.Tensor:
    """:func:`methods.common.infonce.nt_xent` in O(N · block) extra memory (module
    docstring); ``reduction="none"`` gives the 2N per-view losses, views of z1 first."""
    _check_inputs(z1, z2, temperature, similarity, reduction)
    if block < 1:
        raise ValueError(f"block must be >= 1, got {block}")
    z = _embed(torch.cat([z1, z2], dim=0), similarity)
    loss = _NTXent.apply(z, _temperature_arg(temperature, z), int(block))
    return _reduce(loss, reduction)


def info_nce_blockwise(
    z1: torch.Tensor,
    z2: torch.Tensor,
    *,
    temperature: float | torch.Tensor = 1.0,
    similarity: str = "dot",
    symmetric: bool = False,
    reduction: str = "mean",
    block: int = DEFAULT_BLOCK,
) -> torch.Tensor:
    """:func:`methods.common.infonce.info_nce` in O(N · block) extra memory."""
    _check_inputs(z1, z2, temperature, similarity, reduction)
    if block < 1:
        raise ValueError(f"block must be >= 1, got {block}")
    a, b = _embed(z1, similarity), _embed(z2, similarity)
    loss = _InfoNCE.apply(a, b, _temperature_arg(temperature, a), int(block), bool(symmetric))
    return _reduce(loss, reduction)


def _temperature_arg(temperature: float | torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """The temperature as the Function's input: the caller's tensor (so a learned tau gets
    its gradient), or a constant."""
    if isinstance(temperature, torch.Tensor):
        return temperature
    return torch.tensor(float(temperature), dtype=torch.float64, device=like.device)


# From 1024 pairs on, the blockwise NT-Xent is faster than the dense reference on one CPU
# core (0.84x at N = 1024, 0.45x at 4096; 1.41x slower at 256: results/benchmarks/infonce.md)
BLOCKWISE_FROM = 1024


def nt_xent_auto(
    z1: torch.Tensor,
    z2: torch.Tensor,
    *,
    temperature: float | torch.Tensor = 0.5,
    similarity: str = "cosine",
    reduction: str = "mean",
) -> torch.Tensor:
    """NT-Xent for any batch: the dense reference :func:`methods.common.infonce.nt_xent`
    below :data:`BLOCKWISE_FROM` pairs, :func:`nt_xent_blockwise` from there on (faster,
    and O(N · block) memory instead of O(N²)). Same arguments and results within float
    rounding (1e-5 relative in float32, 1e-12 in float64; tests/methods/
    test_infonce_blockwise.py)."""
    if z1.shape[0] >= BLOCKWISE_FROM:
        return nt_xent_blockwise(z1, z2, temperature=temperature, similarity=similarity,
                                 reduction=reduction)
    return nt_xent(z1, z2, temperature=temperature, similarity=similarity, reduction=reduction)
