"""Time-series augmentations for the SimCLR baseline (batched; one generator):
Gaussian jitter, per-channel scaling, segment permutation and smooth time warping
(Um et al. 2017; TS-TCC). x is (n, C, L)."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def jitter(x: torch.Tensor, sigma: float, gen: torch.Generator) -> torch.Tensor:
    return x + sigma * torch.randn(x.shape, generator=gen, dtype=x.dtype)


def scaling(x: torch.Tensor, sigma: float, gen: torch.Generator) -> torch.Tensor:
    """Multiply each (series, channel) by a factor ~ N(1, sigma^2)."""
    return x * (1.0 + sigma * torch.randn(x.shape[:2] + (1,), generator=gen, dtype=x.dtype))


def permutation(x: torch.Tensor, max_segments: int, gen: torch.Generator) -> torch.Tensor:
    """Cut each series at ``max_segments - 1`` uniform random points (coinciding cuts give
    fewer segments) and reorder the segments by a random permutation; the same reordering
    for every channel of a series."""
    n, _, length = x.shape
    if max_segments < 2:
        return x
    cuts = torch.randint(1, length, (n, max_segments - 1), generator=gen)
    seg = (torch.arange(length)[None, :, None] >= cuts[:, None, :]).sum(-1)  # (n, L) ids
    order = torch.argsort(torch.rand(n, max_segments, generator=gen), dim=1)  # new rank per id
    key = torch.gather(order, 1, seg) * length + torch.arange(length)[None, :]
    idx = torch.argsort(key, dim=1)
    return torch.gather(x, 2, idx[:, None, :].expand_as(x))


def time_warp(x: torch.Tensor, sigma: float, knots: int, gen: torch.Generator) -> torch.Tensor:
    """Resample each series along a smooth monotone warp: speeds ~ N(1, sigma^2) at
    ``knots + 2`` points, linearly interpolated, clipped at 0.1, integrated and rescaled to
    [0, L-1]; values by linear interpolation."""
    n, c, length = x.shape
    speed = 1.0 + sigma * torch.randn(n, 1, knots + 2, generator=gen, dtype=x.dtype)
    speed = F.interpolate(speed, size=length, mode="linear", align_corners=True)[:, 0]
    pos = torch.cumsum(speed.clamp_min(0.1), dim=1)
    pos = (pos - pos[:, :1]) / (pos[:, -1:] - pos[:, :1]) * (length - 1)
    lo = pos.floor().long().clamp(0, length - 2)
    frac = (pos - lo).unsqueeze(1)
    lo = lo.unsqueeze(1).expand(n, c, length)
    return torch.gather(x, 2, lo) * (1 - frac) + torch.gather(x, 2, lo + 1) * frac


def random_rotations(n: int, gen: torch.Generator, dtype=torch.float32) -> torch.Tensor:
    """(n, 3, 3) rotations uniform on SO(3) (unit quaternions from normalised Gaussians)."""
    q = torch.randn(n, 4, generator=gen, dtype=dtype)
    w, x, y, z = (q / q.norm(dim=1, keepdim=True)).unbind(1)
    return torch.stack([
        1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w),
        2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w),
        2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)], 1).view(n, 3, 3)


def rotate_triplets(x: torch.Tensor, rot: torch.Tensor) -> torch.Tensor:
    """Apply each series' rotation (n, 3, 3) to every consecutive channel triplet (an IMU's
    accelerometer xyz, gyroscope xyz, ...); C must be a multiple of 3."""
    n, c, length = x.shape
    if c % 3:
        raise ValueError(f"rotation needs a multiple of 3 channels, got {c}")
    return torch.einsum("nij,ngjl->ngil", rot, x.view(n, c // 3, 3, length)).reshape(n, c, length)


def simclr_view(x: torch.Tensor, gen: torch.Generator, *, jitter_sigma: float,
                scale_sigma: float, max_segments: int, warp_sigma: float, warp_knots: int = 4,
                p_permute: float = 0.5, p_warp: float = 0.5, rotate: bool = False) -> torch.Tensor:
    """One augmented view: a uniform random 3-D rotation of every channel triplet first when
    ``rotate``; jitter and scaling always; time warp and permutation each on a random half
    of the series (p_warp, p_permute)."""
    n = x.shape[0]
    if rotate:
        x = rotate_triplets(x, random_rotations(n, gen, x.dtype))
    out = scaling(jitter(x, jitter_sigma, gen), scale_sigma, gen)
    w = (torch.rand(n, generator=gen) < p_warp)[:, None, None]
    out = torch.where(w, time_warp(out, warp_sigma, warp_knots, gen), out)
    p = (torch.rand(n, generator=gen) < p_permute)[:, None, None]
    return torch.where(p, permutation(out, max_segments, gen), out)
