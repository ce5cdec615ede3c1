"""Turn unit records into check results and verdicts.

Pointwise ops (within, at_least, at_most, between, inside_band) are judged separately
at every sweep point; sweep ops (loglog_slope, monotone) compute one statistic per seed
along their ``over`` parameter, separately for each combination of the other swept
parameters. A pointwise check with ``aggregate: mean|median`` and ``over: AXIS`` reduces
its per-point statistics, per seed, to their mean or median along that axis (paired by
seed) and is judged once per combination of the other parameters. A check's verdict
combines its groups with :func:`repro.verdicts.combine`.

:func:`judge` is the whole claim: preconditions first (a seed failing one is excluded),
then the checks and ``report:`` entries over the seeds that remain, then the verdict.
"""

from __future__ import annotations

import math
from collections import defaultdict
from typing import Any

import numpy as np

from . import checks as ops
from .errors import MetricMissing
from .schema import Check, Claim, ReportItem
from .verdicts import (
    ERROR,
    INVALID,
    REPORTED,
    REPRODUCED,
    SKIPPED,
    combine,
    cs_interval,
    interval_verdict,
    t_interval,
)

SWEEP_OPS = ("loglog_slope", "monotone")


def referenced_metrics(check: Check | ReportItem) -> list[str]:
    names = [check.metric]
    extra = (check.minus,) if isinstance(check, ReportItem) else (check.ref, check.lower,
                                                                   check.upper)
    for v in extra:
        if isinstance(v, str):
            names.append(v)
    return names


def verify_metrics(claim: Claim, scale: str, metrics: dict[str, Any]) -> None:
    """Raise MetricMissing (with file:line) if a check names a metric the unit did not return."""
    import difflib

    sections = (("checks", claim.checks), ("preconditions", claim.preconditions),
                ("report", claim.report))
    for section, items in sections:
        for i, c in enumerate(items):
            if not c.applies_to(scale):
                continue
            for name in referenced_metrics(c):
                line = claim.line(section, i)
                if name not in metrics:
                    close = difflib.get_close_matches(name, list(metrics), n=2, cutoff=0.6)
                    hint = f"; did you mean {' or '.join(map(repr, close))}?" if close else ""
                    raise MetricMissing(
                        f"{claim.source}:{line}: {section}[{i}] ({c.name}): experiment "
                        f"{claim.experiment!r} returns no metric {name!r}{hint} "
                        f"(it returns: {', '.join(sorted(metrics))})")
                if not isinstance(metrics[name], float):
                    raise MetricMissing(
                        f"{claim.source}:{line}: {section}[{i}] ({c.name}): "
                        f"metric {name!r} is a list, checks need a number")


def verify_plot_metrics(claim: Claim, metrics: dict[str, Any]) -> None:
    """Raise MetricMissing (with file:line) if a plot names a metric the unit did not return."""
    import difflib

    for i, p in enumerate(claim.plots):
        for name in (p.y if p.kind == "bar" else [p.x, *p.y]):
            if name not in metrics:
                close = difflib.get_close_matches(name, list(metrics), n=2, cutoff=0.6)
                hint = f"; did you mean {' or '.join(map(repr, close))}?" if close else ""
                raise MetricMissing(
                    f"{claim.source}:{claim.line('plots', i)}: plots[{i}] ({p.name}): "
                    f"experiment {claim.experiment!r} returns no metric {name!r}{hint}")


def _value(metrics: dict[str, Any], ref: str | float) -> float:
    return float(ref) if not isinstance(ref, str) else float(metrics[ref])


def _pointwise(check: Check, m: dict[str, Any]) -> float:
    a = float(m[check.metric])
    if check.op in ("within", "at_least", "at_most"):
        return ops.difference(a, _value(m, check.ref))
    if check.op == "between":
        return ops.identity(a)
    if check.op == "inside_band":
        return ops.band_margin(a, _value(m, check.lower), _value(m, check.upper))
    raise ValueError(check.op)


def _matches(point: dict[str, Any], where: dict[str, Any] | None) -> bool:
    return all(point.get(k) == v for k, v in (where or {}).items())


def aggregate_values(values: list[float], how: str) -> float:
    """The per-seed aggregate over sweep points: mean or median (NaN propagates)."""
    x = np.asarray(values, dtype=float)
    if x.size == 0:
        raise ValueError("nothing to aggregate")
    if not np.all(np.isfinite(x)):
        return math.nan
    return float(x.mean() if how == "mean" else np.median(x))


