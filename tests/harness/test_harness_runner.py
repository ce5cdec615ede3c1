"""The runner end to end on toy experiments whose answers are known: verdicts, failures,
skips, sweeps, result files and provenance; a misspelled metric costs one unit."""

from __future__ import annotations

import json
import math

import pytest
from typer.testing import CliRunner

import repro
from repro.cli import app
from repro.errors import ClaimError, MetricMissing
from repro.plan import derive_seed, plan
from repro.schema import load_claim

WITHIN_ONE = {"name": "x_near_one", "metric": "x", "op": "within", "ref": 1.0, "tol": 0.5,
              "why": "toy"}


def check(**kw):
    return {"why": "toy", **kw}


# ----------------------------------------------------------------------------- verdicts

@pytest.mark.parametrize("params,seeds,expected", [
    ({"mean": 1.0, "sd": 0.01}, 3, "reproduced"),  # statistic ~0 ± 0.03, region [-0.5, 0.5]
    ({"mean": 3.0, "sd": 0.01}, 3, "not_reproduced"),  # statistic ~2: far outside
    # the true statistic 0.5 sits on the edge and sd = 1 makes the interval ~±1 wide; seeds
    # derive from the claim id, so the draws (and this verdict) are fixed
    ({"mean": 1.5, "sd": 1.0}, 5, "inconclusive"),
])
def test_three_verdicts(ws, params, seeds, expected):
    p = ws.write(ws.claim(params=params, seeds=seeds, expect={"smoke": expected}))
    res = ws.run(p)
    assert res.verdict == expected
    assert res.met_expectation
    (c,) = res.record["checks"]
    (g,) = c["groups"]
    assert c["verdict"] == g["verdict"] == expected
    assert len(g["per_seed"]) == seeds and g["interval"]["n"] == seeds
    assert g["interval"]["method"] == "t95"
    assert c["region"] == [-0.5, 0.5]
    lo, hi = g["interval"]["lo"], g["interval"]["hi"]
    if expected == "reproduced":
        assert -0.5 <= lo <= hi <= 0.5
    elif expected == "not_reproduced":
        assert lo > 0.5
    else:
        assert lo < 0.5 < hi
    # per-seed statistics are x - ref
    xs = [u["metrics"]["x"] for u in res.record["units"]]
    assert g["per_seed"] == pytest.approx([x - 1.0 for x in xs])


def test_unmet_expectation_is_reported(ws):
    p = ws.write(ws.claim(params={"mean": 3.0, "sd": 0.01}))
    res = ws.run(p)
    assert res.verdict == "not_reproduced" and res.expect == "reproduced"
    assert not res.met_expectation and res.record["met_expectation"] is False


def test_cli_exit_codes(ws):
    good = ws.write(ws.claim())
    bad = ws.write(ws.claim(id="toy_bad", params={"mean": 3.0, "sd": 0.01}))
    args = ["run", "--scale", "smoke", "--device", "cpu", "--results-dir", str(ws.results)]
    r = CliRunner().invoke(app, [*args[:1], str(good), *args[1:]])
    assert r.exit_code == 0, r.stderr
    assert "x_near_one" in r.stdout and "verdict: reproduced (as expected)" in r.stdout
    r = CliRunner().invoke(app, [*args[:1], str(good), str(bad), *args[1:]])
    assert r.exit_code == 1
    assert "verdict: not_reproduced (EXPECTED reproduced)" in r.stdout
    assert "3/3 units from cache" in r.stdout  # the good claim came back from the cache


def test_unit_error_keeps_traceback_and_others_run(ws):
    bad_seed = derive_seed("toy_claim", 1)
    p = ws.write(ws.claim(params={"mean": 1.0, "sd": 0.01, "fail_seed_index": bad_seed}))
    res = ws.run(p)
    assert res.verdict == "error"
    units = res.record["units"]
    assert [u["status"] for u in units] == ["ok", "error", "ok"]
    assert "RuntimeError: toy failure on purpose" in units[1]["error"]
    assert "Traceback" in units[1]["traceback"] and "toy_gaussian" in units[1]["traceback"]
    assert all("x" in u["metrics"] for u in (units[0], units[2]))
    (g,) = res.record["checks"][0]["groups"]
    assert g["verdict"] == "error" and "toy failure on purpose" in g["reason"]
    assert len(ws.cache_entries()) == 2  # errors are not cached: a rerun retries them
    md = (ws.results / "toy_claim" / "smoke.md").read_text()
    assert "Units that did not finish" in md and "toy failure on purpose" in md


