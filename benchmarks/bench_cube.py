"""Benchmark of the CRTR puzzles (methods.crtr) -- a script, not a test.

    python benchmarks/bench_cube.py --out results/benchmarks

1. Batched 3x3x3 moves per second on the CPU: ``cube.apply_moves`` on a (B, 54) int8 batch
   with one random quarter turn per state -- the old formula (``take_along_axis`` through a
   (B, 54) int64 index array, kept as ``cube._apply_moves_reference``) against the new
   copy-and-patch kernel, on one core and on two (the batch split in halves over two
   threads; the kernel releases the GIL), beside a bandwidth bound measured in the same
   run: memcpy of a buffer of the batch's size (1 and 2 threads), divided by the bytes a
   state-move must move (read 54 B + write 54 B + the 8 B move id; the patch tables, 480 B,
   stay in L1). A large batch (``--large-batch``, beyond the L2 cache) is measured the
   same way against a memcpy of its size. Also the pure-Python libraries magiccube and
   pycuber turning one cube at a time (bench-only dependencies: ``pip install -e
   ".[bench]"``). All in one process, interleaved repeats, median. Before timing, a random
   200-move sequence is applied both ways and compared as a sanity check of the move
   semantics where the library exposes its stickers (magiccube: colour counts per face and
   solved-after-inverse; no facelet-order mapping is attempted).
2. Full 2x2x2 breadth-first enumeration (3,674,160 states; quarter- and half-turn
   metrics), wall time including the coordinate move tables (goal < 60 s on 2 cores);
   counts checked against God's number; beside it a bandwidth lower bound (states x moves
   x bytes per generated neighbour / a large-buffer memcpy bandwidth, argued in
   ``bfs_bound``).
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
from concurrent.futures import ThreadPoolExecutor
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
BUSY_LOAD = 1.0  # 1-min load at the start above which the page warns of a busy machine


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

S3 = 54  # stickers of a 3x3x3 state (int8)
BYTES_NEW = S3 + S3 + 8  # read the state, write the moved state, read the int64 move id
BYTES_OLD = BYTES_NEW + 2 * 8 * S3  # + write and read back the (B, 54) int64 index array
POOL = ThreadPoolExecutor(1)  # the second thread of the two-thread measurements


def _halves(n):
    return ((0, n // 2), (n // 2, n))


def apply_old_2threads(s, m):
    out = np.empty_like(s)

    def work(a, z):
        out[a:z] = cube._apply_moves_reference(s[a:z], m[a:z], 3)

    (a0, z0), (a1, z1) = _halves(len(s))
    f = POOL.submit(work, a1, z1)
    work(a0, z0)
    f.result()
    return out


APPLY = {
    "old_1core": lambda s, m: cube._apply_moves_reference(s, m, 3),
    "new_1core": lambda s, m: cube.apply_moves(s, m, 3),
    "old_2threads": apply_old_2threads,
    "new_2threads": lambda s, m: cube.apply_moves(s, m, 3, threads=2),
}


def moves_timer(apply, s0, moves):
    """State-moves per second of ``len(moves)`` batched moves from ``s0``."""
    def run():
        s = s0
        t0 = time.perf_counter()
        for m in moves:
            s = apply(s, m)
        return s0.shape[0] * len(moves) / (time.perf_counter() - t0)
    return run


def memcpy_timer(n_bytes, reps, threads):
    """memcpy bandwidth (bytes read + written per second) of an n_bytes buffer; two threads
    each copy their half ``reps`` times (one hand-off per measurement, so that this is a
    bandwidth, not the threads' hand-off latency)."""
    src = np.ones(n_bytes, np.int8)
    dst = np.empty_like(src)

    def copies(a, z):
        for _ in range(reps):
            np.copyto(dst[a:z], src[a:z])

    def run():
        t0 = time.perf_counter()
        if threads == 1:
            copies(0, n_bytes)
        else:
            (a0, z0), (a1, z1) = _halves(n_bytes)
            f = POOL.submit(copies, a1, z1)
            copies(a0, z0)
            f.result()
        return 2 * n_bytes * reps / (time.perf_counter() - t0)
    return run


def batch_rates(batch, n_moves, repeats, rng, log, tag) -> dict:
    """Interleaved old / new kernels and memcpy (1 and 2 threads) on one batch size."""
    s0 = cube.scramble(rng, batch, 20)
    moves = rng.integers(0, 12, (n_moves, batch))
    for k, f in APPLY.items():  # bit-identical results before timing
        if k != "old_1core" and not np.array_equal(f(s0, moves[0]), APPLY["old_1core"](
                s0, moves[0])):
            raise AssertionError(f"{k} differs from the reference formula")
    reps = max(1, int(2e8 // (batch * S3)))  # ~200 MB of memcpy per measurement
    timers = {k: moves_timer(f, s0, moves) for k, f in APPLY.items()}
    timers |= {"memcpy_1core": memcpy_timer(batch * S3, reps, 1),
               "memcpy_2threads": memcpy_timer(batch * S3, reps, 2)}
    for f in timers.values():  # warm-up
        f()
    names = list(timers)
    rates = {k: [] for k in names}
    for r in range(repeats):
        for k in names[r % len(names):] + names[: r % len(names)]:
            rates[k].append(timers[k]())
    med = {k: statistics.median(v) for k, v in rates.items()}
    out = {"batch": batch, "batched_moves": n_moves, "memcpy_reps": reps,
           "state_bytes": batch * S3}
    for k in APPLY:
        cores = k.split("_")[1]
        bw = med[f"memcpy_{cores}"]
        bound = bw / BYTES_NEW
        out[k] = {"median_state_moves_per_s": med[k], "per_repeat": rates[k],
                  "bound_state_moves_per_s": bound, "ratio_ours_over_bound": med[k] / bound}
    for cores in ("1core", "2threads"):
        out[f"memcpy_{cores}"] = {"median_bytes_per_s": med[f"memcpy_{cores}"],
                                  "per_repeat": rates[f"memcpy_{cores}"]}
        out[f"new_{cores}"]["ratio_new_over_old"] = med[f"new_{cores}"] / med[f"old_{cores}"]
        out[f"new_{cores}"]["goal_10M_met"] = bool(med[f"new_{cores}"] >= 1e7)
    log(f"moves/s ({tag}, B={batch:,}): " + ", ".join(
        f"{k} {med[k]:,.0f}" for k in APPLY) + f"; memcpy {med['memcpy_1core'] / 1e9:.1f} / "
        f"{med['memcpy_2threads'] / 1e9:.1f} GB/s")
    return out


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
    if not cube.kernel_available():
        raise SystemExit("the numba move kernel is unavailable: nothing new to measure")
    load = [round(x, 2) for x in os.getloadavg()]
    out = {"bytes_per_state_move": {"new": BYTES_NEW, "old": BYTES_OLD},
           "loadavg_before": load,
           "batch": batch_rates(args.batch, args.batched_moves, args.repeats, rng, log,
                                "benchmark batch"),
           "large_batch": batch_rates(args.large_batch, args.large_batch_moves,
                                      args.large_repeats, rng, log, "large batch")}
    impls = {
        "ours": lambda: moves_timer(APPLY["new_1core"], *_lib_batch(args, rng))(),
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
    lib = {k: {"median_moves_per_s": med[k], "per_repeat": rates[k]} for k in impls}
    for k in ("magiccube", "pycuber"):
        lib[k]["ratio_ours_over"] = med["ours"] / med[k]
        lib[k]["goal_50x_met"] = bool(med["ours"] / med[k] >= 50)
    out["libraries"] = lib
    out["sanity"] = sanity(rng)
    out["loadavg_after"] = [round(x, 2) for x in os.getloadavg()]
    log(f"libraries moves/s: {{{', '.join(f'{k}: {v:,.0f}' for k, v in med.items())}}}")
    return out


def _lib_batch(args, rng):
    return cube.scramble(rng, args.batch, 20), rng.integers(0, 12, (args.batched_moves,
                                                                  args.batch))


# ---- 2. 2x2x2 BFS --------------------------------------------------------------------------


BFS_BYTES_PER_NEIGHBOUR = 4 + 4 + 1  # write its index (uint32 suffices), read it back, dist byte
BFS_BYTES_PER_STATE = 4 + 1  # read it from the frontier once, write its distance once


def bench_bfs(args, log) -> dict:
    """Wall time of the full enumeration beside a bandwidth lower bound: any frontier BFS over
    the index space must, per (state, move), write the neighbour's index and read it back to
    look its distance up (4 + 4 B as uint32 -- 3,674,160 < 2^32 -- and 1 B of the uint8
    table, generously counted as 1 B although a random read moves a cache line), and per
    state read it from the frontier and write its distance (5 B). bound = states x (moves x
    9 + 5) B / the memcpy bandwidth of a 64 MB buffer (the size of the largest neighbour
    array, int64), measured just before and after (median of 6). Compute (division, the
    table gathers, np.unique's sort) is not in the bound."""
    bw_timer = memcpy_timer(64 * 2**20, 3, 1)
    bws = [bw_timer() for _ in range(3)]
    out = {}
    for metric in ("qtm", "htm"):
        pocket.coordinate_tables.cache_clear()
        c0 = time.process_time()
        t0 = time.perf_counter()
        ptab, _, _ = pocket.coordinate_tables(metric)
        t1 = time.perf_counter()
        d = pocket.bfs(metric)
        t2 = time.perf_counter()
        cpu = time.process_time() - c0
        c = pocket.counts(d)
        out[metric] = {"tables_s": t1 - t0, "bfs_s": t2 - t1, "total_s": t2 - t0, "cpu_s": cpu,
                       "states": int(c.sum()), "moves": int(ptab.shape[0]),
                       "gods_number": int(len(c) - 1),
                       "gods_number_ok": int(len(c) - 1) == pocket.GODS_NUMBER[metric],
                       "goal_60s_met": (t2 - t0) < 60}
        log(f"BFS {metric}: {t2 - t0:.2f} s, {c.sum():,} states, depth {len(c) - 1}")
    bws += [bw_timer() for _ in range(3)]
    bw = statistics.median(bws)
    for r in out.values():
        r["bound_bytes"] = r["states"] * (r["moves"] * BFS_BYTES_PER_NEIGHBOUR
                                          + BFS_BYTES_PER_STATE)
        r["bound_s"] = r["bound_bytes"] / bw
        r["ratio_bfs_over_bound"] = r["bfs_s"] / r["bound_s"]
    out["memcpy_64MB_bytes_per_s"] = {"median": bw, "per_repeat": bws}
    log(f"BFS bound: memcpy 64 MB {bw / 1e9:.1f} GB/s, qtm {out['qtm']['bound_s'] * 1e3:.1f} ms,"
        f" htm {out['htm']['bound_s'] * 1e3:.1f} ms")
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


def _moves_table(r, title) -> list[str]:
    bw1 = r["memcpy_1core"]["median_bytes_per_s"]
    bw2 = r["memcpy_2threads"]["median_bytes_per_s"]
    lines = [f"{title}: batch of {r['batch']:,} int8 (B, 54) states ({r['state_bytes'] / 1e6:.2f} "
             f"MB), {r['batched_moves']} batched moves per measurement; memcpy "
             f"{r['memcpy_1core']['median_bytes_per_s'] / 1e9:.1f} GB/s on 1 thread, "
             f"{r['memcpy_2threads']['median_bytes_per_s'] / 1e9:.1f} GB/s on 2 (same buffer "
             "size, read + write bytes per second; 2 / 1 thread = "
             f"{bw2 / bw1:.2f}"
             ": how much of a second core this run had).", "",
             "| implementation | cores | state-moves / s | bound (memcpy / 116 B) | ours / bound "
             "| new / old | goal >= 10 M/s |", "|---|---|---|---|---|---|---|"]
    for k, label in (("old_1core", "old: `take_along_axis` gather"),
                     ("new_1core", "new: copy-and-patch kernel"),
                     ("old_2threads", "old: `take_along_axis` gather"),
                     ("new_2threads", "new: copy-and-patch kernel")):
        x = r[k]
        new = k.startswith("new")
        gain = f"{x['ratio_new_over_old']:.1f}x" if new else "-"
        goal = ("met" if x["goal_10M_met"] else "NOT met") if new else "-"
        lines.append(
            f"| {label} | {'1' if '1core' in k else '2 (threads)'} | "
            f"{x['median_state_moves_per_s']:,.0f} | {x['bound_state_moves_per_s']:,.0f} | "
            f"{x['ratio_ours_over_bound']:.3f} | "
            f"{gain} | {goal} |")
    return lines


def markdown(res) -> str:
    p, cfg, mv = res["provenance"], res["config"], res["moves"]
    lib = mv["libraries"]
    # another job held at least one of the cores before this run started
    busy = p["loadavg_start"][0] > BUSY_LOAD
    lines = [
        "# Cube benchmark: batched moves, 2x2x2 BFS, search throughput",
        "",
        f"Generated by `{cfg['command']}` on {p['date_utc']}.",
        "",
        f"numpy {p['numpy']}, numba {p['numba']}, torch {p['torch']}, magiccube "
        f"{p['magiccube']}, pycuber {p['pycuber']}, Python {p['python']}; CPU: {p['cpu_model']} "
        f"({p['logical_cpus']} logical CPUs); torch threads "
        f"{p['torch_threads']}; git {p['git']['commit']}.",
        "",
        f"{'**Loaded machine**: ' if busy else 'Load: '}1-min load average "
        f"{p['loadavg_start'][0]} at the start, "
        f"{mv['loadavg_before'][0]} / {mv['loadavg_after'][0]} around the move measurements, "
        f"{p['loadavg_end'][0]} at the end (the benchmark itself holds one core, two in the "
        "two-thread rows)."
        + (" Other work held a core when it began: absolute rates are from a busy machine, "
           "the two-thread ones most of all (the second thread competes for a busy core); "
           "the ratios within one run (ours / bound, new / old) are what count."
           if busy else ""),
        "",
        f"## 3x3x3 quarter turns per second (median of {cfg['repeats']} / "
        f"{cfg['large_repeats']} interleaved repeats)",
        "",
        "One random quarter turn per state. *Old*: `take_along_axis` through the (B, 54) int64 "
        "index array `move_tables(3)[moves]` (kept as `cube._apply_moves_reference`). *New* "
        "(`cube.apply_moves`): copy the batch, then a numba kernel (nogil) rewrites the 20 "
        "stickers the state's move changes (a quarter turn leaves 34 of 54 in place). Two "
        "cores: `apply_moves(..., threads=2)`, the batch cut in 8 chunks that the calling "
        "thread and one pool thread take in turn (the kernel releases the GIL); the old "
        "formula split in two halves over two threads in the benchmark. The per-call thread "
        "hand-off (tens of microseconds, more when the other core is busy) is part of the "
        "two-core rate, not of its bound. Results bit-identical to the old formula "
        "(checked before timing and in tests/methods/test_cube_kernel.py).",
        "",
        f"Bytes per state-move: read the 54 B state, write the 54 B moved state, read the 8 B "
        f"int64 move id = {mv['bytes_per_state_move']['new']} B (the uint8 patch tables, "
        "2 x 12 x 20 B, stay in L1). The bound is the memcpy bandwidth of a buffer of the "
        "batch's size, "
        "measured in the same run and thread count, divided by that. (The old formula also "
        "writes and reads back 432 B of int64 indices per state: "
        f"{mv['bytes_per_state_move']['old']} B, its own bound would be 8x lower.)",
        "",
        *_moves_table(mv["batch"], "Benchmark batch"),
        "",
        *_moves_table(mv["large_batch"], "Large batch (beyond L2)"),
        "",
        "Against the pure-Python libraries (one cube, one move at a time; ours = the new "
        "kernel on one core, benchmark batch):",
        "",
        "| implementation | moves / s | ours / it | goal >= 50x |",
        "|---|---|---|---|",
        f"| ours (`methods.crtr.puzzles.cube`) | {lib['ours']['median_moves_per_s']:,.0f} "
        "| - | - |",
    ]
    for k in ("magiccube", "pycuber"):
        r = lib[k]
        lines.append(f"| {k} | {r['median_moves_per_s']:,.0f} | {r['ratio_ours_over']:,.0f}x | "
                     f"{'met' if r['goal_50x_met'] else 'NOT met'} |")
    s = mv["sanity"]
    bfs = res["bfs"]
    lines += ["", "Sanity (200 random moves, then their inverses, must give solved): "
              + ", ".join(f"{k.replace('_solved_after_inverse', '')} {'ok' if v else 'FAILED'}"
                          for k, v in s.items()) + ".",
              "", "## Full 2x2x2 breadth-first enumeration (goal < 60 s)", "",
              f"Wall times{' on a busy machine' if busy else ''}; CPU time of the process "
              "beside them. Bound: a "
              "bandwidth lower bound for any frontier BFS over the 3,674,160 indices: per "
              f"(state, move) write the neighbour's index and read it back (uint32, 4 + 4 B) and "
              f"read its distance byte (1 B), per state read it from the frontier and write its "
              f"distance (5 B): states x (moves x 9 + 5) B / memcpy bandwidth of a 64 MB buffer "
              f"({bfs['memcpy_64MB_bytes_per_s']['median'] / 1e9:.1f} GB/s, same run). It "
              "leaves out all compute (the int64 division, the table gathers, np.unique's sort).",
              "",
              "| metric | move tables (s) | BFS (s) | bound (s) | BFS / bound | total wall (s) "
              "| total CPU (s) | states | God's number | goal (wall) |",
              "|---|---|---|---|---|---|---|---|---|---|"]
    for m in ("qtm", "htm"):
        r = bfs[m]
        lines.append(f"| {m.upper()} | {r['tables_s']:.2f} | {r['bfs_s']:.2f} | "
                     f"{r['bound_s']:.4f} | {r['ratio_bfs_over_bound']:,.0f}x | "
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
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--large-batch", type=int, default=500_000)
    ap.add_argument("--large-batch-moves", type=int, default=3)
    ap.add_argument("--large-repeats", type=int, default=3)
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
        "numpy": np.__version__, "numba": version("numba"), "torch": torch.__version__,
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
