"""Which data files a unit read, so a cached result is reused only while they still exist.

One hook for every paper: Python's audit events (PEP 578) announce every ``open`` —
``open()``, ``io.open``, ``os.open``, hence numpy, pandas, torch and PIL loaders alike — so
while a unit runs, :func:`recording` notes each path under the data directory
(``$REPRO_DATA_DIR``) that was opened. The unit's record then lists those files with their
size and SHA-256; the cache checks them on a hit (:func:`changed`), and a unit whose data
is gone or different is recomputed (with the data gone, its loader says ``skipped``)
instead of replaying a verdict about data that is no longer there.

Audit hooks cannot be removed, so the hook is installed once per process and does nothing
outside :func:`recording`.
"""

from __future__ import annotations

import hashlib
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

_opened: list[str] | None = None  # paths opened while recording; None: not recording
_installed = False
_digests: dict[tuple[str, int, int], str] = {}  # (path, size, mtime_ns) -> sha256


def _audit(event: str, args: tuple) -> None:
    if event == "open" and _opened is not None and args:
        path = args[0]
        if isinstance(path, (str, bytes, os.PathLike)):
            _opened.append(os.fsdecode(path))


@contextmanager
def recording() -> Iterator[list[str]]:
    """Collect the paths opened inside the block (all of them; filter with :func:`under`)."""
    global _opened, _installed
    if not _installed:
        sys.addaudithook(_audit)
        _installed = True
    outer, _opened = _opened, []
    seen = _opened
    try:
        yield seen
    finally:
        _opened = outer


def _sha256(path: Path) -> str:
    st = path.stat()
    memo = (str(path), st.st_size, st.st_mtime_ns)
    if memo not in _digests:
        h = hashlib.sha256()
        with open(path, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
        _digests[memo] = h.hexdigest()
    return _digests[memo]


def fingerprint(paths: list[str], data_root: Path) -> list[dict[str, Any]]:
    """The regular files among ``paths`` that lie under ``data_root``: path relative to it,
    size and SHA-256, each once, sorted."""
    try:
        root = data_root.resolve()
    except OSError:
        return []
    out: dict[str, dict[str, Any]] = {}
    for p in paths:
        try:
            f = Path(p).resolve()
            rel = f.relative_to(root)
        except (OSError, ValueError, RuntimeError):
            continue
        if str(rel) in out or not f.is_file():
            continue
        out[str(rel)] = {"path": str(rel), "size": f.stat().st_size, "sha256": _sha256(f)}
    return [out[k] for k in sorted(out)]


def changed(files: list[dict[str, Any]], data_root: Path) -> str | None:
    """Why the data a cached unit read is no longer what it read (None: all there and
    unchanged)."""
    for entry in files:
        f = data_root / entry["path"]
        try:
            if not f.is_file():
                return f"{entry['path']} is gone from {data_root}"
            if f.stat().st_size != entry["size"] or _sha256(f) != entry["sha256"]:
                return f"{entry['path']} has changed since the unit ran"
        except OSError as e:
            return f"{entry['path']}: {e.strerror or e}"
    return None
