"""Torch thread settings for small CPU workloads, shared by the paper packages."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch


@contextlib.contextmanager
def single_cpu_thread(device: str) -> Iterator[None]:
    """Run torch CPU ops on one intra-op thread, then restore the previous setting.

    Why: every matrix here is tiny (at most 4096 x 128 on the CPU), so intra-op threads
    only add overhead - and on a shared, oversubscribed machine two spinning threads made
    a 1.5 s unit take 30 s. One thread also makes CPU reductions independent of the core
    count. No effect on CUDA kernels.
    """
    if device != "cpu":
        yield
        return
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(old)
