"""Fixtures for the harness and fault tests: a valid toy claim to mutate, and an isolated
workspace.

Every test that runs a claim gets its own unit cache and results folder under ``tmp_path``
(also exported as ``REPRO_CACHE_DIR`` / ``REPRO_RESULTS_DIR``), so nothing is written into
the repository's ``results/`` and no test sees another's cached units.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

BASE_CLAIM: dict[str, Any] = {
    "id": "toy_claim",
    "title": "x is close to its mean",
    "paper": {"title": "A toy paper", "venue": "nowhere", "url": "https://example.org"},
    "statement": "A Gaussian draw with a tiny sd lands near its mean.",
    "experiment": "toy_gaussian",
    "params": {"mean": 1.0, "sd": 0.01},
    "scales": {"smoke": {}},
    "seeds": 3,
    "checks": [{"name": "x_near_one", "metric": "x", "op": "within", "ref": 1.0, "tol": 0.5,
                "why": "sd is 0.01, so x is within 0.5 of its mean"}],
    "expect": {"smoke": "reproduced"},
}


class Workspace:
    """A claims folder, a unit cache and a results folder, all under one tmp dir."""

    def __init__(self, root: Path):
        self.root = root
        self.claims = root / "claims"
        self.cache = root / "cache"
        self.results = root / "results"
        self.claims.mkdir(parents=True)

    @staticmethod
    def claim(**overrides: Any) -> dict[str, Any]:
        """A deep copy of the valid toy claim with top-level keys replaced."""
        data = copy.deepcopy(BASE_CLAIM)
        data.update(copy.deepcopy(overrides))
        return data

    def write(self, data: dict[str, Any], stem: str | None = None) -> Path:
        p = self.claims / f"{stem or data['id']}.yaml"
        p.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
        return p

    def write_text(self, text: str, stem: str = "toy_claim") -> Path:
        p = self.claims / f"{stem}.yaml"
        p.write_text(text, encoding="utf-8")
        return p

    def run(self, path: Path, scale: str = "smoke", **kw: Any):
        from repro.runner import run_claim

        kw.setdefault("device", "cpu")
        kw.setdefault("progress", False)
        return run_claim(path, scale=scale, cache_root=self.cache, results_root=self.results,
                         **kw)

    def cache_entries(self) -> list[Path]:
        """Finished units in the cache (only ``ok`` units are cached)."""
        return sorted(self.cache.rglob("*.json")) if self.cache.exists() else []


@pytest.fixture
def ws(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Workspace:
    w = Workspace(tmp_path / "ws")
    monkeypatch.setenv("REPRO_CACHE_DIR", str(w.cache))
    monkeypatch.setenv("REPRO_RESULTS_DIR", str(w.results))
    monkeypatch.setenv("MPLBACKEND", "Agg")
    return w


def metrics_by_unit(record: dict[str, Any]) -> dict[tuple, dict[str, Any]]:
    """{(sweep point, seed index): metrics} of a run record, for comparing runs."""
    return {(json.dumps(u["point"], sort_keys=True), u["seed_index"]): u["metrics"]
            for u in record["units"]}


@pytest.fixture
def unit_metrics():
    return metrics_by_unit
