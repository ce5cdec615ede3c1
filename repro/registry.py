"""Experiment registry: the one interface between the harness and `methods/`.

A paper package registers plain functions by name with :func:`experiment`. A claim
file names an experiment only by that registered name, so a claim can never make the
harness import an arbitrary path. Lookups import every ``methods.*`` package once
(lazily) and a package that fails to import is reported, never skipped silently.

Experiment contract::

    @experiment("gmm_infonce")
    def gmm_infonce(*, seed: int, device: str = "cpu", dim: int = 20, steps: int = 1000) -> dict:
        ...
        return {"subspace_dist_infonce": 0.07, "loss_curve": [...]}

* every parameter is keyword-only and annotated; ``seed`` (int) and ``device``
  ("cpu" | "cuda") are supplied by the harness, the rest come from the claim file;
* a parameter without a default is required in the claim file;
* the function is deterministic for a given (params, seed, device), does no file I/O of
  its own, and returns a flat dict of metric name -> float (or list of floats);
* real datasets are read from :func:`data_dir` (``$REPRO_DATA_DIR``);
* it raises :class:`Unavailable` when data or hardware is missing (the unit is then
  ``skipped`` with that message, which should say how to get the data), and
  ``ValueError`` naming the parameter on a bad value.
"""

from __future__ import annotations

import difflib
import importlib
import inspect
import pkgutil
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .settings import data_dir  # noqa: E402,F401  (part of the method interface)

HARNESS_PARAMS = ("seed", "device")


class Unavailable(Exception):
    """Raised by an experiment when data or hardware it needs is not here.

    The message must say what is missing and how to get it; the unit's verdict becomes
    ``skipped`` with that reason.
    """


class UnknownExperiment(KeyError):
    """A claim named an experiment that no methods package registers."""

    def __init__(self, name: str, known: list[str], broken: dict[str, str]):
        self.name = name
        close = difflib.get_close_matches(name, known, n=3, cutoff=0.5)
        msg = f"unknown experiment {name!r}"
        if close:
            msg += f"; did you mean {', '.join(repr(c) for c in close)}?"
        msg += f" (registered: {', '.join(sorted(known)) or 'none'})"
        if broken:
            msg += "; these methods packages failed to import: " + ", ".join(
                f"{pkg} ({err.strip().splitlines()[-1]})" for pkg, err in broken.items()
            )
        super().__init__(msg)

    def __str__(self) -> str:  # KeyError quotes its message otherwise
        return self.args[0]


@dataclass(frozen=True)
class Experiment:
    """A registered experiment function and what the harness needs to know about it."""

    name: str
    func: Callable[..., dict[str, Any]]
    package: str  # e.g. "methods.gmm_infonce": its sources form the cache fingerprint
    params: dict[str, inspect.Parameter] = field(default_factory=dict)

    def __call__(self, params: dict[str, Any], seed: int, device: str) -> dict[str, Any]:
        return self.func(seed=seed, device=device, **params)

    @property
    def required(self) -> list[str]:
        return [n for n, p in self.params.items() if p.default is inspect.Parameter.empty]


_REGISTRY: dict[str, Experiment] = {}
_BROKEN: dict[str, str] = {}
_DISCOVERED = False


def experiment(name: str) -> Callable[[Callable[..., dict]], Callable[..., dict]]:
    """Register ``func`` under ``name``; a duplicate name is an error."""

    def register(func: Callable[..., dict]) -> Callable[..., dict]:
        sig = inspect.signature(func)
        params: dict[str, inspect.Parameter] = {}
        for pname, p in sig.parameters.items():
            if p.kind is not inspect.Parameter.KEYWORD_ONLY:
                raise TypeError(
                    f"experiment {name!r}: parameter {pname!r} must be keyword-only "
                    "(declare the function as def f(*, seed, device, ...))"
                )
            if pname not in HARNESS_PARAMS:
                params[pname] = p
        for h in HARNESS_PARAMS:
            if h not in sig.parameters:
                raise TypeError(f"experiment {name!r} must accept keyword-only {h!r}")
        existing = _REGISTRY.get(name)
        if existing is not None and existing.func.__qualname__ != func.__qualname__:
            raise ValueError(
                f"experiment {name!r} registered twice "
                f"({existing.func.__module__} and {func.__module__})"
            )
        package = ".".join(func.__module__.split(".")[:2])
        _REGISTRY[name] = Experiment(name=name, func=func, package=package, params=params)
        return func

    return register


def discover() -> dict[str, str]:
    """Import every ``methods.*`` package once; return the ones that failed (name -> traceback)."""
    global _DISCOVERED
    if not _DISCOVERED:
        _DISCOVERED = True
        try:
            methods = importlib.import_module("methods")
        except ImportError:
            _BROKEN["methods"] = traceback.format_exc()
            return dict(_BROKEN)
        for info in pkgutil.iter_modules(methods.__path__, prefix="methods."):
            if info.name == "methods.common":
                continue
            try:
                importlib.import_module(info.name)
            except Exception:  # noqa: BLE001 - reported, never swallowed
                _BROKEN[info.name] = traceback.format_exc()
    return dict(_BROKEN)


def get(name: str) -> Experiment:
    """The experiment registered as ``name``, or :class:`UnknownExperiment` with close names."""
    discover()
    try:
        return _REGISTRY[name]
    except KeyError:
        raise UnknownExperiment(name, list(_REGISTRY), dict(_BROKEN)) from None


def names() -> list[str]:
    discover()
    return sorted(_REGISTRY)


def package_dir(package: str) -> Path:
    """Filesystem directory of a methods package (for source fingerprints)."""
    mod = importlib.import_module(package)
    return Path(mod.__file__).parent