def test_first_unit_failing_then_missing_metric(ws):
    """The metric-name check must still happen when the first unit is the one that fails."""
    bad_seed = derive_seed("toy_claim", 0)
    chk = {**WITHIN_ONE, "metric": "x_plus_on"}
    p = ws.write(ws.claim(params={"fail_seed_index": bad_seed}, checks=[chk]))
    with pytest.raises(MetricMissing, match="x_plus_one"):
        ws.run(p)
    assert len(ws.cache_entries()) == 1  # stopped right after the first unit that worked


def test_nan_metric_is_error(ws):
    seeds = [derive_seed("toy_claim", i) for i in range(4)]
    assert {s % 2 for s in seeds} == {0, 1}, "precondition: some odd and some even seeds"
    p = ws.write(ws.claim(experiment="toy_nan", params={}, seeds=4,
                          checks=[{**WITHIN_ONE, "ref": 1.0, "tol": 100.0}]))
    res = ws.run(p)
    assert res.verdict == "error"
    for s, u in zip(seeds, res.record["units"]):
        if s % 2:
            assert u["status"] == "error" and "metric 'x' is nan" in u["error"]
        else:
            assert u["status"] == "ok" and u["metrics"]["x"] == 1.0
    assert res.record["checks"][0]["groups"][0]["verdict"] == "error"


def test_unavailable_is_skipped_with_reason(ws):
    p = ws.write(ws.claim(experiment="toy_unavailable", params={"dataset": "cifar-1000"},
                          expect={"smoke": "skipped"}))
    res = ws.run(p)
    assert res.verdict == "skipped" and res.met_expectation
    assert all(u["status"] == "skipped" for u in res.record["units"])
    (g,) = res.record["checks"][0]["groups"]
    assert g["verdict"] == "skipped"
    assert "'cifar-1000'" in g["reason"] and "REPRO_DATA_DIR" in g["reason"]
    assert ws.cache_entries() == []


def test_cuda_scale_on_cpu_is_skipped(ws):
    p = ws.write(ws.claim(scales={"smoke": {}, "paper": {"requires": ["cuda"]}},
                          expect={"smoke": "reproduced", "paper": "skipped"}))
    res = ws.run(p, scale="paper", device="cpu")
    assert res.verdict == "skipped" and res.met_expectation
    assert all(u["status"] == "skipped" and "CUDA" in u["error"] for u in res.record["units"])
    assert "needs a CUDA GPU" in res.record["checks"][0]["groups"][0]["reason"]
    assert ws.cache_entries() == []  # nothing ran


def test_undefined_scale_is_bad_input(ws):
    p = ws.write(ws.claim())
    with pytest.raises(ClaimError, match="defines no scale 'default'"):
        ws.run(p, scale="default")


# ----------------------------------------------------------------------------- sweeps

def test_sweep_and_where(ws):
    checks = [
        check(name="at_one", metric="x", op="within", ref=1.0, tol=0.1, where={"mean": 1.0}),
        check(name="everywhere_above", metric="x", op="at_least", ref=-0.5),
        check(name="everywhere_near_one", metric="x", op="within", ref=1.0, tol=0.1),
        check(name="grows", metric="x", op="monotone", over="mean", direction="increasing",
              margin=0.9),
        check(name="band", metric="x", op="inside_band", lower=-1.0, upper="x_plus_one"),
    ]
    p = ws.write(ws.claim(sweep={"mean": [0.0, 1.0, 2.0]}, checks=checks,
                          expect={"smoke": "not_reproduced"}))
    res = ws.run(p)
    assert len(res.record["units"]) == 9
    by = {c["name"]: c for c in res.record["checks"]}
    assert [g["point"] for g in by["at_one"]["groups"]] == [{"mean": 1.0}]
    assert by["at_one"]["verdict"] == "reproduced"
    assert by["everywhere_above"]["verdict"] == "reproduced"
    assert len(by["everywhere_above"]["groups"]) == 3
    near = {g["point"]["mean"]: g["verdict"] for g in by["everywhere_near_one"]["groups"]}
    assert near == {0.0: "not_reproduced", 1.0: "reproduced", 2.0: "not_reproduced"}
    assert by["everywhere_near_one"]["verdict"] == "not_reproduced"
    (g,) = by["grows"]["groups"]
    assert g["point"] == {} and by["grows"]["verdict"] == "reproduced"
    # common random numbers: every sweep point of a seed shares its draw, so steps are exact
    assert g["per_seed"] == pytest.approx([1.0, 1.0, 1.0], abs=1e-12)
    assert by["band"]["verdict"] == "reproduced"
    assert res.verdict == "not_reproduced"


