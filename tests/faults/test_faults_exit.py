"""An experiment that calls sys.exit() must never make ``repro run`` exit 0 silently
(issue 22, item 1): the unit is an error record and the run exits non-zero."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from repro.cli import app


@pytest.mark.parametrize("code", [0, 3])
@pytest.mark.parametrize("jobs", ["1", "2"])
def test_sys_exit_in_an_experiment_is_an_error_record(ws, code, jobs):
    p = ws.write(ws.claim(experiment="toy_exit", params={"code": code}, seeds=2,
                          expect={"smoke": "error"}))
    out = CliRunner().invoke(app, ["run", str(p), "--scale", "smoke", "--jobs", jobs,
                                   "--results-dir", str(ws.results)])
    assert out.exit_code == 1, out.output
    assert "sys.exit" in (ws.results / "toy_claim" / "smoke.md").read_text()
