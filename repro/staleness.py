"""Which committed records no longer describe the code, from hashes alone (nothing runs).

A record is *stale* when the units the claim file plans today, keyed with today's code,
are not the units the record holds: the method's source (or a shared definition it uses)
changed after the result was made, or the claim now plans other parameters or seeds. The
keys are computed with the record's own library versions, so a newer library alone
does not make a record stale (``repro check`` reruns to see whether it matters).

A record is *outdated* (not stale) when its units are still current but the claim's checks,
preconditions or report entries changed since it was judged: ``repro rejudge`` re-judges
it from the stored unit metrics without running anything.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .cache import unit_key
from .errors import ClaimError
from .plan import plan
from .schema import load_claim

# Claim fields that decide the verdict but not the units (a change needs a re-judge).
JUDGING_FIELDS = ("checks", "preconditions", "report", "expect")


def claims_root() -> Path:
    from .provenance import code_root

    return code_root() / "claims"


def planned_keys(claim, record: dict[str, Any]) -> list[str]:
    """The keys of the units ``claim`` plans at the record's scale and seed count, with the
    record's device and library versions."""
    from .provenance import record_library_versions

    prov = record["provenance"]
    versions = record_library_versions(prov)
    units = plan(claim, record["scale"], record.get("seeds"))
    return [unit_key(u, prov.get("device", "cpu"), versions) for u in units]


def record_status(record: dict[str, Any], claims_dir: Path | None = None) -> tuple[str, str]:
    """('current' | 'stale' | 'outdated' | 'orphan', reason) for one record."""
    cid = record["claim"]["id"]
    path = (claims_dir or claims_root()) / f"{cid}.yaml"
    if not path.exists():
        return "orphan", f"no claim file {path.name}"
    try:
        claim = load_claim(path)
    except ClaimError as e:
        return "stale", f"the claim file does not validate ({e.problems[0]})"
    if record["scale"] not in claim.scales:
        return "stale", f"the claim no longer defines scale {record['scale']!r}"
    planned = planned_keys(claim, record)
    stored = [u.get("key") for u in record["units"]]
    if sorted(planned) != sorted(stored):
        changed = len(set(planned) - set(stored))
        return "stale", (f"{changed} of {len(planned)} planned units have keys the record "
                         "does not hold (code or plan changed since it was made)")
    now = claim.model_dump(mode="json")
    diff = [f for f in JUDGING_FIELDS if now.get(f) != record["claim"].get(f)]
    if diff:
        return "outdated", f"judged with older {', '.join(diff)}: run `repro rejudge {cid}`"
    return "current", ""


def stale_records(root: Path | None = None, claims_dir: Path | None = None,
                  include_outdated: bool = False) -> dict[Path, str]:
    """Record path -> reason, for every stale (and optionally outdated) record."""
    from .results import iter_records

    out: dict[Path, str] = {}
    for p, rec in iter_records(root):
        try:
            status, reason = record_status(rec, claims_dir)
        except Exception as e:  # noqa: BLE001 - a record we cannot check is listed, not hidden
            status, reason = "stale", f"cannot check: {type(e).__name__}: {e}"
        if status == "stale" or (include_outdated and status in ("outdated", "orphan")):
            out[p] = f"{status}: {reason}" if include_outdated else reason
    return out


def load_record(path: Path) -> dict[str, Any]:
    from .records import read_record

    return read_record(path)