def test_loglog_slope_grouped_by_other_sweep_params(ws):
    checks = [check(name="slope", metric="y", op="loglog_slope", over="scale", target=-2.0,
                    tol=0.01),
              check(name="slope_where", metric="y", op="loglog_slope", over="scale",
                    target=-2.0, tol=0.01, where={"power": -2.0})]
    p = ws.write(ws.claim(params={"noise": 0.3}, checks=checks,
                          sweep={"scale": [1.0, 2.0, 4.0, 8.0], "power": [-1.0, -2.0]},
                          expect={"smoke": "not_reproduced"}))
    res = ws.run(p)
    assert len(res.record["units"]) == 4 * 2 * 3
    slope, slope_where = res.record["checks"]
    groups = {g["point"]["power"]: g for g in slope["groups"]}
    assert set(groups) == {-1.0, -2.0}
    # multiplicative noise is shared along the sweep (same seed), so the slope is exact
    assert groups[-2.0]["per_seed"] == pytest.approx([-2.0] * 3, abs=1e-9)
    assert groups[-1.0]["per_seed"] == pytest.approx([-1.0] * 3, abs=1e-9)
    assert groups[-2.0]["verdict"] == "reproduced"
    assert groups[-1.0]["verdict"] == "not_reproduced"
    assert slope["verdict"] == "not_reproduced"
    assert slope_where["verdict"] == "reproduced" and len(slope_where["groups"]) == 1
    assert res.verdict == "not_reproduced"
    assert (ws.results / "toy_claim" / "smoke.png").stat().st_size > 1000


def test_per_scale_seeds_and_sweep_override(ws):
    data = ws.claim(sweep={"mean": [0.0, 1.0, 2.0]}, seeds=3,
                    scales={"smoke": {"seeds": 2, "sweep": {"mean": [1.0, 1.1]}},
                            "default": {"params": {"sd": 0.02}}},
                    expect={"smoke": "reproduced", "default": "not_reproduced"})
    p = ws.write(data)
    claim = load_claim(p)
    smoke = plan(claim, "smoke")
    default = plan(claim, "default")
    assert len(smoke) == 2 * 2 and len(default) == 3 * 3
    assert sorted({u.point["mean"] for u in smoke}) == [1.0, 1.1]
    assert {u.params["sd"] for u in smoke} == {0.01}
    assert {u.params["sd"] for u in default} == {0.02}
    assert len(plan(claim, "smoke", seeds=5)) == 2 * 5
    res = ws.run(p)
    assert res.verdict == "reproduced" and res.record["seeds"] == 2
    assert len(res.record["units"]) == 4
    res5 = ws.run(p, seeds=5)
    assert res5.record["seeds"] == 5 and len(res5.record["units"]) == 10
    assert res5.record["timing"]["cached_units"] == 4  # seed indices 0-1 reused


# ----------------------------------------------------------------------------- metric missing

def _check_line(path) -> int:
    lines = path.read_text().splitlines()
    return next(i + 1 for i, s in enumerate(lines) if s.startswith("- name: x_near_one"))


@pytest.mark.parametrize("field,value,hint", [("metric", "x_plus_on", "did you mean 'x_plus_one'"),
                                              ("ref", "yy", "did you mean 'y'"),
                                              ("metric", "curve", "is a list")])
def test_missing_metric_after_one_unit(ws, field, value, hint):
    chk = {**WITHIN_ONE, field: value}
    p = ws.write(ws.claim(seeds=5, checks=[chk]))
    with pytest.raises(MetricMissing) as ei:
        ws.run(p)
    msg = str(ei.value)
    assert msg.startswith(f"{p}:{_check_line(p)}: checks[0] (x_near_one)")
    assert hint in msg
    assert len(ws.cache_entries()) == 1  # exactly one unit ran (and was kept)
    assert not ws.results.exists()  # nothing written


def test_missing_metric_detected_from_cache_without_running(ws):
    p = ws.write(ws.claim())
    ws.run(p)
    n = len(ws.cache_entries())
    p.write_text(p.read_text().replace("metric: x", "metric: z"))
    with pytest.raises(MetricMissing, match="returns no metric 'z'"):
        ws.run(p)
    assert len(ws.cache_entries()) == n


