"""Content-addressed cache of unit results.

The key hashes everything a unit's numbers depend on: the experiment's name, the
source of its paper package and of the shared modules it imports (``methods/common/...``,
followed transitively), the resolved params, the seed, the scale, the device kind and the
torch/numpy versions. Editing one paper's code, or a shared module only some papers use,
invalidates those units only. Entries are written atomically and carry a
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


def _shared_imports(source: str, module: str, is_package: bool, exclude: str) -> set[str]:
    """``methods.*`` modules outside the package ``exclude`` that ``source`` (the text of
    ``module``) imports, relative imports resolved."""
    import ast

    out: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom):
            if node.level:  # relative import: resolve against the importing module
                parts = module.split(".")
                base = parts[: len(parts) - node.level + (1 if is_package else 0)]
                name = ".".join(base + ([node.module] if node.module else []))
            else:
                name = node.module or ""
            names = [name] + [f"{name}.{a.name}" for a in node.names]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        else:
            continue
        for n in names:
            if n.startswith("methods.") and not n.startswith(exclude + ".") and n != exclude:
                out.add(n)
    return out


def _module_file(name: str) -> Path | None:
    import importlib.util

    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.origin or not spec.origin.endswith(".py"):
        return None
    return Path(spec.origin)


def shared_modules(package: str) -> dict[str, Path]:
    """The shared modules (e.g. ``methods.common.infonce``) a paper package imports,
    followed transitively: module name -> file."""
    pkg_dir = registry.package_dir(package)
    todo: list[str] = []
    for f in sorted(pkg_dir.rglob("*.py")):
        rel = f.relative_to(pkg_dir).with_suffix("")
        mod = ".".join([package, *rel.parts]).removesuffix(".__init__")
        todo.extend(_shared_imports(f.read_text(encoding="utf-8"), mod,
                                    is_package=f.name == "__init__.py", exclude=package))
    seen: dict[str, Path] = {}
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        path = _module_file(name)
        if path is None:
            continue
        seen[name] = path
        todo.extend(_shared_imports(path.read_text(encoding="utf-8"), name,
                                    is_package=path.name == "__init__.py", exclude=package))
    return seen


@functools.cache
def _shared_digest(package: str) -> str:
    """Hash of the shared modules a package uses, so that editing one shared module
    invalidates only the papers that use it."""
    h = hashlib.sha256()
    for name, path in sorted(shared_modules(package).items()):
        h.update(name.encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()


def source_fingerprint(experiment: str) -> str:
    """Hash of the experiment's package sources plus the shared modules it imports."""
    exp = registry.get(experiment)
    parts = [_dir_digest(str(registry.package_dir(exp.package))), _shared_digest(exp.package)]
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
        """Store a unit's record. The cache only saves time, so a failed write (full disk,
        read-only cache dir) is a warning and the run goes on."""
        entry = {"key": key, "sha256": _checksum(record), "record": record}
        try:
            atomic_write_text(self.path(key), json.dumps(entry, sort_keys=True))
        except OSError as e:
            warnings.warn(f"cannot write cache entry {self.path(key)} ({e.strerror or e}); "
                          "the unit will be recomputed next time", stacklevel=2)
