"""Toy experiments with known answers: the harness's own test fixtures and a template for
a new paper package. Each returns numbers whose distribution is known in closed form, so
a harness test can say exactly which verdict must come out.
"""

from __future__ import annotations

import numpy as np

from repro.registry import Unavailable, experiment


@experiment("toy_gaussian")
def toy_gaussian(*, seed: int, device: str = "cpu", mean: float = 0.0, sd: float = 1.0,
                 scale: float = 1.0, power: float = -2.0, noise: float = 0.0,
                 fail_seed_index: int = -1, seed_offset: int = 0) -> dict:
    """x ~ N(mean, sd²); y = scale·power-law value with multiplicative noise; a curve.

    ``fail_seed_index`` >= 0 makes the unit whose seed is ``seed_offset + fail_seed_index``
    raise, to test error handling (the harness passes seeds, not indices).
    """
    if sd < 0:
        raise ValueError(f"sd must be >= 0, got {sd}")
    if fail_seed_index >= 0 and seed == fail_seed_index + seed_offset:
        raise RuntimeError("toy failure on purpose")
    rng = np.random.default_rng(seed)
    x = float(mean + sd * rng.standard_normal())
    y = float(scale ** power * np.exp(noise * rng.standard_normal()))
    return {"x": x, "y": y, "x_plus_one": x + 1.0, "curve": [x, x / 2, x / 4],
            "curve_t": [1.0, 2.0, 3.0]}


@experiment("toy_nan")
def toy_nan(*, seed: int, device: str = "cpu", nan_on_odd: bool = True) -> dict:
    """Returns NaN on odd seeds: the harness must call that an error."""
    return {"x": float("nan") if (nan_on_odd and seed % 2) else 1.0}


@experiment("toy_unavailable")
def toy_unavailable(*, seed: int, device: str = "cpu", dataset: str = "imaginary") -> dict:
    """Always missing data: the harness must report ``skipped`` with this reason."""
    raise Unavailable(f"dataset {dataset!r} is not in the data directory; get it from "
                      "https://example.org and put it under $REPRO_DATA_DIR")


@experiment("toy_slow")
def toy_slow(*, seed: int, device: str = "cpu", delay: float = 0.3, mean: float = 0.0,
             sd: float = 0.1) -> dict:
    """Sleeps ``delay`` seconds, then x ~ N(mean, sd²): for interrupt/resume and pool tests."""
    import time

    time.sleep(delay)
    rng = np.random.default_rng(seed)
    return {"x": float(mean + sd * rng.standard_normal())}


@experiment("toy_required")
def toy_required(*, seed: int, device: str = "cpu", n: int, label: str = "a") -> dict:
    """``n`` has no default, so a claim must set it: for the required-parameter check."""
    return {"x": float(n), "seed_mod": float(seed % 7)}


@experiment("toy_noop")
def toy_noop(*, seed: int, device: str = "cpu") -> dict:
    """Does nothing: measures the harness's own per-unit overhead (benchmarks)."""
    return {"x": float(seed % 2)}


@experiment("toy_crash")
def toy_crash(*, seed: int, device: str = "cpu", marker_dir: str = "", crashes: int = 1,
              crash_seed_index: int = 0, seed_offset: int = 0) -> dict:
    """Kills its own worker process (SIGKILL) the first ``crashes`` times the unit whose
    seed is ``seed_offset + crash_seed_index`` runs: a worker lost mid-unit. Attempts are
    counted in files under ``marker_dir`` (shared by the driver and every worker)."""
    import os
    import signal
    from pathlib import Path

    if seed == seed_offset + crash_seed_index and marker_dir:
        d = Path(marker_dir)
        d.mkdir(parents=True, exist_ok=True)
        attempts = len(list(d.glob(f"attempt-{seed}-*")))
        (d / f"attempt-{seed}-{attempts}").touch()
        if attempts < crashes:
            os.kill(os.getpid(), signal.SIGKILL)
    rng = np.random.default_rng(seed)
    return {"x": float(1.0 + 0.01 * rng.standard_normal())}


@experiment("toy_exit")
def toy_exit(*, seed: int, device: str = "cpu", code: int = 0) -> dict:
    """Calls ``sys.exit(code)``: the harness must record an error, never exit 0 silently."""
    import sys

    sys.exit(code)


@experiment("toy_hang")
def toy_hang(*, seed: int, device: str = "cpu", seconds: float = 3600.0,
             block_alarm: bool = False, hang_seed_index: int = 0, seed_offset: int = 0) -> dict:
    """The unit whose seed is ``seed_offset + hang_seed_index`` sleeps ``seconds`` (a hang);
    the others return at once. ``block_alarm`` blocks SIGALRM first, as code stuck in C
    would ignore it, so only killing the worker can stop it."""
    import signal
    import time

    if seed == seed_offset + hang_seed_index:
        if block_alarm:
            signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGALRM})
        time.sleep(seconds)
    return {"x": 1.0}


@experiment("toy_mixed_kinds")
def toy_mixed_kinds(*, seed: int, device: str = "cpu", list_seed: int = -1) -> dict:
    """``x`` is a number, except a list for the unit whose seed is ``list_seed``: an
    experiment whose metric changes kind between units."""
    return {"x": [1.0, 1.0] if seed == list_seed else 1.0}


@experiment("toy_data")
def toy_data(*, seed: int, device: str = "cpu", name: str = "toy/values.txt") -> dict:
    """Reads numbers from ``$REPRO_DATA_DIR/<name>`` (skipped when the file is missing):
    a real loader in miniature, for the data-aware cache."""
    from repro.settings import data_dir

    f = data_dir() / name
    if not f.is_file():
        raise Unavailable(f"{f} is missing: put a file of numbers there")
    with open(f, encoding="utf-8") as fh:
        vals = [float(v) for v in fh.read().split()]
    return {"x": float(np.mean(vals))}
