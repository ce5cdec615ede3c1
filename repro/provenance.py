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


def load_average() -> tuple[float, float, float] | None:
    """The 1-, 5- and 15-minute load averages (None where the OS has none)."""
    import os

    try:
        return tuple(round(x, 2) for x in os.getloadavg())  # type: ignore[return-value]
    except (OSError, AttributeError):
        return None


def heavy_load(start, end, cpus: int) -> bool:
    """Whether a run was made under heavy load: other work already held every core when it
    started (1-minute load >= CPUs), or the load at the end exceeded what this run alone
    can cause (one thread per core: 1.5 x CPUs). Committed default results should be made
    on a quiet machine; records that were not are marked."""
    if not start or not end:
        return False
    return start[0] >= cpus or end[0] > 1.5 * cpus


def cpu_isa() -> str | None:
    """The vector instruction set torch dispatches to on this CPU (e.g. ``AVX2``,
    ``AVX512``): the same seed can train differently on another one."""
    try:
        import torch

        return str(torch.backends.cpu.get_cpu_capability())
    except Exception:  # noqa: BLE001 - provenance must never fail a run
        return None


def code_files(package: str) -> list[Path]:
    """The files a unit's cache key covers: the paper package and the shared modules it
    uses."""
    from . import registry
    from .cache import _module_file, used_definitions

    files = sorted(p for p in registry.package_dir(package).rglob("*.py")
                   if "__pycache__" not in p.parts)
    for mod in used_definitions(package):
        f = _module_file(mod)
        if f is not None:
            files.append(f)
    return files


def code_clean(package: str, cwd: Path | None = None) -> bool | None:
    """Whether every file the package's unit keys cover is committed, unmodified, at HEAD
    (None outside a git checkout)."""
    cwd = cwd or code_root()
    files = [str(f.resolve()) for f in code_files(package)]
    status = _git(["status", "--porcelain", "--untracked-files=all", "--", *files], cwd)
    if status is None:
        return None
    return status == ""


def file_clean(path: str | Path, cwd: Path | None = None) -> bool | None:
    """Whether ``path`` is a committed, unmodified file of the checkout (False for a file
    outside it or untracked)."""
    cwd = cwd or code_root()
    p = Path(path).resolve()
    try:
        p.relative_to(cwd)
    except ValueError:
        return False
    tracked = _git(["ls-files", "--error-unmatch", "--", str(p)], cwd)
    if tracked is None:
        return False
    status = _git(["status", "--porcelain", "--", str(p)], cwd)
    return status == "" if status is not None else None


# Libraries a unit's numbers can depend on (the paper packages import these); their
# versions go into every unit's cache key and into the provenance of every record.
LIBRARIES = ("torch", "numpy", "scipy", "scikit-learn", "aeon", "kociemba")


def library_versions() -> dict[str, str | None]:
    """Python's and each library's installed version (None when not installed), read from
    package metadata: nothing is imported."""
    from importlib import metadata

    out: dict[str, str | None] = {"python": platform.python_version()}
    for name in LIBRARIES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def record_library_versions(prov: dict[str, Any]) -> dict[str, str | None]:
    """The library versions a record was made with, from its provenance (records made
    before ``libraries`` was stored name torch, numpy, scipy and scikit-learn only)."""
    if prov.get("libraries"):
        return dict(prov["libraries"])
    out: dict[str, str | None] = dict.fromkeys(("python", *LIBRARIES))
    out.update({"python": prov.get("python"), "torch": prov.get("torch"),
                "numpy": prov.get("numpy"), "scipy": prov.get("scipy"),
                "scikit-learn": prov.get("scikit_learn")})
    return out


def collect(device: str, cwd: Path | None = None, *, load_start=None, jobs: int = 1,
            claim_path: str | None = None) -> dict[str, Any]:
    import numpy
    import scipy
    import sklearn
    import torch

    from . import __version__

    cwd = cwd or code_root()
    commit = _git(["rev-parse", "HEAD"], cwd)
    # "dirty" means code or claims differ from the commit; result files written by runs
    # (results/) do not count, or every run after the first would read as dirty. This is
    # the whole tree; each unit's own ``code_clean`` says whether *its* code was committed.
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
        "cpu_isa": cpu_isa(),
        "cpu_count": __import__("os").cpu_count(),
        "platform": platform.platform(),
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "argv": sys.argv,
        "libraries": library_versions(),
    }
    end = load_average()
    if load_start is not None or end is not None:
        cpus = info["cpu_count"] or 1
        info["load"] = {"start": load_start, "end": end, "jobs": jobs,
                        "heavy": heavy_load(load_start, end, cpus)}
    if claim_path:
        import hashlib

        try:
            info["claim_sha256"] = hashlib.sha256(Path(claim_path).read_bytes()).hexdigest()
        except OSError:
            info["claim_sha256"] = None
        info["claim_file_clean"] = file_clean(claim_path, cwd)
    return info
