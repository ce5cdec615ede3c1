"""Hostile inputs and hard stops (issue 22, items 2-12): each test failed on the code before
that issue and passes now. Item 1 (``sys.exit()`` in an experiment) is in
``test_faults_exit.py``."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from repro.cli import app
from repro.errors import ClaimError
from repro.plan import plan
from repro.schema import load_claim

ROOT = Path(__file__).resolve().parents[2]


def cli(*args: str, cwd: Path | None = None):
    old = Path.cwd()
    if cwd:
        os.chdir(cwd)
    try:
        return CliRunner().invoke(app, list(args))
    finally:
        os.chdir(old)


def seed_of(path: Path, index: int) -> int:
    return plan(load_claim(path), "smoke", None)[index].seed


# ---- 2. a cached verdict does not survive the loss of its data ----------------------------

def test_cached_unit_is_not_reused_when_its_data_is_gone_or_changed(ws, tmp_path, monkeypatch):
    data = tmp_path / "data"
    (data / "toy").mkdir(parents=True)
    (data / "toy" / "values.txt").write_text("1 1 1\n")
    monkeypatch.setenv("REPRO_DATA_DIR", str(data))
    p = ws.write(ws.claim(experiment="toy_data", params={}, seeds=2))
    first = ws.run(p)
    assert first.verdict == "reproduced"
    assert first.record["units"][0]["data_files"][0]["path"] == "toy/values.txt"
    assert ws.run(p).record["timing"]["cached_units"] == 2  # unchanged data: cache hit

    (data / "toy" / "values.txt").write_text("5 5 5\n")  # changed: recomputed
    changed = ws.run(p)
    assert changed.record["timing"]["cached_units"] == 0
    assert changed.record["units"][0]["metrics"]["x"] == 5.0

    (data / "toy" / "values.txt").unlink()  # gone: the loader's verdict, not the cache's
    gone = ws.run(p)
    assert gone.verdict == "skipped", gone.record["units"][0]
    assert gone.record["timing"]["cached_units"] == 0


def test_unit_key_covers_every_library_version():
    from repro.cache import unit_key
    from repro.provenance import LIBRARIES, library_versions

    claim = load_claim(ROOT / "claims" / "infonce_gmm.yaml")
    u = plan(claim, "smoke", 1)[0]
    base = library_versions()
    assert set(LIBRARIES) <= set(base) and "python" in base
    for lib in ("python", "scipy", "scikit-learn", "aeon"):
        assert unit_key(u, "cpu", {**base, lib: "0.0"}) != unit_key(u, "cpu", base), lib


# ---- 3. bounded inputs --------------------------------------------------------------------

def test_oversized_claim_file_is_refused_before_parsing(ws):
    p = ws.write_text("id: toy_claim\nnotes: [" + "1, " * 200_000 + "1]\n")
    t0 = time.perf_counter()
    with pytest.raises(ClaimError, match="a claim file is at most"):
        load_claim(p)
    assert time.perf_counter() - t0 < 2


def test_token_flood_under_the_size_cap_stops_while_scanning(ws):
    p = ws.write_text("id: toy_claim\nnotes: [" + "1," * 120_000 + "1]\n")  # 240 KB
    t0 = time.perf_counter()
    with pytest.raises(ClaimError, match="YAML tokens"):
        load_claim(p)
    assert time.perf_counter() - t0 < 15


def test_a_huge_sweep_is_a_validation_error_not_an_out_of_memory(ws):
    p = ws.write(ws.claim(sweep={"mean": [float(i) for i in range(1000)],
                                 "sd": [0.01 + i * 1e-6 for i in range(1000)]}))
    t0 = time.perf_counter()
    with pytest.raises(ClaimError, match="REPRO_MAX_UNITS"):
        load_claim(p)
    assert time.perf_counter() - t0 < 10


def test_seeds_flag_is_capped_like_the_yaml(ws):
    p = ws.write(ws.claim())
    out = cli("run", str(p), "--scale", "smoke", "--seeds", "1000000000")
    assert out.exit_code == 2 and "Traceback" not in out.output
    assert not (ws.results / "toy_claim").exists()


def test_units_cap_applies_to_the_seeds_flag(ws, monkeypatch):
    monkeypatch.setenv("REPRO_MAX_UNITS", "50")
    p = ws.write(ws.claim())
    out = cli("run", str(p), "--scale", "smoke", "--seeds", "51",
              "--results-dir", str(ws.results))
    assert out.exit_code == 2 and "REPRO_MAX_UNITS" in out.output


# ---- 4. workers die with their driver ----------------------------------------------------

def _children(pid: int) -> list[int]:
    out = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                ppid = int((d / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            if ppid == pid:
                out.append(int(d.name))
    return out


def _descendants(pid: int) -> set[int]:
    """Every process below ``pid``: its children and theirs (local pool workers are the
    fork server's children, not the driver's)."""
    out, todo = set(), [pid]
    while todo:
        for k in _children(todo.pop()):
            if k not in out:
                out.add(k)
                todo.append(k)
    return out


def _alive(pid: int) -> bool:
    try:
        st = (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return st != "Z"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM])
def test_killed_driver_leaves_no_workers(ws, sig):
    p = ws.write(ws.claim(experiment="toy_slow", params={"delay": 30.0, "mean": 1.0},
                          seeds=4))
    env = {**os.environ, "REPRO_CACHE_DIR": str(ws.cache), "MPLBACKEND": "Agg"}
    drv = subprocess.Popen([sys.executable, "-m", "repro", "run", str(p), "--scale", "smoke",
                            "--jobs", "2", "--device", "cpu", "--results-dir", str(ws.results)],
                           cwd=ws.root, env=env, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 90
        kids: list[int] = []
        while time.time() < deadline:  # the resource tracker, the fork server, both workers
            kids = _descendants(drv.pid)
            if len(kids) >= 4:
                break
            time.sleep(0.5)
        assert len(kids) >= 4, f"workers never started: {kids}"
        time.sleep(2)  # workers past their start-up, running units
        kids = _descendants(drv.pid)
        drv.send_signal(sig)
        drv.wait(timeout=30)
        deadline = time.time() + 10
        while time.time() < deadline and any(_alive(k) for k in kids):
            time.sleep(0.2)
        assert not [k for k in kids if _alive(k)], "processes outlived the driver by 10 s"
    finally:
        if drv.poll() is None:
            drv.kill()


# ---- 5. a per-unit time limit -------------------------------------------------------------

def test_hanging_unit_is_an_error_naming_its_limit_serial(ws):
    p = ws.write(ws.claim(experiment="toy_hang", params={}, seeds=2,
                          scales={"smoke": {"timeout_s": 1.0}}, expect={"smoke": "error"}))
    p = ws.write(ws.claim(experiment="toy_hang", seeds=2, expect={"smoke": "error"},
                          params={"seed_offset": seed_of(p, 1)},
                          scales={"smoke": {"timeout_s": 1.0}}))
    t0 = time.perf_counter()
    res = ws.run(p)
    assert time.perf_counter() - t0 < 30
    bad = [u for u in res.record["units"] if u["status"] == "error"]
    assert len(bad) == 1 and "1 s" in bad[0]["error"] and "timed out" in bad[0]["error"]


def test_cli_timeout_overrides_and_smoke_has_a_default(ws):
    from repro.schema import SMOKE_TIMEOUT_S

    p = ws.write(ws.claim(experiment="toy_hang", params={}, seeds=1, expect={"smoke": "error"}))
    p = ws.write(ws.claim(experiment="toy_hang", seeds=1, expect={"smoke": "error"},
                          params={"seed_offset": seed_of(p, 0)}))
    assert load_claim(p).timeout_for("smoke") == SMOKE_TIMEOUT_S == 60
    out = cli("run", str(p), "--scale", "smoke", "--timeout", "0.5", "--device", "cpu",
              "--results-dir", str(ws.results))
    assert out.exit_code == 1, out.output
    assert "0.5 s" in (ws.results / "toy_claim" / "smoke.md").read_text()


def test_stuck_unit_in_the_pool_has_its_worker_replaced(ws, monkeypatch):
    import repro.executors

    monkeypatch.setattr(repro.executors, "KILL_GRACE_S", 3.0)
    # the third unit hangs, so the first two have started the workers (their start-up
    # counts toward the grace period of the units submitted first)
    p = ws.write(ws.claim(experiment="toy_hang", params={}, seeds=4, expect={"smoke": "error"}))
    p = ws.write(ws.claim(experiment="toy_hang", seeds=4, expect={"smoke": "error"},
                          params={"block_alarm": True, "seed_offset": seed_of(p, 2)},
                          scales={"smoke": {"timeout_s": 1.0}}))
    t0 = time.perf_counter()
    res = ws.run(p, jobs=2)
    assert time.perf_counter() - t0 < 90
    status = {u["seed_index"]: u["status"] for u in res.record["units"]}
    errors = [u.get("error") for u in res.record["units"]]
    assert status == {0: "ok", 1: "ok", 2: "error", 3: "ok"}, errors
    err = next(u["error"] for u in res.record["units"] if u["status"] == "error")
    assert "1 s" in err and "killed and replaced" in err


# ---- 6. a metric that changes kind between units -----------------------------------------

def test_metric_kind_mismatch_is_that_units_error(ws):
    p = ws.write(ws.claim(experiment="toy_mixed_kinds", params={}, seeds=3,
                          expect={"smoke": "error"}))
    p = ws.write(ws.claim(experiment="toy_mixed_kinds", seeds=3, expect={"smoke": "error"},
                          params={"list_seed": seed_of(p, 2)}))
    for _ in range(2):  # and again from cache: the bad unit was never cached
        res = ws.run(p)
        status = [u["status"] for u in res.record["units"]]
        assert status == ["ok", "ok", "error"], res.record["units"]
        assert "is a list" in res.record["units"][2]["error"]
        assert res.verdict == "error"  # judged, not a TypeError traceback
    assert len(ws.cache_entries()) == 2


# ---- 7. records validated on read, never dropped -------------------------------------------

@pytest.fixture
def stored(ws):
    p = ws.write(ws.claim())
    ws.run(p)
    return ws.results / "toy_claim" / "smoke.json"


@pytest.mark.parametrize("damage", ["truncate", "format99", "no_timing", "region_null",
                                    "no_provenance"])
def test_damaged_record_is_listed_as_unreadable(ws, stored, damage):
    from repro.results import load_results, write_summary

    rec = json.loads(stored.read_text())
    if damage == "truncate":
        stored.write_text(stored.read_text()[:300])
    else:
        if damage == "format99":
            rec["format"] = 99
        elif damage == "no_timing":
            del rec["timing"]
        elif damage == "no_provenance":
            del rec["provenance"]
        else:
            rec["checks"][0]["region"] = None
        stored.write_text(json.dumps(rec))
    summary = write_summary(ws.results).read_text()
    assert "unreadable" in summary and "toy_claim" in summary
    if damage == "format99":
        assert "unknown format 99" in summary
    df = load_results(ws.results)
    assert list(df["verdict"]) == ["unreadable"]
    out = cli("list", "--results-dir", str(ws.results), cwd=ws.root)
    assert "unreadable" in out.output
    out = cli("report", "--results-dir", str(ws.results), cwd=ws.root)
    assert out.exit_code == 1 and "UNREADABLE" in out.output


def test_report_write_failure_exits_3(ws, stored):
    (ws.results / "README.md").unlink(missing_ok=True)
    (ws.results / "README.md").mkdir()  # an obstacle even root cannot write over
    out = cli("report", "--results-dir", str(ws.results), cwd=ws.root)
    assert out.exit_code == 3, out.output
    assert "Traceback" not in out.output


# ---- 8. the umask is respected --------------------------------------------------------------

@pytest.mark.parametrize("mask, mode", [(0o022, 0o644), (0o002, 0o664)])
def test_written_files_follow_the_umask(ws, mask, mode):
    old = os.umask(mask)
    try:
        ws.run(ws.write(ws.claim()))
    finally:
        os.umask(old)
    files = [ws.results / "toy_claim" / "smoke.json", ws.results / "toy_claim" / "smoke.md",
             ws.results / "README.md", *ws.cache_entries()]
    for f in files:
        assert stat.S_IMODE(f.stat().st_mode) == mode, f


# ---- 9. standard JSON -------------------------------------------------------------------------

def _strict(text: str):
    def refuse(token):
        raise ValueError(f"non-standard JSON literal {token}")
    return json.loads(text, parse_constant=refuse)


def test_every_committed_result_is_standard_json():
    files = sorted((ROOT / "results").rglob("*.json"))
    assert len(files) > 80
    for f in files:
        _strict(f.read_text(encoding="utf-8"))


def test_non_finite_numbers_round_trip_as_strings(ws):
    import math

    from repro.records import read_record

    check = {"name": "x_big", "metric": "x", "op": "at_least", "ref": 0.5,
             "why": "x is 1 with sd 0.01"}
    ws.run(ws.write(ws.claim(checks=[check])))
    stored = ws.results / "toy_claim" / "smoke.json"
    text = stored.read_text()
    _strict(text)
    assert '"Infinity"' in text  # the open end of the check's region
    rec = read_record(stored)
    assert rec["format"] == 3
    assert any(math.isinf(x) for c in rec["checks"] for x in c["region"])


# ---- 10. where: and sweep axes validated; every claim validated before any runs -----------

def test_where_matching_no_point_is_a_validation_error(ws):
    check = {**ws.claim()["checks"][0], "where": {"mean": 7.0}}
    p = ws.write(ws.claim(sweep={"mean": [1.0, 2.0]}, checks=[check]))
    with pytest.raises(ClaimError, match="no sweep point"):
        load_claim(p)


def test_empty_sweep_axis_is_a_validation_error(ws):
    p = ws.write(ws.claim(sweep={"mean": []}))
    with pytest.raises(ClaimError, match="has no values"):
        load_claim(p)


@pytest.mark.parametrize("order", ["good_bad", "bad_good"])
def test_all_claims_are_validated_before_any_runs(ws, order):
    good = ws.write(ws.claim())
    bad = ws.write(ws.claim(id="bad_claim", seeds=0), stem="bad_claim")
    args = [str(good), str(bad)] if order == "good_bad" else [str(bad), str(good)]
    out = cli("run", *args, "--scale", "smoke", "--results-dir", str(ws.results))
    assert out.exit_code == 2
    assert not (ws.results / "toy_claim").exists()


# ---- 11. provenance knows the claim file ------------------------------------------------------

def test_claim_file_outside_the_checkout_is_marked(ws):
    text = (ROOT / "claims" / "infonce_gmm.yaml").read_text()
    p = ws.claims / "infonce_gmm.yaml"
    p.write_text(text.replace("seeds: 3", "seeds: 2", 1))
    res = ws.run(p)
    prov = res.record["provenance"]
    assert prov["claim_file_clean"] is False and len(prov["claim_sha256"]) == 64
    md = (ws.results / "infonce_gmm" / "smoke.md").read_text()
    assert "not the committed claim file" in md
    assert "claim file not the committed one" in (ws.results / "README.md").read_text()


# ---- 12. messages -----------------------------------------------------------------------------

def test_nan_reference_says_what_is_wrong(ws):
    p = ws.write_text(Path(ws.write(ws.claim())).read_text().replace("ref: 1.0", "ref: .nan"))
    with pytest.raises(ClaimError) as e:
        load_claim(p)
    assert "finite number" in str(e.value) and "valid string" not in str(e.value)


def test_merge_keys_are_merged_not_duplicates(ws):
    text = Path(ws.write(ws.claim())).read_text().replace(
        "params:\n  mean: 1.0\n  sd: 0.01\n",
        "params:\n  <<: {mean: 5.0, sd: 0.01}\n  mean: 1.0\n")
    assert "<<" in text
    assert load_claim(ws.write_text(text)).params == {"mean": 1.0, "sd": 0.01}
    with pytest.raises(ClaimError, match="duplicate key 'mean'"):
        load_claim(ws.write_text(text.replace("  mean: 1.0\n", "  mean: 1.0\n  mean: 2.0\n")))


def test_short_names_must_be_unambiguous_and_are_announced(ws):
    out = cli("validate", "infonce", cwd=ROOT)  # validate takes paths: not a lookup
    assert out.exit_code == 2
    from repro.cli import resolve_claim

    old = Path.cwd()
    os.chdir(ROOT)
    try:
        with pytest.raises(FileNotFoundError, match="ambiguous"):
            resolve_claim("infonce")
        assert resolve_claim("tau_law").stem == "spectral_tau_law"
    finally:
        os.chdir(old)


def test_short_name_is_announced_on_the_command_line(ws):
    out = cli("run", "tau_law", "--scale", "nonexistent", cwd=ROOT)
    assert "running spectral_tau_law" in out.output


def test_closed_stdout_loses_no_results(ws):
    """``repro run A B C | head -c 1``: the reader is gone after one byte. Unbuffered, so
    the closed pipe is hit while printing B (which took seconds to run); C must still run
    and be written (it died on a BrokenPipe traceback, before C, before)."""
    paths = [ws.write(ws.claim(id=f"toy_{c}")) for c in "abc"]
    env = {**os.environ, "REPRO_CACHE_DIR": str(ws.cache), "MPLBACKEND": "Agg",
           "PYTHONUNBUFFERED": "1"}
    cmd = (f"{sys.executable} -m repro run {' '.join(map(str, paths))} --scale smoke "
           f"--device cpu --results-dir {ws.results} | head -c 1")
    r = subprocess.run(cmd, shell=True, cwd=ws.root, env=env, capture_output=True, text=True,
                       timeout=240)
    assert "BrokenPipe" not in r.stderr and "Traceback" not in r.stderr, r.stderr[-2000:]
    for c in "abc":
        rec = json.loads((ws.results / f"toy_{c}" / "smoke.json").read_text())
        assert rec["verdict"] == "reproduced"


def test_cache_warning_is_one_line_without_harness_source(ws):
    p = ws.write(ws.claim(seeds=1))
    assert cli("run", str(p), "--scale", "smoke", "--device", "cpu",
               "--results-dir", str(ws.results)).exit_code == 0
    entry = ws.cache_entries()[0]
    entry.write_text(entry.read_text()[:20])
    out = cli("run", str(p), "--scale", "smoke", "--device", "cpu",
              "--results-dir", str(ws.results))
    assert "repro: warning: corrupt cache entry" in out.output
    assert "warnings.warn" not in out.output and "UserWarning" not in out.output
