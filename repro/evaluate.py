"""Turn unit records into check results and verdicts.

Pointwise ops (within, at_least, at_most, between, inside_band) are judged separately
at every sweep point; sweep ops (loglog_slope, monotone) compute one statistic per seed
along their ``over`` parameter, separately for each combination of the other swept
parameters. A check's verdict combines its groups with :func:`repro.verdicts.combine`.
"""

from __future__ import annotations

import math
from collections import defaultdict
from typing import Any

from . import checks as ops
from .errors import MetricMissing
from .schema import Check, Claim
from .verdicts import ERROR, SKIPPED, combine, interval_verdict, t_interval

SWEEP_OPS = ("loglog_slope", "monotone")


def referenced_metrics(check: Check) -> list[str]:
    names = [check.metric]
    for v in (check.ref, check.lower, check.upper):
        if isinstance(v, str):
            names.append(v)
    return names


def verify_metrics(claim: Claim, scale: str, metrics: dict[str, Any]) -> None:
    """Raise MetricMissing (with file:line) if a check names a metric the unit did not return."""
    import difflib

    for i, c in enumerate(claim.checks):
        if not c.applies_to(scale):
            continue
        for name in referenced_metrics(c):
            if name not in metrics:
                close = difflib.get_close_matches(name, list(metrics), n=2, cutoff=0.6)
                hint = f"; did you mean {' or '.join(map(repr, close))}?" if close else ""
                line = claim.line("checks", i)
                raise MetricMissing(
                    f"{claim.source}:{line}: checks[{i}] ({c.name}): experiment "
                    f"{claim.experiment!r} returns no metric {name!r}{hint} "
                    f"(it returns: {', '.join(sorted(metrics))})")
            if not isinstance(metrics[name], float):
                raise MetricMissing(
                    f"{claim.source}:{claim.line('checks', i)}: checks[{i}] ({c.name}): "
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


def evaluate_check(check: Check, units: list[dict[str, Any]]) -> dict[str, Any]:
    """Evaluate one check over unit rows ({point, seed_index, status, metrics, error})."""
    region = ops.region(check.op, tol=check.tol, margin=check.margin, lo=check.lo,
                        hi=check.hi, target=check.target)
    rows = [u for u in units if _matches(u["point"], check.where)]
    over = check.over if check.op in SWEEP_OPS else None
    groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for u in rows:
        gpoint = {k: v for k, v in u["point"].items() if k != over}
        groups[repr(sorted(gpoint.items()))].append(u)
    out_groups = []
    for members in groups.values():
        gpoint = {k: v for k, v in members[0]["point"].items() if k != over}
        out_groups.append(_evaluate_group(check, members, gpoint, region))
    verdict = combine(g["verdict"] for g in out_groups) if out_groups else ERROR
    return {
        "name": check.name, "op": check.op, "metric": check.metric,
        "ref": check.ref, "region": list(region), "paper": check.paper, "why": check.why,
        "over": over, "verdict": verdict, "groups": out_groups,
        **({"error": "no unit matches this check's 'where'"} if not out_groups else {}),
    }


def _evaluate_group(check: Check, members: list[dict[str, Any]], gpoint: dict[str, Any],
                    region: tuple[float, float]) -> dict[str, Any]:
    base = {"point": gpoint, "per_seed": [], "interval": None}
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
            per_seed.append(_seed_statistic(check, us))
        except KeyError as e:
            return {**base, "verdict": ERROR,
                    "reason": f"seed#{si} at {gpoint or 'the only point'} returned no metric {e}"}
    iv = t_interval(per_seed)
    verdict = interval_verdict(iv, region)
    group = {**base, "per_seed": per_seed, "verdict": verdict,
             "interval": {"mean": iv.mean, "lo": iv.lo, "hi": iv.hi, "n": iv.n,
                          "method": iv.method}}
    if verdict == ERROR:
        group["reason"] = "non-finite statistic (NaN/inf) in: " + ", ".join(
            f"seed#{i}" for i, s in enumerate(per_seed) if not math.isfinite(s))
    return group


def _seed_statistic(check: Check, us: list[dict[str, Any]]) -> float:
    """One seed's statistic from its unit(s) in a group."""
    if check.op in SWEEP_OPS:
        xs = [float(u["point"][check.over]) for u in us]
        ys = [float(u["metrics"][check.metric]) for u in us]
        if check.op == "loglog_slope":
            return ops.loglog_slope(xs, ys)
        return ops.monotone_step(xs, ys, check.direction)
    (u,) = us
    return _pointwise(check, u["metrics"])


def evaluate(claim: Claim, scale: str, units: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [evaluate_check(c, units) for c in claim.checks if c.applies_to(scale)]
