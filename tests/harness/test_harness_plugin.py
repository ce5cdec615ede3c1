"""The pytest plugin: claims/*.yaml become tests that pass when the smoke verdict equals
``expect.smoke`` and fail with the check table when it does not."""

from __future__ import annotations

import tempfile

import pytest
import yaml


@pytest.fixture(autouse=True, scope="module")
def _preload():
    """pytester's in-process runs drop modules first imported inside them from sys.modules, and
    numpy / torch cannot be imported twice in one process: import everything a run needs here."""
    import matplotlib.pyplot  # noqa: F401
    import pandas  # noqa: F401

    from repro import plot, provenance, registry, runner  # noqa: F401

    registry.discover()
    provenance.collect("cpu")

CLAIM = {
    "title": "x is close to its mean",
    "paper": {"title": "A toy paper"},
    "statement": "A Gaussian draw with a tiny sd lands near its mean.",
    "experiment": "toy_gaussian",
    "scales": {"smoke": {}},
    "seeds": 2,
    "checks": [{"name": "x_near_one", "metric": "x", "op": "within", "ref": 1.0, "tol": 0.5,
                "why": "sd is 0.01"}],
    "expect": {"smoke": "reproduced"},
}


def _claim(cid: str, mean: float) -> str:
    return yaml.safe_dump({"id": cid, **CLAIM, "params": {"mean": mean, "sd": 0.01}},
                          sort_keys=False)


def test_claims_run_as_tests(pytester, monkeypatch, tmp_path):
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    monkeypatch.setenv("REPRO_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("REPRO_RESULTS_DIR", str(tmp_path / "results"))
    claims = pytester.mkdir("claims")
    (claims / "toy_meets.yaml").write_text(_claim("toy_meets", 1.0))
    (claims / "toy_misses.yaml").write_text(_claim("toy_misses", 3.0))
    nodata = {"id": "toy_nodata", **CLAIM, "experiment": "toy_unavailable", "params": {}}
    (claims / "toy_nodata.yaml").write_text(yaml.safe_dump(nodata, sort_keys=False))
    (claims / "notes.txt").write_text("not a claim")
    pytester.mkdir("other").joinpath("toy_meets.yaml").write_text("not: collected\n")
    res = pytester.runpytest("-p", "no:cacheprovider", "-rA")
    res.assert_outcomes(passed=1, failed=1, skipped=1)
    out = res.stdout.str()
    # missing data is a visible skip with the experiment's reason, not a pass or a failure
    res.stdout.fnmatch_lines(["*SKIPPED*toy_nodata: dataset 'imaginary' is not in the data*"])
    res.stdout.fnmatch_lines(["*PASSED claims/toy_meets.yaml*", "*FAILED claims/toy_misses.yaml*"])
    assert "toy_misses.yaml at scale smoke: verdict not_reproduced, expected reproduced" in out
    # the failure shows the check table, not a traceback
    assert "ours (mean [95% CI])" in out and "holds when" in out
    table = [line for line in out.splitlines() if line.startswith("x_near_one")]
    assert table and "not_reproduced" in table[0] and "[0.5, 1.5]" in table[0]
    assert "Traceback" not in out
    assert not (tmp_path / "results").exists()  # the plugin never writes results/
    assert list(scratch.iterdir()) == []  # and leaves no temporary folders behind


def test_bad_claim_fails_with_file_line(pytester):
    claims = pytester.mkdir("claims")
    (claims / "toy_bad.yaml").write_text(_claim("toy_bad", 1.0).replace("metric: x",
                                                                         "metrc: x"))
    res = pytester.runpytest("-p", "no:cacheprovider")
    res.assert_outcomes(failed=1)
    res.stdout.fnmatch_lines(["*toy_bad.yaml:*: checks[[]0[]].metrc: unknown key 'metrc'; "
                              "did you mean 'metric'?*"])


def test_scale_option(pytester):
    claims = pytester.mkdir("claims")
    text = _claim("toy_scaled", 1.0).replace(
        "scales:\n  smoke: {}\n", "scales:\n  smoke: {}\n  default:\n    params: {mean: 3.0}\n")
    text = text.replace("expect:\n  smoke: reproduced\n",
                        "expect:\n  smoke: reproduced\n  default: reproduced\n")
    (claims / "toy_scaled.yaml").write_text(text)
    pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=1)
    pytester.runpytest("-p", "no:cacheprovider", "--repro-scale", "default").assert_outcomes(
        failed=1)


def test_a_smoke_verdict_without_platform_margin_fails_unless_listed(pytester, monkeypatch,
                                                                     tmp_path):
    """An expected verdict that another CPU could flip (here: inconclusive) fails the claim
    test with the margin message; the same claim with an explicit any_of list passes."""
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    monkeypatch.setenv("REPRO_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("REPRO_RESULTS_DIR", str(tmp_path / "results"))
    straddle = {**CLAIM, "seeds": 3, "params": {"mean": 1.0, "sd": 0.3},
                "checks": [{"name": "x_tight", "metric": "x", "op": "within", "ref": 1.0,
                            "tol": 0.05, "why": "straddles on purpose"}]}
    claims = pytester.mkdir("claims")
    (claims / "toy_fragile.yaml").write_text(yaml.safe_dump(
        {"id": "toy_fragile", **straddle, "expect": {"smoke": "inconclusive"}}, sort_keys=False))
    listed = {"smoke": {"any_of": ["inconclusive", "reproduced"], "why": "straddles"}}
    (claims / "toy_listed.yaml").write_text(yaml.safe_dump(
        {"id": "toy_listed", **straddle, "expect": listed}, sort_keys=False))
    res = pytester.runpytest("-p", "no:cacheprovider", "-rA")
    res.assert_outcomes(passed=1, failed=1)
    res.stdout.fnmatch_lines(["*not with the margin another CPU needs*"])
    res.stdout.fnmatch_lines(["*PASSED claims/toy_listed.yaml*"])
