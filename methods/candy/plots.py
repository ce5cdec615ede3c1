"""Figures the harness's claim-level plots cannot draw (they have one x metric per panel and one
colour per unit): latent trajectories coloured by session, before and after alignment, and
eigenvalues in the complex plane, true vs learned, with the unit circle.

Reads a result file written by ``repro run`` and writes PNGs next to it:

    python -m methods.candy.plots results/candy_spiral_alignment/default.json

- ``candy_latents.png``: for the first unit of every sweep point, the first test trial of
  every session in per-session PCA coordinates (before), in the lambda_c = 0 model's latent
  (when the result has it) and in the learned latent (after);
- ``candy_eigenvalues.png``: true eigenvalues and the learned A's eigenvalues of every unit.
Only panels whose metrics the result holds are drawn.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np


def _split(metrics: dict, prefix: str) -> list[tuple[np.ndarray, np.ndarray]]:
    x = np.asarray(metrics[f"{prefix}_x"])
    y = np.asarray(metrics[f"{prefix}_y"])
    s = np.asarray(metrics[f"{prefix}_session"])
    return [(x[s == i], y[s == i]) for i in np.unique(s)]


def _label(point: dict) -> str:
    return ", ".join(f"{k}={v}" for k, v in point.items()) or "all"


def latent_figure(units: list[dict], path: Path) -> bool:
    import matplotlib.pyplot as plt

    firsts = {}
    for u in units:
        if u["status"] == "ok" and "traj_after_x" in u["metrics"]:
            firsts.setdefault(_label(u["point"]), u)
    if not firsts:
        return False
    panels = [
        ("traj_before", "before: per-session PCA"),
        ("traj_nocon", "no contrastive term (lambda_c = 0)"),
        ("traj_after", "after: learned latent"),
    ]
    panels = [p for p in panels if any(f"{p[0]}_x" in u["metrics"] for u in firsts.values())]
    fig, axes = plt.subplots(
        len(firsts), len(panels), figsize=(4 * len(panels), 3.6 * len(firsts)), squeeze=False
    )
    for row, (label, u) in enumerate(firsts.items()):
        for col, (prefix, title) in enumerate(panels):
            ax = axes[row, col]
            for i, (x, y) in enumerate(_split(u["metrics"], prefix)):
                ax.plot(x, y, "-", lw=1.2, label=f"session {i}")
                ax.plot(x[:1], y[:1], "o", ms=4, color=ax.lines[-1].get_color())
            ax.set_title(f"{title} ({label}, seed {u['seed_index']})", fontsize=8)
            ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


def eigen_figure(units: list[dict], path: Path) -> bool:
    import matplotlib.pyplot as plt

    ok = [u for u in units if u["status"] == "ok" and "eig_learned_re" in u["metrics"]]
    if not ok:
        return False
    fig, ax = plt.subplots(figsize=(4.8, 4.8))
    t = np.linspace(0, 2 * np.pi, 200)
    ax.plot(np.cos(t), np.sin(t), color="grey", lw=0.6)
    m = ok[0]["metrics"]
    ax.scatter(
        m["eig_true_re"], m["eig_true_im"], marker="x", s=80, color="k", label="true", zorder=4
    )
    for u in ok:
        mm = u["metrics"]
        ax.scatter(
            mm["eig_learned_re"],
            mm["eig_learned_im"],
            s=18,
            alpha=0.7,
            label=f"learned ({_label(u['point'])}, seed {u['seed_index']})",
        )
    ax.set_aspect("equal")
    ax.set_xlabel("Re")
    ax.set_ylabel("Im")
    ax.legend(fontsize=6)
    ax.set_title("eigenvalues of A", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


def main(argv: list[str]) -> int:
    for arg in argv:
        p = Path(arg)
        rec = json.loads(p.read_text())
        units = rec["units"]
        for name, fn in (
            ("candy_latents.png", latent_figure),
            ("candy_eigenvalues.png", eigen_figure),
        ):
            if fn(units, p.parent / name):
                print(p.parent / name)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
