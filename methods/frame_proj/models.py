"""Encoders, projectors and the embedding-space mappers (LWA-lite, brief section 3).

One 1-D ResNet-style backbone (``Encoder1d``) is used for every encoder, LWA's and the
baselines', so that only the training signal differs:

* f_t: ``Encoder1d`` on the raw series (C channels);
* f_F: two ``Encoder1d`` branches, on |X| and on angle X (C channels each, L//2+1 bins),
  concatenated; each ends, as the code's ``FourierEncoder`` (models/models_nc.py:722-730,
  ``fc_abs``/``fc_angle``), in a learned Linear over the remaining frequency positions,
  not an average: where the energy sits in frequency is what the view carries;
* f_W: ``Encoder1d`` on |CWT| with the C x S (channel, scale) pairs as input channels (the
  paper uses a 2-D U-Net-style encoder; ours is the same 1-D backbone: cheaper on a CPU).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class Block(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int, kernel: int = 5):
        super().__init__()
        pad = kernel // 2
        self.c1 = nn.Conv1d(cin, cout, kernel, stride, pad, bias=False)
        self.b1 = nn.BatchNorm1d(cout)
        self.c2 = nn.Conv1d(cout, cout, kernel, 1, pad, bias=False)
        self.b2 = nn.BatchNorm1d(cout)
        self.short = (nn.Identity() if stride == 1 and cin == cout else
                      nn.Sequential(nn.Conv1d(cin, cout, 1, stride, bias=False),
                                    nn.BatchNorm1d(cout)))

    def forward(self, x):
        h = F.relu(self.b1(self.c1(x)))
        return F.relu(self.b2(self.c2(h)) + self.short(x))


class Encoder1d(nn.Module):
    """Conv(k5)-BN-ReLU stem, ``blocks`` residual blocks (the first at stride 1, the others
    at stride 2) of ``width`` channels, global average pooling, Linear to ``out_dim``."""

    def __init__(self, in_ch: int, out_dim: int, width: int = 32, blocks: int = 4,
                 length: int | None = None):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv1d(in_ch, width, 5, 1, 2, bias=False),
                                  nn.BatchNorm1d(width), nn.ReLU())
        self.blocks = nn.Sequential(*[Block(width, width, 1 if i == 0 else 2)
                                      for i in range(blocks)])
        # ``length`` given: a learned Linear(positions -> 1) instead of the average
        self.pool = None
        if length is not None:
            positions = length
            for _ in range(1, blocks):  # each stride-2 block: ceil(positions / 2)
                positions = (positions + 1) // 2
            self.pool = nn.Linear(positions, 1)
        self.head = nn.Linear(width, out_dim)

    def forward(self, x):
        h = self.blocks(self.stem(x))
        h = h.mean(-1) if self.pool is None else self.pool(h).squeeze(-1)
        return self.head(h)

    def segments(self, x, k: int) -> torch.Tensor:
        """Time-resolved readout (issue 16), (B, k, out_dim): the head applied to the average
        of each of ``k`` consecutive stretches of the last feature map, so that *where* in
        the window something happens survives. k = 1 is ``forward``; the head is linear, so
        the average of the k outputs is ``forward`` whenever the stretches are equally long."""
        if self.pool is not None:
            raise ValueError("segments() needs the average-pooled encoder (length=None)")
        h = self.blocks(self.stem(x))
        return torch.stack([self.head(part.mean(-1))
                            for part in torch.tensor_split(h, k, dim=-1)], dim=1)


class FourierEncoder(nn.Module):
    """Separate branches for magnitude and phase over ``bins`` frequency bins, each ending
    in a learned Linear over frequency (the code's fc_abs / fc_angle), concatenated to
    ``out_dim``."""

    def __init__(self, in_ch: int, out_dim: int, width: int = 32, blocks: int = 4,
                 bins: int | None = None):
        super().__init__()
        self.mag = Encoder1d(in_ch, out_dim // 2, width, blocks, length=bins)
        self.phase = Encoder1d(in_ch, out_dim - out_dim // 2, width, blocks, length=bins)

    def forward(self, views):
        mag, phase = views
        return torch.cat([self.mag(mag), self.phase(phase)], dim=1)


def projector(in_dim: int, out_dim: int = 128) -> nn.Module:
    """g: Linear-ReLU-Linear (the output is L2-normalised by the loss)."""
    return nn.Sequential(nn.Linear(in_dim, 128), nn.ReLU(), nn.Linear(128, out_dim))


class Mapper(nn.Module):
    """Phi: Conv1d(1->h, k3, s2)-ReLU-ConvTranspose1d(h->1, k3, s2, output_padding 1) on an
    embedding read as a 1-channel signal; maps R^d -> R^d for even d. hidden=64 gives ~450
    parameters (the paper's ~500; the released code's hidden_channels=1 gives ~8)."""

    def __init__(self, hidden: int = 64):
        super().__init__()
        self.down = nn.Conv1d(1, hidden, 3, 2, 1)
        self.up = nn.ConvTranspose1d(hidden, 1, 3, 2, 1, output_padding=1)

    def forward(self, z):
        return self.up(F.relu(self.down(z.unsqueeze(1)))).squeeze(1)


class LWA(nn.Module):
    """The three encoders, their projectors, the z-space mappers (stage 1) and the h-space
    mappers (stage 2)."""

    def __init__(self, channels: int, scales: int, dim: int = 128, width: int = 32,
                 blocks: int = 4, mapper_hidden: int = 64, views: tuple[str, ...] = ("F", "W"),
                 bins: int | None = None):
        super().__init__()
        if not set(views) <= {"F", "W"}:
            raise ValueError(f"parameter 'views' must be a subset of ('F', 'W'), got {views!r}")
        # every module is built whatever ``views`` says, so that ablations share the
        # initialisation of the parts they keep (paired comparisons)
        self.views = tuple(v for v in ("F", "W") if v in views)
        self.f_t = Encoder1d(channels, dim, width, blocks)
        self.f_F = FourierEncoder(channels, dim, width, blocks, bins)
        self.f_W = Encoder1d(channels * scales, dim, width, blocks)
        self.g_t, self.g_F, self.g_W = projector(dim), projector(dim), projector(dim)
        self.phi_z_F, self.phi_z_W = Mapper(mapper_hidden), Mapper(mapper_hidden)
        self.phi_h_F, self.phi_h_W = Mapper(mapper_hidden), Mapper(mapper_hidden)

    def encode(self, x, four, wav):
        """(h_t, h_F, h_W); an ablated view's entry is None."""
        return (self.f_t(x), self.f_F(four) if "F" in self.views else None,
                self.f_W(wav) if "W" in self.views else None)

    def features(self, h_t):
        """Inference feature [h_t, Phi_h^{t->F}(h_t), Phi_h^{t->W}(h_t)] (the paper's order;
        an ablated view's part is left out)."""
        maps = {"F": self.phi_h_F, "W": self.phi_h_W}
        return torch.cat([h_t] + [maps[v](h_t) for v in self.views], dim=1)

    def segment_features(self, x, k: int) -> torch.Tensor:
        """The inference feature read out per time stretch (``Encoder1d.segments``):
        [h_t^s, Phi_F(h_t^s), Phi_W(h_t^s)] for each of ``k`` stretches s, concatenated,
        (B, k * feature_dim). Ours, not the paper's: its feature pools over the window."""
        h = self.f_t.segments(x, k)
        return self.features(h.reshape(-1, h.shape[-1])).reshape(len(x), -1)
