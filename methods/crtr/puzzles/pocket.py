"""2x2x2 (pocket) cube: perfect-hash index, exact BFS distances, cached.

The DBL corner is never moved (only U, R, F turns), so a state is the permutation of the
other 7 corners (Lehmer code, 7! = 5040) and the twists of the first 6 (3^6 = 729; the 7th
follows from the twist sum being 0 mod 3): index = perm * 729 + twist, 3,674,160 states.

Move tables on the two coordinates are computed by converting each coordinate value to a
sticker state, applying the sticker move (``cube.move_tables(2)``) and reading it back, so
the coordinates inherit the geometry-derived moves. BFS is a numpy frontier expansion over
the index space (a uint8 distance table, 3.7 MB).

Move sets: "qtm" = U U' R R' F F' (6 quarter turns, God's number 14), "htm" adds U2 R2 F2
(9 face turns, God's number 11).
"""

from __future__ import annotations

import functools
import math
import os
import time
from pathlib import Path

import numpy as np

from . import cube

N = 2
N_PERM = math.factorial(7)
N_TWIST = 3 ** 6
N_STATES = N_PERM * N_TWIST  # 3,674,160
QTM_MOVES = (0, 1, 2, 3, 4, 5)  # U U' R R' F F' (cube move ids)
GODS_NUMBER = {"qtm": 14, "htm": 11}
UNSEEN = 255


@functools.cache
def _layout():
    """Corner slots (8, 3), the fixed corner's row, and the movable corners' rows."""
    slots = cube.cubie_slots(N)["corners"]
    pos, _ = cube.geometry(N)
    fixed = [i for i, s in enumerate(slots) if tuple(pos[s[0]]) == (-1, -1, -1)]
    movable = [i for i in range(len(slots)) if i not in fixed]
    return slots, fixed[0], np.array(movable)


def lehmer_rank(perm: np.ndarray) -> np.ndarray:
    """Rank (B,) of permutations (B, k) of 0..k-1 in lexicographic order."""
    p = np.asarray(perm)
    k = p.shape[1]
    r = np.zeros(p.shape[0], dtype=np.int64)
    for i in range(k):
        smaller = (p[:, i + 1:] < p[:, i:i + 1]).sum(axis=1)
        r = r * (k - i) + smaller
    return r


def lehmer_unrank(rank: np.ndarray, k: int) -> np.ndarray:
    rank = np.asarray(rank, dtype=np.int64).copy()
    digits = np.zeros((len(rank), k), dtype=np.int64)
    for i in range(k - 1, -1, -1):
        base = k - i
        digits[:, i] = rank % base
        rank //= base
    out = np.zeros_like(digits)
    avail = np.tile(np.arange(k), (len(rank), 1))
    rows = np.arange(len(rank))
    for i in range(k):
        order = np.argsort(avail, axis=1, kind="stable")  # used entries are pushed to k
        pick = order[rows, digits[:, i]]
        out[:, i] = avail[rows, pick]
        avail[rows, pick] = k + 1
    return out


def encode(states: np.ndarray) -> np.ndarray:
    """Index of each (B, 24) sticker state (the DBL corner must be in place)."""
    slots, fixed, movable = _layout()
    perm, orient = cube.cubies(states, N, "corners")
    if not (perm[:, fixed] == fixed).all():
        raise ValueError("the DBL corner is not in place (use only U, R, F moves)")
    p = perm[:, movable]
    p = np.searchsorted(movable, p)  # cubie ids -> 0..6
    tw = orient[:, movable[:6]] @ (3 ** np.arange(5, -1, -1))
    return lehmer_rank(p) * N_TWIST + tw


