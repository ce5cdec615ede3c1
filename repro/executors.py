"""Executors: how units are run. All share one tiny interface, so a cluster backend is a
small, separate addition (see ``repro/executors_ray.py``; a SLURM one would follow it).

An executor takes ``(index, experiment, params, seed, device)`` tasks and yields
``(index, record)`` as units finish; records are produced by :func:`repro.execute.run_unit`.
Workers never write files; the driver does. A worker that dies mid-unit costs a retry,
then an ``error`` record for that unit: never a hang, never a lost result.
"""

from __future__ import annotations

import multiprocessing as mp
import os
from collections.abc import Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from typing import Any, Protocol

from .errors import UsageError
from .execute import run_unit

Task = tuple[int, str, dict[str, Any], int, str]
Record = dict[str, Any]

EXECUTORS = ("local", "ray")


class Executor(Protocol):
    def run(self, tasks: Iterable[Task]) -> Iterator[tuple[int, Record]]: ...

    def close(self) -> None: ...


def lost_worker_record(reason: str, attempts: int) -> Record:
    """The record of a unit whose worker died on every attempt."""
    return {"status": "error", "metrics": {}, "wall_s": 0.0,
            "error": f"worker lost mid-unit on {attempts} attempt(s): {reason}"}


class SerialExecutor:
    """Runs units one after another in this process."""

    def run(self, tasks: Iterable[Task]) -> Iterator[tuple[int, Record]]:
        for idx, exp, params, seed, device in tasks:
            yield idx, run_unit(exp, params, seed, device)

    def close(self) -> None:
        pass


_BLAS_ENV = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def limit_threads(threads: int) -> None:
    """Give this worker ``threads`` threads in torch and in the BLAS/OpenMP pools numpy and
    scipy use. Why: two workers on two cores, each with a BLAS pool the size of the machine,
    oversubscribe the CPU, and spinning BLAS threads made units 3x slower than serially."""
    # numpy/scipy read these when they load their BLAS (a fresh worker has not yet); pools
    # already loaded are limited by threadpoolctl below
    for k in _BLAS_ENV:
        os.environ[k] = str(threads)
    import torch

    torch.set_num_threads(threads)
    try:
        from threadpoolctl import threadpool_limits

        threadpool_limits(limits=threads)
    except ImportError:  # pragma: no cover - threadpoolctl comes with scikit-learn
        pass


class ProcessExecutor:
    """A local pool of ``jobs`` spawned processes (spawn: safe with torch's threads).

    When a worker dies (killed, out of memory), the pool breaks and every unit still in it
    fails; those units are resubmitted to a fresh pool one at a time (so a unit that kills
    its worker again takes no innocent unit with it), up to ``max_retries`` times, after
    which they become ``error`` records.
    """

    def __init__(self, jobs: int, max_retries: int = 1):
        self.jobs = jobs
        self.threads = max(1, (os.cpu_count() or 1) // jobs)
        self.max_retries = max_retries
        self.pool = self._new_pool()

    def _new_pool(self) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(max_workers=self.jobs, mp_context=mp.get_context("spawn"),
                                   initializer=limit_threads, initargs=(self.threads,))

    def run(self, tasks: Iterable[Task]) -> Iterator[tuple[int, Record]]:
        todo = {t[0]: t for t in tasks}
        attempts = dict.fromkeys(todo, 0)
        retry_round = False
        while todo:
            broken: dict[int, Task] = {}
            batches = [[t] for t in todo.values()] if retry_round else [list(todo.values())]
            for batch in batches:
                yield from self._run_batch(batch, todo, attempts, broken)
            retry_round = True
            todo = broken

    def _run_batch(self, batch: list[Task], todo: dict[int, Task], attempts: dict[int, int],
                   broken: dict[int, Task]) -> Iterator[tuple[int, Record]]:
        futures = {}
        for idx, exp, params, seed, device in batch:
            attempts[idx] += 1
            futures[self.pool.submit(run_unit, exp, params, seed, device)] = idx
        pending = set(futures)
        pool_broke = False
        while pending:
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            for f in done:
                idx = futures[f]
                try:
                    rec = f.result()
                except BrokenProcessPool as e:
                    pool_broke = True
                    if attempts[idx] <= self.max_retries:
                        broken[idx] = todo[idx]
                        continue
                    rec = lost_worker_record(str(e) or "process pool broken", attempts[idx])
                except Exception as e:  # noqa: BLE001 - a failed submission is a unit error
                    rec = {"status": "error", "metrics": {}, "wall_s": 0.0,
                           "error": f"worker failed: {type(e).__name__}: {e}"}
                yield idx, rec
        if pool_broke:
            self.pool.shutdown(wait=False, cancel_futures=True)
            self.pool = self._new_pool()

    def close(self) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)


def make_executor(jobs: int, kind: str = "local", *, address: str | None = None,
                  gpus_per_unit: float = 0.0, max_retries: int = 1) -> Executor:
    """``local``: serial for one job, else a process pool; ``ray``: a Ray cluster."""
    if kind == "local":
        return SerialExecutor() if jobs <= 1 else ProcessExecutor(jobs, max_retries)
    if kind == "ray":
        from .executors_ray import RayExecutor

        return RayExecutor(address=address, gpus_per_unit=gpus_per_unit,
                           max_retries=max_retries)
    raise UsageError(f"unknown executor {kind!r} (one of: {', '.join(EXECUTORS)})")