def test_missing_metric_cli_exit_2(ws):
    p = ws.write(ws.claim(checks=[{**WITHIN_ONE, "metric": "x_plus_on"}]))
    r = CliRunner().invoke(app, ["run", str(p), "--scale", "smoke", "--device", "cpu",
                                 "--results-dir", str(ws.results)])
    assert r.exit_code == 2
    assert f"{p}:{_check_line(p)}:" in r.stderr and "did you mean 'x_plus_one'" in r.stderr
    assert "Traceback" not in r.stderr


# ----------------------------------------------------------------------------- records

def test_result_files_summary_and_dataframe(ws):
    p1 = ws.write(ws.claim(checks=[{**WITHIN_ONE, "paper": 1.0}]))
    p2 = ws.write(ws.claim(id="toy_other", sweep={"mean": [0.0, 1.0]},
                           checks=[check(name="nonneg", metric="x", op="at_least", ref=-0.5)]))
    r1 = ws.run(p1)
    r2 = ws.run(p2)
    d = ws.results / "toy_claim"
    assert r1.json_path == d / "smoke.json"
    assert (d / "smoke.md").exists()
    assert (d / "smoke.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    stored = json.loads(r1.json_path.read_text())
    assert stored["verdict"] == "reproduced" and stored["plot"] == "smoke.png"
    assert stored["claim"]["id"] == "toy_claim" and stored["scale"] == "smoke"
    assert "source" not in stored["claim"] and "lines" not in stored["claim"]
    md = (d / "smoke.md").read_text()
    assert "x_near_one" in md and "reproduced" in md and "![toy_claim smoke](smoke.png)" in md
    readme = (ws.results / "README.md").read_text()
    assert "[toy_claim](toy_claim/smoke.md)" in readme
    assert "[toy_other](toy_other/smoke.md)" in readme
    assert "(paper: 1)" in readme
    df = repro.load_results(ws.results)
    assert len(df) == 1 + 2  # one group for toy_claim, one per sweep point for toy_other
    row = df[df["claim"] == "toy_claim"].iloc[0]
    assert row["check"] == "x_near_one" and row["verdict"] == "reproduced"
    assert row["mean"] == pytest.approx(1.0, abs=0.05)  # shifted back to the metric
    assert row["ci_lo"] <= row["mean"] <= row["ci_hi"] and row["n_seeds"] == 3
    assert row["paper"] == 1.0
    other = df[df["claim"] == "toy_other"]
    assert sorted(other["point"]) == ["mean=0.0", "mean=1.0"]
    assert set(other["verdict"]) == {"reproduced"} and set(other["scale"]) == {"smoke"}
    assert r2.verdict == "reproduced"


def test_report_regenerates_from_json(ws):
    p = ws.write(ws.claim())
    ws.run(p)
    md = ws.results / "toy_claim" / "smoke.md"
    readme = ws.results / "README.md"
    original = md.read_text()
    md.write_text("hand edit")
    readme.unlink()
    r = CliRunner().invoke(app, ["report", "--results-dir", str(ws.results)])
    assert r.exit_code == 0
    assert md.read_text() == original
    assert "toy_claim" in readme.read_text()


def test_write_false_writes_nothing(ws):
    res = ws.run(ws.write(ws.claim()), write=False)
    assert res.json_path is None and not ws.results.exists()
    assert res.verdict == "reproduced"


def test_provenance_and_unit_timing(ws):
    res = ws.run(ws.write(ws.claim()))
    prov = res.record["provenance"]
    for k in ("git_commit", "git_dirty", "python", "torch", "numpy", "device", "cpu", "date"):
        assert k in prov, k
    assert prov["device"] == "cpu" and prov["python"].count(".") == 2 and prov["cpu"]
    assert prov["date"][:2] == "20"
    for u in res.record["units"]:
        assert isinstance(u["wall_s"], float) and u["wall_s"] >= 0
        assert set(u) >= {"point", "seed_index", "seed", "params", "key", "status", "metrics"}
    t = res.record["timing"]
    assert t["total_s"] >= t["compute_s"] >= 0 and t["cached_units"] == 0


def test_public_api_run_claim(ws):
    res = repro.run_claim(ws.write(ws.claim()), scale="smoke", device="cpu", progress=False,
                          cache_root=ws.cache, results_root=ws.results)
    assert res.verdict == "reproduced"
    assert not math.isnan(res.record["checks"][0]["groups"][0]["interval"]["mean"])


def test_metric_missing_in_a_later_unit_is_an_error_verdict():
    """An experiment whose metrics differ between units yields ``error``, never a KeyError."""
    from repro.evaluate import evaluate_check
    from repro.schema import Check

    check = Check(name="c", metric="x", op="at_least", ref=0.0, why="t")
    units = [
        {"point": {}, "seed_index": 0, "status": "ok", "metrics": {"x": 1.0}},
        {"point": {}, "seed_index": 1, "status": "ok", "metrics": {"y": 1.0}},
    ]
    res = evaluate_check(check, units)
    assert res["verdict"] == "error"
    assert "no metric 'x'" in res["groups"][0]["reason"]


def test_provenance_commit_comes_from_the_code_checkout(ws, tmp_path):
    """A claim file outside the repository still records the code's commit."""
    import subprocess

    from repro.provenance import code_root

    root = code_root()
    assert (root / "methods").is_dir() and (root / "repro").is_dir()
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True,
                          text=True)
    res = ws.run(ws.write(ws.claim()))
    if head.returncode == 0:
        assert res.record["provenance"]["git_commit"] == head.stdout.strip()


