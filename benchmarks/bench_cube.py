"""Benchmark of the CRTR puzzles (methods.crtr) -- a script, not a test.

    python benchmarks/bench_cube.py --out results/benchmarks

1. Batched 3x3x3 moves per second on the CPU: ``cube.apply_moves`` on a (B, 54) int8 batch
   with one random quarter turn per state (a gather), against the pure-Python libraries
   magiccube and pycuber turning one cube at a time (bench-only dependencies:
   ``pip install -e ".[bench]"``). All in one process, interleaved repeats, median; the
   ratio ours / theirs is the goal (>= 50x). Before timing, a random 200-move sequence is
   applied both ways and compared as a sanity check of the move semantics where the
   library exposes its stickers (magiccube: colour counts per face and solved-after-inverse;
   no facelet-order mapping is attempted).
2. Full 2x2x2 breadth-first enumeration (3,674,160 states; quarter- and half-turn
   metrics), wall time including the coordinate move tables (goal < 60 s on 2 cores);
   counts checked against God's number.
3. Best-first search throughput (tree nodes per second) on the 2x2x2 and the 3x3x3 with
   an untrained 256-wide scoring MLP (one thread) and with a constant score (search
   overhead only).

Writes ``cube.json`` (numbers + provenance) and ``cube.md`` (tables) under ``--out``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout

from methods.crtr import core  # noqa: E402
from methods.crtr.puzzles import cube, pocket  # noqa: E402
from methods.crtr.search import best_first  # noqa: E402
from repro.provenance import cpu_model  # noqa: E402
from repro.records import dumps_json  # noqa: E402  # standard JSON

try:
    import magiccube
    import pycuber
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise SystemExit('magiccube and pycuber are needed: pip install -e ".[bench]"  (' + str(exc)
                     + ")") from exc

NAMES = cube.MOVE_NAMES


def git_state() -> dict:
    root = Path(__file__).resolve().parents[1]

    def run(*args):
        try:
            return subprocess.run(["git", *args], cwd=root, capture_output=True, text=True,
                                  timeout=10).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            return ""

    dirty = run("status", "--porcelain", "--", "methods/crtr", "benchmarks/bench_cube.py")
    return {"commit": run("rev-parse", "HEAD") or None, "dirty_crtr_or_bench": bool(dirty)}


def version(pkg: str) -> str:
    import importlib.metadata as md

    try:
        return md.version(pkg)
    except md.PackageNotFoundError:
        return "unknown"


# ---- 1. moves per second ------------------------------------------------------------------


def time_ours(batch: int, n_moves: int, rng) -> float:
    s = cube.scramble(rng, batch, 20)
    moves = rng.integers(0, 12, (n_moves, batch))
    t0 = time.perf_counter()
    for m in moves:
        s = cube.apply_moves(s, m, 3)
    return batch * n_moves / (time.perf_counter() - t0)


def time_magiccube(n_moves: int, rng) -> float:
    c = magiccube.Cube(3)
    seq = [NAMES[i] for i in rng.integers(0, 12, n_moves)]
    t0 = time.perf_counter()
    for m in seq:
        c.rotate(m)
    return n_moves / (time.perf_counter() - t0)


def time_pycuber(n_moves: int, rng) -> float:
    c = pycuber.Cube()
    seq = [NAMES[i] for i in rng.integers(0, 12, n_moves)]
    t0 = time.perf_counter()
    for m in seq:
        c(m)
    return n_moves / (time.perf_counter() - t0)


def sanity(rng) -> dict:
    """The same random sequence, then its inverse: every implementation returns to solved."""
    seq = [int(x) for x in rng.integers(0, 12, 200)]
    inv = [m ^ 1 for m in reversed(seq)]
    ours = cube.apply_sequence(cube.solved(3, 1), seq + inv, 3)
    mc = magiccube.Cube(3)
    mc.rotate(" ".join(NAMES[m] for m in seq + inv))
    pc = pycuber.Cube()
    pc(" ".join(NAMES[m] for m in seq + inv))
    return {"ours_solved_after_inverse": bool(cube.is_solved(ours)[0]),
            "magiccube_solved_after_inverse": bool(mc.is_done()),
            "pycuber_solved_after_inverse": pc == pycuber.Cube()}


def bench_moves(args, log) -> dict:
    rng = np.random.default_rng(0)
    impls = {
        "ours": lambda: time_ours(args.batch, args.batched_moves, rng),
        "magiccube": lambda: time_magiccube(args.library_moves, rng),
        "pycuber": lambda: time_pycuber(args.library_moves // 10, rng),
    }
    for f in impls.values():  # warm-up
        f()
    rates = {k: [] for k in impls}
    names = list(impls)
    for r in range(args.repeats):
        for k in names[r % 3:] + names[: r % 3]:
            rates[k].append(impls[k]())
    med = {k: statistics.median(v) for k, v in rates.items()}
    out = {k: {"median_moves_per_s": med[k], "per_repeat": rates[k]} for k in impls}
    for k in ("magiccube", "pycuber"):
        out[k]["ratio_ours_over"] = med["ours"] / med[k]
        out[k]["goal_50x_met"] = bool(med["ours"] / med[k] >= 50)
    out["sanity"] = sanity(rng)
    log(f"moves/s: {{{', '.join(f'{k}: {v:,.0f}' for k, v in med.items())}}}")
    return out


# ---- 2. 2x2x2 BFS --------------------------------------------------------------------------


def bench_bfs(args, log) -> dict:
    out = {}
    for metric in ("qtm", "htm"):
        pocket.coordinate_tables.cache_clear()
        c0 = time.process_time()
        t0 = time.perf_counter()
        pocket.coordinate_tables(metric)
        t1 = time.perf_counter()
        d = pocket.bfs(metric)
        t2 = time.perf_counter()
        cpu = time.process_time() - c0
        c = pocket.counts(d)
        out[metric] = {"tables_s": t1 - t0, "bfs_s": t2 - t1, "total_s": t2 - t0, "cpu_s": cpu,
                       "states": int(c.sum()), "gods_number": int(len(c) - 1),
                       "gods_number_ok": int(len(c) - 1) == pocket.GODS_NUMBER[metric],
                       "goal_60s_met": (t2 - t0) < 60}
        log(f"BFS {metric}: {t2 - t0:.2f} s, {c.sum():,} states, depth {len(c) - 1}")
    return out


# ---- 3. search nodes per second -----------------------------------------------------------


def bench_search(args, log) -> dict:
    torch.manual_seed(0)
    rng = np.random.default_rng(1)
    out = {}
    for n, moves, width in ((2, np.array(pocket.QTM_MOVES), 256), (3, np.arange(12), 256)):
        net = core.Encoder(6 * n * n * 6, width, 64, 0, 2).eval()
        goal = net(torch.from_numpy(cube.one_hot(cube.solved(n, 1))))[0].detach()

        def mlp(states, net=net, goal=goal):
            with torch.no_grad():
                psi = net(torch.from_numpy(cube.one_hot(states)))
            return core.latent_distance(psi, goal, "dot").numpy()

        roots = cube.scramble(rng, args.search_roots, 30, n)
        for name, score in (("mlp", mlp), ("constant", lambda s: np.zeros(len(s)))):
            t0 = time.perf_counter()
            res = best_first(roots, lambda s, n=n, moves=moves: cube.neighbours(s, n, moves),
                             cube.is_solved, score, n_actions=len(moves),
                             max_nodes=args.search_nodes)
            secs = time.perf_counter() - t0
            out[f"{n}x{n}x{n}_{name}"] = {"nodes": int(res.nodes.sum()), "seconds": secs,
                                          "nodes_per_s": float(res.nodes.sum() / secs),
                                          "children_scored": res.children_scored}
            log(f"search {n}x{n}x{n} {name}: {res.nodes.sum() / secs:,.0f} nodes/s")
    return out


def markdown(res) -> str:
    p, cfg, mv = res["provenance"], res["config"], res["moves"]
    lines = [
        "# Cube benchmark: batched moves, 2x2x2 BFS, search throughput",
        "",
        f"Generated by `{cfg['command']}` on {p['date_utc']}.",
        "",
        f"numpy {p['numpy']}, torch {p['torch']}, magiccube {p['magiccube']}, pycuber "
        f"{p['pycuber']}, Python {p['python']}; CPU: {p['cpu_model']} ({p['logical_cpus']} "
        f"logical CPUs, shared with other jobs); torch threads {p['torch_threads']}; load "
        f"average at start / end {p['loadavg_start']} / {p['loadavg_end']}; git "
        f"{p['git']['commit']}.",
        "",
        f"## 3x3x3 quarter turns per second (median of {cfg['repeats']} interleaved repeats)",
        "",
        f"Ours: one random move per state on a batch of {cfg['batch']:,} int8 (B, 54) states "
        f"(`take_along_axis` gather), {cfg['batched_moves']} batched moves per measurement. "
        "Libraries: one cube, one move at a time.",
        "",
        "| implementation | moves / s | ours / it | goal >= 50x |",
        "|---|---|---|---|",
        f"| ours (`methods.crtr.puzzles.cube`) | {mv['ours']['median_moves_per_s']:,.0f} | - | - |",
    ]
    for k in ("magiccube", "pycuber"):
        r = mv[k]
        lines.append(f"| {k} | {r['median_moves_per_s']:,.0f} | {r['ratio_ours_over']:,.0f}x | "
                     f"{'met' if r['goal_50x_met'] else 'NOT met'} |")
    s = mv["sanity"]
    lines += ["", "Sanity (200 random moves, then their inverses, must give solved): "
              + ", ".join(f"{k.replace('_solved_after_inverse', '')} {'ok' if v else 'FAILED'}"
                          for k, v in s.items()) + ".",
              "", "## Full 2x2x2 breadth-first enumeration (goal < 60 s)", "",
              "Wall times on a shared machine; CPU time of the process beside them.", "",
              "| metric | move tables (s) | BFS (s) | total wall (s) | total CPU (s) | states | "
              "God's number | goal (wall) |",
              "|---|---|---|---|---|---|---|---|"]
    for m, r in res["bfs"].items():
        lines.append(f"| {m.upper()} | {r['tables_s']:.2f} | {r['bfs_s']:.2f} | "
                     f"{r['total_s']:.2f} | {r['cpu_s']:.2f} | {r['states']:,} | "
                     f"{r['gods_number']} "
                     f"({'ok' if r['gods_number_ok'] else 'WRONG'}) | "
                     f"{'met' if r['goal_60s_met'] else 'NOT met'} |")
    lines += ["", f"## Best-first search throughput ({cfg['search_roots']} roots of 30-move "
              f"scrambles, tree cap {cfg['search_nodes']} nodes each, all children pushed)", "",
              "| puzzle, score | tree nodes | seconds | nodes / s |", "|---|---|---|---|"]
    for k, r in res["search"].items():
        lines.append(f"| {k.replace('_', ', ')} | {r['nodes']:,} | {r['seconds']:.2f} | "
                     f"{r['nodes_per_s']:,.0f} |")
    lines += ["", "mlp = an untrained 256-wide MLP with 2 residual blocks scoring every child "
              "(one torch thread); constant = no network (search overhead only).", ""]
    return "\n".join(lines)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=Path("results/benchmarks"))
    ap.add_argument("--batch", type=int, default=10000)
    ap.add_argument("--batched-moves", type=int, default=50)
    ap.add_argument("--library-moves", type=int, default=5000)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--search-roots", type=int, default=20)
    ap.add_argument("--search-nodes", type=int, default=2000)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    start_load = os.getloadavg()

    def log(msg):
        print(msg, flush=True)

    res = {"moves": bench_moves(args, log), "bfs": bench_bfs(args, log),
           "search": bench_search(args, log)}
    res["config"] = {**{k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
                     "command": "python " + " ".join([Path(sys.argv[0]).as_posix(),
                                                      *sys.argv[1:]])}
    res["provenance"] = {
        "date_utc": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "numpy": np.__version__, "torch": torch.__version__,
        "magiccube": version("magiccube"), "pycuber": version("pycuber"),
        "python": platform.python_version(), "cpu_model": cpu_model(),
        "logical_cpus": os.cpu_count(), "torch_threads": torch.get_num_threads(),
        "loadavg_start": [round(x, 2) for x in start_load],
        "loadavg_end": [round(x, 2) for x in os.getloadavg()],
        "platform": platform.platform(), "git": git_state(),
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "cube.json").write_text(dumps_json(res, 2))
    (args.out / "cube.md").write_text(markdown(res))
    log(f"wrote {args.out / 'cube.json'} and {args.out / 'cube.md'}")


if __name__ == "__main__":
    main()
