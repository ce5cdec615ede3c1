"""CaliGCL's exponential partitioned similarity and its two losses (brief section 3).

S_part(h_i, h_j) = (1/K) sum_k exp(K h_i^(k).h_j^(k) / tau) over K contiguous partitions
(``torch.tensor_split``: unequal sizes allowed). Everything is computed in log space:
log S_part = logsumexp_k(K a_k / tau) - log K, accumulated partition by partition with a
running ``logaddexp`` so that only one (N, M) matrix per partition is alive at a time.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F


def log_spart(a: torch.Tensor, b: torch.Tensor, k: int, tau: float) -> torch.Tensor:
    """(N, M) matrix of log S_part between the rows of ``a`` (N, d) and of ``b`` (M, d)."""
    if k < 1 or k > a.shape[1]:
        raise ValueError(f"number of partitions must be in [1, d={a.shape[1]}], got {k}")
    out = None
    for pa, pb in zip(torch.tensor_split(a, k, dim=1), torch.tensor_split(b, k, dim=1)):
        logit = pa @ pb.T * (k / tau)
        out = logit if out is None else torch.logaddexp(out, logit)
    return out - math.log(k)


def log_spart_pairs(a: torch.Tensor, b: torch.Tensor, k: int, tau: float) -> torch.Tensor:
    """log S_part(a_i, b_i) for matched rows (N,)."""
    parts = torch.stack([(pa * pb).sum(1) for pa, pb in
                         zip(torch.tensor_split(a, k, dim=1), torch.tensor_split(b, k, dim=1))],
                        dim=1)
    return torch.logsumexp(parts * (k / tau), dim=1) - math.log(k)


def partition_products(a: torch.Tensor, b: torch.Tensor, k: int) -> torch.Tensor:
    """(N, K) partition inner products a_i^(k).b_i^(k) of matched rows."""
    return torch.stack([(pa * pb).sum(1) for pa, pb in
                        zip(torch.tensor_split(a, k, dim=1), torch.tensor_split(b, k, dim=1))],
                       dim=1)


MAX_SHIFT = 40.0  # exp(-2 * 40) is still a normal float32


def spart_unit_matrix(z: torch.Tensor, k: int, tau: float) -> tuple[torch.Tensor, float]:
    """(S, c) with S_ij = K S_part(z_i, z_j) exp(-c) for unit-norm rows, self-pairs zeroed.

    For unit rows every partition product satisfies |a_k| <= |z_i^(k)| |z_j^(k)| <= 1, so
    with the shift c = K / tau each exponent K a_k / tau - c lies in [-2c, 0] and the sum is
    computed in linear space without overflow (and without underflow while c <= 40); this is
    several times cheaper than a running logaddexp. The constant factor K e^-c cancels in
    every ratio the losses take. Callers fall back to :func:`log_spart` when c > 40.
    """
    c = k / tau
    out = None
    for p in torch.tensor_split(z, k, dim=1):
        term = ((p * c) @ p.T).sub_(c).exp_()
        out = term if out is None else out + term
    return out.fill_diagonal_(0.0), c


def _as_pairs(positives) -> tuple[torch.Tensor, torch.Tensor]:
    if isinstance(positives, tuple):
        return positives
    rows, cols = positives.nonzero(as_tuple=True)
    return rows, cols


def _row_logsums(z1: torch.Tensor, z2: torch.Tensor, k: int, tau: float,
                 positives) -> tuple[torch.Tensor, torch.Tensor]:
    """Per anchor of [u; v]: (log of the sum over all j != i, log of the sum over the
    positive set) of S_part, up to the same additive constant. ``positives`` is None (each
    anchor's own cross-view partner) or (rows, cols) index tensors of distinct off-diagonal
    pairs, every row present at least once."""
    n = z1.shape[0]
    z = F.normalize(torch.cat([z1, z2], dim=0), dim=1)
    idx = torch.arange(2 * n)
    partner = torch.cat([torch.arange(n) + n, torch.arange(n)])
    if k / tau <= MAX_SHIFT:
        s, _ = spart_unit_matrix(z, k, tau)
        den = s.sum(dim=1).log()
        if positives is None:
            return den, s[idx, partner].log()
        rows, cols = positives
        num = torch.zeros(2 * n, dtype=s.dtype).index_add(0, rows, s[rows, cols])
        return den, num.log()
    logits = log_spart(z, z, k, tau)
    logits = logits.masked_fill(torch.eye(2 * n, dtype=torch.bool), float("-inf"))
    den = torch.logsumexp(logits, dim=1)
    if positives is None:
        return den, logits[idx, partner]
    rows, cols = positives
    mask = torch.zeros(2 * n, 2 * n, dtype=torch.bool)
    mask[rows, cols] = True
    return den, torch.logsumexp(logits.masked_fill(~mask, float("-inf")), dim=1)


def partitioned_loss(z1: torch.Tensor, z2: torch.Tensor, *, k: int, tau: float) -> torch.Tensor:
    """GRACE's loss with exp(sim/tau) replaced by S_part (rows L2-normalised first):
    (1/2N) sum_i [l(u_i) + l(v_i)], l(u_i) = -log S(u_i,v_i) / (sum_j S(u_i,v_j) +
    sum_{j != i} S(u_i,u_j)). With k = 1 this is exactly GRACE's loss."""
    den, num = _row_logsums(z1, z2, k, tau, None)
    return (den - num).mean()


def own_pair_mask(n: int) -> torch.Tensor:
    """(2N, 2N) bool mask holding only each view's cross-view partner (u_i, v_i)."""
    m = torch.zeros(2 * n, 2 * n, dtype=torch.bool)
    idx = torch.arange(n)
    m[idx, idx + n] = True
    m[idx + n, idx] = True
    return m


def calibrated_loss(z1: torch.Tensor, z2: torch.Tensor, positives, *, k: int,
                    tau: float) -> torch.Tensor:
    """Eq. (13) as read in the brief: per anchor, -log of (sum of S_part over pairs
    predicted consistent) / (sum over all pairs except itself). ``positives`` is a (2N, 2N)
    bool mask over [u; v] or a (rows, cols) pair of index tensors; an anchor without any
    predicted positive falls back to its own cross-view pair (otherwise -log 0). Self-pairs
    are never positives; duplicate pairs count once."""
    n = z1.shape[0]
    rows, cols = _as_pairs(positives)
    keep = rows != cols
    key = torch.unique(rows[keep] * (2 * n) + cols[keep])
    rows, cols = key // (2 * n), key % (2 * n)
    has = torch.zeros(2 * n, dtype=torch.bool)
    has[rows] = True
    empty = (~has).nonzero(as_tuple=True)[0]
    if len(empty):
        partner = torch.where(empty < n, empty + n, empty - n)
        rows, cols = torch.cat([rows, empty]), torch.cat([cols, partner])
    den, num = _row_logsums(z1, z2, k, tau, (rows, cols))
    return (den - num).mean()