def _interval(values: list[float], interval: str):
    return cs_interval(values) if interval == "cs" else t_interval(values)


def _grouped(units: list[dict[str, Any]], where, over) -> list[tuple[dict, list[dict]]]:
    """Units matching ``where``, grouped by their sweep point without ``over``.

    With ``over``, only keys that every matched point sets are grouping axes: a key set on
    some points only (a list sweep's per-point setting, e.g. ``{dataset: FordA,
    max_train: 500}``) travels with its ``over`` value, so an aggregate over datasets is
    over all of them, not split by which datasets happen to carry ``max_train``."""
    rows = [u for u in units if _matches(u["point"], where)]
    if over is not None and rows:
        axes = set.intersection(*(set(u["point"]) for u in rows)) - {over}
    else:
        axes = None

    def gpoint(u):
        return {k: v for k, v in u["point"].items()
                if k != over and (axes is None or k in axes)}

    groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for u in rows:
        groups[repr(sorted(gpoint(u).items()))].append(u)
    return [(gpoint(m[0]), m) for m in groups.values()]


def evaluate_check(check: Check, units: list[dict[str, Any]],
                   interval: str = "t") -> dict[str, Any]:
    """Evaluate one check over unit rows ({point, seed_index, status, metrics, error});
    ``interval`` is ``t`` (fixed n) or ``cs`` (confidence sequence, --until-decided)."""
    region = ops.region(check.op, tol=check.tol, margin=check.margin, lo=check.lo,
                        hi=check.hi, target=check.target)
    over = check.over if (check.op in SWEEP_OPS or check.aggregate) else None
    out_groups = [_evaluate_group(members, gpoint, region, interval,
                                  lambda us, c=check: _seed_statistic(c, us))
                  for gpoint, members in _grouped(units, check.where, over)]
    verdict = combine(g["verdict"] for g in out_groups) if out_groups else ERROR
    return {
        "name": check.name, "op": check.op, "metric": check.metric,
        "ref": check.ref, "region": list(region), "paper": check.paper, "why": check.why,
        "over": over, "aggregate": check.aggregate, "verdict": verdict, "groups": out_groups,
        **({"drift": check.drift} if check.drift is not None else {}),
        **({"error": "no unit matches this check's 'where'"} if not out_groups else {}),
    }


def evaluate_report(item: ReportItem, units: list[dict[str, Any]],
                    interval: str = "t") -> dict[str, Any]:
    """A report entry: the same per-seed statistic and interval as a check, no verdict."""
    region = (-math.inf, math.inf)

    def stat(us: list[dict[str, Any]]) -> float:
        vals = [float(u["metrics"][item.metric]) - (float(u["metrics"][item.minus])
                                                     if item.minus else 0.0) for u in us]
        if item.aggregate:
            return aggregate_values(vals, item.aggregate)
        (v,) = vals
        return v

    groups = [_evaluate_group(members, gpoint, region, interval, stat)
              for gpoint, members in _grouped(units, item.where, item.over)]
    for g in groups:
        if g["verdict"] == REPRODUCED:  # inside (-inf, inf): measured, not judged
            g["verdict"] = REPORTED
    bad = [g["verdict"] for g in groups if g["verdict"] != REPORTED]
    return {
        "name": item.name, "op": "report", "metric": item.metric, "ref": item.minus,
        "region": list(region), "paper": item.paper, "why": item.why or "",
        "over": item.over, "aggregate": item.aggregate,
        "verdict": combine(bad) if bad else (REPORTED if groups else ERROR), "groups": groups,
        **({"error": "no unit matches this entry's 'where'"} if not groups else {}),
    }


