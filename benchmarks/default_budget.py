"""The default-scale budget ledger: what each committed default record cost, read from the
records themselves (never re-measured), and the machine's load when it was made.

    python benchmarks/default_budget.py        # prints the table
    python benchmarks/bench_harness.py --ledger-only   # rewrites results/benchmarks/README.md

A record made while other work held the machine is slower and its timing claims are not
trustworthy; a row is flagged when its 1-minute load average at start or end exceeded the
number of cores (2 here), the threshold the issue sets ("load > 2 on 2 cores").
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from repro.staleness import record_status  # noqa: E402


def budget_rows(results: Path = ROOT / "results") -> list[dict]:
    """One row per ``results/<claim>/default.json``: its compute (sum of unit wall times),
    the run's own wall time, jobs, load at start/end and whether that load was heavy."""
    rows = []
    for f in sorted(results.glob("*/default.json")):
        try:
            rec = json.loads(f.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if not isinstance(rec, dict) or "units" not in rec:
            continue
        prov, timing = rec.get("provenance") or {}, rec.get("timing") or {}
        load = prov.get("load") or {}
        cores = prov.get("cpu_count") or 2
        start, end = (load.get("start") or [None])[0], (load.get("end") or [None])[0]
        seen = [x for x in (start, end) if x is not None]
        units = rec["units"]
        claim = rec.get("claim")
        claim = claim.get("id") if isinstance(claim, dict) else claim
        rows.append({
            "claim": claim or f.parent.name, "verdict": rec.get("verdict"),
            "units": len(units), "cached": sum(bool(u.get("cached")) for u in units),
            "compute_s": sum(float(u.get("wall_s") or 0.0) for u in units),
            "run_s": float(timing.get("total_s") or 0.0), "jobs": load.get("jobs"),
            "load_start": start, "load_end": end, "cores": cores,
            "loaded": bool(seen) and max(seen) > cores,
            "status": record_status(rec)[0] if isinstance(rec.get("claim"), dict) else "?",
            "date": (prov.get("date") or "")[:16], "commit": (prov.get("git_commit") or "")[:8],
        })
    return rows


def budget_markdown(rows: list[dict]) -> str:
    """The ledger table, the totals and the flagged rows, as markdown."""
    from tabulate import tabulate

    def load(r):
        if r["load_start"] is None:
            return "not recorded"
        return f"{r['load_start']:.2f} → {r['load_end']:.2f}" + (" **loaded**" if r["loaded"]
                                                               else "")

    table = tabulate([[f"`{r['claim']}`", r["verdict"], r["units"], f"{r['compute_s']:.0f}",
                       f"{r['run_s']:.0f}", r["jobs"] or "—", load(r), r["date"], r["status"]]
                      for r in rows],
                     headers=["claim", "verdict", "units", "compute s (sum of units)",
                              "run wall s", "jobs", "load 1-min start → end", "made",
                              "record vs code"],
                     tablefmt="github")
    compute = sum(r["compute_s"] for r in rows)
    wall = sum(r["run_s"] for r in rows)
    loaded = [r["claim"] for r in rows if r["loaded"]]
    unknown = [r["claim"] for r in rows if r["load_start"] is None]
    lines = [
        f"{len(rows)} default records: **{compute / 60:.0f} min of compute** (sum of unit "
        f"wall times), **{wall / 60:.0f} min of run wall time** (with `--jobs 2` most runs "
        "take about half their compute; cached units count 0 s in the run but their original "
        "wall time in the compute column).", "",
        table, "",
        f"Made under load above the core count: {len(loaded)}"
        + (f" ({', '.join(f'`{c}`' for c in loaded)})" if loaded else "") + ".",
    ]
    stale = [r["claim"] for r in rows if r["status"] != "current"]
    lines.append(f"Not current with the code (`repro check --stale`): {len(stale)}"
                 + (f" ({', '.join(f'`{c}`' for c in stale)})" if stale else "") + ".")
    if unknown:
        lines.append(f"Load not recorded (older records): {len(unknown)}.")
    return "\n".join(lines)


if __name__ == "__main__":
    out = budget_markdown(budget_rows(Path(sys.argv[1]) if len(sys.argv) > 1
                                      else ROOT / "results"))
    print(out)
