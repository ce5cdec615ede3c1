"""A run killed with SIGKILL part-way leaves only whole cache entries and no half-written
results; the rerun takes the finished units from the cache and runs the rest."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import warnings

from repro.cache import UnitCache

UNITS = 8
DELAY = 0.3


def test_resume_after_sigkill(ws):
    p = ws.write(ws.claim(experiment="toy_slow", params={"delay": DELAY, "mean": 1.0, "sd": 0.01},
                          seeds=UNITS))
    env = {**os.environ, "REPRO_CACHE_DIR": str(ws.cache), "MPLBACKEND": "Agg"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "repro", "run", str(p), "--scale", "smoke", "--device", "cpu",
         "--results-dir", str(ws.results)],
        cwd=ws.root, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        start_new_session=True)
    try:
        deadline = time.monotonic() + 90
        while len(ws.cache_entries()) < 3:
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "the run never got going"
            time.sleep(0.02)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)
        proc.stdout.close()
        proc.stderr.close()
    assert proc.returncode == -signal.SIGKILL

    # what the killed run left: whole entries (and at most some temp files), nothing half-read
    done = ws.cache_entries()
    k = len(done)
    assert 3 <= k < UNITS
    stray = [f for f in ws.cache.rglob("*") if f.is_file() and f.suffix not in (".json", ".tmp")]
    assert not stray
    cache = UnitCache(ws.cache)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a corrupt-entry warning would fail here
        for f in done:
            assert cache.get(f.stem)["status"] == "ok"
    for f in ws.cache.rglob("*.tmp"):  # a temp file is never mistaken for an entry
        assert f.name.startswith(".") and not f.name.endswith(".json")
    results_json = ws.results / "toy_claim" / "smoke.json"
    if results_json.exists():
        json.loads(results_json.read_text())

    # the rerun resumes: finished units from the cache, the rest computed
    t0 = time.perf_counter()
    res = ws.run(p)
    wall = time.perf_counter() - t0
    assert res.record["timing"]["cached_units"] == k
    assert sum(not u["cached"] for u in res.record["units"]) == UNITS - k
    assert wall < (UNITS - k) * DELAY + 5
    assert res.verdict == "reproduced" and res.met_expectation
    assert len(ws.cache_entries()) == UNITS
    stored = json.loads(results_json.read_text())
    assert stored["verdict"] == "reproduced" and len(stored["units"]) == UNITS
