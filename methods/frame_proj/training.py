"""Training loops: LWA (stage 1 cross-view NT-Xent + z-space mapping loss, stage 2
h-space mappers), SimCLR with time-series augmentations, and a supervised reference.
All use Adam, cosine decay to 0, weight decay 1e-6 and the same budget: ``epochs`` passes
over the training set at batch min(batch, n), raised to at least ``min_steps`` optimiser
steps (issue 16: LWA's edge needs >= ~300 steps; the code trains 256 epochs)."""

from __future__ import annotations

import copy
import math
import time
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from methods.common.infonce import nt_xent

from .augment import simclr_view
from .models import LWA, Encoder1d, projector


@dataclass
class Views:
    """The cached inputs of one split: raw x (n, C, L), Fourier (|X|, angle X), |CWT|."""
    x: torch.Tensor
    mag: torch.Tensor
    phase: torch.Tensor
    wav: torch.Tensor

    def take(self, idx):
        return self.x[idx], (self.mag[idx], self.phase[idx]), self.wav[idx]


def effective_batch(n: int, batch: int) -> int:
    """``batch``, or the whole training set when it is smaller (never capped below what the
    set allows: the former n // 4 cap left small sets 2-4 steps per epoch at tiny batches)."""
    return min(n, batch)


def _batches(n: int, batch: int, gen: torch.Generator):
    """Shuffled index batches; the last partial batch is dropped."""
    perm = torch.randperm(n, generator=gen)
    b = effective_batch(n, batch)
    for start in range(0, n - b + 1, b):
        yield perm[start:start + b]


def _optimiser(params, lr: float, epochs: int, steps_per_epoch: int):
    opt = torch.optim.Adam(params, lr=lr, weight_decay=1e-6)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, max(1, epochs * steps_per_epoch))
    return opt, sched


