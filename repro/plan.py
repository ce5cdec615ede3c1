"""Expand a claim at one scale into units: sweep points x seeds, with derived seeds.

A unit's seed depends on the claim id and the seed index only, not on the sweep point:
every sweep point of seed index i sees the same random draws (common random numbers),
so comparisons along a sweep (``monotone``, ``loglog_slope``) are paired and far less
noisy than with independent draws.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

from .schema import Claim, resolved_params


def derive_seed(claim_id: str, seed_index: int) -> int:
    """A 31-bit seed from (claim id, seed index), stable across machines and versions."""
    digest = hashlib.sha256(f"repro:{claim_id}:{seed_index}".encode()).digest()
    return int.from_bytes(digest[:4], "big") & 0x7FFFFFFF


@dataclass(frozen=True)
class Unit:
    claim_id: str
    experiment: str
    scale: str
    point: dict[str, Any]  # the sweep coordinates of this unit
    params: dict[str, Any]  # full resolved params passed to the experiment
    seed_index: int
    seed: int
    tags: dict[str, Any] = field(default_factory=dict)

    def label(self) -> str:
        pt = ", ".join(f"{k}={v}" for k, v in self.point.items())
        return f"{self.claim_id}[{pt + ', ' if pt else ''}seed#{self.seed_index}]"


def plan(claim: Claim, scale: str, seeds: int | None = None) -> list[Unit]:
    """All units of ``claim`` at ``scale``; ``seeds`` overrides the claim's seed count."""
    n = seeds if seeds is not None else claim.seeds_for(scale)
    sweep, _ = claim.sweep_for(scale)
    from .schema import sweep_points

    points = sweep_points(sweep)
    units = []
    for (params, _), point in zip(resolved_params(claim, scale), points):
        for i in range(n):
            units.append(Unit(claim.id, claim.experiment, scale, dict(point), dict(params), i,
                              derive_seed(claim.id, i)))
    return units
