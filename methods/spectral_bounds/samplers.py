"""Batch selectors from a fixed pool: random, Pool-P and Greedy-m (brief section 3.4; ours).

Why: the paper's Pool-P3 and Greedy-m are named but their algorithms are not available
to us; these are our guesses, written down so that they can be replaced:

* ``pool_p_batch``: draw P random candidate batches, compute each one's effective rank
  (Roy-Vetterli, on the current embeddings) and keep the one closest to
  ``target_factor`` x the median over the P candidates (ours: the "median of random
  batches" is estimated from the candidates themselves).
* ``greedy_batch``: start from one random element; then, ``batch - 1`` times, draw
  ``candidates`` random unused elements and add the one with the largest gain in
  log det(eps I + sum_{j in B} z_j z_j^T), the log-volume of the batch's (uncentred,
  eps-regularised) second moment. The gain of z is log(1 + z^T A^-1 z), and A^-1 is
  updated by Sherman-Morrison, so a batch costs O(batch * candidates * d^2).
"""

from __future__ import annotations

import numpy as np
import torch

from methods.common.infonce_grad import effective_rank

SAMPLERS = ("random", "pool", "greedy")


def random_batch(rng: np.random.Generator, pool_size: int, batch: int) -> np.ndarray:
    """``batch`` distinct indices into the pool, uniformly at random."""
    return rng.choice(pool_size, size=batch, replace=False)


def pool_p_batch(
    rng: np.random.Generator,
    emb: np.ndarray,
    batch: int,
    *,
    candidates: int = 3,
    target_factor: float = 1.1,
) -> np.ndarray:
    """The one of ``candidates`` random batches whose R_eff is closest to the target."""
    idx = [random_batch(rng, len(emb), batch) for _ in range(candidates)]
    reff = np.array([effective_rank(torch.from_numpy(emb[i])) for i in idx])
    target = target_factor * float(np.median(reff))
    return idx[int(np.argmin(np.abs(reff - target)))]


def greedy_batch(
    rng: np.random.Generator,
    emb: np.ndarray,
    batch: int,
    *,
    candidates: int = 64,
    eps: float = 1e-3,
) -> np.ndarray:
    """Greedy log-det batch of ``batch`` distinct indices (module docstring)."""
    n, d = emb.shape
    chosen = np.zeros(n, dtype=bool)
    first = int(rng.integers(n))
    out = [first]
    chosen[first] = True
    a_inv = np.eye(d) / eps
    u = a_inv @ emb[first]
    a_inv -= np.outer(u, u) / (1.0 + emb[first] @ u)
    for _ in range(batch - 1):
        avail = np.flatnonzero(~chosen)
        cand = rng.choice(avail, size=min(candidates, len(avail)), replace=False)
        v = emb[cand]
        gain = np.einsum("ij,jk,ik->i", v, a_inv, v)
        best = int(cand[int(np.argmax(gain))])
        out.append(best)
        chosen[best] = True
        u = a_inv @ emb[best]
        a_inv -= np.outer(u, u) / (1.0 + emb[best] @ u)
    return np.asarray(out)
