"""One figure per claim run: every check's per-seed values, its 95% interval and the
region where the claim holds; log-log panels for ``loglog_slope`` checks."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from .fsutil import atomic_write_bytes
from .results import point_text, quantity, shift

_COLOURS = {"reproduced": "tab:green", "not_reproduced": "tab:red",
            "inconclusive": "tab:orange", "error": "black", "skipped": "grey"}


def plot_record(record: dict[str, Any], path: Path) -> bool:
    """Draw the record's checks into ``path``; False when there is nothing to draw."""
    checks = [c for c in record["checks"] if any(g.get("interval") for g in c["groups"])]
    if not checks:
        return False
    import io

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    slope_checks = [c for c in checks if c["op"] == "loglog_slope"]
    n = len(checks) + len(slope_checks)
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
            ax.errorbar([i + 0.15], [iv["mean"] + s],
                        yerr=[[iv["mean"] - iv["lo"]], [iv["hi"] - iv["mean"]]],
                        fmt="o", color=_COLOURS.get(g["verdict"], "k"), capsize=4, zorder=4)
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
        ax.set_title(f"{c['name']}: {c['verdict']}", fontsize=9)
        ax.set_ylabel(quantity(c), fontsize=8)
    k = len(checks)
    for c in slope_checks:
        ax = flat[k]
        k += 1
        _loglog_panel(ax, c, record["units"])
    for ax in flat[n:]:
        ax.axis("off")
    fig.suptitle(f"{record['claim']['id']} ({record['scale']}): {record['verdict']}", fontsize=10)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    plt.close(fig)
    atomic_write_bytes(path, buf.getvalue())
    return True


def _loglog_panel(ax: Any, c: dict[str, Any], units: list[dict[str, Any]]) -> None:
    import numpy as np

    over, metric = c["over"], c["metric"]
    ok = [u for u in units if u["status"] == "ok" and over in u["point"]]
    seeds = sorted({u["seed_index"] for u in ok})
    xs_all = sorted({float(u["point"][over]) for u in ok})
    for si in seeds:
        pts = sorted((float(u["point"][over]), u["metrics"][metric]) for u in ok
                     if u["seed_index"] == si)
        ax.loglog([p[0] for p in pts], [p[1] for p in pts], color="grey", alpha=0.4, lw=0.8)
    if ok and xs_all:
        ys = np.array([[u["metrics"][metric] for u in ok if float(u["point"][over]) == x]
                       for x in xs_all], dtype=object)
        med = [float(np.median(np.array(y, dtype=float))) for y in ys]
        ax.loglog(xs_all, med, "o", color="tab:blue", label="median over seeds")
        g = c["groups"][0]
        if g.get("interval"):
            slope = g["interval"]["mean"]
            x0, y0 = xs_all[0], med[0]
            ax.loglog(xs_all, [y0 * (x / x0) ** slope for x in xs_all], color="tab:blue",
                      label=f"fit slope {slope:.3g}")
            target = (c["region"][0] + c["region"][1]) / 2
            ax.loglog(xs_all, [y0 * (x / x0) ** target for x in xs_all], "--", color="tab:red",
                      label=f"reference slope {target:.3g}")
    ax.set_xlabel(over)
    ax.set_ylabel(metric)
    ax.legend(fontsize=7)
    ax.set_title(f"{c['name']}: log-log", fontsize=9)
