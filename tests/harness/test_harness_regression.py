"""Drift regression of committed results (``repro check``), staleness from hashes alone
(``repro check --stale``), re-judging from stored units (``repro rejudge``) and the honest
provenance fields."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from repro.cli import app
from repro.staleness import record_status


def _cli(ws, monkeypatch, *args):
    monkeypatch.chdir(ws.root)  # claims/ is looked up in the working directory
    return CliRunner().invoke(app, [*args, "--results-dir", str(ws.results)])


def _committed(ws, **claim):
    p = ws.write(ws.claim(**claim))
    res = ws.run(p)
    return p, res.json_path


def test_a_fresh_record_is_current_and_goes_stale_when_the_plan_changes(ws):
    p, j = _committed(ws)
    rec = json.loads(j.read_text())
    assert record_status(rec, ws.claims) == ("current", "")
    ws.write(ws.claim(params={"mean": 1.0, "sd": 0.02}))  # other units now
    status, why = record_status(rec, ws.claims)
    assert status == "stale" and "3 of 3 planned units" in why


def test_changed_checks_make_a_record_outdated_and_rejudge_fixes_it(ws, monkeypatch):
    p, j = _committed(ws)
    tighter = {"name": "x_near_one", "metric": "x", "op": "within", "ref": 1.0, "tol": 1e-6,
               "why": "too tight on purpose"}
    ws.write(ws.claim(checks=[tighter], expect={"smoke": "not_reproduced"}))
    status, why = record_status(json.loads(j.read_text()), ws.claims)
    assert status == "outdated" and "rejudge" in why
    out = _cli(ws, monkeypatch, "rejudge", "toy_claim")
    assert out.exit_code == 0, out.output
    new = json.loads(j.read_text())
    assert new["verdict"] == "not_reproduced" and new["rejudged"]["from_verdict"] == "reproduced"
    assert record_status(new, ws.claims)[0] == "current"
    assert "re-judged" in (j.parent / "smoke.md").read_text()


def test_check_stale_lists_records_without_running(ws, monkeypatch):
    _committed(ws)
    out = _cli(ws, monkeypatch, "check", "--stale")
    assert out.exit_code == 0 and "no stale records" in out.output
    ws.write(ws.claim(params={"mean": 1.0, "sd": 0.02}))
    out = _cli(ws, monkeypatch, "check", "--stale")
    assert out.exit_code == 1 and "toy_claim/smoke.json: stale" in out.output


def test_check_reruns_and_passes_without_drift(ws, monkeypatch):
    _committed(ws)
    out = _cli(ws, monkeypatch, "check", "toy_claim", "--scale", "smoke")
    assert out.exit_code == 0, out.output
    assert "no drift in 1 claim" in out.output


def test_check_reports_drift_and_exits_1(ws, monkeypatch):
    p, j = _committed(ws)
    rec = json.loads(j.read_text())
    iv = rec["checks"][0]["groups"][0]["interval"]
    iv["mean"], iv["lo"], iv["hi"] = 0.5, 0.49, 0.51  # a committed number the code no longer gives
    j.write_text(json.dumps(rec))
    out = _cli(ws, monkeypatch, "check", "toy_claim", "--scale", "smoke")
    assert out.exit_code == 1 and "DRIFT" in out.output


def test_check_honours_a_declared_drift_tolerance(ws, monkeypatch):
    check = {"name": "x_near_one", "metric": "x", "op": "within", "ref": 1.0, "tol": 0.5,
             "drift": 10.0, "why": "toy"}
    p, j = _committed(ws, checks=[check])
    rec = json.loads(j.read_text())
    iv = rec["checks"][0]["groups"][0]["interval"]
    iv["mean"], iv["lo"], iv["hi"] = 0.5, 0.49, 0.51
    j.write_text(json.dumps(rec))
    out = _cli(ws, monkeypatch, "check", "toy_claim", "--scale", "smoke")
    assert out.exit_code == 0, out.output


def test_check_without_a_committed_record_is_exit_2(ws, monkeypatch):
    ws.write(ws.claim())
    out = _cli(ws, monkeypatch, "check", "toy_claim", "--scale", "smoke")
    assert out.exit_code == 2 and "no committed smoke record" in out.output
    assert "toy_claim.yaml:" in out.output


def test_provenance_records_load_isa_and_per_unit_code_state(ws):
    p, j = _committed(ws)
    rec = json.loads(j.read_text())
    prov = rec["provenance"]
    assert prov["cpu_isa"] and len(prov["load"]["start"]) == 3 and "heavy" in prov["load"]
    assert all("code_clean" in u for u in rec["units"])
    assert prov["claim_file_clean"] is False  # a claim file outside the checkout
    assert len(prov["claim_sha256"]) == 64


@pytest.mark.parametrize("start, end, heavy", [((0.1, 0, 0), (2.0, 0, 0), False),
                                              ((2.5, 0, 0), (2.0, 0, 0), True),
                                              ((0.1, 0, 0), (3.5, 0, 0), True)])
def test_heavy_load_rule(start, end, heavy):
    from repro.provenance import heavy_load

    assert heavy_load(start, end, 2) is heavy
