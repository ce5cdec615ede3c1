"""Claim-file validation: every kind of bad input is rejected with file:line, key path and a
useful message, before anything runs; YAML 1.1 traps do not slip through."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from repro.cli import app
from repro.errors import ClaimError
from repro.schema import json_schema, load_claim, parse_claim, resolved_params, sweep_points

# Line numbers below refer to this text; keep them in sync when editing it.
BASE = """\
id: toy_claim
title: x is close to its mean
paper:
  title: A toy paper
statement: A Gaussian draw lands near its mean.
experiment: toy_gaussian
params:
  mean: 1.0
  sd: 0.01
scales:
  smoke:
    params: {sd: 0.02}
  default: {}
seeds: 3
checks:
  - name: x_near_one
    metric: x
    op: within
    ref: 1.0
    tol: 0.5
    why: toy
expect:
  smoke: reproduced
  default: reproduced
"""
LINES = BASE.splitlines()


def sub(old: str, new: str, text: str = BASE) -> str:
    """Replace exactly one occurrence of ``old``."""
    assert text.count(old) == 1, old
    return text.replace(old, new)


def line_no(fragment: str, text: str = BASE) -> int:
    hits = [i + 1 for i, line in enumerate(text.splitlines()) if fragment in line]
    assert len(hits) == 1, (fragment, hits)
    return hits[0]


def problems(tmp_path: Path, text: str | bytes, stem: str = "toy_claim") -> tuple[Path, list[str]]:
    p = tmp_path / f"{stem}.yaml"
    if isinstance(text, bytes):
        p.write_bytes(text)
    else:
        p.write_text(text, encoding="utf-8")
    with pytest.raises(ClaimError) as ei:
        load_claim(p)
    msgs = [str(pr) for pr in ei.value.problems]
    assert msgs, "ClaimError without problems"
    for m in msgs:  # every problem names file:line
        assert re.match(rf"^{re.escape(str(p))}:\d+: ", m), m
    return p, msgs


def assert_problem(tmp_path: Path, text: str | bytes, line: int, *fragments: str,
                   stem: str = "toy_claim") -> str:
    p, msgs = problems(tmp_path, text, stem)
    hits = [m for m in msgs if m.startswith(f"{p}:{line}: ") and all(f in m for f in fragments)]
    assert hits, f"expected a problem at line {line} with {fragments}; got:\n" + "\n".join(msgs)
    return hits[0]


# ----------------------------------------------------------------------------- valid input

def test_base_text_is_valid(tmp_path):
    p = tmp_path / "toy_claim.yaml"
    p.write_text(BASE)
    c = load_claim(p)
    assert c.id == "toy_claim"
    assert c.params == {"mean": 1.0, "sd": 0.01}
    assert c.scales["smoke"].params == {"sd": 0.02}
    assert c.checks[0].tol == 0.5 and isinstance(c.checks[0].tol, float)
    assert c.line("checks", 0, "tol") == line_no("tol: 0.5")
    assert c.line("scales", "smoke", "params", "sd") == line_no("params: {sd: 0.02}")
    # the scale's params override the base params
    (params, origin), = resolved_params(c, "smoke")
    assert params == {"mean": 1.0, "sd": 0.02}
    assert origin["sd"] == ("scales", "smoke", "params", "sd")
    assert origin["mean"] == ("params", "mean")


@pytest.mark.parametrize("literal,value", [("1e-4", 1e-4), ("1E+3", 1000.0), ("-2.5e-3", -2.5e-3),
                                           (".5", 0.5), ("1.", 1.0), ("+3", 3)])
def test_numbers_are_read_as_yaml_1_2(tmp_path, literal, value):
    text = sub("    ref: 1.0", f"    ref: {literal}")
    text = sub("  sd: 0.01", f"  sd: {literal.lstrip('-')}", text)
    c = parse_claim(text, "f.yaml", "toy_claim")
    assert c.checks[0].ref == pytest.approx(value)
    assert isinstance(c.checks[0].ref, float)  # not the string '1e-4' (YAML 1.1)
    assert c.params["sd"] == pytest.approx(abs(value))
    assert not isinstance(c.params["sd"], str)


def test_tol_1e_4_is_a_float(tmp_path):
    c = parse_claim(sub("tol: 0.5", "tol: 1e-4"), "f.yaml", "toy_claim")
    assert c.checks[0].tol == 1e-4 and type(c.checks[0].tol) is float


def test_yaml11_traps_stay_strings(tmp_path):
    text = sub("title: x is close to its mean", "title: no")
    text = sub("  title: A toy paper", "  title: off\n  where: 1:30\n  venue: 2024-01-01", text)
    c = parse_claim(text, "f.yaml", "toy_claim")
    assert c.title == "no"
    assert c.paper.title == "off"
    assert c.paper.where == "1:30"  # YAML 1.1 would read sexagesimal 90
    assert c.paper.venue == "2024-01-01"  # YAML 1.1 would read a date


def test_sweep_expansion():
    assert sweep_points(None) == [{}]
    assert sweep_points({"a": [1, 2], "b": ["x"]}) == [{"a": 1, "b": "x"}, {"a": 2, "b": "x"}]
    assert sweep_points([{"a": 1}, {"a": 3, "b": 2}]) == [{"a": 1}, {"a": 3, "b": 2}]


# ----------------------------------------------------------------------------- bad input

def test_malformed_yaml(tmp_path):
    text = sub("  mean: 1.0", "  mean: [1.0, 2.0")
    msg = assert_problem(tmp_path, text, line_no("  sd: 0.01"), "malformed YAML")
    assert "toy_claim.yaml:" in msg


def test_tab_indentation_is_malformed(tmp_path):
    assert_problem(tmp_path, sub("  mean: 1.0", "\tmean: 1.0"), line_no("  mean: 1.0"),
                   "malformed YAML")


def test_control_character_names_its_line(tmp_path):
    assert_problem(tmp_path, sub("statement: A Gaussian", "statement: A \x07Gaussian"),
                   line_no("statement:"), "malformed YAML", "0x0007")


@pytest.mark.parametrize("old,new,fragments", [
    ("statement:", "statment:", ("unknown key 'statment'", "did you mean 'statement'")),
    ("    metric: x", "    metirc: x", ("checks[0].metirc", "did you mean 'metric'")),
    ("    params: {sd: 0.02}", "    parms: {sd: 0.02}",
     ("scales.smoke.parms", "did you mean 'params'")),
    ("  title: A toy paper", "  title: A toy paper\n  titel: x", ("paper.titel", "'title'")),
    ("  default: {}", "  defualt: {}", ("unknown scale 'defualt'", "did you mean 'default'")),
])
def test_unknown_key_did_you_mean_and_line(tmp_path, old, new, fragments):
    text = sub(old, new)
    bad_line = line_no(new.splitlines()[-1], text)
    assert_problem(tmp_path, text, bad_line, *fragments)


@pytest.mark.parametrize("old,new,fragments", [
    ("seeds: 3", "seeds: three", ("seeds", "valid integer", "'three'")),
    ("seeds: 3", "seeds: 3.0", ("seeds", "valid integer")),
    ("seeds: 3", "seeds: 0", ("seeds", "greater than or equal to 1")),
    ("    tol: 0.5", '    tol: "0.05"', ("checks[0].tol", "valid number", "'0.05'")),
    ("    tol: 0.5", "    tol: no", ("checks[0].tol", "valid number", "'no'")),
    ("    tol: 0.5", "    tol: -0.1", ("checks[0].tol", "greater than or equal to 0")),
    ("    op: within", "    op: roughly", ("checks[0].op", "'within'")),
    ("title: x is close to its mean", "title: [a, b]", ("title", "valid string")),
    ("  smoke: reproduced", "  smoke: passed", ("expect.smoke", "'reproduced'")),
])
def test_wrong_type(tmp_path, old, new, fragments):
    text = sub(old, new)
    assert_problem(tmp_path, text, line_no(new.strip(), text), *fragments)


def test_no_is_rejected_where_a_bool_is_needed(tmp_path):
    text = sub("experiment: toy_gaussian", "experiment: toy_nan")
    text = sub("  mean: 1.0\n  sd: 0.01", "  nan_on_odd: no", text)
    text = sub("    params: {sd: 0.02}", "    params: {}", text)
    assert_problem(tmp_path, text, line_no("nan_on_odd: no", text), "nan_on_odd",
                   "bad value 'no'", "valid boolean")
    # and `false` (YAML 1.2) is a bool, accepted
    c = parse_claim(text.replace("nan_on_odd: no", "nan_on_odd: false"), "f.yaml", "toy_claim")
    assert c.params["nan_on_odd"] is False


def test_true_is_rejected_where_a_number_is_needed(tmp_path):
    assert_problem(tmp_path, sub("  mean: 1.0", "  mean: true"), line_no("  mean: 1.0"),
                   "params.mean", "valid number")


def test_duplicate_key(tmp_path):
    text = sub("seeds: 3", "seeds: 3\nseeds: 4")
    assert_problem(tmp_path, text, line_no("seeds: 4", text), "duplicate key 'seeds'")


def test_duplicate_nested_key(tmp_path):
    text = sub("    ref: 1.0", "    ref: 1.0\n    ref: 2.0")
    assert_problem(tmp_path, text, line_no("ref: 2.0", text), "duplicate key 'ref'",
                   "checks[0].ref")


def test_unknown_experiment_lists_close_names(tmp_path):
    text = sub("experiment: toy_gaussian", "experiment: toy_gausian")
    msg = assert_problem(tmp_path, text, line_no("experiment:"), "unknown experiment 'toy_gausian'",
                         "did you mean 'toy_gaussian'")
    assert "registered:" in msg


def test_missing_smoke_scale(tmp_path):
    text = sub("  smoke:\n    params: {sd: 0.02}\n", "")
    text = sub("  smoke: reproduced\n", "", text)
    assert_problem(tmp_path, text, line_no("scales:", text), "'smoke' scale is mandatory")


def test_missing_required_key(tmp_path):
    text = sub("statement: A Gaussian draw lands near its mean.\n", "")
    assert_problem(tmp_path, text, 1, "statement", "required key is missing")


def test_id_must_equal_file_stem(tmp_path):
    assert_problem(tmp_path, BASE, 1, "id", "must equal the file stem 'other'", stem="other")


def test_id_pattern(tmp_path):
    text = BASE.replace("toy_claim", "Toy-Claim")
    assert_problem(tmp_path, text, 1, "id", "pattern", stem="Toy-Claim")


@pytest.mark.parametrize("where", ["base", "scale", "sweep", "sweep_list"])
def test_unknown_param_did_you_mean(tmp_path, where):
    if where == "base":
        text = sub("  mean: 1.0", "  meen: 1.0")
        bad = "  meen: 1.0"
    elif where == "scale":
        text = sub("    params: {sd: 0.02}", "    params: {sdd: 0.02}")
        bad = "{sdd: 0.02}"
    elif where == "sweep":
        text = sub("scales:", "sweep:\n  meann: [0.0, 1.0]\nscales:")
        bad = "meann:"
    else:
        text = sub("scales:", "sweep:\n  - {mean: 0.0}\n  - {meann: 1.0}\nscales:")
        bad = "{meann: 1.0}"
    wrong = re.search(r"(meen|sdd|meann)", bad).group(1)
    right = {"meen": "mean", "sdd": "sd", "meann": "mean"}[wrong]
    msg = assert_problem(tmp_path, text, line_no(bad, text),
                         f"experiment 'toy_gaussian' has no parameter '{wrong}'",
                         f"did you mean '{right}'")
    assert "it takes:" in msg


def test_unknown_param_in_a_scale_sweep(tmp_path):
    text = sub("  default: {}", "  default:\n    sweep: {sdev: [0.1, 0.2]}")
    assert_problem(tmp_path, text, line_no("sweep: {sdev", text), "no parameter 'sdev'",
                   "did you mean 'sd'")


def test_harness_params_are_not_settable(tmp_path):
    text = sub("  mean: 1.0", "  seed: 4")
    assert_problem(tmp_path, text, line_no("  seed: 4", text), "set by the harness")


def test_bad_param_value_type(tmp_path):
    text = sub("  mean: 1.0", '  mean: "one"')
    assert_problem(tmp_path, text, line_no('mean: "one"', text), "bad value 'one'",
                   "toy_gaussian.mean")


def test_missing_required_param(tmp_path):
    text = sub("experiment: toy_gaussian", "experiment: toy_required")
    text = sub("  mean: 1.0\n  sd: 0.01", "  label: b", text)
    text = sub("    params: {sd: 0.02}", "    params: {}", text)
    assert_problem(tmp_path, text, line_no("  label: b", text) - 1,
                   "experiment 'toy_required' needs parameter 'n'", "scale 'smoke'")
    # setting it at one scale only still leaves the other scale without it
    text2 = text.replace("    params: {}", "    params: {n: 3}")
    _, msgs = problems(tmp_path, text2)
    assert len(msgs) == 1 and "missing at scale 'default'" in msgs[0]
    c = parse_claim(text2.replace("  label: b", "  label: b\n  n: 1"), "f", "toy_claim")
    assert c.params["n"] == 1


def test_within_needs_tol(tmp_path):
    text = sub("    tol: 0.5\n", "")
    assert_problem(tmp_path, text, line_no("- name: x_near_one", text), "op 'within' needs 'tol'")


def test_tol_on_at_least_is_rejected(tmp_path):
    text = sub("    op: within", "    op: at_least")
    assert_problem(tmp_path, text, line_no("tol: 0.5", text),
                   "'tol' has no meaning for op 'at_least'", "margin")


def test_between_needs_ordered_bounds(tmp_path):
    text = sub("    op: within\n    ref: 1.0\n    tol: 0.5",
               "    op: between\n    lo: 2.0\n    hi: 1.0")
    assert_problem(tmp_path, text, line_no("lo: 2.0", text), "lo 2.0 is above hi 1.0")


def test_monotone_needs_direction(tmp_path):
    text = sub("scales:", "sweep: {mean: [0.0, 1.0]}\nscales:")
    text = sub("    op: within\n    ref: 1.0\n    tol: 0.5",
               "    op: monotone\n    over: mean\n    direction: upward", text)
    assert_problem(tmp_path, text, line_no("direction: upward", text), "checks[0].direction",
                   "'increasing' or 'decreasing'")


def test_over_must_be_swept(tmp_path):
    text = sub("    op: within\n    ref: 1.0\n    tol: 0.5",
               "    op: monotone\n    over: mean\n    direction: increasing")
    assert_problem(tmp_path, text, line_no("over: mean", text), "'mean' is not swept at scale",
                   "swept: nothing")


def test_over_needs_two_numeric_values(tmp_path):
    base = sub("    op: within\n    ref: 1.0\n    tol: 0.5",
               "    op: loglog_slope\n    over: sd\n    target: 1.0\n    tol: 0.1")
    text = sub("scales:", "sweep: {sd: [0.5, 0.5]}\nscales:", base)
    _, msgs = problems(tmp_path, text)
    assert any("repeats a point" in m for m in msgs)
    text = sub("scales:", "sweep: {sd: [0.5]}\nscales:", base)
    assert_problem(tmp_path, text, line_no("over: sd", text), "at least two distinct values")
    text = sub("scales:", "sweep: [{sd: 0.5}, {sd: big}]\nscales:", base)
    assert_problem(tmp_path, text, line_no("over: sd", text), "needs numbers along 'sd'")


def test_where_must_name_a_swept_param(tmp_path):
    text = sub("    tol: 0.5", "    tol: 0.5\n    where: {mean: 1.0}")
    assert_problem(tmp_path, text, line_no("where:", text), "'mean' is not swept")


def test_expect_for_undefined_scale(tmp_path):
    text = sub("  default: reproduced", "  default: reproduced\n  paper: reproduced")
    assert_problem(tmp_path, text, line_no("paper: reproduced", text),
                   "expectation for scale 'paper', which the claim does not define")


def test_scale_without_expectation(tmp_path):
    text = sub("  default: reproduced\n", "")
    assert_problem(tmp_path, text, line_no("expect:", text), "no expectation for scale 'default'")


def test_check_scale_not_defined(tmp_path):
    text = sub("    why: toy", "    why: toy\n    scales: [paper]")
    assert_problem(tmp_path, text, line_no("scales: [paper]", text), "'paper' is not defined")


def test_duplicate_check_names(tmp_path):
    text = BASE.replace("expect:", "  - name: x_near_one\n    metric: x\n    op: at_least\n"
                                   "    ref: 0.0\n    why: toy\nexpect:")
    assert_problem(tmp_path, text, text.splitlines().index("  - name: x_near_one", 16) + 1,
                   "duplicate check name 'x_near_one'")


def test_non_utf8_bytes(tmp_path):
    raw = BASE.encode().replace(b"A toy paper", b"A toy \xff paper")
    assert_problem(tmp_path, raw, line_no("A toy paper"), "not valid UTF-8", "0xff")


def test_python_tags_are_rejected_and_nothing_is_constructed(tmp_path):
    marker = tmp_path / "pwned"
    payloads = [
        f"!!python/object/apply:os.system ['touch {marker}']",
        f"!!python/object/new:subprocess.Popen [['touch', '{marker}']]",
        "!!python/name:os.system",
        "!custom {a: 1}",
        "!!binary aGVsbG8=",
    ]
    for payload in payloads:
        text = sub("  mean: 1.0\n  sd: 0.01", f"  mean: {payload}")
        assert_problem(tmp_path, text, line_no("  mean: !", text), "unsupported YAML tag")
    # a tag on a mapping key is rejected too
    text = sub("  mean: 1.0", f"  ? !!python/object/apply:os.system ['touch {marker}']\n  : 1")
    problems(tmp_path, text)
    assert not marker.exists()


@pytest.mark.parametrize("text", ["", "# just a comment\n", "- 1\n- 2\n", "just a string\n"])
def test_not_a_mapping(tmp_path, text):
    assert_problem(tmp_path, text, 1, "must be a YAML mapping")


def test_all_problems_are_reported_at_once(tmp_path):
    text = sub("  mean: 1.0", "  meen: 1.0")
    text = sub("    op: within", "    op: at_least", text)
    _, msgs = problems(tmp_path, text, stem="other")
    joined = "\n".join(msgs)
    assert "file stem" in joined and "'tol' has no meaning" in joined and "'meen'" in joined


def test_json_schema_is_json_and_describes_claims():
    s = json_schema()
    text = json.dumps(s)
    assert json.loads(text) == s
    assert {"id", "experiment", "checks", "scales", "expect"} <= set(s["properties"])
    assert "source" not in s["properties"] and "lines" not in s["properties"]


# ----------------------------------------------------------------------------- CLI

def test_cli_validate_bad_file_exits_2_one_line(tmp_path):
    p = tmp_path / "toy_claim.yaml"
    p.write_text(sub("    op: within", "    op: at_least"))
    r = CliRunner().invoke(app, ["validate", str(p)])
    assert r.exit_code == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    assert lines[0].startswith(f"FAIL {p}:{line_no('tol: 0.5')}: ")
    assert "Traceback" not in r.stderr + r.stdout


def test_cli_validate_ok_and_mixed(tmp_path):
    good = tmp_path / "toy_claim.yaml"
    good.write_text(BASE)
    r = CliRunner().invoke(app, ["validate", str(good)])
    assert r.exit_code == 0, r.stderr
    assert f"ok   {good}" in r.stdout
    bad = tmp_path / "bad.yaml"
    bad.write_bytes(b"id: bad\n\xfe\xfe\n")
    r = CliRunner().invoke(app, ["validate", str(good), str(bad)])
    assert r.exit_code == 2
    assert f"FAIL {bad}:2: " in r.stderr and "UTF-8" in r.stderr


def test_cli_validate_subprocess_no_traceback(tmp_path):
    p = tmp_path / "toy_claim.yaml"
    p.write_text(sub("statement:", "statment:"))
    repro = Path(sys.executable).with_name("repro")
    out = subprocess.run([str(repro), "validate", str(p)], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 2, out.stderr
    assert out.stderr.strip().splitlines() == [
        f"FAIL {p}:{line_no('statement:')}: statment: unknown key 'statment'; "
        "did you mean 'statement'?"]
    assert "Traceback" not in out.stderr + out.stdout


def test_cli_run_bad_claim_exits_2(tmp_path, monkeypatch):
    monkeypatch.setenv("REPRO_CACHE_DIR", str(tmp_path / "cache"))
    p = tmp_path / "toy_claim.yaml"
    p.write_text(sub("experiment: toy_gaussian", "experiment: toy_gausian"))
    r = CliRunner().invoke(app, ["run", str(p), "--scale", "smoke", "--device", "cpu",
                                 "--results-dir", str(tmp_path / "results")])
    assert r.exit_code == 2
    assert r.stderr.strip().startswith(f"{p}:{line_no('experiment:')}: experiment: unknown")
    assert "Traceback" not in r.stderr
    assert not (tmp_path / "results").exists() and not (tmp_path / "cache").exists()


def test_cli_run_unknown_claim_id(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "claims").mkdir()
    (tmp_path / "claims" / "toy_claim.yaml").write_text(BASE)
    r = CliRunner().invoke(app, ["run", "toy_clam", "--device", "cpu"])
    assert r.exit_code == 2
    assert "did you mean toy_claim" in r.stderr


def test_cli_schema_prints_json():
    r = CliRunner().invoke(app, ["schema"])
    assert r.exit_code == 0
    s = json.loads(r.stdout)
    assert s["title"] == "repro claim file" and "checks" in s["properties"]


def test_yaml_alias_bomb_is_rejected_quickly(tmp_path):
    """A "billion laughs" file is refused with a line number instead of eating memory."""
    import time

    from repro.errors import ClaimError
    from repro.schema import load_claim

    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 9):
        prev = f"*a{i - 1}"
        lines.append(f"a{i}: &a{i} [{', '.join([prev] * 10)}]")
    p = tmp_path / "bomb.yaml"
    p.write_text("\n".join(lines) + "\n")
    t0 = time.perf_counter()
    with pytest.raises(ClaimError) as e:
        load_claim(p)
    assert time.perf_counter() - t0 < 10
    assert "alias" in str(e.value) and "bomb.yaml:" in str(e.value)
