"""Result files: ``results/<id>/<scale>.json`` (the record), ``.md`` (the table), ``.png``
(the picture), the ``results/README.md`` summary, and a DataFrame view of them all.

The JSON is the source of truth; every table is generated from it, never edited by hand.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from tabulate import tabulate

from .errors import ResultsWriteError
from .fsutil import atomic_write_many, atomic_write_text
from .records import UnreadableRecord, dumps_record, is_record_path, read_record
from .settings import results_dir as default_results_dir

SHIFTABLE = ("within", "at_least", "at_most")


def fmt(x: Any, digits: int = 4) -> str:
    if x is None:
        return "—"
    if isinstance(x, str):
        return x
    if isinstance(x, float):
        if math.isnan(x):
            return "nan"
        if math.isinf(x):
            return "∞" if x > 0 else "−∞"
        return f"{x:.{digits}g}"
    return str(x)


def shift(check: dict[str, Any]) -> float:
    """Offset that turns a difference statistic back into the metric when ref is a number."""
    if check["op"] in SHIFTABLE and isinstance(check.get("ref"), (int, float)):
        return float(check["ref"])
    return 0.0


def quantity(check: dict[str, Any]) -> str:
    """What the 'ours' number measures, in words."""
    q = _quantity(check)
    if check.get("aggregate"):
        return f"{check['aggregate']} over {check['over']} of {q}"
    return q


def _quantity(check: dict[str, Any]) -> str:
    op, m, ref = check["op"], check["metric"], check.get("ref")
    if op == "report":
        return f"{m} − {ref}" if ref else m
    if op in SHIFTABLE:
        return m if isinstance(ref, (int, float)) else f"{m} − {ref}"
    if op == "loglog_slope":
        return f"slope of log {m} vs log {check['over']}"
    if op == "monotone":
        return f"min step of {m} along {check['over']}"
    if op == "inside_band":
        return f"margin of {m} inside band"
    return m


def region_text(check: dict[str, Any]) -> str:
    if check["op"] == "report":
        return "(reported)"
    lo, hi = check["region"]
    s = shift(check)
    lo, hi = lo + s, hi + s
    if math.isinf(lo) and math.isinf(hi):
        return "any"
    if math.isinf(hi):
        return f"≥ {fmt(lo)}"
    if math.isinf(lo):
        return f"≤ {fmt(hi)}"
    return f"[{fmt(lo)}, {fmt(hi)}]"


def ours_text(check: dict[str, Any], group: dict[str, Any]) -> str:
    iv = group.get("interval")
    if not iv:
        return _shorten(group.get("reason", ""), 110) or "—"
    s = shift(check)
    if iv["n"] == 1:
        return f"{fmt(iv['mean'] + s)} (1 seed)"
    cs = " cs" if str(iv.get("method", "")).startswith("cs") else ""
    return f"{fmt(iv['mean'] + s)} [{fmt(iv['lo'] + s)}, {fmt(iv['hi'] + s)}]{cs}"


def _shorten(text: str, width: int) -> str:
    """One line of at most ``width`` characters, cut at a word boundary."""
    text = " ".join(text.split())
    if len(text) <= width:
        return text
    return text[: width - 1].rsplit(" ", 1)[0] + " …"


def point_text(point: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in point.items()) or "—"


def entries(record: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """(kind, entry) for every precondition, check and report entry of a record, in the
    order the tables show them (older records have checks only)."""
    return ([("precondition", c) for c in record.get("preconditions") or []]
            + [("check", c) for c in record["checks"]]
            + [("report", c) for c in record.get("report") or []])


_PREFIX = {"precondition": "[pre] ", "check": "", "report": "[report] "}


def check_rows(record: dict[str, Any]) -> list[list[str]]:
    rows = []
    for kind, c in entries(record):
        for g in c["groups"] or [{"point": {}, "verdict": c["verdict"],
                                  "reason": c.get("error", "")}]:
            verdict = g["verdict"] if c["verdict"] != "invalid" else "invalid"
            if kind == "precondition" and g.get("interval"):
                failed = [i for i, v in zip(g.get("seeds", []), g["per_seed"])
                          if not (c["region"][0] <= v <= c["region"][1])]
                verdict = (f"failed on seed#{', seed#'.join(map(str, failed))}" if failed
                           else "holds on every seed")
            rows.append([_PREFIX[kind] + c["name"], point_text(g["point"]), quantity(c),
                         ours_text(c, g), region_text(c), fmt(c.get("paper")), verdict])
    return rows


def expect_text(expect: Any) -> str:
    """``reproduced``, or ``inconclusive | not_reproduced`` for a list of acceptable ones."""
    if isinstance(expect, dict):
        return " | ".join(expect.get("any_of", []))
    if isinstance(expect, list):
        return " | ".join(expect)
    return str(expect)


HEADERS = ["check", "sweep point", "quantity", "ours (mean [95% CI])", "holds when",
           "paper", "verdict"]


def console_table(record: dict[str, Any]) -> str:
    return tabulate(check_rows(record), headers=HEADERS, tablefmt="simple")


def markdown(record: dict[str, Any]) -> str:
    claim = record["claim"]
    paper = claim["paper"]
    lines = [
        f"# {claim['id']} — {claim['title']}",
        "",
        f"**Paper:** {paper['title']}" + (f" ({paper['venue']})" if paper.get("venue") else "")
        + (f", {paper['url']}" if paper.get("url") else "")
        + (f" — {paper['where']}" if paper.get("where") else ""),
        "",
        f"**Claim:** {claim['statement'].strip()}",
        "",
        f"**Scale:** `{record['scale']}` · **verdict: {record['verdict']}** "
        f"(expected: {expect_text(record['expect'])}) · seeds: {record['seeds']} · units: "
        f"{len(record['units'])} · this run: {record['timing']['total_s']:.1f} s "
        f"({record['timing'].get('cached_units', 0)} units from cache) · sum of unit wall "
        f"times: {record['timing'].get('units_wall_s', record['timing']['compute_s']):.1f} s",
        "",
        tabulate(check_rows(record), headers=HEADERS, tablefmt="github"),
        "",
    ]
    lines += _sequential_and_exclusions(record)
    if record.get("plot"):
        lines += [f"![{claim['id']} {record['scale']}]({record['plot']})", ""]
    lines += ["## Why these tolerances", ""]
    for kind, c in entries(record):
        if c.get("why"):
            lines.append(f"- **{_PREFIX[kind]}{c['name']}**: {c['why'].strip()}")
    errs = [u for u in record["units"] if u["status"] != "ok"]
    if errs:
        lines += ["", "## Units that did not finish", ""]
        for u in errs:
            lines.append(f"- `{point_text(u['point'])}` seed#{u['seed_index']}: "
                         f"{u['status']}: {u.get('error', '')}")
    lines += ["", "## Provenance", "", provenance_text(record),
              "", f"Generated by `repro` from `{record['scale']}.json`; do not edit.", ""]
    return "\n".join(lines)


def provenance_text(record: dict[str, Any]) -> str:
    """One paragraph: commit and whether the unit code was clean there, libraries, machine,
    load."""
    prov = record["provenance"]
    units = [u for u in record["units"] if "code_clean" in u]
    if units:
        dirty = sum(1 for u in units if not u["code_clean"])
        mig = (record.get("migrations") or [{}])[-1].get("code_commit")
        code = ((f"the code of every unit is committed (as of `{mig[:8]}`, see migrations)"
                 if mig else "the code of every unit is committed there") if not dirty else
                f"**{dirty} of {len(units)} units ran uncommitted code**")
    else:
        code = "(dirty tree)" if prov.get("git_dirty") else "(clean tree)"
    isa = f" ({prov['cpu_isa']})" if prov.get("cpu_isa") else ""
    text = (f"commit `{prov.get('git_commit')}`: {code} · python {prov['python']} · torch "
            f"{prov['torch']} · numpy {prov['numpy']} · device {prov['device']} · CPU "
            f"{prov['cpu']}{isa} · {prov['date']}")
    load = prov.get("load")
    if load:
        text += (f" · load average {load['start'][0]:.2f} at the start, {load['end'][0]:.2f} "
                 f"at the end on {prov.get('cpu_count')} CPUs"
                 + (" — **made under heavy load**" if load.get("heavy") else ""))
    if "claim_file_clean" in prov:
        sha = (prov.get("claim_sha256") or "?")[:12]
        text += (f" · claim file sha256 `{sha}`, the committed one" if prov["claim_file_clean"]
                 else f" · **claim file sha256 `{sha}` is not the committed claim file** "
                 "(edited, untracked or outside the checkout)")
    if record.get("rejudged"):
        rj = record["rejudged"]
        text += (f" · re-judged {rj['date']} at commit `{rj.get('commit')}` from the stored "
                 "unit metrics (same unit keys: no number changed)")
    return text


def _sequential_and_exclusions(record: dict[str, Any]) -> list[str]:
    out: list[str] = []
    seq = record.get("sequential")
    if seq:
        out += [f"**Seeds chosen by the data (`--until-decided`):** {seq['rule']}; stopped "
                f"at {seq['seeds']} seeds ({seq['reason']}). Intervals are 95% confidence "
                f"sequences ({seq['method']}), valid at every number of seeds.", ""]
    excl = record.get("excluded_seeds") or {}
    if excl:
        out += ["**Seeds excluded by preconditions** (their units do not count toward the "
                "checks):", ""]
        out += [f"- seed#{k}: " + "; ".join(v) for k, v in excl.items()]
        out.append("")
    if record["verdict"] == "invalid":
        out += ["**invalid**: fewer than two seeds met the preconditions, so the experiment "
                "did not do what the claim presupposes; the checks above are computed over "
                "all seeds only to show the numbers, and say nothing about the paper.", ""]
    return out


def write_record(record: dict[str, Any], root: Path | None = None, plot: bool = True) -> Path:
    """Write json (+ png + md) for one claim run; return the json path."""
    root = Path(root) if root else default_results_dir()
    d = root / record["claim"]["id"]
    scale = record["scale"]
    files: dict[Path, bytes] = {}
    if plot:
        from .plot import render_record

        png = render_record(record)
        if png is not None:
            files[d / f"{scale}.png"] = png
            record["plot"] = f"{scale}.png"
    jpath = d / f"{scale}.json"
    files[jpath] = dumps_record(record).encode()
    files[d / f"{scale}.md"] = markdown(record).encode()
    try:
        atomic_write_many(files)
    except OSError as e:
        raise ResultsWriteError(
            f"cannot write results to {d}: {e.strerror or e} ({type(e).__name__}); the previous "
            "results there are unchanged, and the finished units are in the unit cache, so a "
            "rerun after fixing this recomputes nothing") from e
    return jpath


def scan_records(root: Path | None = None
                 ) -> tuple[list[tuple[Path, dict[str, Any]]], list[UnreadableRecord]]:
    """Every record under ``root`` (``<id>/<scale>.json``): the readable ones, and the ones
    that fail to parse or validate (never silently dropped: callers list them)."""
    root = Path(root) if root else default_results_dir()
    good, bad = [], []
    for p in sorted(root.glob("*/*.json")):
        if not is_record_path(p):
            continue
        try:
            good.append((p, read_record(p)))
        except UnreadableRecord as e:
            bad.append(e)
    return good, bad


def iter_records(root: Path | None = None):
    """The readable records under ``root``; each unreadable one is announced on stderr."""
    import sys

    good, bad = scan_records(root)
    for e in bad:
        print(f"repro: warning: {e}", file=sys.stderr)
    yield from good


_SCALE_ORDER = {"smoke": 0, "default": 1, "paper": 2}


def headline(r: dict[str, Any]) -> str:
    """The entry that decides a record's verdict, with our number (and the paper's)."""
    if r["verdict"] == "invalid":
        excl = r.get("excluded_seeds") or {}
        first = next(iter(excl.values()), ["?"])[0]
        return f"precondition failed on {len(excl)}/{r.get('seeds_run', '?')} seeds: {first}"
    pool = r["checks"] if r["checks"] else (r.get("report") or [])
    c = next((c for c in pool if c["verdict"] == r["verdict"]), pool[0] if pool else None)
    if not (c and c["groups"]):
        return ""
    g = c["groups"][0]
    text = f"{c['name']}: {ours_text(c, g)}"
    if c.get("paper") is not None:
        text += f" (paper: {fmt(c['paper'])})"
    return text


COUNTED = ("reproduced", "not_reproduced", "inconclusive", "invalid", "reported", "skipped",
           "error")


def verdict_counts(records: list[dict[str, Any]]) -> dict[str, dict[str, int]]:
    """scale -> verdict -> number of claims."""
    out: dict[str, dict[str, int]] = {}
    for r in records:
        row = out.setdefault(r["scale"], dict.fromkeys(COUNTED, 0))
        row[r["verdict"]] = row.get(r["verdict"], 0) + 1
    return out


def write_summary(root: Path | None = None) -> Path:
    """Regenerate ``results/README.md`` from the stored JSON."""
    root = Path(root) if root else default_results_dir()
    good, bad = scan_records(root)
    recs = sorted(good, key=lambda pr: (pr[1]["claim"]["id"],
                                        _SCALE_ORDER.get(pr[1]["scale"], 9)))
    try:
        from .staleness import stale_records

        stale = stale_records(root)
    except Exception:  # noqa: BLE001 - the summary must be written even if this fails
        stale = {}
    rows = []
    for p, r in recs:
        marks = []
        if p in stale:
            marks.append("stale: " + stale[p])
        if (r["provenance"].get("load") or {}).get("heavy"):
            marks.append("made under heavy load")
        if r["provenance"].get("claim_file_clean") is False:
            marks.append("claim file not the committed one")
        rows.append([
            f"[{r['claim']['id']}]({p.parent.name}/{r['scale']}.md)",
            r["claim"]["paper"]["title"], r["scale"], f"**{r['verdict']}**",
            expect_text(r["expect"]), headline(r), (r["provenance"].get("git_commit") or "")[:8],
            "; ".join(marks),
        ])
    for e in bad:
        rows.append([f"[{e.path.parent.name}]({e.path.parent.name}/{e.path.name})", "—",
                     e.path.stem, "**unreadable**", "—", _shorten(e.reason, 110), "",
                     "unreadable record: rerun the claim or restore the file"])
    counts = verdict_counts([r for _, r in recs])
    count_rows = [[scale, *[c.get(v, 0) for v in COUNTED], sum(c.values())]
                  for scale, c in sorted(counts.items(), key=lambda kv: _SCALE_ORDER.get(kv[0], 9))]
    text = "\n".join([
        "# Results", "",
        "One row per claim and scale. Generated by `repro report` from the JSON records in "
        "this folder; do not edit by hand. `reported` claims only measure and show numbers "
        "(`report:` entries) and are counted apart from reproduced; `invalid` means the "
        "experiment missed a precondition (e.g. its loss never left chance), so it can "
        "neither confirm nor refute the paper. A row marked *stale* was made by code that "
        "has changed since (`repro check --stale`).", "",
        tabulate(count_rows, headers=["scale", *COUNTED, "claims"], tablefmt="github")
        if count_rows else "", "",
        tabulate(rows, headers=["claim", "paper", "scale", "verdict", "expected",
                                "deciding entry: ours (95% CI)", "commit", "marks"],
                 tablefmt="github")
        if rows else "_No results yet._", ""])
    out = root / "README.md"
    try:
        atomic_write_text(out, text)
    except OSError as e:
        raise ResultsWriteError(f"cannot write {out}: {e.strerror or e}; the previous summary "
                                "is unchanged (rerun `repro report` once it is writable)") from e
    return out


def load_results(root: Path | None = None):
    """All stored results as a DataFrame: one row per (claim, scale, entry, sweep group);
    ``kind`` is ``check``, ``precondition`` or ``report`` (reports have verdict
    ``reported``, and a claim with only reports has ``claim_verdict`` ``reported``). A record
    that cannot be read is one row with ``verdict`` ``unreadable`` and the reason in
    ``error`` (and a warning on stderr), never dropped."""
    import pandas as pd

    rows = []
    good, bad = scan_records(root)
    for e in bad:
        import sys

        print(f"repro: warning: {e}", file=sys.stderr)
        rows.append({"claim": e.path.parent.name, "scale": e.path.stem,
                     "claim_verdict": "unreadable", "kind": "record", "check": "",
                     "verdict": "unreadable", "error": e.reason})
    for _, r in good:
        for kind, c in entries(r):
            for g in c["groups"] or [{"point": {}, "verdict": c["verdict"]}]:
                iv = g.get("interval") or {}
                s = shift(c)
                rows.append({
                    "claim": r["claim"]["id"], "scale": r["scale"],
                    "claim_verdict": r["verdict"], "expect": expect_text(r["expect"]),
                    "kind": kind, "check": c["name"], "op": c["op"], "metric": c["metric"],
                    "point": point_text(g["point"]), "verdict": g["verdict"],
                    "mean": iv.get("mean", math.nan) + s if iv else math.nan,
                    "ci_lo": iv.get("lo", math.nan) + s if iv else math.nan,
                    "ci_hi": iv.get("hi", math.nan) + s if iv else math.nan,
                    "n_seeds": iv.get("n"), "paper": c.get("paper"),
                    "commit": r["provenance"].get("git_commit"),
                    "date": r["provenance"].get("date"),
                })
    return pd.DataFrame(rows)
