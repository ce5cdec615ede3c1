"""Where a result came from: code version, library versions, machine, date."""

from __future__ import annotations

import datetime as dt
import platform
import subprocess
import sys
from pathlib import Path
from typing import Any


def _git(args: list[str], cwd: Path) -> str | None:
    try:
        out = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip() if out.returncode == 0 else None


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def code_root() -> Path:
    """The checkout holding the method code (where the git commit is read from)."""
    try:
        import methods

        return Path(methods.__path__[0]).resolve().parent
    except (ImportError, IndexError):
        return Path.cwd()


def collect(device: str, cwd: Path | None = None) -> dict[str, Any]:
    import numpy
    import scipy
    import sklearn
    import torch

    from . import __version__

    cwd = cwd or code_root()
    commit = _git(["rev-parse", "HEAD"], cwd)
    # "dirty" means code or claims differ from the commit; result files written by runs
    # (results/) do not count, or every run after the first would read as dirty.
    status = _git(["status", "--porcelain", "--untracked-files=no", "--", ".",
                   ":(exclude)results"], cwd)
    info: dict[str, Any] = {
        "git_commit": commit,
        "git_dirty": bool(status) if status is not None else None,
        "repro": __version__,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "cuda": torch.version.cuda if torch.cuda.is_available() else None,
        "numpy": numpy.__version__,
        "scipy": scipy.__version__,
        "scikit_learn": sklearn.__version__,
        "device": device,
        "gpu": torch.cuda.get_device_name(0) if device == "cuda" else None,
        "cpu": cpu_model(),
        "cpu_count": __import__("os").cpu_count(),
        "platform": platform.platform(),
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "argv": sys.argv,
    }
    return info
