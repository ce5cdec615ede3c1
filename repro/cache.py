"""Content-addressed cache of unit results.

The key hashes everything a unit's numbers depend on: the experiment's name and the
source of its paper package and of ``methods/common``, the resolved params, the seed,
the scale, the device kind and the torch/numpy versions. Editing one paper's code
invalidates that paper's units only. Entries are written atomically and carry a
checksum; a corrupt or truncated entry is reported and recomputed, never trusted.
"""

from __future__ import annotations

import functools
import hashlib
import json
import warnings
from pathlib import Path
from typing import Any

from . import registry
from .fsutil import atomic_write_text
from .plan import Unit

FORMAT = 1


@functools.cache
def _dir_digest(directory: str) -> str:
    h = hashlib.sha256()
    root = Path(directory)
    for f in sorted(root.rglob("*.py")):
        if "__pycache__" in f.parts:
            continue
        h.update(str(f.relative_to(root)).encode())
        h.update(b"\0")
        h.update(f.read_bytes())
        h.update(b"\0")
    return h.hexdigest()


def source_fingerprint(experiment: str) -> str:
    """Hash of the experiment's package sources plus the shared ``methods/common``."""
    exp = registry.get(experiment)
    parts = [_dir_digest(str(registry.package_dir(exp.package)))]
    try:
        parts.append(_dir_digest(str(registry.package_dir("methods.common"))))
    except ImportError:
        pass
    return hashlib.sha256("|".join(parts).encode()).hexdigest()


def _versions() -> dict[str, str]:
    import numpy
    import torch

    return {"torch": torch.__version__, "numpy": numpy.__version__}


def unit_key(unit: Unit, device: str) -> str:
    payload = {
        "format": FORMAT,
        "experiment": unit.experiment,
        "source": source_fingerprint(unit.experiment),
        "params": unit.params,
        "seed": unit.seed,
        "scale": unit.scale,
        "device": device,
        "versions": _versions(),
    }
    blob = json.dumps(payload, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()


def _checksum(record: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(record, sort_keys=True).encode()).hexdigest()


class UnitCache:
    """Unit results on disk, one JSON file per key."""

    def __init__(self, root: Path):
        self.root = Path(root)

    def path(self, key: str) -> Path:
        return self.root / key[:2] / f"{key}.json"

    def get(self, key: str) -> dict[str, Any] | None:
        p = self.path(key)
        if not p.exists():
            return None
        try:
            entry = json.loads(p.read_text(encoding="utf-8"))
            record = entry["record"]
            if entry.get("key") != key or entry.get("sha256") != _checksum(record):
                raise ValueError("checksum mismatch")
            return record
        except (ValueError, KeyError, TypeError, UnicodeDecodeError) as e:
            warnings.warn(f"corrupt cache entry {p} ({e}); recomputing", stacklevel=2)
            return None

    def put(self, key: str, record: dict[str, Any]) -> None:
        entry = {"key": key, "sha256": _checksum(record), "record": record}
        atomic_write_text(self.path(key), json.dumps(entry, sort_keys=True))
