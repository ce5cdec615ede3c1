"""Executors: how units are run. All share one tiny interface, so a cluster backend is a
small, separate addition (see ``repro/executors_ray.py``; a SLURM one would follow it).

An executor takes ``(index, experiment, params, seed, device)`` tasks and yields
``(index, record)`` as units finish; records are produced by :func:`repro.execute.run_unit`.
Workers never write files; the driver does. A worker that dies mid-unit costs a retry,
then an ``error`` record for that unit: never a hang, never a lost result.
"""

from __future__ import annotations

import math
import multiprocessing as mp
import os
import sys
import time
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any, Protocol

from .errors import UsageError
from .execute import run_unit, timeout_message

Task = tuple[int, str, dict[str, Any], int, str]
Record = dict[str, Any]

EXECUTORS = ("local", "ray", "slurm")


class Executor(Protocol):
    def run(self, tasks: Iterable[Task]) -> Iterator[tuple[int, Record]]: ...

    def close(self) -> None: ...


def lost_worker_record(reason: str, attempts: int) -> Record:
    """The record of a unit whose worker died on every attempt."""
    return {"status": "error", "metrics": {}, "wall_s": 0.0,
            "error": f"worker lost mid-unit on {attempts} attempt(s): {reason}"}


class SerialExecutor:
    """Runs units one after another in this process (time limit: SIGALRM in the unit)."""

    def __init__(self, timeout_s: float | None = None):
        self.timeout_s = timeout_s

    def run(self, tasks: Iterable[Task]) -> Iterator[tuple[int, Record]]:
        for idx, exp, params, seed, device in tasks:
            yield idx, run_unit(exp, params, seed, device, self.timeout_s)

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


def die_with_parent(parent_pid: int) -> None:
    """Have the kernel SIGKILL this process when its parent dies (Linux
    ``PR_SET_PDEATHSIG``): a driver killed by SIGKILL or SIGTERM (CI cancellation,
    ``timeout``, SLURM pre-emption) runs no cleanup, and its workers (hundreds of MB each)
    would live on, reparented to init. The fork server sets it against the driver and each
    worker against the server, so the kernel takes down the whole tree. ``parent_pid`` is
    the parent this process must have; if it is already gone, exit now. Elsewhere the
    pool's own shutdown is all there is."""
    if not sys.platform.startswith("linux"):
        return
    import ctypes
    import signal

    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # 1 = PR_SET_PDEATHSIG
    except (OSError, AttributeError):  # pragma: no cover - no prctl: nothing to set
        return
    if os.getppid() != parent_pid:  # the parent died before the flag was set
        os._exit(1)


# The fork server the local pool's workers are forked from (see repro/worker_preload.py):
# started once per driver process, as early as a run knows it will need workers, so its
# imports overlap the driver's own.
SERVER_PARENT_ENV = "REPRO_FORK_SERVER_PARENT"
SERVER_PRELOAD = ["repro.worker_preload"]
_server: tuple[int, tuple] | None = None  # (pid, the sources it imported)


def _source_stamp() -> tuple:
    """(path, mtime, size) of every source file of ``repro`` and ``methods``: a server that
    imported other sources than those on disk now must not fork workers, or a unit would
    run old code under a cache key made from the new."""
    import importlib.util

    out = []
    for name in ("repro", "methods"):
        spec = importlib.util.find_spec(name)
        for root in (spec.submodule_search_locations or []) if spec else []:
            for f in sorted(Path(root).rglob("*.py")):
                st = f.stat()
                out.append((str(f), st.st_mtime_ns, st.st_size))
    return tuple(out)


def start_fork_server() -> int | None:
    """Make sure the workers' fork server runs; returns its pid at once (it imports in the
    background), or None where the platform has no fork server."""
    global _server
    if "forkserver" not in mp.get_all_start_methods():
        return None
    from multiprocessing import forkserver

    # the server's pid is private to CPython (checked on 3.11-3.13); without it the
    # workers' parent cannot be checked, so the pool spawns instead
    server = getattr(forkserver, "_forkserver", None)
    if server is None or not hasattr(server, "_forkserver_pid"):
        return None
    mp.get_context("forkserver").set_forkserver_preload(SERVER_PRELOAD)
    stamp = _source_stamp()
    os.environ[SERVER_PARENT_ENV] = str(os.getpid())
    try:
        server.ensure_running()  # a no-op while it is alive
    finally:
        os.environ.pop(SERVER_PARENT_ENV, None)
    pid = server._forkserver_pid
    if pid is None:
        return None
    if _server is None or _server[0] != pid:
        _server = (pid, stamp)
    return pid


