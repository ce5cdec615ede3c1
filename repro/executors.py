"""Executors: how units are run. All share one tiny interface so a cluster backend is a
small, separate addition.

An executor takes ``(index, experiment, params, seed, device)`` tasks and yields
``(index, record)`` as units finish; records are produced by :func:`repro.execute.run_unit`.
Workers never write files; the driver does.
"""

from __future__ import annotations

import multiprocessing as mp
import os
from collections.abc import Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from typing import Any, Protocol

from .execute import run_unit

Task = tuple[int, str, dict[str, Any], int, str]


class Executor(Protocol):
    def run(self, tasks: Iterable[Task]) -> Iterator[tuple[int, dict[str, Any]]]: ...

    def close(self) -> None: ...


class SerialExecutor:
    """Runs units one after another in this process."""

    def run(self, tasks: Iterable[Task]) -> Iterator[tuple[int, dict[str, Any]]]:
        for idx, exp, params, seed, device in tasks:
            yield idx, run_unit(exp, params, seed, device)

    def close(self) -> None:
        pass


def _init_worker(threads: int) -> None:
    import torch

    torch.set_num_threads(threads)


class ProcessExecutor:
    """A local pool of ``jobs`` spawned processes (spawn: safe with torch's threads)."""

    def __init__(self, jobs: int):
        threads = max(1, (os.cpu_count() or 1) // jobs)
        self.pool = ProcessPoolExecutor(max_workers=jobs, mp_context=mp.get_context("spawn"),
                                        initializer=_init_worker, initargs=(threads,))

    def run(self, tasks: Iterable[Task]) -> Iterator[tuple[int, dict[str, Any]]]:
        futures = {self.pool.submit(run_unit, exp, params, seed, device): idx
                   for idx, exp, params, seed, device in tasks}
        pending = set(futures)
        while pending:
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            for f in done:
                try:
                    rec = f.result()
                except Exception as e:  # noqa: BLE001 - a dead worker is a unit error
                    rec = {"status": "error", "metrics": {}, "wall_s": 0.0,
                           "error": f"worker failed: {type(e).__name__}: {e}"}
                yield futures[f], rec

    def close(self) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)


def make_executor(jobs: int) -> Executor:
    return SerialExecutor() if jobs <= 1 else ProcessExecutor(jobs)
