"""One small MLP backbone (64 -> 256 -> 256) + projector (256 -> 256 -> 32) trained on
digits with each of the brief's five methods (section 4), Adam, 2 augmented views.

* "bt": Barlow Twins on the projector output (off-diagonal weight 5e-3);
* "bs": HaoChen 2022 baseline (alignment MSE + |(C0 + C1)/2 - I|^2, lam = 1);
* "adv_code": Cholesky whitening -> L2 normalisation scaled to sqrt(d) (the earlier
  release's scaling) -> MSE + lam <C_hat - I, sg(C_hat - I)> (same batch, as released);
* "adv_xbatch": the same pipeline with G = C_hat - I of the previous step;
* "twin": the same pipeline with lam/2 |C_hat - I|^2, no detach (the biased twin).
"""

from __future__ import annotations

import math
import time

import numpy as np
import torch
from torch import nn

from .data import augment
from .losses import adv_loss, barlow_twins, haochen_bs, whiten

METHODS = ("bt", "bs", "adv_code", "adv_xbatch", "twin")
_ADV = {"adv_code": "code", "adv_xbatch": "xbatch", "twin": "twin"}


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


def adv_embed(h: torch.Tensor) -> torch.Tensor:
    """Whitening, then L2 normalisation scaled to norm sqrt(d)."""
    z = whiten(h)
    return z / z.norm(dim=1, keepdim=True) * math.sqrt(z.shape[1])


def train(method: str, x: np.ndarray, *, seed_gen: torch.Generator, epochs: int, batch: int,
          lr: float, lam: float, time_epochs: bool = False) -> tuple[nn.Module, list[float]]:
    """Train on ``x`` (N, side*side images in [0, 1]); returns the backbone and the CPU
    time of each epoch.

    CPU time of the calling thread (``time.thread_time``), not wall time: with torch on one
    thread the work runs on this thread, and CPU time is not inflated when another process
    shares the cores (CI runs two pytest workers on two cores)."""
    if method not in METHODS:
        raise ValueError(f"parameter 'methods' entries must be in {METHODS}, got {method!r}")
    backbone, proj = make_model(seed_gen, in_dim=x.shape[1])
    params = list(backbone.parameters()) + list(proj.parameters())
    opt = torch.optim.Adam(params, lr=lr)
    data = torch.tensor(x, dtype=torch.float32)
    n = len(data)
    g_prev = None
    times = []
    for _ in range(epochs):
        t0 = time.thread_time()
        perm = torch.randperm(n, generator=seed_gen)
        for start in range(0, n - batch + 1, batch):  # drop the last partial batch
            xb = data[perm[start:start + batch]]
            h1 = proj(backbone(augment(xb, seed_gen)))
            h2 = proj(backbone(augment(xb, seed_gen)))
            if method == "bt":
                loss = barlow_twins(h1, h2)
            elif method == "bs":
                loss = haochen_bs(h1, h2)
            else:
                loss, g_prev = adv_loss(adv_embed(h1), adv_embed(h2), lam, _ADV[method], g_prev)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        times.append(time.thread_time() - t0)
    return backbone, times


def features(backbone: nn.Module, x: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        return backbone(torch.tensor(x, dtype=torch.float32)).double().numpy()
