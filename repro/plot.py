"""One figure per claim run: every check's per-seed values, its 95% interval and the
region where the claim holds; log-log panels for ``loglog_slope`` checks."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from .fsutil import atomic_write_bytes
from .results import point_text, quantity, shift

_COLOURS = {"reproduced": "tab:green", "not_reproduced": "tab:red",
            "inconclusive": "tab:orange", "error": "black", "skipped": "grey",
            "invalid": "tab:purple", "reported": "tab:blue"}


def plot_record(record: dict[str, Any], path: Path) -> bool:
    """Draw the record's checks into ``path``; False when there is nothing to draw."""
    png = render_record(record)
    if png is None:
        return False
    atomic_write_bytes(path, png)
    return True


def render_record(record: dict[str, Any]) -> bytes | None:
    """The record's figure as PNG bytes; None when there is nothing to draw."""
    from .results import entries

    tagged = [(k, c) for k, c in entries(record) if any(g.get("interval") for g in c["groups"])]
    checks = [c for _, c in tagged]
    kinds = {id(c): k for k, c in tagged}
    specs = record["claim"].get("plots") or []
    if not checks and not specs:
        return None
    import io

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    slope_checks = [c for c in record["checks"] if c["op"] == "loglog_slope"
                    and any(g.get("interval") for g in c["groups"])]
    n = len(checks) + len(slope_checks) + len(specs)
    ncols = min(3, n)
    nrows = math.ceil(n / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(4.6 * ncols, 3.4 * nrows), squeeze=False)
    flat = list(axes.flat)
    for ax, c in zip(flat, checks):
        s = shift(c)
        lo, hi = c["region"]
        for i, g in enumerate(c["groups"]):
            if not g.get("interval"):
                continue
            vals = [v + s for v in g["per_seed"]]
            ax.scatter([i] * len(vals), vals, s=12, color="grey", alpha=0.7, zorder=3)
            iv = g["interval"]
            down, up = iv["mean"] - iv["lo"], iv["hi"] - iv["mean"]
            if not (math.isfinite(down) and math.isfinite(up)):  # a sequence not yet finite
                down = up = 0.0
                ax.annotate("±∞", (i + 0.2, iv["mean"] + s), fontsize=7)
            ax.errorbar([i + 0.15], [iv["mean"] + s], yerr=[[down], [up]],
                        fmt="o", color=_COLOURS.get(g["verdict"], "k"), capsize=4, zorder=4)
        kind = kinds[id(c)]
        if kind == "report":  # measured, not judged: no region to draw
            ax.set_xticks(range(len(c["groups"])))
            ax.set_xticklabels([point_text(g["point"]) for g in c["groups"]], fontsize=7,
                               rotation=20)
            ax.set_title(f"[report] {c['name']}", fontsize=9)
            ax.set_ylabel(quantity(c), fontsize=8)
            continue
        ymin, ymax = ax.get_ylim()
        finite = [b + s for b in (lo, hi) if math.isfinite(b)]
        ymin, ymax = min([ymin, *finite]), max([ymax, *finite])
        pad = 0.05 * (ymax - ymin or 1.0)
        ymin, ymax = ymin - pad, ymax + pad
        ax.axhspan(lo + s if math.isfinite(lo) else ymin, hi + s if math.isfinite(hi) else ymax,
                   color="tab:green", alpha=0.12, zorder=1)
        ax.set_ylim(ymin, ymax)
        for b in (lo, hi):
            if math.isfinite(b):
                ax.axhline(b + s, color="tab:green", lw=1, ls="--")
        if isinstance(c.get("paper"), (int, float)):
            ax.axhline(c["paper"], color="tab:blue", lw=1, ls=":", label="paper")
        ax.set_xticks(range(len(c["groups"])))
        ax.set_xticklabels([point_text(g["point"]) for g in c["groups"]], fontsize=7,
                           rotation=20)
        prefix = "[pre] " if kind == "precondition" else ""
        ax.set_title(f"{prefix}{c['name']}: {c['verdict']}", fontsize=9)
        ax.set_ylabel(quantity(c), fontsize=8)
    k = len(checks)
    for c in slope_checks:
        ax = flat[k]
        k += 1
        _loglog_panel(ax, c, record["units"])
    for spec in specs:
        draw = _bar_panel if spec.get("kind") == "bar" else _metric_panel
        draw(flat[k], spec, record["units"])
        k += 1
    for ax in flat[n:]:
        ax.axis("off")
    fig.suptitle(f"{record['claim']['id']} ({record['scale']}): {record['verdict']}", fontsize=10)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    plt.close(fig)
    return buf.getvalue()


