"""Check operations: small pure functions from per-seed numbers to a statistic and a pass region.

Every op follows one pattern so that the statistics are uniform: for each seed it maps the
seed's values to one number ``s`` (the *statistic*), and it names the region ``[low, high]``
where the claim holds. Over seeds, a 95% interval of the mean of ``s`` is compared with
the region (see :mod:`repro.verdicts`).

=============  =========================================  ===========================
op             per-seed statistic s                       holds when s is in
=============  =========================================  ===========================
within         a - b                                      [-tol, tol]
at_least       a - b                                      [margin, inf)
at_most        a - b                                      (-inf, -margin]
between        a                                          [lo, hi]
loglog_slope   slope of log a against log(over)           [target - tol, target + tol]
monotone       min step of a along ``over`` (signed by    [margin, inf)
               direction: increasing +, decreasing -)
inside_band    min(a - lower, upper - a)                  [0, inf)
=============  =========================================  ===========================

``margin`` defaults to 0, so ``at_most`` with ref b holds when a <= b; a margin of 0.3
on ``at_least`` demands a >= b + 0.3.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

INF = math.inf


def region(op: str, *, tol: float | None = None, margin: float | None = None,
           lo: float | None = None, hi: float | None = None,
           target: float | None = None) -> tuple[float, float]:
    """The closed interval of statistic values for which the check holds."""
    m = margin or 0.0
    if op == "within":
        return (-tol, tol)
    if op == "at_least":
        return (m, INF)
    if op == "at_most":
        return (-INF, -m)
    if op == "between":
        return (lo, hi)
    if op == "loglog_slope":
        return (target - tol, target + tol)
    if op == "monotone":
        return (m, INF)
    if op == "inside_band":
        return (0.0, INF)
    raise ValueError(f"unknown op {op!r}")


def difference(a: float, b: float) -> float:
    """within / at_least / at_most: a - b."""
    return float(a) - float(b)


def identity(a: float) -> float:
    """between: the value itself."""
    return float(a)


def band_margin(a: float, lower: float, upper: float) -> float:
    """inside_band: distance inside the band (negative when outside)."""
    return min(float(a) - float(lower), float(upper) - float(a))


def loglog_slope(x: Sequence[float], y: Sequence[float]) -> float:
    """Least-squares slope of log y against log x; NaN if any value is not positive."""
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    if x.shape != y.shape or x.size < 2:
        raise ValueError("loglog_slope needs at least two matching points")
    if np.any(~np.isfinite(x)) or np.any(~np.isfinite(y)) or np.any(x <= 0) or np.any(y <= 0):
        return math.nan
    lx, ly = np.log(x), np.log(y)
    if np.ptp(lx) == 0:
        raise ValueError("loglog_slope needs at least two distinct x values")
    return float(np.polyfit(lx, ly, 1)[0])


def monotone_step(x: Sequence[float], y: Sequence[float], direction: str) -> float:
    """The smallest step of y along increasing x, signed so that positive means ``direction``."""
    if direction not in ("increasing", "decreasing"):
        raise ValueError(f"direction must be 'increasing' or 'decreasing', not {direction!r}")
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    if x.shape != y.shape or x.size < 2:
        raise ValueError("monotone needs at least two matching points")
    if np.any(~np.isfinite(y)):
        return math.nan
    order = np.argsort(x, kind="stable")
    steps = np.diff(y[order])
    if direction == "decreasing":
        steps = -steps
    return float(steps.min())


def holds(s: float, reg: tuple[float, float]) -> bool:
    """Whether one statistic value lies in the region (NaN never holds)."""
    return bool(reg[0] <= s <= reg[1])
