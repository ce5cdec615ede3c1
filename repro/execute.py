"""Run one unit, capturing everything: metrics, wall time, or the error and its traceback.

A unit that raises (``sys.exit()`` included), runs past its time limit, or returns a
NaN/inf, becomes an ``error`` record (traceback kept);
:class:`repro.registry.Unavailable` becomes ``skipped`` with its reason. Nothing here
writes files: records go back to the driver, which alone writes cache and results.
"""

from __future__ import annotations

import math
import random
import signal
import threading
import time
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from . import datafiles, registry


def seed_everything(seed: int, device: str = "cpu") -> None:
    """Seed Python, NumPy and torch global RNGs (experiments should still use local ones).

    On the CPU, seeded units are bit-for-bit repeatable (tested for every smoke claim). On
    a GPU, cuDNN autotuning is switched off, deterministic kernels are asked for (with a
    warning, not an error, where an op has none) and cuBLAS gets a fixed workspace, which
    is what can be set; atomics-based kernels (e.g. scatter/index_add backward) can still
    differ in the last bits between runs, so GPU results are reproducible to tolerance,
    not to the bit.
    """
    import numpy as np
    import torch

    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)
    if device == "cuda":
        import os

        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.backends.cudnn.benchmark = False
        torch.backends.cudnn.deterministic = True
        torch.use_deterministic_algorithms(True, warn_only=True)


def _check_metrics(metrics: Any) -> dict[str, Any]:
    if not isinstance(metrics, dict):
        raise TypeError(f"experiment returned {type(metrics).__name__}, expected a dict of metrics")
    out: dict[str, Any] = {}
    for k, v in metrics.items():
        if isinstance(v, (list, tuple)):
            vals = [float(x) for x in v]
            if not all(math.isfinite(x) for x in vals):
                raise FloatingPointError(f"metric {k!r} contains NaN/inf")
            out[str(k)] = vals
        else:
            try:
                x = float(v)
            except (TypeError, ValueError):
                raise TypeError(f"metric {k!r} is {type(v).__name__}, not a number") from None
            if not math.isfinite(x):
                raise FloatingPointError(f"metric {k!r} is {x}")
            out[str(k)] = x
    return out


class UnitTimeout(BaseException):
    """Raised inside a unit when its time limit passes (a BaseException, so an experiment's
    own ``except Exception`` cannot swallow it)."""


@contextmanager
def _time_limit(timeout_s: float | None) -> Iterator[None]:
    """Raise :class:`UnitTimeout` in this thread after ``timeout_s`` seconds (SIGALRM; only
    in the main thread of a POSIX process, which is where units run). A unit stuck in C
    code that never returns to Python is stopped by the pool instead (its worker killed)."""
    usable = (timeout_s is not None and hasattr(signal, "setitimer")
              and threading.current_thread() is threading.main_thread())
    if not usable:
        yield
        return

    def _expired(signum, frame):
        raise UnitTimeout()

    old = signal.signal(signal.SIGALRM, _expired)
    signal.setitimer(signal.ITIMER_REAL, timeout_s)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def timeout_message(timeout_s: float) -> str:
    return (f"timed out: the unit ran past its limit of {timeout_s:g} s (timeout_s of the "
            "scale, or --timeout)")


def run_unit(experiment: str, params: dict[str, Any], seed: int, device: str,
             timeout_s: float | None = None) -> dict[str, Any]:
    """Execute one unit; always returns a record, never raises (except KeyboardInterrupt).

    The record lists the data files the unit read (``data_files``: path under the data
    directory, size, SHA-256), which the cache checks before reusing it."""
    from .settings import data_dir

    t0 = time.perf_counter()
    opened: list[str] = []
    try:
        exp = registry.get(experiment)
        seed_everything(seed, device)
        with datafiles.recording() as opened, _time_limit(timeout_s):
            out = exp(params, seed, device)
        metrics = _check_metrics(out)
        return {"status": "ok", "metrics": metrics, "wall_s": time.perf_counter() - t0,
                "data_files": datafiles.fingerprint(opened, data_dir())}
    except registry.Unavailable as e:
        return {"status": "skipped", "metrics": {}, "wall_s": time.perf_counter() - t0,
                "error": str(e)}
    except KeyboardInterrupt:
        raise  # the user stops the run; finished units are already cached
    except UnitTimeout:
        return {"status": "error", "metrics": {}, "wall_s": time.perf_counter() - t0,
                "error": timeout_message(timeout_s or 0.0)}
    except BaseException as e:  # noqa: BLE001 - every failure, sys.exit() included, is an error
        what = f"{type(e).__name__}: {e}"
        if isinstance(e, SystemExit):
            what = f"the experiment called sys.exit({e.code!r})"
        return {"status": "error", "metrics": {}, "wall_s": time.perf_counter() - t0,
                "error": what, "traceback": traceback.format_exc()}
