"""Result files: ``results/<id>/<scale>.json`` (the record), ``.md`` (the table), ``.png``
(the picture), the ``results/README.md`` summary, and a DataFrame view of them all.

The JSON is the source of truth; every table is generated from it, never edited by hand.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from tabulate import tabulate

from .errors import ResultsWriteError
from .fsutil import atomic_write_many, atomic_write_text
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
    op, m, ref = check["op"], check["metric"], check.get("ref")
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
    return f"{fmt(iv['mean'] + s)} [{fmt(iv['lo'] + s)}, {fmt(iv['hi'] + s)}]"


def _shorten(text: str, width: int) -> str:
    """One line of at most ``width`` characters, cut at a word boundary."""
    text = " ".join(text.split())
    if len(text) <= width:
        return text
    return text[: width - 1].rsplit(" ", 1)[0] + " …"


def point_text(point: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in point.items()) or "—"


def check_rows(record: dict[str, Any]) -> list[list[str]]:
    rows = []
    for c in record["checks"]:
        for g in c["groups"] or [{"point": {}, "verdict": c["verdict"],
                                  "reason": c.get("error", "")}]:
            rows.append([c["name"], point_text(g["point"]), quantity(c), ours_text(c, g),
                         region_text(c), fmt(c.get("paper")), g["verdict"]])
    return rows


HEADERS = ["check", "sweep point", "quantity", "ours (mean [95% CI])", "holds when",
           "paper", "verdict"]


def console_table(record: dict[str, Any]) -> str:
    return tabulate(check_rows(record), headers=HEADERS, tablefmt="simple")


def markdown(record: dict[str, Any]) -> str:
    claim, prov = record["claim"], record["provenance"]
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
        f"(expected: {record['expect']}) · seeds: {record['seeds']} · units: "
        f"{len(record['units'])} · this run: {record['timing']['total_s']:.1f} s "
        f"({record['timing'].get('cached_units', 0)} units from cache) · sum of unit wall "
        f"times: {record['timing'].get('units_wall_s', record['timing']['compute_s']):.1f} s",
        "",
        tabulate(check_rows(record), headers=HEADERS, tablefmt="github"),
        "",
    ]
    if record.get("plot"):
        lines += [f"![{claim['id']} {record['scale']}]({record['plot']})", ""]
    lines += ["## Why these tolerances", ""]
    for c in record["checks"]:
        lines.append(f"- **{c['name']}**: {c['why'].strip()}")
    errs = [u for u in record["units"] if u["status"] != "ok"]
    if errs:
        lines += ["", "## Units that did not finish", ""]
        for u in errs:
            lines.append(f"- `{point_text(u['point'])}` seed#{u['seed_index']}: "
                         f"{u['status']}: {u.get('error', '')}")
    lines += ["", "## Provenance", "",
              f"commit `{prov.get('git_commit')}`" + (" (dirty)" if prov.get("git_dirty") else "")
              + f" · python {prov['python']} · torch {prov['torch']} · numpy {prov['numpy']}"
              + f" · device {prov['device']} · CPU {prov['cpu']} · {prov['date']}",
              "", f"Generated by `repro` from `{record['scale']}.json`; do not edit.", ""]
    return "\n".join(lines)


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
    files[jpath] = (json.dumps(record, indent=1, sort_keys=False, default=str) + "\n").encode()
    files[d / f"{scale}.md"] = markdown(record).encode()
    try:
        atomic_write_many(files)
    except OSError as e:
        raise ResultsWriteError(
            f"cannot write results to {d}: {e.strerror or e} ({type(e).__name__}); the previous "
            "results there are unchanged, and the finished units are in the unit cache, so a "
            "rerun after fixing this recomputes nothing") from e
    return jpath


def iter_records(root: Path | None = None):
    root = Path(root) if root else default_results_dir()
    for p in sorted(root.glob("*/*.json")):
        try:
            rec = json.loads(p.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(rec, dict) and "claim" in rec and "checks" in rec:
            yield p, rec


_SCALE_ORDER = {"smoke": 0, "default": 1, "paper": 2}


def write_summary(root: Path | None = None) -> Path:
    """Regenerate ``results/README.md`` from the stored JSON."""
    root = Path(root) if root else default_results_dir()
    recs = sorted(iter_records(root), key=lambda pr: (pr[1]["claim"]["id"],
                                                      _SCALE_ORDER.get(pr[1]["scale"], 9)))
    rows = []
    for p, r in recs:
        # the check that decides the verdict: the first one whose verdict is the claim's
        c = next((c for c in r["checks"] if c["verdict"] == r["verdict"]),
                 r["checks"][0] if r["checks"] else None)
        headline = ""
        if c and c["groups"]:
            g = c["groups"][0]
            headline = f"{c['name']}: {ours_text(c, g)}"
            if c.get("paper") is not None:
                headline += f" (paper: {fmt(c['paper'])})"
        rows.append([
            f"[{r['claim']['id']}]({p.parent.name}/{r['scale']}.md)",
            r["claim"]["paper"]["title"], r["scale"], f"**{r['verdict']}**", r["expect"],
            headline, (r["provenance"].get("git_commit") or "")[:8],
        ])
    text = "\n".join([
        "# Results", "",
        "One row per claim and scale. Generated by `repro report` from the JSON records in "
        "this folder; do not edit by hand.", "",
        tabulate(rows, headers=["claim", "paper", "scale", "verdict", "expected",
                                "deciding check: ours (95% CI)", "commit"], tablefmt="github")
        if rows else "_No results yet._", ""])
    out = root / "README.md"
    try:
        atomic_write_text(out, text)
    except OSError as e:
        raise ResultsWriteError(f"cannot write {out}: {e.strerror or e}; the previous summary "
                                "is unchanged (rerun `repro report` once it is writable)") from e
    return out


def load_results(root: Path | None = None):
    """All stored results as a DataFrame: one row per (claim, scale, check, sweep group)."""
    import pandas as pd

    rows = []
    for _, r in iter_records(root):
        for c in r["checks"]:
            for g in c["groups"] or [{"point": {}, "verdict": c["verdict"]}]:
                iv = g.get("interval") or {}
                s = shift(c)
                rows.append({
                    "claim": r["claim"]["id"], "scale": r["scale"],
                    "claim_verdict": r["verdict"], "expect": r["expect"],
                    "check": c["name"], "op": c["op"], "metric": c["metric"],
                    "point": point_text(g["point"]), "verdict": g["verdict"],
                    "mean": iv.get("mean", math.nan) + s if iv else math.nan,
                    "ci_lo": iv.get("lo", math.nan) + s if iv else math.nan,
                    "ci_hi": iv.get("hi", math.nan) + s if iv else math.nan,
                    "n_seeds": iv.get("n"), "paper": c.get("paper"),
                    "commit": r["provenance"].get("git_commit"),
                    "date": r["provenance"].get("date"),
                })
    return pd.DataFrame(rows)
