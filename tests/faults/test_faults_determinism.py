"""Determinism: every claim run as a test (``pytest claims/``) reruns its first smoke unit
and requires bit-identical metrics on the CPU (``repro/pytest_plugin.py``). This checks
that the check itself can fail, and that only declared timings are exempt."""

from __future__ import annotations

import copy

from repro.pytest_plugin import rerun_differences


def _record(ws, **claim):
    res = ws.run(ws.write(ws.claim(**claim)))
    return res.record


def test_seeded_units_repeat_exactly(ws):
    assert rerun_differences(_record(ws)) is None


def test_a_changed_metric_is_caught(ws):
    rec = _record(ws)
    bad = copy.deepcopy(rec)
    bad["units"][0]["metrics"]["x"] += 1e-15  # one ulp-scale difference is a difference
    assert "x:" in rerun_differences(bad)


def test_only_declared_volatile_metrics_are_exempt(ws):
    rec = _record(ws, volatile_metrics=["x_plus_*"])
    bad = copy.deepcopy(rec)
    bad["units"][0]["metrics"]["x_plus_one"] += 1.0
    assert rerun_differences(bad) is None
    bad["units"][0]["metrics"]["y"] += 1.0
    assert "y:" in rerun_differences(bad)