def decode(index: np.ndarray) -> np.ndarray:
    """(B, 24) int8 sticker states of the given indices."""
    slots, fixed, movable = _layout()
    index = np.asarray(index, dtype=np.int64)
    p = movable[lehmer_unrank(index // N_TWIST, 7)]  # cubie home ids at movable positions
    tw = index % N_TWIST
    o6 = (tw[:, None] // (3 ** np.arange(5, -1, -1))) % 3
    o = np.concatenate([o6, (-o6.sum(axis=1, keepdims=True)) % 3], axis=1)
    home = cube.solved(N)[slots]  # (8, 3)
    out = np.tile(cube.solved(N), (len(index), 1))
    # slot k of position q gets home colour (k - o) mod 3 of cubie p
    k = np.arange(3)
    cols = home[p[:, :, None], (k[None, None, :] - o[:, :, None]) % 3]  # (B, 7, 3)
    out[:, slots[movable].reshape(-1)] = cols.reshape(len(index), -1)
    return out


@functools.cache
def coordinate_tables(metric: str = "qtm") -> tuple[np.ndarray, np.ndarray, tuple[int, ...]]:
    """(perm table (M, 5040), twist table (M, 729), move sequences) for the move set."""
    seqs = _move_sequences(metric)
    pstates = decode(np.arange(N_PERM) * N_TWIST)
    tstates = decode(np.arange(N_TWIST))
    ptab, ttab = [], []
    for seq in seqs:
        a, b = pstates, tstates
        for m in seq:
            a, b = cube.apply_moves(a, m, N), cube.apply_moves(b, m, N)
        ptab.append(encode(a) // N_TWIST)
        ttab.append(encode(b) % N_TWIST)
    return np.stack(ptab), np.stack(ttab), seqs


def _move_sequences(metric: str) -> tuple[tuple[int, ...], ...]:
    q = tuple((m,) for m in QTM_MOVES)
    if metric == "qtm":
        return q
    if metric == "htm":
        return q + tuple((m, m) for m in (0, 2, 4))
    raise ValueError(f"parameter 'metric' must be 'qtm' or 'htm', got {metric!r}")


def neighbours_index(index: np.ndarray, metric: str = "qtm") -> np.ndarray:
    """(M, B) indices of every move applied to each index."""
    ptab, ttab, _ = coordinate_tables(metric)
    index = np.asarray(index, dtype=np.int64)
    return ptab[:, index // N_TWIST] * N_TWIST + ttab[:, index % N_TWIST]


def bfs(metric: str = "qtm", max_depth: int | None = None) -> np.ndarray:
    """uint8 distances from solved for all 3,674,160 indices (UNSEEN beyond max_depth)."""
    ptab, ttab, _ = coordinate_tables(metric)
    dist = np.full(N_STATES, UNSEEN, dtype=np.uint8)
    start = int(encode(cube.solved(N, 1))[0])
    dist[start] = 0
    frontier = np.array([start], dtype=np.int64)
    depth = 0
    while len(frontier) and (max_depth is None or depth < max_depth):
        p, t = frontier // N_TWIST, frontier % N_TWIST
        nxt = (ptab[:, p] * N_TWIST + ttab[:, t]).reshape(-1)
        nxt = nxt[dist[nxt] == UNSEEN]
        depth += 1
        dist[nxt] = depth  # duplicates write the same byte: no sort needed (issue 20)
        frontier = np.flatnonzero(dist == depth)  # sorted and unique, as np.unique gave
    return dist


def counts(dist: np.ndarray) -> np.ndarray:
    """States per distance 0..max (UNSEEN excluded)."""
    return np.bincount(dist[dist != UNSEEN])


def cache_dir() -> Path:
    import platformdirs

    return Path(os.environ.get("REPRO_CACHE_DIR") or platformdirs.user_cache_dir("repro")) / "crtr"


def distances(metric: str = "qtm") -> tuple[np.ndarray, float]:
    """Full BFS table, read from the cache dir or computed (and cached, checked against God's
    number); returns (table, seconds spent computing it, 0.0 when read from the cache)."""
    path = cache_dir() / f"pocket_{metric}_v1.npy"
    if path.exists():
        try:
            d = np.load(path)
            if d.shape == (N_STATES,) and d.dtype == np.uint8 and _valid(d, metric):
                return d, 0.0
        except (OSError, ValueError):
            pass
    t0 = time.perf_counter()
    d = bfs(metric)
    secs = time.perf_counter() - t0
    if not _valid(d, metric):
        raise AssertionError(f"pocket BFS ({metric}) is wrong: counts {counts(d).tolist()}")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp.npy")
    np.save(tmp, d)
    os.replace(tmp, path)
    return d, secs


def _valid(d: np.ndarray, metric: str) -> bool:
    return bool((d != UNSEEN).all() and int(d.max()) == GODS_NUMBER[metric])
