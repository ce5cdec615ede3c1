"""A results write that fails (read-only folder, full disk) is a clear error naming the
folder, and the previous results are intact: every file is replaced, or none is."""

from __future__ import annotations

import errno
import os
import subprocess
import sys

import pytest

from repro.errors import ResultsWriteError


def _nothing():
    import contextlib

    return contextlib.nullcontext()


def _snapshot(d):
    return {f.name: f.read_bytes() for f in sorted(d.iterdir())}


@pytest.fixture
def previous(ws):
    """A claim with stored results from a first run (mean 1.0), and a changed claim."""
    p = ws.write(ws.claim())
    ws.run(p)
    d = ws.results / "toy_claim"
    before = _snapshot(d)
    assert {"smoke.json", "smoke.md", "smoke.png"} <= set(before)
    changed = ws.write(ws.claim(params={"mean": 5.0, "sd": 0.01}))  # would fail its check
    return changed, d, before


def test_full_disk_keeps_previous_results(ws, previous, monkeypatch):
    changed, d, before = previous
    import repro.fsutil as fsutil

    def fsync(fd):  # the disk is full: no write reaches it
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(fsutil.os, "fsync", fsync)
    with pytest.warns(UserWarning, match="cannot write cache entry"):  # cache: warn, go on
        with pytest.raises(ResultsWriteError,
                           match=r"toy_claim.*No space left on device.*unchanged"):
            ws.run(changed)
    assert _snapshot(d) == before  # nothing replaced, no temp file left behind


def test_read_only_results_dir_is_a_clear_error(ws, previous, monkeypatch):
    """chmod 555 on the claim's results folder; root ignores that, so for root the refusal
    is simulated where the harness creates its temp files."""
    changed, d, before = previous
    if os.geteuid() == 0:
        import repro.fsutil as fsutil

        def refuse(*args, dir=None, **kw):
            raise PermissionError(errno.EACCES, "Permission denied", str(dir))

        monkeypatch.setattr(fsutil.tempfile, "mkstemp", refuse)
    d.chmod(0o555)
    try:
        with pytest.raises(ResultsWriteError, match="Permission denied"):
            with pytest.warns(UserWarning) if os.geteuid() == 0 else _nothing():
                ws.run(changed)
    finally:
        d.chmod(0o755)
    assert _snapshot(d) == before


def test_unwritable_results_dir_from_the_cli(ws, previous):
    """The CLI says what failed in one line and exits 3, with no traceback. A regular file
    where the results folder should be fails for root too (chmod would not)."""
    changed, d, before = previous
    blocked = ws.root / "blocked"
    blocked.write_text("not a folder\n")
    env = {**os.environ, "REPRO_CACHE_DIR": str(ws.cache), "MPLBACKEND": "Agg"}
    out = subprocess.run([sys.executable, "-m", "repro", "run", str(changed), "--scale",
                          "smoke", "--device", "cpu", "--results-dir", str(blocked)],
                         cwd=ws.root, env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 3, out.stderr
    assert "Traceback" not in out.stderr
    assert "cannot write results to" in out.stderr and str(blocked) in out.stderr
    assert blocked.read_text() == "not a folder\n"
    assert _snapshot(d) == before