def _worker_context() -> tuple[Any, int]:
    """The multiprocessing context for a new pool, and the pid its workers' parent has:
    the fork server while it runs the sources on disk, else (another platform, or code
    edited since it started) spawn, whose workers import everything afresh."""
    pid = start_fork_server()
    if pid is not None and _server is not None and _server[1] == _source_stamp():
        return mp.get_context("forkserver"), pid
    return mp.get_context("spawn"), os.getpid()


_started_queue: Any = None  # in a worker: where it announces each unit it starts


def init_worker(threads: int, parent_pid: int, started: Any = None,
                environ: dict[str, str] | None = None) -> None:
    """Set up a pool worker: die with its parent, take the driver's environment as it is
    now (a forked worker has the server's, from when it started: a changed
    ``REPRO_DATA_DIR`` must reach the unit), and use ``threads`` threads."""
    global _started_queue
    die_with_parent(parent_pid)
    if environ is not None:
        os.environ.clear()
        os.environ.update(environ)
    limit_threads(threads)
    _started_queue = started


def run_unit_announced(idx: int, exp: str, params: dict[str, Any], seed: int, device: str,
                       timeout_s: float | None) -> Record:
    """:func:`run_unit` in a pool worker, first telling the driver when the unit started
    (so its time limit is not charged for the worker's own start-up or a queue wait)."""
    if _started_queue is not None:
        _started_queue.put((idx, time.time()))
    return run_unit(exp, params, seed, device, timeout_s)


# A unit's own timer (SIGALRM inside the worker) stops it at its limit; the driver kills the
# worker only if the unit is still running this long after that (stuck in C code, signals
# blocked). Counted from when the worker announced the unit's start.
KILL_GRACE_S = 10.0


