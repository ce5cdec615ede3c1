"""Report-only quantities, preconditions, aggregates over sweep points, expect any_of and the
platform-margin rule: each with known answers from the toy experiments."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from repro.errors import ClaimError
from repro.evaluate import aggregate_values
from repro.robustness import fragile_groups

REPORT = {"name": "x_shown", "metric": "x", "why": "shown, not judged"}
PRE_OK = {"name": "x_positive", "metric": "x", "op": "at_least", "ref": 0.0,
          "why": "the toy draw is near 1"}
PRE_FAIL = {"name": "x_huge", "metric": "x", "op": "at_least", "ref": 5.0,
            "why": "fails on purpose"}


def test_a_claim_with_only_reports_is_reported_and_counted_apart(ws):
    from repro.results import load_results, verdict_counts

    res = ws.run(ws.write(ws.claim(checks=[], report=[REPORT],
                                   expect={"smoke": "reported"})))
    assert res.verdict == "reported" and res.met_expectation
    (entry,) = res.record["report"]
    assert entry["verdict"] == "reported" and entry["groups"][0]["interval"]["n"] == 3
    df = load_results(ws.results)
    assert set(df["kind"]) == {"report"} and set(df["claim_verdict"]) == {"reported"}
    assert verdict_counts([res.record])["smoke"]["reported"] == 1
    assert "reported" in (ws.results / "README.md").read_text()


def test_report_of_a_difference_is_paired_by_seed(ws):
    res = ws.run(ws.write(ws.claim(report=[{**REPORT, "minus": "x_plus_one"}])))
    g = res.record["report"][0]["groups"][0]
    assert g["per_seed"] == pytest.approx([-1.0] * 3, abs=1e-12)
    assert g["interval"]["mean"] == pytest.approx(-1.0, abs=1e-12)
    assert res.verdict == "reproduced"  # the checks still decide; reports never do


@pytest.mark.parametrize("band", [{"lo": -1000.0, "hi": 1000.0}, {"lo": 0.0, "hi": 5000.0}])
def test_a_band_that_cannot_be_left_is_rejected(ws, band):
    bad = {"name": "vacuous", "metric": "x", "op": "between", **band, "why": "show x"}
    with pytest.raises(ClaimError, match="cannot leave"):
        ws.run(ws.write(ws.claim(checks=[bad])))


def test_a_wide_band_is_allowed_when_declared_unbounded(ws):
    ok = {"name": "wide", "metric": "x", "op": "between", "lo": -1e6, "hi": 1e6,
          "unbounded": True, "why": "x is a count that really spans 1e6"}
    assert ws.run(ws.write(ws.claim(checks=[ok]))).verdict == "reproduced"


def test_a_narrow_band_far_from_zero_is_fine(ws):
    ok = {"name": "count", "metric": "x", "op": "between", "lo": 2255.0, "hi": 2257.0,
          "why": "an exact count"}
    assert ws.run(ws.write(ws.claim(checks=[ok]))).verdict == "not_reproduced"


def test_preconditions_that_hold_leave_the_verdict_alone(ws):
    res = ws.run(ws.write(ws.claim(preconditions=[PRE_OK])))
    assert res.verdict == "reproduced" and res.record["excluded_seeds"] == {}
    assert res.record["preconditions"][0]["verdict"] == "reproduced"


def test_a_failed_precondition_makes_the_claim_invalid_not_refuted(ws):
    # the check itself would be not_reproduced: x ~ 1 is never >= 3
    refuting = {"name": "x_at_least_3", "metric": "x", "op": "at_least", "ref": 3.0,
                "why": "false on purpose"}
    res = ws.run(ws.write(ws.claim(checks=[refuting], preconditions=[PRE_FAIL],
                                   expect={"smoke": "invalid"})))
    assert res.verdict == "invalid" and res.met_expectation
    assert set(res.record["excluded_seeds"]) == {"0", "1", "2"}
    assert "x_huge" in res.record["excluded_seeds"]["0"][0]
    check = res.record["checks"][0]
    assert check["verdict"] == "invalid" and check["verdict_if_valid"] == "not_reproduced"
    md = (ws.results / "toy_claim" / "smoke.md").read_text()
    assert "[pre] x_huge" in md and "precondition" in md


def test_seeds_failing_a_precondition_are_excluded_from_the_checks(ws):
    # fail_seed_index cannot express "fail on one seed", so use a seed-dependent metric:
    # x ~ N(1, 0.01): the seed with the largest x fails "x <= second largest"
    probe = ws.run(ws.write(ws.claim(seeds=4)))
    xs = sorted((u["metrics"]["x"], u["seed_index"]) for u in probe.record["units"])
    cut = (xs[-1][0] + xs[-2][0]) / 2
    pre = {"name": "x_not_top", "metric": "x", "op": "at_most", "ref": cut, "why": "toy"}
    res = ws.run(ws.write(ws.claim(seeds=4, preconditions=[pre])))
    assert list(res.record["excluded_seeds"]) == [str(xs[-1][1])]
    g = res.record["checks"][0]["groups"][0]
    assert g["interval"]["n"] == 3 and xs[-1][1] not in g["seeds"]
    assert res.verdict == "reproduced"


def test_one_seed_run_that_meets_its_preconditions_is_judged(ws):
    res = ws.run(ws.write(ws.claim(seeds=1, preconditions=[PRE_OK])))
    assert res.verdict == "reproduced"


def test_aggregate_over_a_sweep_axis_judges_the_mean_of_the_points(ws):
    check = {"name": "mean_x", "metric": "x", "op": "within", "ref": 2.0, "tol": 0.1,
             "over": "mean", "aggregate": "mean", "why": "the mean of 1 and 3 is 2"}
    res = ws.run(ws.write(ws.claim(sweep={"mean": [1.0, 3.0]}, checks=[check])))
    (g,) = res.record["checks"][0]["groups"]
    assert g["point"] == {} and abs(g["interval"]["mean"]) < 0.02
    assert res.verdict == "reproduced"
    median = {**check, "aggregate": "median", "ref": 1.0}
    res = ws.run(ws.write(ws.claim(sweep={"mean": [1.0, 1.0001, 3.0]}, checks=[median])))
    assert res.verdict == "reproduced"  # the median ignores the point at 3


def test_aggregate_keeps_the_other_axes_apart(ws):
    check = {"name": "mean_x", "metric": "x", "op": "at_least", "ref": 0.0,
             "over": "mean", "aggregate": "mean", "why": "toy"}
    res = ws.run(ws.write(ws.claim(sweep={"mean": [1.0, 3.0], "sd": [0.01, 0.02]},
                                   checks=[check])))
    points = [g["point"] for g in res.record["checks"][0]["groups"]]
    assert sorted(p["sd"] for p in points) == [0.01, 0.02]


def test_aggregate_over_a_list_sweep_ignores_per_point_settings(ws):
    """A key that only some points of a list sweep set (fp_vs_aug_ssl's max_train on the
    large sets) is a per-point setting, not an axis: the aggregate runs over every point.
    (It once split the median over datasets into one group per max_train value.)"""
    check = {"name": "mean_x", "metric": "x", "op": "within", "ref": 2.0, "tol": 0.1,
             "over": "mean", "aggregate": "mean", "why": "the mean of 1 and 3 is 2"}
    res = ws.run(ws.write(ws.claim(sweep=[{"mean": 1.0}, {"mean": 3.0, "sd": 0.02}],
                                   checks=[check])))
    (g,) = res.record["checks"][0]["groups"]
    assert g["point"] == {} and abs(g["interval"]["mean"]) < 0.03
    assert res.verdict == "reproduced"


def test_aggregate_known_answers():
    assert aggregate_values([1.0, 2.0, 6.0], "mean") == 3.0
    assert aggregate_values([1.0, 2.0, 6.0], "median") == 2.0
    assert math.isnan(aggregate_values([1.0, math.nan], "median"))


@settings(max_examples=60, deadline=None)
@given(v=st.floats(-1e6, 1e6, allow_nan=False), k=st.integers(1, 7),
       how=st.sampled_from(["mean", "median"]))
def test_aggregate_of_identical_points_is_the_point(v, k, how):
    assert aggregate_values([v] * k, how) == pytest.approx(v, rel=1e-12, abs=1e-9)


@pytest.mark.parametrize("bad, message", [
    ({"checks": [{"name": "a", "metric": "x", "op": "at_least", "ref": 0.0, "over": "nope",
                  "aggregate": "mean", "why": "w"}]}, "'nope' is not swept"),
    ({"checks": [{"name": "a", "metric": "x", "op": "at_least", "ref": 0.0,
                  "aggregate": "mean", "why": "w"}]}, "needs 'over'"),
    ({"report": [{"name": "a", "metric": "x", "colour": "red"}]}, "unknown key 'colour'"),
    ({"preconditions": [{"name": "a", "metric": "x", "op": "at_least", "ref": 0.0,
                         "why": "w", "weight": 2}]}, "unknown key 'weight'"),
    ({"checks": [], "report": []}, "at least one check"),
    ({"report": [{"name": "x_near_one", "metric": "x"}]}, "duplicate check name"),
])
def test_bad_new_sections_are_exit_2_with_file_and_line(ws, bad, message):
    p = ws.write(ws.claim(**bad))
    with pytest.raises(ClaimError) as e:
        ws.run(p)
    text = str(e.value)
    assert message in text and f"{p}:" in text


def test_expect_any_of_accepts_each_listed_verdict(ws):
    expect = {"smoke": {"any_of": ["reproduced", "inconclusive"],
                        "why": "seeds straddle on other CPUs"}}
    res = ws.run(ws.write(ws.claim(expect=expect)))
    assert res.met_expectation and res.expect == "reproduced | inconclusive"
    res = ws.run(ws.write(ws.claim(expect={"smoke": {"any_of": ["not_reproduced", "error"],
                                                     "why": "w"}})))
    assert not res.met_expectation


def _record(verdict, lo, hi, region, n=3):
    g = {"point": {}, "verdict": verdict, "per_seed": [], "interval": {
        "mean": (lo + hi) / 2, "lo": lo, "hi": hi, "n": n, "method": "t95"}}
    return {"verdict": verdict, "checks": [{"name": "c", "verdict": verdict, "region": region,
                                            "groups": [g]}]}


@pytest.mark.parametrize("verdict, lo, hi, region, fragile", [
    ("reproduced", 0.5, 0.7, [0.0, 1.0], False),   # clears by 0.3 >= 0.5 x 0.1
    ("reproduced", 0.05, 0.45, [0.0, 1.0], True),  # clears by 0.05 < 0.5 x 0.2
    ("not_reproduced", 1.2, 1.4, [0.0, 1.0], False),
    ("not_reproduced", 1.01, 1.41, [0.0, 1.0], True),
    ("reproduced", 0.5, 0.5, [0.0, 1.0], False),   # exact: zero width over 3 seeds
    ("inconclusive", -0.1, 0.3, [0.0, 1.0], True),
])
def test_platform_margin_rule(verdict, lo, hi, region, fragile):
    assert bool(fragile_groups(_record(verdict, lo, hi, region))) is fragile


def test_single_seed_points_count_as_exact_width_zero():
    assert not fragile_groups(_record("reproduced", 0.5, 0.5, [0.0, 1.0], n=1))
