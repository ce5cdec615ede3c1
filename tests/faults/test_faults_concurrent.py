"""Two ``repro run`` processes on the same claim at once: both finish, and what is stored
(cache entries and results) is complete and holds the same numbers as a single run."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from repro.cache import UnitCache

UNITS = 6


def test_two_concurrent_runs_of_one_claim(ws, unit_metrics):
    p = ws.write(ws.claim(experiment="toy_slow", params={"delay": 0.2, "mean": 1.0, "sd": 0.01},
                          seeds=UNITS))
    env = {**os.environ, "REPRO_CACHE_DIR": str(ws.cache), "MPLBACKEND": "Agg"}
    cmd = [sys.executable, "-m", "repro", "run", str(p), "--scale", "smoke", "--device", "cpu",
           "--results-dir", str(ws.results)]
    procs = [subprocess.Popen(cmd, cwd=ws.root, env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outs = [pr.communicate(timeout=240) for pr in procs]
    for pr, (out, err) in zip(procs, outs):
        assert pr.returncode == 0, err[-2000:]
        assert "verdict: reproduced" in out

    stored = json.loads((ws.results / "toy_claim" / "smoke.json").read_text())
    assert len(stored["units"]) == UNITS and stored["verdict"] == "reproduced"
    assert (ws.results / "toy_claim" / "smoke.md").exists()
    assert not list(ws.results.rglob("*.tmp")) and not list(ws.cache.rglob("*.tmp"))
    cache = UnitCache(ws.cache)
    assert len(ws.cache_entries()) == UNITS
    assert all(cache.get(f.stem)["status"] == "ok" for f in ws.cache_entries())

    single = ws.run(p, use_cache=False, write=False)
    assert unit_metrics(stored) == unit_metrics(single.record)
    assert [c["verdict"] for c in stored["checks"]] == [c["verdict"] for c in
                                                        single.record["checks"]]