class ProcessExecutor:
    """A local pool of ``jobs`` worker processes, forked from the fork server (each starts
    with torch and the methods packages imported; see :mod:`repro.worker_preload`), or
    spawned where there is none (spawn, never a plain fork of the driver: safe with
    torch's threads).

    At most ``jobs`` units are in the pool at a time, so each one's time limit runs from
    when it starts. When a worker dies (killed, out of memory), the pool breaks and every
    unit still in it fails; those units are resubmitted to a fresh pool one at a time (so a
    unit that kills its worker again takes no innocent unit with it), up to ``max_retries``
    times, after which they become ``error`` records. A unit still running
    ``KILL_GRACE_S`` past its time limit has its workers killed and replaced: it becomes an
    ``error`` record naming the limit, and the units beside it are resubmitted.
    """

    def __init__(self, jobs: int, max_retries: int = 1, timeout_s: float | None = None):
        self.jobs = jobs
        self.threads = max(1, (os.cpu_count() or 1) // jobs)
        self.max_retries = max_retries
        self.timeout_s = timeout_s
        self.pool = self._new_pool()

    def _new_pool(self) -> ProcessPoolExecutor:
        ctx, parent = _worker_context()
        self.started = ctx.SimpleQueue()
        return ProcessPoolExecutor(max_workers=self.jobs, mp_context=ctx,
                                   initializer=init_worker,
                                   initargs=(self.threads, parent, self.started,
                                             dict(os.environ)))

    def _start_times(self) -> dict[int, float]:
        """Units that announced their start since the last look: index -> time.time()."""
        out = {}
        while not self.started.empty():
            idx, t = self.started.get()
            out[idx] = t
        return out

    def _replace_pool(self, kill: bool = False) -> None:
        if kill:
            for proc in list(getattr(self.pool, "_processes", {}).values()):
                try:
                    proc.kill()
                except (OSError, AttributeError):
                    pass
        self.pool.shutdown(wait=kill, cancel_futures=True)
        self.pool = self._new_pool()

    def run(self, tasks: Iterable[Task]) -> Iterator[tuple[int, Record]]:
        queue = deque(tasks)
        attempts: dict[int, int] = {}
        suspects: set[int] = set()  # were in a pool that broke: rerun alone
        running: dict[Any, tuple[Task, float]] = {}  # future -> (task, hard deadline)
        broken = False
        hard = None if self.timeout_s is None else self.timeout_s + KILL_GRACE_S
        while queue or running:
            if broken and not running:
                self._replace_pool()
                broken = False
                continue
            while queue and not broken and len(running) < self.jobs:
                if running and (queue[0][0] in suspects or
                                any(t[0] in suspects for t, _ in running.values())):
                    break  # a suspect runs alone
                task = queue[0]
                idx, exp, params, seed, device = task
                try:
                    fut = self.pool.submit(run_unit_announced, idx, exp, params, seed, device,
                                       self.timeout_s)
                except BrokenProcessPool:  # it broke since the last look: replace it first
                    broken = True
                    break
                queue.popleft()
                attempts[idx] = attempts.get(idx, 0) + 1
                running[fut] = (task, math.inf)  # the deadline is set when it starts
            if not running:
                continue  # the pool broke before anything was submitted: replace it first
            if hard is not None:
                begun = self._start_times()
                for f, (task, _) in running.items():
                    if task[0] in begun:
                        running[f] = (task, begun[task[0]] + hard)
            next_deadline = min(d for _, d in running.values())
            if hard is not None and any(math.isinf(d) for _, d in running.values()):
                next_deadline = min(next_deadline, time.time() + 0.5)  # look for starts
            wait_s = max(0.0, next_deadline - time.time())
            done, _ = wait(list(running), timeout=None if math.isinf(wait_s) else wait_s,
                           return_when=FIRST_COMPLETED)
            for f in done:
                task, _ = running.pop(f)
                idx = task[0]
                try:
                    rec = f.result()
                except BrokenProcessPool as e:
                    broken = True
                    if attempts[idx] <= self.max_retries:
                        suspects.add(idx)
                        queue.append(task)
                        continue
                    rec = lost_worker_record(str(e) or "process pool broken", attempts[idx])
                except Exception as e:  # noqa: BLE001 - a failed submission is a unit error
                    rec = {"status": "error", "metrics": {}, "wall_s": 0.0,
                           "error": f"worker failed: {type(e).__name__}: {e}"}
                yield idx, rec
            now = time.time()
            late = [f for f, (_, d) in running.items() if now >= d and not f.done()]
            if late:
                for f in late:
                    task, _ = running.pop(f)
                    yield task[0], {"status": "error", "metrics": {}, "wall_s": hard or 0.0,
                                    "error": timeout_message(self.timeout_s or 0.0)
                                    + f"; still running {KILL_GRACE_S:g} s later, so its "
                                    "worker was killed and replaced"}
                for f in list(running):  # innocent neighbours: again, not counted
                    task, _ = running.pop(f)
                    attempts[task[0]] -= 1
                    queue.appendleft(task)
                self._replace_pool(kill=True)
                broken = False

    def close(self) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)


def make_executor(jobs: int, kind: str = "local", *, address: str | None = None,
                  gpus_per_unit: float = 0.0, max_retries: int = 1,
                  timeout_s: float | None = None, options: dict[str, Any] | None = None,
                  folder: Any = None) -> Executor:
    """``local``: serial for one job, else a process pool; ``ray``: a Ray cluster;
    ``slurm``: submitit jobs (``options`` from ``repro.executors_slurm.slurm_options``,
    ``folder`` the default place for their logs)."""
    if kind == "local":
        return (SerialExecutor(timeout_s) if jobs <= 1
                else ProcessExecutor(jobs, max_retries, timeout_s))
    if kind == "ray":
        from .executors_ray import RayExecutor

        return RayExecutor(address=address, gpus_per_unit=gpus_per_unit,
                           max_retries=max_retries)
    if kind == "slurm":
        from .executors_slurm import SlurmExecutor

        return SlurmExecutor(options, gpus_per_unit=gpus_per_unit, timeout_s=timeout_s,
                             default_folder=folder)
    raise UsageError(f"unknown executor {kind!r} (one of: {', '.join(EXECUTORS)})")
