"""Run units on a Ray cluster (``repro run ... --executor ray [--address auto|HOST:PORT]``).

Why Ray: it already does scheduling, GPU accounting and worker-failure detection across
machines; the harness only maps a unit to a task. Each unit is one Ray task that returns
its record (workers never write files; the driver caches and writes results). A task
whose worker dies is retried by Ray (``max_retries``); if it dies again the unit becomes an
``error`` record. Units ask for one CPU, and ``gpus_per_unit`` GPUs when the claim's
scale requires CUDA.

The worker processes import ``methods`` like the driver does, so every node needs the
project installed (``pip install -e ".[ray]"`` in the same checkout, or a shared file
system); for a cluster without one, pass a Ray ``runtime_env`` with a ``working_dir``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from .errors import UsageError
from .executors import Record, Task, lost_worker_record


def _run_on_worker(exp: str, params: dict[str, Any], seed: int, device: str,
                   threads: int) -> Record:
    from .execute import run_unit
    from .executors import limit_threads

    limit_threads(threads)
    return run_unit(exp, params, seed, device)


def _check_reachable(address: str | None, timeout_s: float = 5.0) -> None:
    """Fail fast on a HOST:PORT nobody listens on: ``ray.init`` would retry for minutes."""
    import socket

    if not address or address == "auto" or address.startswith(("ray://", "local")):
        return
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit():
        raise UsageError(f"--address must be 'auto' or HOST:PORT, got {address!r}")
    try:
        with socket.create_connection((host, int(port)), timeout=timeout_s):
            pass
    except OSError as e:
        raise UsageError(f"no Ray cluster answers at {address} ({e.strerror or e}); start one "
                         f"with `ray start --head --port {port}` or check the address") from None


class RayExecutor:
    """Units as Ray tasks; ``address`` None starts a private local Ray instance."""

    def __init__(self, address: str | None = None, gpus_per_unit: float = 0.0,
                 cpus_per_unit: int = 1, max_retries: int = 1, poll_s: float = 5.0,
                 runtime_env: dict[str, Any] | None = None):
        try:
            import ray
        except ImportError:
            raise UsageError('--executor ray needs Ray: pip install -e ".[ray]"') from None
        self.ray = ray
        self.started_here = not ray.is_initialized()
        if self.started_here:
            _check_reachable(address)
            try:
                # no address: a new private instance ("local"); plain None would join a
                # cluster recorded in /tmp/ray by an earlier `ray start`, or wait for a dead one
                ray.init(address=address or "local", include_dashboard=False,
                         log_to_driver=False,
                         configure_logging=False, runtime_env=runtime_env)
            except ConnectionError as e:
                raise UsageError(f"cannot reach a Ray cluster at {address!r}: {e}") from None
        self.max_retries = max_retries
        self.poll_s = poll_s
        self.remote = ray.remote(_run_on_worker).options(
            num_cpus=cpus_per_unit, num_gpus=gpus_per_unit, max_retries=max_retries,
            retry_exceptions=False)
        self.threads = cpus_per_unit

    def run(self, tasks: Iterable[Task]) -> Iterator[tuple[int, Record]]:
        ray = self.ray
        refs = {self.remote.remote(exp, params, seed, device, self.threads): idx
                for idx, exp, params, seed, device in tasks}
        pending = self._pending = list(refs)
        while pending:
            done, pending = ray.wait(pending, num_returns=1, timeout=self.poll_s)
            self._pending = pending
            for ref in done:
                try:
                    rec = ray.get(ref)
                except (ray.exceptions.WorkerCrashedError, ray.exceptions.NodeDiedError,
                        ray.exceptions.OutOfMemoryError, ray.exceptions.RaySystemError) as e:
                    rec = lost_worker_record(f"{type(e).__name__}: {e}".splitlines()[0],
                                             self.max_retries + 1)
                except ray.exceptions.RayError as e:
                    rec = {"status": "error", "metrics": {}, "wall_s": 0.0,
                           "error": f"ray task failed: {type(e).__name__}: "
                                    f"{str(e).splitlines()[0] if str(e) else ''}"}
                yield refs[ref], rec

    def close(self) -> None:
        """Cancel units not yet returned (a run stopped early, e.g. on a misspelled metric,
        must not leave work on a shared cluster), then disconnect."""
        if self.ray.is_initialized():
            for ref in getattr(self, "_pending", []):
                try:
                    self.ray.cancel(ref, force=True)
                except Exception:  # noqa: BLE001 - already finished or gone: nothing to cancel
                    pass
            if self.started_here:
                self.ray.shutdown()
