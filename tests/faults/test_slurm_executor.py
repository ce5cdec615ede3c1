"""The SLURM executor for real, through submitit's local mode (``cluster=local``: one
process per job on this machine, the same submitit job path as on a cluster, no SLURM
needed): a paper claim gives the local run's numbers bit for bit; a job that dies is
resubmitted once, then its unit is an ``error`` while the rest finish; Ctrl-C cancels the
submitted jobs; a driver killed mid-run and restarted submits only the unfinished units."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from repro.errors import UsageError
from repro.executors_slurm import parse_cli_options, slurm_options

from .test_faults_hostile import _alive, _descendants, seed_of
from .test_faults_workers import UNITS, crash_claim

pytest.importorskip("submitit", reason='submitit is an extra: pip install -e ".[slurm]"')

ROOT = Path(__file__).resolve().parents[2]
LOCAL = {"cluster": "local", "poll_s": 0.1}


def test_slurm_local_matches_local_run(ws, unit_metrics):
    claim = ROOT / "claims" / "infonce_gmm.yaml"
    jobs = ws.run(claim, executor="slurm", executor_options=LOCAL, use_cache=False)
    local = ws.run(claim, use_cache=False)
    assert len(jobs.record["units"]) >= 5
    assert all(u["status"] == "ok" for u in jobs.record["units"])
    assert unit_metrics(jobs.record) == unit_metrics(local.record)  # bit for bit
    assert jobs.verdict == local.verdict == "reproduced"


@pytest.mark.parametrize("crashes, status", [(1, "ok"), (5, "error")])
def test_dead_job_is_retried_once_then_an_error(ws, tmp_path, crashes, status):
    marker = tmp_path / "attempts"
    p, victim = crash_claim(ws, marker, crashes)
    res = ws.run(p, executor="slurm", executor_options=LOCAL, use_cache=False)
    units = res.record["units"]
    assert len(units) == UNITS
    assert [u["status"] for u in units if u["seed"] == victim] == [status]
    assert all(u["status"] == "ok" for u in units if u["seed"] != victim)
    assert len(list(marker.glob("attempt-*"))) == 2  # a try and one resubmission
    if status == "error":
        err = next(u["error"] for u in units if u["seed"] == victim)
        assert "worker lost mid-unit on 2 attempt(s)" in err and "ended without a result" in err
        assert res.verdict == "error"


def _driver(ws, claim: Path, folder: Path, *extra: str) -> subprocess.Popen:
    env = {**os.environ, "REPRO_CACHE_DIR": str(ws.cache), "MPLBACKEND": "Agg"}
    return subprocess.Popen(
        [sys.executable, "-m", "repro", "run", str(claim), "--scale", "smoke", "--device",
         "cpu", "--results-dir", str(ws.results), "--executor", "slurm",
         "--slurm", "cluster=local", "--slurm", f"folder={folder}", *extra],
        cwd=ws.root, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        start_new_session=True)


def _wait_for(cond, timeout_s: float, what: str) -> None:
    deadline = time.time() + timeout_s
    while time.time() < deadline:
        if cond():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def _hang_claim(ws, seconds: float) -> Path:
    params = {"seconds": seconds, "hang_seed_index": 0}
    p = ws.write(ws.claim(experiment="toy_hang", seeds=UNITS, params=params))
    return ws.write(ws.claim(experiment="toy_hang", seeds=UNITS,
                             params={**params, "seed_offset": seed_of(p, 0)}))


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_ctrl_c_cancels_submitted_jobs(ws, tmp_path):
    p = _hang_claim(ws, 3600.0)
    drv = _driver(ws, p, tmp_path / "jobs")
    procs: set[int] = set()
    try:
        # the two quick units cached, the hanging one's job and its task process running
        _wait_for(lambda: len(ws.cache_entries()) == UNITS - 1, 120, "the quick units")
        _wait_for(lambda: len(_descendants(drv.pid)) >= 2, 60, "the hanging job")
        procs = _descendants(drv.pid)
        drv.send_signal(signal.SIGINT)
        drv.wait(timeout=60)
        _wait_for(lambda: not [k for k in procs if _alive(k)], 15, "the jobs to be cancelled")
        assert drv.returncode != 0
    finally:
        for k in procs | ({drv.pid} if drv.poll() is None else set()):
            if _alive(k):
                os.kill(k, signal.SIGKILL)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_killed_driver_rerun_submits_only_the_unfinished_units(ws, tmp_path):
    p = _hang_claim(ws, 6.0)  # the slow unit: 6 s, the others at once
    first = _driver(ws, p, tmp_path / "first")
    procs: set[int] = set()
    try:
        _wait_for(lambda: len(ws.cache_entries()) == UNITS - 1, 120, "the quick units")
        procs = _descendants(first.pid)
        first.kill()  # no cleanup at all: SIGKILL
        first.wait(timeout=30)
    finally:
        for k in procs:
            if _alive(k):
                os.kill(k, signal.SIGKILL)
    second = _driver(ws, p, tmp_path / "second")
    _, err = second.communicate(timeout=180)
    assert second.returncode == 0, err[-2000:]
    import json

    rec = json.loads((ws.results / "toy_claim" / "smoke.json").read_text())
    assert rec["verdict"] == "reproduced"
    assert rec["timing"]["cached_units"] == UNITS - 1
    submitted = [d for d in (tmp_path / "second").iterdir() if d.name.isdigit()]  # job ids
    assert len(submitted) == 1, submitted  # only the unfinished unit went out again


def test_options_from_config_and_command_line(tmp_path):
    (tmp_path / "pyproject.toml").write_text(
        '[tool.repro.slurm]\npartition = "gpu"\ncpus_per_unit = 4\n'
        'sbatch = {account = "lab"}\n')
    opts = slurm_options(["cpus_per_unit=2", "sbatch.qos=high"], cwd=tmp_path)
    assert opts == {"partition": "gpu", "cpus_per_unit": 2, "sbatch.account": "lab",
                    "sbatch.qos": "high"}
    (tmp_path / "repro.toml").write_text('[slurm]\npartition = "cpu"\n')  # wins over pyproject
    assert slurm_options([], cwd=tmp_path) == {"partition": "cpu"}
    for bad in (["partiton=gpu"], ["cpus_per_unit=four"], ["cluster=moon"], ["novalue"],
                ["cpus_per_unit=0"], ["sbatch.=x"]):
        with pytest.raises(UsageError):
            parse_cli_options(bad)


def test_slurm_options_without_the_slurm_executor_exit_2(ws):
    from typer.testing import CliRunner

    from repro.cli import app

    p = ws.write(ws.claim())
    r = CliRunner().invoke(app, ["run", str(p), "--scale", "smoke", "--slurm", "partition=x"])
    assert r.exit_code == 2 and "--executor slurm" in r.output
    r = CliRunner().invoke(app, ["run", str(p), "--scale", "smoke", "--executor", "slurm",
                                 "--slurm", "partiton=x"])
    assert r.exit_code == 2 and "unknown SLURM option 'partiton'" in r.output
