"""Derive independent, named random streams from one integer seed.

Why: an experiment receives a single seed from the harness but draws several things
(a problem instance, an initialisation, a data stream, k-means restarts). Giving each
consumer its own stream, keyed by a name, keeps them statistically independent and means
that adding a draw in one place never shifts the numbers anywhere else.
"""

from __future__ import annotations

import zlib

import numpy as np
import torch


def _sequence(seed: int, name: str) -> np.random.SeedSequence:
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    return np.random.SeedSequence(entropy=int(seed), spawn_key=(zlib.crc32(name.encode()),))


def child_seed(seed: int, name: str) -> int:
    """A 32-bit int seed for the stream ``name`` (fits sklearn ``random_state`` and torch)."""
    return int(_sequence(seed, name).generate_state(1)[0])


def numpy_rng(seed: int, name: str) -> np.random.Generator:
    """A local numpy Generator for the stream ``name``."""
    return np.random.default_rng(_sequence(seed, name))


def torch_generator(seed: int, name: str, device: str = "cpu") -> torch.Generator:
    """A local torch Generator on ``device`` for the stream ``name``."""
    gen = torch.Generator(device=device)
    gen.manual_seed(child_seed(seed, name))
    return gen
