"""Claim files mutated by hypothesis (deleted keys, wrong types, random scalars, deep
nesting, huge numbers, non-UTF-8 bytes, garbage documents): ``repro validate`` exits 2
with one line per problem naming ``file:line``, never a traceback, and ``repro run`` on
the same file exits 2 without running a unit."""

from __future__ import annotations

import copy
import re
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from repro.cli import app

ROOT = Path(__file__).resolve().parents[2]
BASE = yaml.safe_load((ROOT / "claims" / "infonce_gmm.yaml").read_text(encoding="utf-8"))

REQUIRED_TOP = ["id", "title", "paper", "statement", "experiment", "scales", "checks", "expect"]
REQUIRED_CHECK = ["name", "metric", "op", "why"]
STRING_FIELDS = [("title",), ("statement",), ("experiment",), ("id",), ("paper", "title"),
                 ("checks", 0, "metric"), ("checks", 0, "why"), ("checks", 1, "name")]


def _nest(depth: int, leaf):
    v = leaf
    for i in range(depth):
        v = [v] if i % 2 else {"k": v}
    return v


not_a_string = st.one_of(
    st.integers(), st.floats(allow_nan=False), st.booleans(), st.none(),
    st.lists(st.integers(), max_size=3), st.dictionaries(st.text(max_size=3), st.integers(),
                                                          max_size=2),
    st.integers(20, 150).map(lambda d: _nest(d, "x")))
garbage = st.one_of(st.text(max_size=5), st.lists(st.integers(), max_size=3),
                    st.integers(20, 150).map(lambda d: _nest(d, 1)))
not_a_seed_count = st.one_of(  # seeds: an int in [1, 10 000]
    garbage, st.floats(), st.booleans(), st.integers(max_value=0),
    st.integers(min_value=10_001),
    st.integers(2, 10**6).map(lambda n: n ** 60))  # huge (from 2: 1 ** 60 = 1 is a valid count)
not_a_tolerance = st.one_of(  # tol: a finite float >= 0
    garbage, st.none(), st.floats(max_value=-1e-300), st.integers(max_value=-1),
    st.sampled_from([float("inf"), float("nan"), 10**400, -(10**400)]))
NUMBER_FIELDS = {("seeds",): not_a_seed_count, ("scales", "smoke", "seeds"): not_a_seed_count,
                 ("checks", 1, "tol"): not_a_tolerance}


def _set(doc, path, value):
    node = doc
    for k in path[:-1]:
        node = node[k]
    node[path[-1]] = value


@st.composite
def mutated_claim(draw) -> bytes:
    doc = copy.deepcopy(BASE)
    kind = draw(st.sampled_from(["delete_top", "delete_check_key", "not_string",
                                 "bad_number", "unknown_key", "non_utf8", "garbage_doc"]))
    if kind == "delete_top":
        del doc[draw(st.sampled_from(REQUIRED_TOP))]
    elif kind == "delete_check_key":
        i = draw(st.integers(0, len(doc["checks"]) - 1))
        del doc["checks"][i][draw(st.sampled_from(REQUIRED_CHECK))]
    elif kind == "not_string":
        _set(doc, draw(st.sampled_from(STRING_FIELDS)), draw(not_a_string))
    elif kind == "bad_number":
        path = draw(st.sampled_from(sorted(NUMBER_FIELDS)))
        _set(doc, path, draw(NUMBER_FIELDS[path]))
    elif kind == "unknown_key":
        where = draw(st.sampled_from([(), ("paper",), ("checks", 0), ("scales", "smoke")]))
        node = doc
        for k in where:
            node = node[k]
        node[draw(st.sampled_from(["tolerance", "seed", "titel", "expects", "x_y"]))] = 1
    text = yaml.safe_dump(doc, sort_keys=False, allow_unicode=True).encode("utf-8")
    if kind == "non_utf8":
        cut = draw(st.integers(0, len(text)))
        bad = draw(st.sampled_from([b"\xff", b"\xc3\x28", b"\xed\xa0\x80", b"\x80\x80"]))
        text = text[:cut] + bad + text[cut:]
    if kind == "garbage_doc":
        text = draw(st.one_of(
            st.binary(max_size=40).filter(lambda b: b.strip() != b""),
            st.sampled_from([b"- 1\n- 2\n", b"42\n", b"null\n", b"{{{{\n", b"a: [\n",
                             b"&a [*a]\n", b"!!python/object:os.system ls\n",
                             b"key: value\nkey: again\n"]),
            st.integers(20, 150).map(lambda d: yaml.safe_dump(_nest(d, 1)).encode())))
    return text


LINE = re.compile(r"^FAIL (?P<file>\S+?):(?P<line>\d+):")


@pytest.fixture
def no_units(monkeypatch):
    import repro.execute
    import repro.executors  # imported first, so its own binding of run_unit is the real one

    def boom(*a, **k):
        raise AssertionError("a unit ran for an invalid claim file")

    monkeypatch.setattr(repro.execute, "run_unit", boom)
    monkeypatch.setattr(repro.executors, "run_unit", boom)


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=mutated_claim())
def test_mutated_claim_is_rejected_with_file_and_line(tmp_path, no_units, data):
    f = tmp_path / "infonce_gmm.yaml"
    f.write_bytes(data)
    runner = CliRunner()
    res = runner.invoke(app, ["validate", str(f)])
    assert res.exit_code == 2, (data[:300], res.output)
    assert res.exception is None or isinstance(res.exception, SystemExit), res.exception
    err = res.stderr if hasattr(res, "stderr") else res.output
    assert "Traceback" not in err
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert lines, "no reason given"
    for ln in lines:
        m = LINE.match(ln)
        assert m and m["file"] == str(f), ln  # every reason names file:line
    run = runner.invoke(app, ["run", str(f), "--scale", "smoke", "--device", "cpu",
                              "--results-dir", str(tmp_path / "results")])
    assert run.exit_code == 2, run.output
    assert not (tmp_path / "results").exists()
