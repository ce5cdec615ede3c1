"""Run a claim at one scale: plan units, reuse cached ones, execute the rest, judge, record.

Every finished unit is cached at once (atomically), so an interrupted run resumes where
it stopped. The first finished unit's metrics are checked against the claim's checks, and
a misspelled metric stops the run there: it costs one unit per worker, not the whole run.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import provenance
from .cache import UnitCache, unit_key
from .errors import ClaimError, Problem, UsageError
from .evaluate import evaluate, verify_metrics, verify_plot_metrics
from .executors import make_executor
from .plan import Unit, plan
from .progress import Progress
from .results import write_record, write_summary
from .schema import Claim, load_claim
from .settings import cache_dir
from .verdicts import SKIPPED, combine


@dataclass
class RunResult:
    record: dict[str, Any]
    json_path: Path | None

    @property
    def verdict(self) -> str:
        return self.record["verdict"]

    @property
    def expect(self) -> str:
        return self.record["expect"]

    @property
    def met_expectation(self) -> bool:
        return self.record["verdict"] == self.record["expect"]


def resolve_device(device: str, remote: bool = False) -> str:
    """``auto`` is the local machine's best; with a remote executor (``remote``) the
    workers, not this machine, must have the GPU that ``cuda`` asks for."""
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and not remote and not torch.cuda.is_available():
        raise UsageError("--device cuda asked for, but torch sees no CUDA device")
    if device not in ("cpu", "cuda"):
        raise UsageError(f"unknown device {device!r} (auto, cpu or cuda)")
    return device


def _skip_reason(claim: Claim, scale: str, device: str) -> str | None:
    if "cuda" in claim.scales[scale].requires and device != "cuda":
        return f"scale {scale!r} needs a CUDA GPU; run with --device cuda on a GPU machine"
    return None


def run_claim(path: str | Path, scale: str = "default", *, seeds: int | None = None,
              jobs: int = 1, device: str = "auto", use_cache: bool = True,
              cache_root: Path | None = None, results_root: Path | None = None,
              write: bool = True, progress: bool = True, executor: str = "local",
              address: str | None = None) -> RunResult:
    """Run the claim at ``path``; raise ClaimError / MetricMissing on bad input."""
    t_start = time.perf_counter()
    claim = load_claim(path)
    if scale not in claim.scales:
        raise ClaimError([Problem(claim.source, claim.line("scales"), "scales",
                                  f"the claim defines no scale {scale!r} "
                                  f"(it has: {', '.join(claim.scales)})")])
    device = resolve_device(device, remote=executor != "local")
    units = plan(claim, scale, seeds)
    cache = UnitCache(cache_root or cache_dir())
    records: list[dict[str, Any] | None] = [None] * len(units)
    keys = [unit_key(u, device) for u in units]
    bar = Progress(len(units), f"{claim.id} [{scale}]", enabled=progress)
    skip = _skip_reason(claim, scale, device)
    try:
        pending = []
        for i, (u, k) in enumerate(zip(units, keys)):
            if skip:
                records[i] = {"status": SKIPPED, "metrics": {}, "wall_s": 0.0, "error": skip}
                bar.advance(u.label(), SKIPPED, 0.0, False)
                continue
            hit = cache.get(k) if use_cache else None
            if hit is not None:
                records[i] = {**hit, "cached": True}
                bar.advance(u.label(), hit["status"], hit["wall_s"], True)
            else:
                pending.append(i)
        verified = _verify_first(claim, scale, records)
        gpus = 1.0 if "cuda" in claim.scales[scale].requires else 0.0
        pool = make_executor(jobs, executor, address=address, gpus_per_unit=gpus) if (
            pending) else None
        try:
            # Metric names are checked on the first unit that finishes, so a misspelled
            # metric costs one unit per worker (serial: exactly one), not the whole run;
            # MetricMissing leaves this loop and close() cancels what has not started.
            for i, rec in (pool.run(_task(units[i], device, i) for i in pending)
                           if pending else ()):
                _finish(i, rec, units, keys, records, cache, bar)
                if not verified and rec["status"] == "ok":
                    verified = _verify_first(claim, scale, records)
        finally:
            if pool is not None:
                pool.close()
    finally:
        bar.close()
    rows = [_unit_row(u, k, r) for u, k, r in zip(units, keys, records)]
    checks = evaluate(claim, scale, rows)
    verdict = combine(c["verdict"] for c in checks) if checks else "error"
    compute = sum(r["wall_s"] for r in rows if not r.get("cached"))
    record = {
        "format": 1,
        "claim": claim.model_dump(mode="json"),
        "scale": scale,
        "seeds": seeds if seeds is not None else claim.seeds_for(scale),
        "verdict": verdict,
        "expect": claim.expect[scale],
        "met_expectation": verdict == claim.expect[scale],
        "checks": checks,
        "units": rows,
        "timing": {"total_s": time.perf_counter() - t_start, "compute_s": compute,
                   "units_wall_s": sum(r["wall_s"] for r in rows),
                   "cached_units": sum(1 for r in rows if r.get("cached"))},
        "provenance": provenance.collect(device),
    }
    jpath = None
    if write:
        jpath = write_record(record, results_root)
        write_summary(results_root)
    return RunResult(record, jpath)


def _task(u: Unit, device: str, i: int):
    return (i, u.experiment, u.params, u.seed, device)


def _finish(i, rec, units, keys, records, cache, bar) -> None:
    records[i] = {**rec, "cached": False}
    if rec["status"] == "ok":  # errors and skips are never cached: a rerun retries them
        cache.put(keys[i], {k: v for k, v in rec.items() if k != "cached"})
    bar.advance(units[i].label(), rec["status"], rec["wall_s"], False)


def _verify_first(claim: Claim, scale: str, records) -> bool:
    """Check metric names on the first ok record; True once verified."""
    for r in records:
        if r is not None and r["status"] == "ok":
            verify_metrics(claim, scale, r["metrics"])
            verify_plot_metrics(claim, r["metrics"])
            return True
    return False


def _unit_row(u: Unit, key: str, r: dict[str, Any]) -> dict[str, Any]:
    return {"point": u.point, "seed_index": u.seed_index, "seed": u.seed, "params": u.params,
            "key": key, **r}
