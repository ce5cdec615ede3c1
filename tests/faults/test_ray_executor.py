"""The Ray executor on a real local Ray head (``ray start --head`` on 127.0.0.1, bounded,
stopped at the end): a multi-seed paper claim gives the same numbers as the local run, and
a worker lost mid-unit is retried, or becomes an ``error`` record for that unit only.

One test function, so that under ``pytest -n 2`` a single worker owns the Ray head.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from .test_faults_workers import UNITS, crash_claim

ray = pytest.importorskip("ray", reason='Ray is an extra: pip install -e ".[ray]"')

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _ray_cli() -> str:
    exe = Path(sys.executable).with_name("ray")
    return str(exe) if exe.exists() else "ray"


def test_ray_executor_matches_local_and_survives_lost_workers(ws, tmp_path, unit_metrics,
                                                              monkeypatch):
    port = _free_port()
    temp = tempfile.mkdtemp(prefix="ray-", dir="/tmp")  # Ray's socket paths must stay short
    # a throwaway cluster on 127.0.0.1: no usage stats, and no token authentication (Ray
    # 2.5x+ may enable it, and a token left in ~/.ray by another cluster then fails)
    quiet = {"RAY_USAGE_STATS_ENABLED": "0", "RAY_AUTH_MODE": "disabled"}
    env = {**os.environ, **quiet}
    for k, v in quiet.items():
        monkeypatch.setenv(k, v)
    start = subprocess.run(
        [_ray_cli(), "start", "--head", "--node-ip-address", "127.0.0.1", "--port", str(port),
         "--num-cpus", "2", "--num-gpus", "0", "--include-dashboard=false",
         "--disable-usage-stats", "--object-store-memory", str(100 * 2**20),
         "--temp-dir", temp],
        env=env, capture_output=True, text=True, timeout=120)
    assert start.returncode == 0, start.stderr[-2000:]
    address = f"127.0.0.1:{port}"
    try:
        claim = ROOT / "claims" / "infonce_gmm.yaml"
        on_ray = ws.run(claim, executor="ray", address=address, use_cache=False)
        local = ws.run(claim, use_cache=False)
        assert len(on_ray.record["units"]) >= 5
        assert all(u["status"] == "ok" for u in on_ray.record["units"])
        assert unit_metrics(on_ray.record) == unit_metrics(local.record)  # bit for bit
        assert on_ray.verdict == local.verdict == "reproduced"

        for crashes, status in [(1, "ok"), (5, "error")]:
            marker = tmp_path / f"attempts-{crashes}"
            p, victim = crash_claim(ws, marker, crashes)
            res = ws.run(p, executor="ray", address=address, use_cache=False)
            units = res.record["units"]
            assert len(units) == UNITS
            assert [u["status"] for u in units if u["seed"] == victim] == [status]
            assert all(u["status"] == "ok" for u in units if u["seed"] != victim)
            assert len(list(marker.glob("attempt-*"))) == 2  # a try and Ray's one retry
            if status == "error":
                err = next(u["error"] for u in units if u["seed"] == victim)
                assert "worker lost mid-unit" in err
                assert res.verdict == "error"
    finally:
        if ray.is_initialized():
            ray.shutdown()
        subprocess.run([_ray_cli(), "stop", "--force"], env=env, capture_output=True,
                       timeout=120)
        shutil.rmtree(temp, ignore_errors=True)