def _loglog_panel(ax: Any, c: dict[str, Any], units: list[dict[str, Any]]) -> None:
    """Metric vs the swept parameter on log-log axes, one colour per sweep group: the
    geometric mean over seeds with its 95% t-band, the fitted slope, and the reference
    slope (the paper's figure when the check gives one, else the check's target)."""
    import numpy as np

    from .verdicts import t_interval

    over, metric = c["over"], c["metric"]
    paper = c.get("paper")
    ref_slope = float(paper) if isinstance(paper, (int, float)) else (
        (c["region"][0] + c["region"][1]) / 2)
    colours = iter(["tab:blue", "tab:orange", "tab:purple", "tab:brown", "tab:cyan",
                    "tab:olive"])
    for gi, g in enumerate(c["groups"]):
        colour = next(colours, "black")
        members = [u for u in units if u["status"] == "ok" and over in u["point"]
                   and all(u["point"].get(k) == v for k, v in g["point"].items())]
        xs = sorted({float(u["point"][over]) for u in members})
        if len(xs) < 2:
            continue
        centre, lo, hi = [], [], []
        for x in xs:
            logs = [math.log(u["metrics"][metric]) for u in members
                    if float(u["point"][over]) == x and u["metrics"][metric] > 0]
            if not logs:
                centre.append(math.nan), lo.append(math.nan), hi.append(math.nan)
                continue
            iv = t_interval(logs)
            centre.append(math.exp(iv.mean)), lo.append(math.exp(iv.lo)), hi.append(
                math.exp(iv.hi))
        label = point_text(g["point"]) if g["point"] else metric
        ax.fill_between(xs, lo, hi, color=colour, alpha=0.2, lw=0)
        ax.loglog(xs, centre, "o", ms=3, color=colour, label=f"{label} (95% band)")
        if g.get("interval"):
            slope = g["interval"]["mean"]
            lx = np.log(np.array(xs))
            ly = np.log(np.array(centre))
            x0, y0 = float(np.exp(lx.mean())), float(np.exp(np.nanmean(ly)))
            ax.loglog(xs, [y0 * (x / x0) ** slope for x in xs], "-", lw=1, color=colour,
                      label=f"fit slope {slope:.3f}")
            ax.loglog(xs, [y0 * (x / x0) ** ref_slope for x in xs], ":", lw=1.2,
                      color="tab:red", label=f"slope {ref_slope:g}" if gi == 0 else None)
    ax.set_xlabel(over)
    ax.set_ylabel(metric)
    ax.legend(fontsize=6)
    ax.set_title(f"{c['name']}: log-log", fontsize=9)


def _metric_panel(ax: Any, spec: dict[str, Any], units: list[dict[str, Any]]) -> None:
    """A claim-declared figure: y metrics against an x metric, one curve (list metrics) or
    one point (scalar metrics) per unit, one colour per y metric."""
    colours = ["tab:blue", "tab:red", "tab:green", "tab:purple", "tab:orange", "tab:brown"]
    ok = [u for u in units if u["status"] == "ok" and spec["x"] in u["metrics"]]
    for j, name in enumerate(spec["y"]):
        colour = colours[j % len(colours)]
        first = True
        for u in ok:
            x, y = u["metrics"][spec["x"]], u["metrics"].get(name)
            if y is None:
                continue
            xs = x if isinstance(x, list) else [x]
            ys = y if isinstance(y, list) else [y]
            if len(xs) != len(ys):
                continue
            label = name if first else None
            if spec.get("kind") == "scatter" or len(xs) == 1:
                ax.scatter(xs, ys, s=10, color=colour, alpha=0.6, label=label)
            else:
                ax.plot(xs, ys, color=colour, alpha=0.5, lw=0.9, label=label)
            first = False
    if spec.get("logx"):
        ax.set_xscale("log")
    if spec.get("logy"):
        ax.set_yscale("log")
    ax.set_xlabel(spec["x"], fontsize=8)
    ax.legend(fontsize=7)
    ax.set_title(spec.get("title") or spec["name"], fontsize=9)


def _bar_panel(ax: Any, spec: dict[str, Any], units: list[dict[str, Any]]) -> None:
    """A claim-declared bar chart: for each value of the sweep parameter ``x`` (a category),
    one bar per y metric at its mean over seeds with the 95% t-interval, and the paper's
    value per category (``paper``) as a marker beside ours."""
    from .verdicts import t_interval

    colours = ["tab:blue", "tab:orange", "tab:green", "tab:purple", "tab:brown", "tab:cyan"]
    ok = [u for u in units if u["status"] == "ok"]
    cats: list[Any] = []
    for u in ok:
        c = u["point"].get(spec["x"], "all")
        if c not in cats:
            cats.append(c)
    ny = len(spec["y"])
    width = 0.8 / (ny + (1 if spec.get("paper") else 0))
    for j, name in enumerate(spec["y"]):
        means, errs = [], [[], []]
        for c in cats:
            vals = [float(u["metrics"][name]) for u in ok
                    if u["point"].get(spec["x"], "all") == c
                    and isinstance(u["metrics"].get(name), (int, float))
                    and math.isfinite(u["metrics"][name])]
            if len(vals) >= 2:
                iv = t_interval(vals)
                means.append(iv.mean)
                errs[0].append(iv.mean - iv.lo)
                errs[1].append(iv.hi - iv.mean)
            else:
                means.append(vals[0] if vals else math.nan)
                errs[0].append(0.0)
                errs[1].append(0.0)
        xs = [i + (j - (ny - 1) / 2) * width for i in range(len(cats))]
        ax.bar(xs, means, width=width * 0.95, yerr=errs, capsize=3,
               color=colours[j % len(colours)], alpha=0.8, label=f"{name} (ours, 95% CI)")
    paper = spec.get("paper") or {}
    if paper:
        xs = [i + (ny / 2) * width for i, c in enumerate(cats) if str(c) in paper]
        ys = [paper[str(c)] for c in cats if str(c) in paper]
        ax.scatter(xs, ys, marker="D", color="tab:red", zorder=4, label="paper")
    ax.axhline(0.0, color="black", lw=0.6)
    ax.set_xticks(range(len(cats)))
    ax.set_xticklabels([str(c) for c in cats], fontsize=7, rotation=20)
    ax.set_xlabel(spec["x"], fontsize=8)
    ax.legend(fontsize=6)
    ax.set_title(spec.get("title") or spec["name"], fontsize=9)