def test_claim_names_resolve_by_id_and_unique_suffix(tmp_path, monkeypatch):
    """`repro run tau_law` finds claims/spectral_tau_law.yaml; ambiguity and typos are errors."""
    from repro import cli

    claims = tmp_path / "claims"
    claims.mkdir()
    for stem in ("spectral_tau_law", "gmm_noisy", "other_noisy"):
        (claims / f"{stem}.yaml").write_text("id: x\n")
    monkeypatch.chdir(tmp_path)
    assert cli.resolve_claim("tau_law").name == "spectral_tau_law.yaml"
    assert cli.resolve_claim("spectral_tau_law").name == "spectral_tau_law.yaml"
    with pytest.raises(FileNotFoundError, match="ambiguous"):
        cli.resolve_claim("noisy")
    with pytest.raises(FileNotFoundError, match="did you mean spectral_tau_law"):
        cli.resolve_claim("spectral_tau_lw")


def test_declared_plots_are_validated_drawn_and_checked_for_metrics(ws):
    """`plots:` entries are strict (did-you-mean), their metrics must exist, and they are drawn."""
    from repro.errors import ClaimError, MetricMissing
    from repro.schema import load_claim

    plot = {"name": "curve", "kind": "line", "x": "curve_t", "y": ["curve"], "logy": False}
    res = ws.run(ws.write(ws.claim(plots=[plot])))
    png = ws.results / "toy_claim" / "smoke.png"
    assert res.verdict == "reproduced" and png.exists() and png.stat().st_size > 1000

    with pytest.raises(ClaimError, match="did you mean 'logy'"):
        load_claim(ws.write(ws.claim(plots=[{**plot, "log_y": True}])))
    with pytest.raises(MetricMissing, match=r"plots\[0\].*'curv'.*did you mean 'curve'"):
        ws.run(ws.write(ws.claim(plots=[{**plot, "y": ["curv"]}])), use_cache=False)


def test_bar_plot_over_sweep_categories_with_paper_markers(ws):
    """`kind: bar` draws one bar group per sweep value (x is the sweep parameter, not a metric);
    `paper:` values are only meaningful for bars, so elsewhere they are a validation error."""
    from repro.errors import ClaimError
    from repro.schema import load_claim

    bar = {"name": "gains", "kind": "bar", "x": "mean", "y": ["x"],
           "paper": {"1.0": 1.1, "2.0": 2.2}}
    check = {"name": "x_near_mean", "metric": "x", "op": "at_least", "ref": 0.5,
             "why": "sd is 0.01 and every swept mean is at least 1"}
    claim = ws.claim(plots=[bar], sweep={"mean": [1.0, 2.0]}, checks=[check])
    res = ws.run(ws.write(claim))
    png = ws.results / "toy_claim" / "smoke.png"
    assert res.verdict == "reproduced" and png.exists() and png.stat().st_size > 1000
    line = {"name": "c", "kind": "line", "x": "curve_t", "y": ["curve"], "paper": {"a": 1.0}}
    with pytest.raises(ClaimError, match="paper"):
        load_claim(ws.write(ws.claim(plots=[line])))
