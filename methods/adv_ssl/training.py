"""One small MLP backbone (in -> 256 -> 256) + projector (256 -> 256 -> emb) trained with each
of the brief's five methods (section 4), Adam, 2 augmented views.

* "bt": Barlow Twins on the projector output (off-diagonal weight 5e-3);
* "bs": HaoChen 2022 baseline (alignment MSE + |(C0 + C1)/2 - I|^2, lam = 1);
* "adv_code": the released Adv-SSL update of the chosen ``pipeline`` (below);
* "adv_xbatch": the same pipeline with G = C_hat - I of the previous step (unbiased gradient);
* "twin": the same pipeline with lam/2 |C_hat - I|^2, no detach (the biased twin).

Pipelines, one per release (parity table in README.md):

* "act2025": vincen-github/ACT (Jan 2025, methods/act.py at fb2023a): Cholesky whitening
  ("Standization", eps 0) over sub-batches of 128, unit L2 normalisation, lam = 1e-3,
  G = sg(C_hat - I) of the same batch;
* "act2024": vincen-github/Adversarial-Contrastive-Training (Nov 2024, methods/act.py at
  c4e7d79, its ``--method act``): no whitening, L2 normalisation scaled to sqrt(D),
  lam = 5e-2, G of the first view pair NOT detached (with 2 views: align + lam |C_hat - I|^2),
  of later pairs the previous pair's sg(C_hat - I);
* "mixed": our earlier pipeline (whole-batch whitening with eps 1e-3, sqrt(D) scaling,
  lam = 5e-2, same-batch detached G), kept to measure what mixing the releases did.
"""

from __future__ import annotations

import copy
import math
import time

import numpy as np
import torch
from torch import nn

from .data import augment
from .losses import adv_loss, barlow_twins, haochen_bs, whiten

METHODS = ("bt", "bs", "adv_code", "adv_xbatch", "twin")
_ADV = {"adv_code": "code", "adv_xbatch": "xbatch", "twin": "twin"}

# whiten: None (no whitening), 0 (whole batch) or the sub-batch size; eps: whitening shrinkage
PIPELINES = {
    "act2025": {"whiten": 128, "eps": 0.0, "scale": "unit", "lam": 1e-3},
    "act2024": {"whiten": None, "eps": 0.0, "scale": "sqrt_d", "lam": 5e-2},
    "mixed": {"whiten": 0, "eps": 1e-3, "scale": "sqrt_d", "lam": 5e-2},
}


def _init(net: nn.Module, gen: torch.Generator) -> None:
    with torch.no_grad():
        for layer in net.modules():
            if isinstance(layer, nn.Linear):
                bound = 1.0 / math.sqrt(layer.in_features)
                for p in (layer.weight, layer.bias):
                    p.copy_(torch.rand(p.shape, generator=gen, dtype=p.dtype) * 2 * bound - bound)


def make_model(gen: torch.Generator, hidden: int = 256, emb: int = 32,
               dtype: torch.dtype = torch.float32, in_dim: int = 64) -> tuple[nn.Module, nn.Module]:
    backbone = nn.Sequential(nn.Linear(in_dim, hidden), nn.ReLU(), nn.Linear(hidden, hidden),
                             nn.ReLU())
    proj = nn.Sequential(nn.Linear(hidden, hidden), nn.ReLU(), nn.Linear(hidden, emb))
    _init(backbone, gen)
    _init(proj, gen)
    return backbone.to(dtype), proj.to(dtype)


def adv_embed(h: torch.Tensor, pipeline: str = "act2025",
              groups: list[torch.Tensor] | None = None) -> torch.Tensor:
    """The pipeline's embedding: whitening (whole batch, or per sub-batch given by ``groups``,
    index tensors that partition the batch), then L2 normalisation (unit or sqrt(D))."""
    cfg = PIPELINES[pipeline]
    if cfg["whiten"] is None:
        z = h
    elif groups is None:
        z = whiten(h, eps=cfg["eps"])
    else:
        z = torch.empty_like(h)
        for idx in groups:
            z[idx] = whiten(h[idx], eps=cfg["eps"])
    z = z / z.norm(dim=1, keepdim=True)
    return z * math.sqrt(z.shape[1]) if cfg["scale"] == "sqrt_d" else z


