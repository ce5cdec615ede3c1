"""pytest plugin: every ``claims/*.yaml`` is a test that runs the claim at the smoke scale
and passes when its verdict equals ``expect.smoke`` (or is one of its ``any_of``); on failure
it shows the check table. A single expected verdict must also be *robust*
(:mod:`repro.robustness`): decided exactly, or with every deciding interval clearing its
boundary by half its half-width, so that CI passes on AMD and Intel CPUs alike.
It then reruns the claim's first unit and requires bit-identical metrics (CPU determinism;
timings listed in the claim's ``volatile_metrics`` excepted): one unit more per claim.

Units run on the CPU with a fresh cache and write their results into a temporary
directory, so a test run never touches the committed ``results/``. Works under xdist.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("repro")
    group.addoption("--repro-scale", default="smoke",
                    help="scale at which claim files run as tests (default: smoke)")
    group.addoption("--repro-no-margin", action="store_true",
                    help="skip the platform-margin check (a single expected verdict must be "
                         "decided exactly or with a margin of half the interval's half-width)")
    group.addoption("--repro-no-rerun", action="store_true",
                    help="skip the determinism check (rerunning each claim's first unit and "
                         "requiring bit-identical metrics)")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "claim: a claim file run as a test")
    # every xdist worker, not only the claim items: tests that run claims in-process
    # (executors, faults) oversubscribed the CPU otherwise
    _share_cores_with_other_workers()


def pytest_collect_file(file_path: Path, parent: pytest.Collector):
    if file_path.suffix in (".yaml", ".yml") and file_path.parent.name == "claims":
        return ClaimFile.from_parent(parent, path=file_path)
    return None


class ClaimFile(pytest.File):
    def collect(self):
        item = ClaimItem.from_parent(self, name=self.path.stem)
        item.add_marker("claim")
        yield item


def _share_cores_with_other_workers() -> None:
    """Under pytest-xdist, give each worker its share of the cores, in torch and in the
    BLAS/OpenMP pools: the default of one thread per core in every worker oversubscribes the
    CPU (seen here: 1.5 s units taking 30 s with two workers on two cores; a test running a
    paper claim in-process took 54 s a unit beside another busy core, 10 s alone)."""
    import os

    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1") or 1)
    if workers > 1:
        from .executors import limit_threads

        limit_threads(max(1, (os.cpu_count() or 1) // workers))


class ClaimMismatch(Exception):
    pass


def rerun_differences(record: dict) -> str | None:
    """Rerun the record's first finished unit and compare its metrics bit for bit, except
    the claim's ``volatile_metrics`` (timings). None when identical (or nothing ran)."""
    from fnmatch import fnmatchcase

    from .execute import run_unit

    unit = next((u for u in record["units"] if u["status"] == "ok"), None)
    if unit is None:
        return None
    volatile = record["claim"].get("volatile_metrics") or []
    again = run_unit(record["claim"]["experiment"], unit["params"], unit["seed"], "cpu")
    if again["status"] != "ok":
        return f"status {again['status']}: {again.get('error')}"
    keep = [k for k in unit["metrics"] if not any(fnmatchcase(k, g) for g in volatile)]
    diffs = [f"{k}: {unit['metrics'][k]!r} then {again['metrics'].get(k)!r}" for k in keep
             if again["metrics"].get(k) != unit["metrics"][k]]
    return "; ".join(diffs[:5]) or None


class ClaimItem(pytest.Item):
    def runtest(self) -> None:
        from .results import console_table
        from .runner import run_claim

        scale = self.config.getoption("--repro-scale")
        with tempfile.TemporaryDirectory(prefix=f"repro-{self.path.stem}-",
                                         ignore_cleanup_errors=True) as d:
            tmp = Path(d)
            res = run_claim(self.path, scale=scale, device="cpu", cache_root=tmp / "cache",
                            results_root=tmp / "results", progress=False)
        self.user_properties.append(("verdict", res.verdict))
        expected = res.record["expect"]
        if res.verdict == "skipped" and "skipped" not in res.expect.split(" | "):
            # data or hardware is missing here: a visible pytest skip with the reason (shown
            # by -ra), not a pass and not a failure of the claim
            reasons = {u.get("error", "") for u in res.record["units"] if u["status"] == "skipped"}
            pytest.skip(f"{self.path.stem}: " + "; ".join(sorted(r for r in reasons if r)))
        if not res.met_expectation:
            raise ClaimMismatch(
                f"{self.path.name} at scale {scale}: verdict {res.verdict}, "
                f"expected {res.expect}\n{console_table(res.record)}")
        if isinstance(expected, str) and not self.config.getoption("--repro-no-margin"):
            from .robustness import fragile_groups

            fragile = fragile_groups(res.record)
            if fragile:
                raise ClaimMismatch(
                    f"{self.path.name} at scale {scale}: verdict {res.verdict} as expected, "
                    "but not with the margin another CPU needs (the same seed trains "
                    "differently on AVX2 and AVX-512 kernels):\n  " + "\n  ".join(fragile)
                    + "\nGive the smoke scale more margin, or list the acceptable verdicts: "
                    "expect: {smoke: {any_of: [...], why: ...}}\n"
                    + console_table(res.record))
        if not self.config.getoption("--repro-no-rerun"):
            diff = rerun_differences(res.record)
            if diff:
                raise ClaimMismatch(f"{self.path.name} is not deterministic on the CPU: its "
                                    f"first unit, rerun, gave {diff}")

    def repr_failure(self, excinfo, style=None):
        from .errors import ClaimError, MetricMissing

        if isinstance(excinfo.value, (ClaimMismatch, ClaimError, MetricMissing)):
            return str(excinfo.value)
        return super().repr_failure(excinfo, style=style)

    def reportinfo(self):
        return self.path, 0, f"claim {self.path.stem}"
