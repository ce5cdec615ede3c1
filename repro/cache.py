"""Content-addressed cache of unit results.

The key hashes everything a unit's numbers depend on: the experiment's name, the code of
its paper package (each file's syntax tree without docstrings: comments, formatting and
documentation do not count), the shared definitions it uses (``methods/common/...``: each
top-level function, class or constant it imports, followed transitively, plus every other
module-level statement of those modules), the resolved params, the seed, the scale, the
device kind and the versions of Python and of every library in the provenance (torch,
numpy, scipy, scikit-learn, aeon, kociemba). A hit is used only if the data files the unit
read (see :mod:`repro.datafiles`) are still there, unchanged. Editing one paper's code, or
a shared function only some papers use, invalidates those units only. Entries are written
atomically and carry a checksum; a corrupt or truncated entry is reported and recomputed,
never trusted.
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

FORMAT = 3  # 3: every library's version in the key; 2: shared code per definition used


@functools.cache
def _dir_digest(directory: str) -> str:
    h = hashlib.sha256()
    root = Path(directory)
    for f in sorted(root.rglob("*.py")):
        if "__pycache__" in f.parts:
            continue
        h.update(str(f.relative_to(root)).encode())
        h.update(b"\0")
        try:
            h.update(code_digest(f.read_text(encoding="utf-8")).encode())
        except (SyntaxError, UnicodeDecodeError, ValueError):
            h.update(f.read_bytes())  # not parseable: its bytes are all we can hash
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


def _strip_docstrings(tree):
    """The tree without docstrings (module, class and function): documentation edits do
    not change what a unit computes."""
    import ast

    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            body = node.body
            if (body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant)
                    and isinstance(body[0].value.value, str)):
                node.body = body[1:] or [ast.Pass()]
    return tree


def code_digest(text: str) -> str:
    """The code of one source file: its AST without docstrings (comments and formatting
    never reach the AST), so only edits that can change behaviour change it."""
    import ast

    return ast.dump(_strip_docstrings(ast.parse(text)))


@functools.cache
def _module_index(path: str) -> tuple[dict[str, tuple[str, frozenset[str]]], str,
                                        frozenset[str], dict[str, tuple[str, str | None]]]:
    """One shared module, parsed (docstrings dropped): its top-level definitions --
    functions, classes and simple ``NAME = ...`` assignments -- as name -> (AST dump, names
    they reference); the AST dump of every other top-level statement (imports, ``if``
    blocks: always part of the fingerprint) and the names those reference; and its imports
    (local name -> (module, attribute or None))."""
    import ast

    tree = _strip_docstrings(ast.parse(Path(path).read_text(encoding="utf-8")))
    defs: dict[str, tuple[str, frozenset[str]]] = {}
    rest: list[str] = []
    rest_refs: set[str] = set()
    imports: dict[str, tuple[str, str | None]] = {}
    for node in tree.body:
        refs = frozenset(n.id for n in ast.walk(node) if isinstance(n, ast.Name))
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            defs[node.name] = (ast.dump(node), refs)
            continue
        targets = (node.targets if isinstance(node, ast.Assign) else
                   [node.target] if isinstance(node, ast.AnnAssign) else [])
        if targets and all(isinstance(t, ast.Name) for t in targets):
            for t in targets:  # a constant: part of the fingerprint where it is used
                prev = defs.get(t.id, ("", frozenset()))
                defs[t.id] = (prev[0] + ast.dump(node), prev[1] | (refs - {t.id}))
            continue
        rest.append(ast.dump(node))
        rest_refs |= refs
        if isinstance(node, ast.ImportFrom) and node.module and not node.level:
            for a in node.names:
                imports[a.asname or a.name] = (node.module, a.name)
        elif isinstance(node, ast.Import):
            for a in node.names:
                imports[a.asname or a.name.split(".")[0]] = (a.name, None)
    return defs, "\n".join(rest), frozenset(rest_refs), imports


def _package_requirements(package: str) -> set[tuple[str, str | None]]:
    """(shared module, name or None for the whole module) that a paper package imports."""
    import ast

    out: set[tuple[str, str | None]] = set()
    pkg_dir = registry.package_dir(package)
    for f in sorted(pkg_dir.rglob("*.py")):
        for node in ast.walk(ast.parse(f.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module and not node.level:
                if node.module.startswith("methods.") and not (
                        node.module == package or node.module.startswith(package + ".")):
                    for a in node.names:
                        sub = f"{node.module}.{a.name}"
                        out.add((sub, None) if _module_file(sub) else (node.module, a.name))
            elif isinstance(node, ast.Import):
                for a in node.names:
                    if a.name.startswith("methods.") and not a.name.startswith(package + "."):
                        out.add((a.name, None))
    return out


def used_definitions(package: str) -> dict[str, str]:
    """The shared code a paper package depends on, at the granularity of top-level
    definitions: module -> fingerprint text of the definitions it uses (followed
    transitively, within and across shared modules) plus every non-definition statement of
    that module. Adding or editing a function another paper uses leaves this package's
    fingerprint alone; editing one it uses (or a module constant) changes it."""
    todo = list(_package_requirements(package))
    used: dict[str, set[str] | None] = {}  # module -> names (None: the whole module)
    while todo:
        mod, name = todo.pop()
        path = _module_file(mod)
        if path is None:
            continue
        defs, _, rest_refs, imports = _module_index(str(path))
        first = mod not in used
        if first:
            used[mod] = set()
            todo.extend(_follow(rest_refs, defs, imports, mod))
        if used[mod] is None:
            continue
        names = set(defs) if name is None else {name}
        if name is None:
            used[mod] = None
        for n in names:
            if n in defs and (used[mod] is None or n not in used[mod]):
                if used[mod] is not None:
                    used[mod].add(n)
                todo.extend(_follow(defs[n][1], defs, imports, mod))
        if name is None:
            for n in defs:
                todo.extend(_follow(defs[n][1], defs, imports, mod))
    out: dict[str, str] = {}
    for mod, names in sorted(used.items()):
        defs, rest, _, _ = _module_index(str(_module_file(mod)))
        chosen = sorted(defs) if names is None else sorted(names)
        out[mod] = rest + "\n" + "\n".join(f"{n}:{defs[n][0]}" for n in chosen)
    return out


def _follow(refs, defs, imports, mod) -> list[tuple[str, str | None]]:
    """Requirements implied by a set of referenced names inside module ``mod``."""
    out: list[tuple[str, str | None]] = []
    for r in refs:
        if r in defs:
            out.append((mod, r))
        elif r in imports:
            target, attr = imports[r]
            if not target.startswith("methods."):
                continue
            if attr is None:
                out.append((target, None))
            elif _module_file(f"{target}.{attr}"):
                out.append((f"{target}.{attr}", None))
            else:
                out.append((target, attr))
    return out


@functools.cache
def _shared_digest(package: str) -> str:
    """Hash of the shared definitions a package uses (see :func:`used_definitions`)."""
    h = hashlib.sha256()
    for name, text in used_definitions(package).items():
        h.update(name.encode() + b"\0" + text.encode() + b"\0")
    return h.hexdigest()


def source_fingerprint(experiment: str) -> str:
    """Hash of the experiment's package sources plus the shared modules it imports."""
    exp = registry.get(experiment)
    parts = [_dir_digest(str(registry.package_dir(exp.package))), _shared_digest(exp.package)]
    return hashlib.sha256("|".join(parts).encode()).hexdigest()


@functools.cache
def _versions() -> dict[str, str | None]:
    from .provenance import library_versions

    return library_versions()


def unit_key(unit: Unit, device: str, versions: dict[str, str | None] | None = None) -> str:
    """The unit's cache key. ``versions`` (Python and every library in
    :data:`repro.provenance.LIBRARIES`) default to this environment's; ``repro check
    --stale`` passes a record's own, so that only code and plan changes count as stale."""
    payload = {
        "format": FORMAT,
        "experiment": unit.experiment,
        "source": source_fingerprint(unit.experiment),
        "params": unit.params,
        "seed": unit.seed,
        "scale": unit.scale,
        "device": device,
        "versions": versions or _versions(),
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
