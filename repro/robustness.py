"""Is a smoke verdict safe to assert on any x86 CPU?

The same seed trains differently on another CPU's kernels (AVX2 vs AVX-512 reductions), so
a smoke expectation may assert only what holds with margin. A verdict is *robust* when it
is decided by exact quantities (every deciding interval has zero width over two or more
seeds, or the claim is skipped), or when every deciding interval clears the boundary that
decides it by at least half its own half-width. Anything else needs an explicit
``expect: {smoke: {any_of: [...], why: ...}}``.
"""

from __future__ import annotations

import math
from typing import Any

MIN_CLEARANCE = 0.5  # in units of the interval's own half-width


def _clearance(g: dict[str, Any], region: list[float], verdict: str) -> tuple[float, float]:
    """(distance from the interval to the boundary that decides it, half-width)."""
    iv = g["interval"]
    lo, hi = region
    half = (iv["hi"] - iv["lo"]) / 2
    if verdict == "reproduced":
        gap = min(iv["lo"] - lo, hi - iv["hi"])
    else:  # not_reproduced: the interval lies wholly outside
        gap = (lo - iv["hi"]) if iv["hi"] < lo else (iv["lo"] - hi)
    return gap, half


def fragile_groups(record: dict[str, Any]) -> list[str]:
    """Why the record's verdict could flip on another CPU (empty: robust)."""
    v = record["verdict"]
    if v in ("skipped", "error"):
        return []
    if v in ("inconclusive", "invalid"):
        return [f"the verdict is {v}: undecided verdicts flip with the seeds' numbers"]
    if v == "reported":
        return []
    out = []
    deciding = [c for c in record["checks"] if c["verdict"] == v]
    for c in deciding:
        for g in c["groups"]:
            if g["verdict"] != v or not g.get("interval"):
                continue
            gap, half = _clearance(g, c["region"], v)
            if half == 0:
                continue  # exact: every seed gave the same number
            if not (gap >= MIN_CLEARANCE * half) or math.isnan(gap):
                out.append(f"{c['name']} {g['point'] or ''}: clears its boundary by "
                           f"{gap:.3g}, less than {MIN_CLEARANCE} x its half-width {half:.3g}")
    return out
