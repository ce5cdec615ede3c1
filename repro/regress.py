"""Committed results as a regression baseline: re-judge a record from its stored units, and
rerun a claim to see whether its committed numbers still come out (``repro check``).

Re-judging runs nothing: when the claim's units are unchanged (same keys) but its checks,
preconditions or report entries changed, the stored per-unit metrics are judged again with
the current claim file. A committed result is rerun only when its numbers could change.
"""

from __future__ import annotations

import copy
import datetime as dt
import math
import time
from pathlib import Path
from typing import Any

from .errors import ClaimError, Problem
from .evaluate import judge
from .records import RECORD_FORMAT
from .results import entries, point_text, write_record
from .schema import Claim, load_claim
from .staleness import planned_keys, record_status


class NotRejudgeable(Exception):
    """The record's units are not the ones the claim plans now: it needs a rerun."""


def rejudge_record(record: dict[str, Any], claim: Claim) -> dict[str, Any]:
    """The record judged again by ``claim`` from its stored unit metrics."""
    planned = planned_keys(claim, record)
    by_key = {u.get("key"): u for u in record["units"]}
    if sorted(planned) != sorted(by_key):
        raise NotRejudgeable(f"{claim.id} [{record['scale']}]: the claim now plans other units "
                             "than the record holds; rerun it")
    rows = [by_key[k] for k in planned]
    interval = "cs" if record.get("sequential") else "t"
    judged = judge(claim, record["scale"], rows, interval=interval)
    out = copy.deepcopy(record)
    claim_json = claim.model_dump(mode="json")
    out.update({
        "format": RECORD_FORMAT, "claim": claim_json, "verdict": judged["verdict"],
        "expect": claim_json["expect"][record["scale"]],
        "met_expectation": judged["verdict"] in claim.expected(record["scale"]),
        "checks": judged["checks"], "preconditions": judged["preconditions"],
        "report": judged["report"], "excluded_seeds": judged["excluded_seeds"],
        "seeds_run": judged["seeds_run"], "units": rows,
    })
    from .provenance import _git, code_root

    out["rejudged"] = {"date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                       "commit": _git(["rev-parse", "HEAD"], code_root()),
                       "from_verdict": record["verdict"]}
    out.pop("plot", None)
    return out


def rejudge_path(path: Path, claims_dir: Path, results_root: Path | None = None
                 ) -> tuple[str, str]:
    """Re-judge the record at ``path`` in place; (old verdict, new verdict)."""
    from .records import read_record

    record = read_record(path)
    claim = load_claim(claims_dir / f"{record['claim']['id']}.yaml")
    new = rejudge_record(record, claim)
    write_record(new, results_root or Path(path).parent.parent)
    return record["verdict"], new["verdict"]


def committed_record(claim: Claim, scale: str, results_root: Path) -> dict[str, Any]:
    """The committed record of ``claim`` at ``scale``; ClaimError (exit 2) if none."""
    from .records import read_record

    p = Path(results_root) / claim.id / f"{scale}.json"
    if not p.exists():
        raise ClaimError([Problem(claim.source, claim.line("id") or 1, "id",
                                  f"no committed {scale} record for {claim.id!r} "
                                  f"({p} does not exist): nothing to check against")])
    return read_record(p)


def drift_rows(old: dict[str, Any], new: dict[str, Any]) -> list[dict[str, Any]]:
    """Every entry and sweep group: the committed mean and interval, the rerun's mean, and
    whether it drifted (outside the committed interval, or beyond the entry's ``drift``)."""
    rows = []
    new_entries = {(k, c["name"]): c for k, c in entries(new)}
    for kind, c in entries(old):
        nc = new_entries.get((kind, c["name"]))
        tol = (nc or c).get("drift")
        for g in c["groups"]:
            ng = next((h for h in (nc or {}).get("groups", []) if h["point"] == g["point"]),
                      None)
            iv, niv = g.get("interval"), (ng or {}).get("interval")
            row = {"entry": f"{kind}:{c['name']}", "point": point_text(g["point"]),
                   "committed": iv, "rerun": niv}
            if iv is None or niv is None:
                row["drift"] = (iv is None) != (niv is None)
                row["why"] = "entry or group missing in one run" if row["drift"] else ""
            else:
                m = niv["mean"]
                if tol is not None:
                    bad = not (abs(m - iv["mean"]) <= tol)
                    row["why"] = f"|Δmean| = {abs(m - iv['mean']):.3g} vs drift {tol:g}"
                else:
                    bad = not (iv["lo"] <= m <= iv["hi"]) and not (
                        math.isclose(m, iv["mean"], rel_tol=1e-12, abs_tol=1e-12))
                    row["why"] = "outside the committed interval" if bad else ""
                row["drift"] = bad
            rows.append(row)
    return rows


def check_claim(path: str | Path, scale: str, results_root: Path, **run_kw: Any
                ) -> dict[str, Any]:
    """Rerun ``path`` at ``scale`` (cached units reused when their keys are unchanged) and
    compare with its committed record; nothing is written into ``results_root``."""
    from .runner import run_claim

    claim = load_claim(path)
    old = committed_record(claim, scale, results_root)
    t0 = time.perf_counter()
    res = run_claim(path, scale=scale, seeds=old.get("seeds"), write=False, **run_kw)
    new = res.record
    if old.get("sequential"):
        new = rejudge_record({**new, "sequential": old["sequential"]}, claim)
    rows = drift_rows(old, new)
    verdict_same = old["verdict"] == new["verdict"]
    return {"claim": claim.id, "scale": scale, "old_verdict": old["verdict"],
            "new_verdict": new["verdict"], "verdict_same": verdict_same, "rows": rows,
            "drift": (not verdict_same) or any(r["drift"] for r in rows),
            "seconds": time.perf_counter() - t0,
            "status": record_status(old)[0]}