def _evaluate_group(members: list[dict[str, Any]], gpoint: dict[str, Any],
                    region: tuple[float, float], interval: str, statistic) -> dict[str, Any]:
    base = {"point": gpoint, "per_seed": [], "seeds": [], "interval": None}
    bad = [u for u in members if u["status"] != "ok"]
    if bad:
        status = ERROR if any(u["status"] == "error" for u in bad) else SKIPPED
        first = next(u for u in bad if u["status"] == status)
        return {**base, "verdict": status, "reason": first.get("error", "")}
    by_seed: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for u in members:
        by_seed[u["seed_index"]].append(u)
    per_seed: list[float] = []
    for si, us in sorted(by_seed.items()):
        try:
            per_seed.append(statistic(us))
        except KeyError as e:
            return {**base, "verdict": ERROR,
                    "reason": f"seed#{si} at {gpoint or 'the only point'} returned no metric {e}"}
    iv = _interval(per_seed, interval)
    verdict = interval_verdict(iv, region)
    group = {**base, "per_seed": per_seed, "seeds": sorted(by_seed), "verdict": verdict,
             "interval": {"mean": iv.mean, "lo": iv.lo, "hi": iv.hi, "n": iv.n,
                          "method": iv.method}}
    if verdict == ERROR:
        group["reason"] = "non-finite statistic (NaN/inf) in: " + ", ".join(
            f"seed#{i}" for i, s in zip(sorted(by_seed), per_seed) if not math.isfinite(s))
    return group


def _seed_statistic(check: Check, us: list[dict[str, Any]]) -> float:
    """One seed's statistic from its unit(s) in a group."""
    if check.op in SWEEP_OPS:
        xs = [float(u["point"][check.over]) for u in us]
        ys = [float(u["metrics"][check.metric]) for u in us]
        if check.op == "loglog_slope":
            return ops.loglog_slope(xs, ys)
        return ops.monotone_step(xs, ys, check.direction)
    if check.aggregate:
        return aggregate_values([_pointwise(check, u["metrics"]) for u in us], check.aggregate)
    (u,) = us
    return _pointwise(check, u["metrics"])


def excluded_seeds(preconditions: list[dict[str, Any]]) -> dict[int, list[str]]:
    """Seed index -> the preconditions it failed, each with its number (the statistic shown
    as the quantity the tables show, i.e. shifted back by a numeric ref)."""
    from .results import quantity, shift

    out: dict[int, list[str]] = defaultdict(list)
    for p in preconditions:
        for g in p["groups"]:
            for si, s in zip(g.get("seeds", []), g.get("per_seed", [])):
                if not ops.holds(s, tuple(p["region"])):
                    at = f" at {g['point']}" if g["point"] else ""
                    out[si].append(f"{p['name']}{at}: {quantity(p)} = {s + shift(p):.6g}")
    return dict(out)


def judge(claim: Claim, scale: str, units: list[dict[str, Any]],
          interval: str = "t") -> dict[str, Any]:
    """Preconditions, checks and reports of ``claim`` at ``scale`` over unit rows, and the
    claim verdict.

    A seed that fails any precondition (at any point it covers) is excluded from the
    checks and reports. With fewer than min(2, seeds run) seeds left the claim is
    ``invalid``: its checks are still computed over all seeds, to show the numbers, but
    carry the verdict ``invalid``. A claim with only ``report:`` entries is ``reported``.
    """
    pre = [evaluate_check(c, units, interval) for c in claim.preconditions
           if c.applies_to(scale)]
    excluded = excluded_seeds(pre)
    all_seeds = sorted({u["seed_index"] for u in units})
    valid_seeds = [s for s in all_seeds if s not in excluded]
    invalid = len(valid_seeds) < min(2, len(all_seeds))
    keep = units if invalid else [u for u in units if u["seed_index"] not in excluded]
    checks = [evaluate_check(c, keep, interval) for c in claim.checks if c.applies_to(scale)]
    reports = [evaluate_report(r, keep, interval) for r in claim.report if r.applies_to(scale)]
    hard = [p["verdict"] for p in pre + reports if p["verdict"] in (ERROR, SKIPPED)]
    if invalid:
        for c in checks:
            c["verdict_if_valid"] = c["verdict"]
            c["verdict"] = INVALID
        verdict = ERROR if ERROR in hard else INVALID
    elif checks:
        verdict = combine([c["verdict"] for c in checks] + hard)
    else:
        verdict = combine(hard) if hard else REPORTED
    return {"verdict": verdict, "checks": checks, "preconditions": pre, "report": reports,
            "excluded_seeds": {str(k): v for k, v in sorted(excluded.items())},
            "valid_seeds": valid_seeds if not invalid else [], "seeds_run": len(all_seeds),
            "interval": interval}


def evaluate(claim: Claim, scale: str, units: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The checks alone (no preconditions): kept for callers that need only them."""
    return [evaluate_check(c, units) for c in claim.checks if c.applies_to(scale)]
