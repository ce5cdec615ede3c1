"""The local pool forks its workers from a fork server that imported torch and the methods
packages once (``repro.worker_preload``). What that must not change: a unit sees the
driver's environment as it is now, not the server's from when it started, and code edited
since the server started is never run from its stale imports. (That a killed driver takes
the server and the workers with it: ``test_faults_hostile.py``.)"""

from __future__ import annotations

import multiprocessing as mp
import os

import pytest

from repro import executors

pytestmark = pytest.mark.skipif("forkserver" not in mp.get_all_start_methods(),
                                reason="no fork server on this platform")


def test_workers_fork_from_the_server_while_the_sources_are_unchanged():
    pid = executors.start_fork_server()
    ctx, parent = executors._worker_context()
    assert ctx.get_start_method() == "forkserver" and parent == pid
    assert executors.start_fork_server() == pid  # one server per driver process


def test_edited_sources_fall_back_to_spawn(monkeypatch):
    pid = executors.start_fork_server()
    monkeypatch.setattr(executors, "_server", (pid, (("methods/x.py", 0, 0),)))
    ctx, parent = executors._worker_context()
    assert ctx.get_start_method() == "spawn" and parent == os.getpid()


def test_a_unit_sees_the_drivers_environment_now(ws, tmp_path, monkeypatch):
    executors.start_fork_server()  # started with the environment as it was
    data = tmp_path / "data"
    (data / "toy").mkdir(parents=True)
    (data / "toy" / "values.txt").write_text("1 2 3 6\n")
    monkeypatch.setenv("REPRO_DATA_DIR", str(data))  # changed after the server started
    p = ws.write(ws.claim(experiment="toy_data", params={}, seeds=3,
                          checks=[{"name": "mean", "metric": "x", "op": "within", "ref": 3.0,
                                   "tol": 1e-9, "why": "the file's mean"}]))
    res = ws.run(p, jobs=2)
    assert [u["status"] for u in res.record["units"]] == ["ok"] * 3, \
        [u.get("error") for u in res.record["units"]]
    assert [u["metrics"]["x"] for u in res.record["units"]] == [3.0] * 3


def test_no_server_pid_falls_back_to_spawn(monkeypatch):
    """Without CPython's private pid attribute the workers' parent cannot be checked."""
    from multiprocessing import forkserver

    class NoPid:
        pass

    monkeypatch.setattr(forkserver, "_forkserver", NoPid())
    assert executors.start_fork_server() is None
    ctx, parent = executors._worker_context()
    assert ctx.get_start_method() == "spawn" and parent == os.getpid()