def _steps(n: int, batch: int) -> int:
    return max(1, n // effective_batch(n, batch))


def budget_epochs(n: int, batch: int, epochs: int, min_steps: int = 0) -> int:
    """``epochs``, or more so that training takes at least ``min_steps`` optimiser steps."""
    return max(epochs, math.ceil(min_steps / _steps(n, batch)))


def l1_map(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """The code's mapping loss (models/frameworks.py:370-371, IsoAlign.calc_loss):
    ``F.l1_loss`` (the mean over every element) divided by the batch size. (Ours used to sum
    over features and average over the batch: 128 x B times heavier, ~1.3e5 at B = 1024,
    and the NT-Xent terms never left chance.)"""
    return F.l1_loss(pred, target) / len(pred)


def ntxent_chance(batch: int, pairs: int = 3) -> float:
    """The value of ``pairs`` summed NT-Xent terms when every candidate scores alike:
    pairs x log(2B - 1). A run whose NT-Xent part does not end below it learnt nothing."""
    return pairs * math.log(2 * batch - 1)


def lwa_loss(model: LWA, x, four, wav, tau: float, parts: bool = False):
    """NTX(t,W) + NTX(t,F) + NTX(W,F) + L_map(Phi_z^F(z_t), z_F) + L_map(Phi_z^W(z_t), z_W),
    the terms of an ablated view left out; with ``parts`` also the NT-Xent sum alone."""
    h_t, h_F, h_W = model.encode(x, four, wav)
    z = {"t": F.normalize(model.g_t(h_t), dim=1)}
    if h_F is not None:
        z["F"] = F.normalize(model.g_F(h_F), dim=1)
    if h_W is not None:
        z["W"] = F.normalize(model.g_W(h_W), dim=1)
    ntx = sum(nt_xent(z[a], z[b], temperature=tau)
              for a, b in (("t", "W"), ("t", "F"), ("W", "F")) if a in z and b in z)
    phi = {"F": model.phi_z_F, "W": model.phi_z_W}
    total = ntx + sum(l1_map(phi[v](z["t"]), z[v]) for v in ("F", "W") if v in z)
    return (total, ntx) if parts else total


@torch.no_grad()
def encode_all(model: LWA, views: Views, chunk: int = 512):
    model.eval()
    outs = [model.encode(*views.take(slice(s, s + chunk))) for s in range(0, len(views.x), chunk)]
    return tuple(None if outs[0][i] is None else torch.cat([o[i] for o in outs])
                 for i in range(3))


def train_lwa(model: LWA, views: Views, *, epochs: int, batch: int, lr: float, tau: float,
              gen: torch.Generator, min_steps: int = 0) -> dict:
    """Stage 1 (keeping the lowest-training-loss epoch's weights), then stage 2: encoders
    frozen, Phi_h^{t->F}, Phi_h^{t->W} fitted with the L1 loss for the same number of epochs.
    Returns CPU seconds per stage-1 epoch, the losses, the NT-Xent part of the last epoch
    against its chance value, and the steps taken."""
    n = len(views.x)
    epochs = budget_epochs(n, batch, epochs, min_steps)
    stage1 = [p for name, p in model.named_parameters() if not name.startswith("phi_h")]
    opt, sched = _optimiser(stage1, lr, epochs, _steps(n, batch))
    best, best_state, times, losses = math.inf, None, [], []
    for _ in range(epochs):
        model.train()
        t0, total, ntx_total, count = time.thread_time(), 0.0, 0.0, 0
        for idx in _batches(n, batch, gen):
            loss, ntx = lwa_loss(model, *views.take(idx), tau, parts=True)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            total, ntx_total, count = total + loss.item(), ntx_total + ntx.item(), count + 1
        times.append(time.thread_time() - t0)
        losses.append(total / count)
        ntx_last = ntx_total / count
        if losses[-1] < best:
            best, best_state = losses[-1], copy.deepcopy(model.state_dict())
    model.load_state_dict(best_state)
    h_t, h_F, h_W = encode_all(model, views)
    mappers = list(model.phi_h_F.parameters()) + list(model.phi_h_W.parameters())
    opt, sched = _optimiser(mappers, lr, epochs, _steps(n, batch))
    map_loss = math.nan
    for _ in range(epochs):
        for idx in _batches(n, batch, gen):
            loss = sum(l1_map(phi(h_t[idx]), h[idx])
                       for phi, h in ((model.phi_h_F, h_F), (model.phi_h_W, h_W)) if h is not None)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            map_loss = loss.item()
    model.eval()
    pairs = {0: 0, 1: 1, 2: 3}[len(model.views)]  # (t,F), (t,W), (F,W) as present
    return {"sec_per_epoch": sum(times) / len(times), "loss_final": losses[-1],
            "loss_first": losses[0], "map_loss": map_loss, "ntx_final": ntx_last,
            "ntx_chance": ntxent_chance(effective_batch(n, batch), pairs),
            "steps": epochs * _steps(n, batch), "epochs": epochs}


def make_baseline(channels: int, classes: int | None, dim: int = 384, width: int = 32,
                  blocks: int = 4) -> nn.ModuleDict:
    """A time-domain encoder with a 384-d output (the paper gives baselines 384-d encoders)
    and either a projector (SimCLR) or a linear head (supervised)."""
    head = projector(dim) if classes is None else nn.Linear(dim, classes)
    return nn.ModuleDict({"enc": Encoder1d(channels, dim, width, blocks), "head": head})


def train_simclr(model: nn.ModuleDict, x: torch.Tensor, *, epochs: int, batch: int, lr: float,
                 tau: float, gen: torch.Generator, aug: dict, min_steps: int = 0) -> dict:
    n = len(x)
    epochs = budget_epochs(n, batch, epochs, min_steps)
    opt, sched = _optimiser(model.parameters(), lr, epochs, _steps(n, batch))
    times, last = [], []
    for _ in range(epochs):
        model.train()
        t0, last = time.thread_time(), []
        for idx in _batches(n, batch, gen):
            xb = x[idx]
            z1 = model["head"](model["enc"](simclr_view(xb, gen, **aug)))
            z2 = model["head"](model["enc"](simclr_view(xb, gen, **aug)))
            loss = nt_xent(z1, z2, temperature=tau)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            last.append(loss.item())
        times.append(time.thread_time() - t0)
    model.eval()
    return {"sec_per_epoch": sum(times) / len(times), "loss_final": sum(last) / len(last),
            "ntx_chance": ntxent_chance(effective_batch(n, batch), 1),
            "steps": epochs * _steps(n, batch)}


def train_supervised(model: nn.ModuleDict, x: torch.Tensor, y: torch.Tensor, *, epochs: int,
                     batch: int, lr: float, gen: torch.Generator, min_steps: int = 0) -> None:
    n = len(x)
    epochs = budget_epochs(n, batch, epochs, min_steps)
    opt, sched = _optimiser(model.parameters(), lr, epochs, _steps(n, batch))
    for _ in range(epochs):
        model.train()
        for idx in _batches(n, batch, gen):
            loss = F.cross_entropy(model["head"](model["enc"](x[idx])), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
    model.eval()


@torch.no_grad()
def embed(enc: nn.Module, x: torch.Tensor, chunk: int = 512) -> torch.Tensor:
    enc.eval()
    return torch.cat([enc(x[s:s + chunk]) for s in range(0, len(x), chunk)])
