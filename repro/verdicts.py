"""Intervals over seeds and the three-valued verdict logic.

A check's statistic is measured once per seed; its 95% Student-t interval of the mean is
compared with the region where the claim holds:

* ``reproduced``     — the whole interval lies inside the region;
* ``not_reproduced`` — the whole interval lies outside it;
* ``inconclusive``   — the interval straddles a boundary (more seeds would decide).

Any non-finite per-seed value makes the check ``error``: a NaN never reproduces anything.
With one seed there is no spread to estimate; the interval is the point itself, and the
record says so (``interval_method: "single seed"``).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats

REPRODUCED = "reproduced"
NOT_REPRODUCED = "not_reproduced"
INCONCLUSIVE = "inconclusive"
ERROR = "error"
SKIPPED = "skipped"
VERDICTS = (REPRODUCED, NOT_REPRODUCED, INCONCLUSIVE, ERROR, SKIPPED)
# Among verdicts that are neither all-reproduced nor any-not-reproduced: worst first.
_SEVERITY = {ERROR: 3, SKIPPED: 2, INCONCLUSIVE: 1, REPRODUCED: 0}


@dataclass(frozen=True)
class Interval:
    mean: float
    lo: float
    hi: float
    n: int
    method: str


def t_interval(values: Sequence[float], level: float = 0.95) -> Interval:
    """Student-t interval of the mean; the point itself for one value or zero spread."""
    x = np.asarray(values, dtype=float)
    n = int(x.size)
    if n == 0:
        raise ValueError("no values")
    if not np.all(np.isfinite(x)):
        return Interval(math.nan, math.nan, math.nan, n, f"t{int(level * 100)}")
    mean = float(x.mean())
    if n == 1:
        return Interval(mean, mean, mean, 1, "single seed")
    sd = float(x.std(ddof=1))
    half = float(stats.t.ppf(0.5 + level / 2, df=n - 1)) * sd / math.sqrt(n)
    return Interval(mean, mean - half, mean + half, n, f"t{int(level * 100)}")


def interval_verdict(iv: Interval, region: tuple[float, float]) -> str:
    """Compare an interval with the region where the claim holds."""
    if not (math.isfinite(iv.lo) and math.isfinite(iv.hi)):
        return ERROR
    low, high = region
    if low <= iv.lo and iv.hi <= high:
        return REPRODUCED
    if iv.hi < low or iv.lo > high:
        return NOT_REPRODUCED
    return INCONCLUSIVE


def combine(verdicts: Iterable[str]) -> str:
    """Claim-level (or across sweep points): reproduced if all are, not_reproduced if any is,
    otherwise the worst of the rest (error > skipped > inconclusive)."""
    vs = list(verdicts)
    if not vs:
        return ERROR
    if all(v == REPRODUCED for v in vs):
        return REPRODUCED
    if any(v == NOT_REPRODUCED for v in vs):
        return NOT_REPRODUCED
    return max(vs, key=lambda v: _SEVERITY[v])