def _groups(pipeline: str, batch: int, gen: torch.Generator) -> list[torch.Tensor] | None:
    """ACT (methods/act.py:37): a random partition of the batch into sub-batches of 128
    (the whole batch when it is smaller)."""
    size = PIPELINES[pipeline]["whiten"]
    if not size or batch <= size:
        return None
    if batch % size:
        raise ValueError(f"parameter 'batch' must be a multiple of the whitening sub-batch "
                         f"{size} for pipeline {pipeline!r}, got {batch}")
    return list(torch.randperm(batch, generator=gen).view(-1, size))


def step_loss(method: str, h1: torch.Tensor, h2: torch.Tensor, *, pipeline: str, lam: float,
              g_prev: torch.Tensor | None, gen: torch.Generator):
    """One step's loss and the detached C_hat - I (for "adv_xbatch" at the next step)."""
    if method == "bt":
        return barlow_twins(h1, h2), g_prev
    if method == "bs":
        return haochen_bs(h1, h2), g_prev
    groups = _groups(pipeline, h1.shape[0], gen)
    z1, z2 = adv_embed(h1, pipeline, groups), adv_embed(h2, pipeline, groups)
    variant = _ADV[method]
    if pipeline == "act2024" and variant == "code":
        # Adversarial-Contrastive-Training methods/act.py:23-24: the first pair's G is C_hat - I
        # itself (not detached); with two views there is no second pair
        variant = "twin"
        lam = 2 * lam
    return adv_loss(z1, z2, lam, variant, g_prev)


def train(method: str, x: np.ndarray, *, seed_gen: torch.Generator, epochs: int, batch: int,
          lr: float, lam: float | None = None, pipeline: str = "act2025", emb: int = 32,
          steps: int = 0) -> tuple[nn.Module, list[float], dict]:
    """Train on ``x`` (N, side*side images in [0, 1]); returns the backbone, the CPU time of
    each epoch, and ``{"loss_first", "loss_last", "untrained"}``: the mean loss of the first
    and of the last epoch (or of the first / last 10 % of ``steps``) and a copy of the backbone
    before training. ``lam`` None: the pipeline's. ``steps`` > 0 stops after that many updates.

    CPU time of the calling thread (``time.thread_time``), not wall time: with torch on one
    thread the work runs on this thread, and CPU time is not inflated when another process
    shares the cores (CI runs two pytest workers on two cores)."""
    if method not in METHODS:
        raise ValueError(f"parameter 'methods' entries must be in {METHODS}, got {method!r}")
    if pipeline not in PIPELINES:
        raise ValueError(f"parameter 'pipeline' must be one of {tuple(PIPELINES)}, "
                         f"got {pipeline!r}")
    lam = PIPELINES[pipeline]["lam"] if lam is None else lam
    backbone, proj = make_model(seed_gen, in_dim=x.shape[1], emb=emb)
    untrained = copy.deepcopy(backbone)
    params = list(backbone.parameters()) + list(proj.parameters())
    opt = torch.optim.Adam(params, lr=lr)
    data = torch.tensor(x, dtype=torch.float32)
    n = len(data)
    g_prev = None
    times, losses, done = [], [], 0
    for _ in range(epochs):
        t0 = time.thread_time()
        perm = torch.randperm(n, generator=seed_gen)
        epoch_losses = []
        for start in range(0, n - batch + 1, batch):  # drop the last partial batch
            xb = data[perm[start:start + batch]]
            h1 = proj(backbone(augment(xb, seed_gen)))
            h2 = proj(backbone(augment(xb, seed_gen)))
            loss, g_prev = step_loss(method, h1, h2, pipeline=pipeline, lam=lam, g_prev=g_prev,
                                     gen=seed_gen)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            epoch_losses.append(float(loss.detach()))
            done += 1
            if steps and done >= steps:
                break
        times.append(time.thread_time() - t0)
        losses.append(epoch_losses)
        if steps and done >= steps:
            break
    if steps:
        flat = [v for e in losses for v in e]
        k = max(1, len(flat) // 10)
        first, last = flat[:k], flat[-k:]
    else:
        first, last = losses[0], losses[-1]
    return backbone, times, {"loss_first": float(np.mean(first)),
                             "loss_last": float(np.mean(last)), "untrained": untrained}


def features(backbone: nn.Module, x: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        return backbone(torch.tensor(x, dtype=torch.float32)).double().numpy()
