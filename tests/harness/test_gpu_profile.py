"""The GPU profile script, tried on the CPU with tiny sizes: it runs what fits the budget,
reports invalid claim files instead of dropping them, cuts off a claim that outgrows the
budget, and does not start one when the budget is spent."""

from __future__ import annotations

import json

from repro import gpu_profile


def _profile(ws, out, budget, only):
    rc = gpu_profile.main(["--scale", "smoke", "--device", "cpu", "--budget-s", str(budget),
                           "--claims-dir", str(ws.claims), "--results-dir", str(out),
                           "--only", *only])
    assert rc == 0
    return {r["claim"]: r for r in json.loads((out / "gpu_profile.json").read_text())}


def test_profile_runs_claims_within_budget_and_reports(ws, monkeypatch):
    ws.write(ws.claim(id="toy_fast"))
    ws.write(ws.claim(id="toy_broken", experiment="toy_nan", params={}))
    ws.write(ws.claim(id="toy_invalid", seeds="three"))
    ws.write(ws.claim(id="toy_sleepy", experiment="toy_slow", seeds=3,
                      params={"delay": 60.0, "mean": 0.0}))
    out = ws.root / "out"
    monkeypatch.chdir(ws.root)

    rows = _profile(ws, out, 600, ["toy_fast", "toy_broken", "toy_invalid"])
    assert set(rows) == {"toy_fast", "toy_broken", "toy_invalid"}
    assert rows["toy_fast"]["status"] == "ran" and rows["toy_fast"]["verdict"] == "reproduced"
    assert rows["toy_broken"]["status"].startswith("ran") and rows["toy_broken"]["verdict"] \
        == "error"
    assert rows["toy_invalid"]["status"] == "invalid claim file"
    assert "toy_invalid.yaml:" in rows["toy_invalid"]["verdict"]
    assert (out / "toy_fast" / "smoke.json").exists()

    rows = _profile(ws, out, 8, ["toy_sleepy"])  # 3 units x 60 s: cut off at 8 s
    assert rows["toy_sleepy"]["status"].startswith("cut off")
    assert rows["toy_sleepy"]["wall_s"] < 30
    rows = _profile(ws, out, 2, ["toy_sleepy"])  # under 5 s left: not started
    assert rows["toy_sleepy"]["status"] == "not run: budget spent"
    assert "toy_sleepy" in (out / "gpu_profile.md").read_text()
