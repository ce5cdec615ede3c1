"""Run a claim at one scale: plan units, reuse cached ones, execute the rest, judge, record.

Every finished unit is cached at once (atomically), so an interrupted run resumes where
it stopped. The first finished unit's metrics are checked against the claim's checks, and
a misspelled metric stops the run there: it costs one unit per worker, not the whole run.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import datafiles, provenance, registry
from .cache import UnitCache, unit_key
from .errors import ClaimError, Problem, UsageError
from .evaluate import judge, verify_metrics, verify_plot_metrics
from .executors import make_executor, start_fork_server
from .plan import Unit, plan
from .progress import Progress
from .records import RECORD_FORMAT
from .results import write_record, write_summary
from .schema import Claim, count_points, load_claim, too_many_units
from .settings import cache_dir, data_dir, results_dir
from .verdicts import DECIDED, ERROR, SKIPPED


@dataclass
class RunResult:
    record: dict[str, Any]
    json_path: Path | None

    @property
    def verdict(self) -> str:
        return self.record["verdict"]

    @property
    def expect(self) -> str:
        """The expected verdict, or ``a | b`` when the claim accepts several."""
        from .results import expect_text

        return expect_text(self.record["expect"])

    @property
    def met_expectation(self) -> bool:
        return bool(self.record["met_expectation"])


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


DEFAULT_MAX_SEEDS = 20  # --until-decided without --max-seeds or a claim's max_seeds


def preflight(path: str | Path, scale: str, *, seeds: int | None = None,
              until_decided: bool = False, max_seeds: int | None = None
              ) -> tuple[Claim, int, int]:
    """Validate everything about a run that can be known before it starts: the claim file,
    the scale, the seed counts and the number of units. Returns (claim, starting seeds,
    most seeds); raises ClaimError / UsageError (exit 2)."""
    claim = load_claim(path)
    if scale not in claim.scales:
        raise ClaimError([Problem(claim.source, claim.line("scales"), "scales",
                                  f"the claim defines no scale {scale!r} "
                                  f"(it has: {', '.join(claim.scales)})")])
    n = seeds if seeds is not None else claim.seeds_for(scale)
    n_max = n
    if until_decided:
        n_max = max_seeds or claim.scales[scale].max_seeds or DEFAULT_MAX_SEEDS
        if n_max < 2:
            raise UsageError(f"--max-seeds {n_max}: --until-decided needs at least 2 seeds "
                             "(an interval needs a spread)")
        n = max(2, min(n, n_max))
    elif max_seeds is not None:
        raise UsageError("--max-seeds only has a meaning with --until-decided")
    big = too_many_units(count_points(claim.sweep_for(scale)[0]), n_max)
    if big:
        raise UsageError(f"{claim.id} at scale {scale}: {big}")
    return claim, n, n_max


def run_claim(path: str | Path, scale: str = "default", *, seeds: int | None = None,
              jobs: int = 1, device: str = "auto", use_cache: bool = True,
              cache_root: Path | None = None, results_root: Path | None = None,
              write: bool = True, progress: bool = True, executor: str = "local",
              address: str | None = None, until_decided: bool = False,
              max_seeds: int | None = None, timeout_s: float | None = None,
              executor_options: dict[str, Any] | None = None) -> RunResult:
    """Run the claim at ``path``; raise ClaimError / MetricMissing on bad input.

    ``until_decided``: start at ``seeds`` (or the claim's count) and add seeds in batches
    until every check is decided (by a time-uniform confidence sequence, so the extra
    looks cost no validity) or ``max_seeds`` (else the scale's pre-registered
    ``max_seeds``, else 20) is reached.
    """
    t_start = time.perf_counter()
    load_start = provenance.load_average()
    if executor == "local" and jobs > 1:
        start_fork_server()  # its imports overlap this process's reading and planning
    claim, n, n_max = preflight(path, scale, seeds=seeds, until_decided=until_decided,
                                max_seeds=max_seeds)
    timeout_s = timeout_s if timeout_s is not None else claim.timeout_for(scale)
    data_root = data_dir()
    device = resolve_device(device, remote=executor != "local")
    cache = UnitCache(cache_root or cache_dir())
    skip = _skip_reason(claim, scale, device)
    done: dict[str, dict[str, Any]] = {}
    gpus = 1.0 if "cuda" in claim.scales[scale].requires else 0.0
    pool = None
    verified = False
    history: list[dict[str, Any]] = []
    stop_reason = ""
    walls = previous_walls(claim.id, scale, results_root)  # read once, not at every look
    try:
        while True:
            units = plan(claim, scale, n)
            keys = [unit_key(u, device) for u in units]
            todo = [i for i, k in enumerate(keys) if k not in done]
            bar = Progress(len(todo), f"{claim.id} [{scale}, {n} seeds]", enabled=progress)
            try:
                pending = []
                for i in todo:
                    u, k = units[i], keys[i]
                    if skip:
                        done[k] = {"status": SKIPPED, "metrics": {}, "wall_s": 0.0,
                                   "error": skip}
                        bar.advance(u.label(), SKIPPED, 0.0, False)
                        continue
                    hit = cache.get(k) if use_cache else None
                    if hit is not None and datafiles.changed(hit.get("data_files") or [],
                                                             data_root):
                        hit = None  # its data is gone or changed: recompute, never replay
                    if hit is not None:
                        hit = _typed(hit, done, u)
                    if hit is not None:
                        done[k] = {**hit, "cached": True}
                        bar.advance(u.label(), hit["status"], hit["wall_s"], True)
                    else:
                        pending.append(i)
                if not verified:
                    verified = _verify_first(claim, scale, [done.get(k) for k in keys])
                pending = longest_first(pending, units, walls)
                if pending and pool is None:
                    pool = make_executor(jobs, executor, address=address, gpus_per_unit=gpus,
                                         timeout_s=timeout_s, options=executor_options,
                                         folder=cache.root.parent / "slurm")
                # Metric names are checked on the first unit that finishes, so a misspelled
                # metric costs one unit per worker (serial: exactly one), not the whole run;
                # MetricMissing leaves this loop and close() cancels what has not started.
                for i, rec in (pool.run(_task(units[i], device, i) for i in pending)
                               if pending else ()):
                    _finish(keys[i], rec, units[i], done, cache, bar)
                    if not verified and rec["status"] == "ok":
                        verified = _verify_first(claim, scale, [done.get(k) for k in keys])
            finally:
                bar.close()
            rows = [_unit_row(u, k, done[k]) for u, k in zip(units, keys)]
            judged = judge(claim, scale, rows, interval="cs" if until_decided else "t")
            if not until_decided:
                break
            open_ = undecided(judged)
            history.append({"seeds": n, "verdict": judged["verdict"], "undecided": open_})
            if judged["verdict"] in (ERROR, SKIPPED):
                stop_reason = f"verdict {judged['verdict']}: more seeds cannot change it"
                break
            if not open_:
                stop_reason = "every check decided"
                break
            if n >= n_max:
                stop_reason = (f"reached the maximum of {n_max} seeds; undecided: "
                               + ", ".join(open_))
                break
            n = min(n_max, n + max(2, jobs))
    finally:
        if pool is not None:
            pool.close()
    code_clean = provenance.code_clean(registry.get(claim.experiment).package)
    for r in rows:
        r["code_clean"] = code_clean
    record = assemble_record(claim, scale, n, judged, rows, device=device, t_start=t_start,
                             load_start=load_start, jobs=jobs)
    if until_decided:
        record["sequential"] = {
            "rule": f"start at {history[0]['seeds']} seeds, add max(2, jobs) at a time until "
                    f"every check is decided (preconditions count per seed), at most {n_max}",
            "method": judged_method(judged), "max_seeds": n_max, "seeds": n,
            "reason": stop_reason, "looks": history}
    jpath = None
    if write:
        jpath = write_record(record, results_root)
        write_summary(results_root)
    return RunResult(record, jpath)


def undecided(judged: dict[str, Any]) -> list[str]:
    """Names of the checks whose verdict is not yet reproduced / not_reproduced."""
    return [c["name"] for c in judged["checks"] if c["verdict"] not in DECIDED]


def judged_method(judged: dict[str, Any]) -> str:
    for c in judged["checks"] + judged["preconditions"] + judged["report"]:
        for g in c["groups"]:
            if g.get("interval"):
                return g["interval"]["method"]
    return ""


def assemble_record(claim: Claim, scale: str, seeds: int, judged: dict[str, Any],
                    rows: list[dict[str, Any]], *, device: str, t_start: float,
                    load_start: tuple[float, float, float] | None, jobs: int = 1,
                    claim_path: str | None = None) -> dict[str, Any]:
    """The JSON record of one claim run (or re-judgement) from its judged entries."""
    compute = sum(r["wall_s"] for r in rows if not r.get("cached"))
    claim_json = claim.model_dump(mode="json")
    verdict = judged["verdict"]
    return {
        "format": RECORD_FORMAT,
        "claim": claim_json,
        "scale": scale,
        "seeds": seeds,
        "verdict": verdict,
        "expect": claim_json["expect"][scale],
        "met_expectation": verdict in claim.expected(scale),
        "checks": judged["checks"],
        "preconditions": judged["preconditions"],
        "report": judged["report"],
        "excluded_seeds": judged["excluded_seeds"],
        "seeds_run": judged["seeds_run"],
        "units": rows,
        "timing": {"total_s": time.perf_counter() - t_start, "compute_s": compute,
                   "units_wall_s": sum(r["wall_s"] for r in rows),
                   "cached_units": sum(1 for r in rows if r.get("cached"))},
        "provenance": provenance.collect(device, load_start=load_start, jobs=jobs,
                                         claim_path=claim_path or claim.source),
    }


def previous_walls(claim_id: str, scale: str, results_root: Path | None
                   ) -> dict[tuple[str, int], float]:
    """Each unit's wall time in this claim's last record at ``scale`` (by sweep point and
    seed index): the estimates :func:`longest_first` orders by. Empty when there is none
    or it cannot be read (the order is then the plan's)."""
    path = Path(results_root or results_dir()) / claim_id / f"{scale}.json"
    try:
        rec = json.loads(path.read_text(encoding="utf-8"))
        return {(repr(sorted(u["point"].items())), int(u["seed_index"])): float(u["wall_s"])
                for u in rec["units"] if not u.get("cached")}
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return {}


def longest_first(pending: list[int], units: list[Unit],
                  walls: dict[tuple[str, int], float]) -> list[int]:
    """``pending`` with the units expected to take longest first (LPT scheduling: the
    makespan on k workers is then within 4/3 of the best, and no long unit starts last
    while the other worker idles). Units without an estimate keep the plan's order after
    the known ones' median; a stable sort, so equal estimates keep the plan's order."""
    if not walls or len(pending) < 2:
        return pending
    est = [walls.get((repr(sorted(units[i].point.items())), units[i].seed_index))
           for i in pending]
    known = sorted(w for w in est if w is not None)
    if not known:
        return pending
    fill = known[len(known) // 2]
    order = sorted(range(len(pending)), key=lambda j: -(est[j] if est[j] is not None
                                                           else fill))
    return [pending[j] for j in order]


def _task(u: Unit, device: str, i: int):
    return (i, u.experiment, u.params, u.seed, device)


def metric_kinds(metrics: dict[str, Any]) -> dict[str, str]:
    """Each metric's kind: ``list`` (a curve) or ``number``."""
    return {k: "list" if isinstance(v, list) else "number" for k, v in metrics.items()}


def _typed(rec: dict[str, Any], done: dict[str, dict[str, Any]], unit: Unit) -> dict[str, Any]:
    """``rec``, or an error record if one of its metrics is a number where the first
    finished unit's is a list (or the reverse): judging would otherwise fail for the whole
    claim, and a cached unit would repeat the failure on every rerun."""
    if rec["status"] != "ok":
        return rec
    first = next((r for r in done.values() if r["status"] == "ok"), None)
    if first is None:
        return rec
    want, got = metric_kinds(first["metrics"]), metric_kinds(rec["metrics"])
    bad = [k for k in got if k in want and got[k] != want[k]]
    if not bad:
        return rec
    k = bad[0]
    return {"status": "error", "metrics": {}, "wall_s": rec["wall_s"],
            "error": f"metric {k!r} is a {got[k]} in {unit.label()} but a {want[k]} in the "
                     "first finished unit: an experiment must return the same kinds of "
                     "metric for every unit"}


def _finish(key, rec, unit, done, cache, bar) -> None:
    rec = _typed(rec, done, unit)
    done[key] = {**rec, "cached": False}
    if rec["status"] == "ok":  # errors and skips are never cached: a rerun retries them
        cache.put(key, {k: v for k, v in rec.items() if k != "cached"})
    bar.advance(unit.label(), rec["status"], rec["wall_s"], False)


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
