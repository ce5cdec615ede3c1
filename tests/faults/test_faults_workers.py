"""A worker lost mid-unit (SIGKILL from inside the unit) costs a retry, then an ``error``
record for that unit only: never a hang, never a lost or half-written result. Local
process pool here; the Ray executor in ``test_ray_executor.py``."""

from __future__ import annotations

import pytest

UNITS = 3


def crash_claim(ws, marker, crashes):
    """A toy_crash claim whose second unit kills its worker the first ``crashes`` times (the
    first unit runs alone to check metric names; the rest go to the pool). Returns the
    claim file and the victim's seed (the harness derives seeds from the claim id)."""
    from repro.plan import plan
    from repro.schema import load_claim

    params = {"marker_dir": str(marker), "crashes": crashes, "crash_seed_index": 0}
    p = ws.write(ws.claim(experiment="toy_crash", seeds=UNITS, params=params))
    victim = plan(load_claim(p), "smoke", None)[1].seed
    return ws.write(ws.claim(experiment="toy_crash", seeds=UNITS,
                             params={**params, "seed_offset": victim})), victim


@pytest.mark.parametrize("crashes, status", [(1, "ok"), (5, "error")])
def test_process_pool_worker_killed_mid_unit(ws, tmp_path, crashes, status):
    marker = tmp_path / "attempts"
    p, offset = crash_claim(ws, marker, crashes)
    res = ws.run(p, jobs=2)
    units = res.record["units"]
    assert len(units) == UNITS
    victim = [u for u in units if u["seed"] == offset]
    assert [u["status"] for u in victim] == [status]
    others = [u for u in units if u["seed"] != offset]
    assert all(u["status"] == "ok" for u in others), [u.get("error") for u in others]
    attempts = len(list(marker.glob("attempt-*")))
    if status == "ok":
        assert attempts == 2 and res.verdict == "reproduced"
    else:
        assert attempts == 2  # one try and one retry, then given up
        assert "worker lost mid-unit on 2 attempt(s)" in victim[0]["error"]
        assert res.verdict == "error"
        # the error unit was not cached: a rerun retries it
        assert len(ws.cache_entries()) == UNITS - 1
