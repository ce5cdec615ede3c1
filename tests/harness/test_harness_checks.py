"""Check operations (repro.checks) and the interval / verdict logic (repro.verdicts), as pure
functions: edge cases by hand, symmetries by hypothesis."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from scipy import stats

from repro import checks as ops
from repro.verdicts import (
    ERROR,
    INCONCLUSIVE,
    NOT_REPRODUCED,
    REPRODUCED,
    SKIPPED,
    Interval,
    combine,
    interval_verdict,
    t_interval,
)

INF = math.inf
finite = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, allow_infinity=False)
positive = st.floats(min_value=1e-3, max_value=1e3, allow_nan=False, allow_infinity=False)
tols = st.floats(min_value=0.0, max_value=1e3, allow_nan=False, allow_infinity=False)
PROP = settings(max_examples=200, deadline=None)


def holds_op(op: str, a: float, b: float, **kw) -> bool:
    """One-seed verdict of a pointwise op on (metric a, ref b)."""
    return ops.holds(ops.difference(a, b), ops.region(op, **kw))


# ----------------------------------------------------------------------------- regions

def test_regions():
    assert ops.region("within", tol=0.1) == (-0.1, 0.1)
    assert ops.region("at_least") == (0.0, INF)
    assert ops.region("at_least", margin=0.3) == (0.3, INF)
    assert ops.region("at_most", margin=0.3) == (-INF, -0.3)
    assert ops.region("between", lo=1, hi=2) == (1, 2)
    assert ops.region("loglog_slope", target=-2.0, tol=0.25) == (-2.25, -1.75)
    assert ops.region("monotone") == (0.0, INF)
    assert ops.region("monotone", margin=0.5) == (0.5, INF)
    assert ops.region("inside_band") == (0.0, INF)
    with pytest.raises(ValueError, match="unknown op"):
        ops.region("nearly")


def test_boundaries_are_inclusive():
    assert holds_op("within", 1.5, 1.0, tol=0.5)
    assert holds_op("within", 0.5, 1.0, tol=0.5)
    assert not holds_op("within", 1.5000001, 1.0, tol=0.5)
    assert holds_op("within", 2.0, 2.0, tol=0.0)  # tol 0: equality holds
    assert holds_op("at_least", 1.0, 1.0)
    assert not holds_op("at_least", 0.999, 1.0)
    assert holds_op("at_least", 1.5, 1.0, margin=0.5)
    assert not holds_op("at_least", 1.4, 1.0, margin=0.5)
    assert holds_op("at_most", 1.0, 1.0)
    assert holds_op("at_most", 0.5, 1.0, margin=0.5)
    assert not holds_op("at_most", 0.6, 1.0, margin=0.5)
    reg = ops.region("between", lo=1.0, hi=2.0)
    assert ops.holds(ops.identity(1.0), reg) and ops.holds(ops.identity(2.0), reg)
    assert not ops.holds(ops.identity(2.0000001), reg)
    assert ops.holds(ops.band_margin(1.0, 1.0, 3.0), ops.region("inside_band"))
    assert ops.holds(ops.band_margin(3.0, 1.0, 3.0), ops.region("inside_band"))


def test_nan_never_holds():
    for reg in [(-INF, INF), (0.0, INF), (-1.0, 1.0), (-INF, 0.0)]:
        assert not ops.holds(math.nan, reg)
    assert not holds_op("within", math.nan, 1.0, tol=1e9)
    assert not holds_op("at_least", 1.0, math.nan)
    assert ops.holds(INF, (0.0, INF))  # infinity is a number, the region includes it


def test_band_margin_sign():
    assert ops.band_margin(2.0, 1.0, 4.0) == 1.0  # nearer to the lower edge
    assert ops.band_margin(3.5, 1.0, 4.0) == 0.5  # nearer to the upper edge
    assert ops.band_margin(0.5, 1.0, 4.0) == -0.5  # below: negative
    assert ops.band_margin(5.0, 1.0, 4.0) == -1.0  # above: negative
    assert ops.band_margin(2.0, 3.0, 1.0) < 0  # an inverted band contains nothing


# ----------------------------------------------------------------------------- loglog_slope

@pytest.mark.parametrize("power", [-2.0, -0.5, 0.0, 1.0, 3.0])
def test_loglog_slope_exact_on_power_laws(power):
    x = [0.05, 0.1, 0.2, 0.5, 1.0]
    y = [3.0 * xi ** power for xi in x]
    assert ops.loglog_slope(x, y) == pytest.approx(power, abs=1e-10)


def test_loglog_slope_order_free():
    x = [1.0, 4.0, 2.0, 8.0]
    y = [xi ** -1.5 for xi in x]
    assert ops.loglog_slope(x, y) == pytest.approx(-1.5)


@pytest.mark.parametrize("x,y", [([1, 2, 3], [1.0, 0.0, 2.0]), ([1, 2, 3], [1.0, -1.0, 2.0]),
                                 ([0, 1, 2], [1.0, 2.0, 3.0]), ([-1, 1, 2], [1.0, 2.0, 3.0]),
                                 ([1, 2], [1.0, math.nan]), ([1, 2], [1.0, math.inf])])
def test_loglog_slope_nan_for_non_positive_or_non_finite(x, y):
    assert math.isnan(ops.loglog_slope(x, y))


def test_loglog_slope_errors():
    with pytest.raises(ValueError, match="at least two"):
        ops.loglog_slope([1.0], [1.0])
    with pytest.raises(ValueError, match="at least two"):
        ops.loglog_slope([1.0, 2.0], [1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="distinct x"):
        ops.loglog_slope([2.0, 2.0, 2.0], [1.0, 2.0, 3.0])


@PROP
@given(st.lists(positive, min_size=2, max_size=8, unique=True),
       st.floats(min_value=-3, max_value=3), positive, st.floats(min_value=1e-3, max_value=1e3))
def test_loglog_slope_invariant_to_scaling_y(x, power, c, noise_scale):
    assume(np.ptp(np.log(x)) > 1e-3)
    rng = np.random.default_rng(len(x))
    y = [xi ** power * math.exp(0.1 * rng.standard_normal()) for xi in x]
    s1 = ops.loglog_slope(x, y)
    s2 = ops.loglog_slope(x, [c * noise_scale * yi for yi in y])
    assert s2 == pytest.approx(s1, abs=1e-6)


# ----------------------------------------------------------------------------- monotone

def test_monotone_step():
    assert ops.monotone_step([1, 2, 3], [1.0, 2.0, 4.0], "increasing") == 1.0
    assert ops.monotone_step([1, 2, 3], [4.0, 2.0, 1.0], "decreasing") == 1.0
    assert ops.monotone_step([1, 2, 3], [1.0, 3.0, 2.0], "increasing") == -1.0
    assert ops.monotone_step([1, 2, 3], [1.0, 2.0, 4.0], "decreasing") == -2.0


def test_monotone_unsorted_x():
    # sorted by x the values are 1, 2, 4: increasing, whatever order they come in
    assert ops.monotone_step([3, 1, 2], [4.0, 1.0, 2.0], "increasing") == 1.0
    assert ops.monotone_step([0.5, 0.1, 0.2], [0.3, 0.9, 0.7], "decreasing") == pytest.approx(0.2)


def test_monotone_ties():
    # a flat step is weakly monotone: statistic 0, inside [0, inf) with margin 0 ...
    s = ops.monotone_step([1, 2, 3], [1.0, 1.0, 2.0], "increasing")
    assert s == 0.0 and ops.holds(s, ops.region("monotone"))
    # ... but not with a positive margin (strictly increasing by at least the margin)
    assert not ops.holds(s, ops.region("monotone", margin=0.1))


def test_monotone_errors_and_nan():
    with pytest.raises(ValueError, match="direction"):
        ops.monotone_step([1, 2], [1.0, 2.0], "up")
    with pytest.raises(ValueError, match="at least two"):
        ops.monotone_step([1], [1.0], "increasing")
    with pytest.raises(ValueError, match="at least two"):
        ops.monotone_step([1, 2, 3], [1.0, 2.0], "increasing")
    assert math.isnan(ops.monotone_step([1, 2, 3], [1.0, math.nan, 3.0], "increasing"))


@PROP
@given(st.lists(st.tuples(finite, finite), min_size=2, max_size=8, unique_by=lambda t: t[0]))
def test_monotone_increasing_is_decreasing_of_negation(pts):
    x = [p[0] for p in pts]
    y = [p[1] for p in pts]
    up = ops.monotone_step(x, y, "increasing")
    down = ops.monotone_step(x, [-v for v in y], "decreasing")
    assert up == pytest.approx(down, abs=1e-9)


# ----------------------------------------------------------------------------- symmetries

@PROP
@given(finite, finite, tols)
def test_within_is_symmetric(a, b, tol):
    assert holds_op("within", a, b, tol=tol) == holds_op("within", b, a, tol=tol)


@PROP
@given(st.lists(st.tuples(finite, finite), min_size=1, max_size=6), tols)
def test_within_verdict_is_symmetric_over_seeds(pairs, tol):
    reg = ops.region("within", tol=tol)
    v1 = interval_verdict(t_interval([ops.difference(a, b) for a, b in pairs]), reg)
    v2 = interval_verdict(t_interval([ops.difference(b, a) for a, b in pairs]), reg)
    assert v1 == v2


@PROP
@given(finite, finite, st.floats(min_value=-10, max_value=10))
def test_at_least_ab_iff_at_most_ba(a, b, margin):
    assert holds_op("at_least", a, b, margin=margin) == holds_op("at_most", b, a, margin=margin)


# ----------------------------------------------------------------------------- intervals

@pytest.mark.parametrize("values", [[1.0, 2.0], [0.3, 0.1, 0.2], [5.0, 5.5, 4.0, 6.1, 5.2],
                                    list(np.linspace(-1, 3, 20))])
def test_t_interval_matches_scipy(values):
    iv = t_interval(values)
    x = np.asarray(values)
    lo, hi = stats.t.interval(0.95, df=len(x) - 1, loc=x.mean(), scale=stats.sem(x))
    assert iv.lo == pytest.approx(lo, rel=1e-12)
    assert iv.hi == pytest.approx(hi, rel=1e-12)
    assert iv.mean == pytest.approx(x.mean())
    assert iv.n == len(x) and iv.method == "t95"


def test_t_interval_other_level():
    iv = t_interval([1.0, 2.0, 4.0], level=0.9)
    lo, hi = stats.t.interval(0.9, df=2, loc=7 / 3, scale=stats.sem([1.0, 2.0, 4.0]))
    assert (iv.lo, iv.hi) == (pytest.approx(lo), pytest.approx(hi))


def test_single_seed_is_a_point_interval():
    iv = t_interval([0.42])
    assert iv == Interval(0.42, 0.42, 0.42, 1, "single seed")


def test_zero_spread_is_a_point_interval():
    iv = t_interval([0.3, 0.3, 0.3])
    assert iv.lo == iv.mean == iv.hi == pytest.approx(0.3)
    assert interval_verdict(iv, (0.3, 1.0)) == REPRODUCED


def test_t_interval_rejects_empty():
    with pytest.raises(ValueError):
        t_interval([])


def test_interval_verdict_boundaries():
    reg = (0.0, 1.0)
    assert interval_verdict(Interval(0.5, 0.0, 1.0, 3, "t95"), reg) == REPRODUCED  # touches both
    assert interval_verdict(Interval(0.5, 0.2, 0.8, 3, "t95"), reg) == REPRODUCED
    assert interval_verdict(Interval(1.0, 0.9, 1.1, 3, "t95"), reg) == INCONCLUSIVE
    assert interval_verdict(Interval(0.0, -0.1, 0.1, 3, "t95"), reg) == INCONCLUSIVE
    assert interval_verdict(Interval(0.5, -1.0, 2.0, 3, "t95"), reg) == INCONCLUSIVE  # covers it
    assert interval_verdict(Interval(1.5, 1.1, 1.9, 3, "t95"), reg) == NOT_REPRODUCED
    assert interval_verdict(Interval(-0.5, -0.9, -0.1, 3, "t95"), reg) == NOT_REPRODUCED
    # touching the region edge from outside still overlaps it: not a clean miss
    assert interval_verdict(Interval(1.5, 1.0, 2.0, 3, "t95"), reg) == INCONCLUSIVE
    # one-sided regions
    assert interval_verdict(Interval(5.0, 0.0, 9.0, 3, "t95"), (0.0, INF)) == REPRODUCED
    assert interval_verdict(Interval(-5.0, -9.0, -1e-9, 3, "t95"), (0.0, INF)) == NOT_REPRODUCED
    # single seed: a point, judged exactly
    assert interval_verdict(t_interval([1.0]), reg) == REPRODUCED
    assert interval_verdict(t_interval([1.0 + 1e-12]), reg) == NOT_REPRODUCED


def test_nan_interval_is_error():
    assert interval_verdict(t_interval([1.0, math.nan, 2.0]), (-INF, INF)) == ERROR
    assert interval_verdict(t_interval([math.nan]), (-INF, INF)) == ERROR
    assert interval_verdict(t_interval([math.inf, 1.0]), (-INF, INF)) == ERROR


@PROP
@given(st.lists(finite, min_size=0, max_size=10), st.data(),
       st.sampled_from([math.nan, math.inf, -math.inf]),
       st.tuples(st.floats(-1e7, 0), st.floats(0, 1e7)))
def test_any_nan_seed_is_error_never_reproduced(values, data, bad, reg):
    pos = data.draw(st.integers(min_value=0, max_value=len(values)))
    vals = values[:pos] + [bad] + values[pos:]
    v = interval_verdict(t_interval(vals), reg)
    assert v == ERROR


# ----------------------------------------------------------------------------- combine

def test_combine_rules():
    R, N, Inc, E, S = REPRODUCED, NOT_REPRODUCED, INCONCLUSIVE, ERROR, SKIPPED
    assert combine([R]) == R
    assert combine([R, R, R]) == R
    assert combine([R, N]) == N
    assert combine([E, S, Inc, N]) == N  # any not_reproduced wins
    assert combine([R, Inc]) == Inc
    assert combine([R, Inc, S]) == S
    assert combine([Inc, S, E, R]) == E
    assert combine([S, S]) == S
    assert combine([]) == E  # nothing to judge is an error, never a pass
    assert combine(iter([R, R])) == R  # accepts any iterable


@PROP
@given(st.lists(st.sampled_from([REPRODUCED, NOT_REPRODUCED, INCONCLUSIVE, ERROR, SKIPPED]),
                min_size=1, max_size=8))
def test_combine_properties(vs):
    out = combine(vs)
    if NOT_REPRODUCED in vs:
        assert out == NOT_REPRODUCED
    elif all(v == REPRODUCED for v in vs):
        assert out == REPRODUCED
    else:
        expected = ERROR if ERROR in vs else SKIPPED if SKIPPED in vs else INCONCLUSIVE
        assert out == expected
    assert combine(list(reversed(vs))) == out  # order does not matter
