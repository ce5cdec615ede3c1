"""Vectorised N x N x N cubes (N = 2, 3) as sticker arrays, moves derived from geometry.

A sticker is a cubie position p (doubled coordinates, so every entry is in
{-(N-1), ..., N-1} step 2) plus an outward unit normal. Axes: x to R, y to U, z to F.
Sticker order is the kociemba facelet order: faces U R F D L B, each read row by row in
the standard net, so a state's colour string is directly the solver's input. Colours are
face indices 0..5 (U R F D L B); the solved state has colour f on face f.

A face turn rotates the layer p . a = N - 1 (a the face's outward normal) clockwise as
seen facing the face, i.e. by -90 degrees about a (right-hand rule). Each move is a
permutation ``src`` of the sticker slots; a batch of states (B, S) is moved by the gather
``states[:, src]`` (one ``take_along_axis`` for a batch of different moves: the reference
formula ``_apply_moves_reference``). A quarter turn changes only K of the S stickers (K = 20
of 54 for n = 3, 12 of 24 for n = 2), so the fast path copies the batch (memcpy) and patches
those K stickers per state in a small numba kernel (numba comes with aeon, a dependency);
it is loaded once a process has moved ~2 M states on the numpy path (``_KERNEL_AFTER``), so
short runs never pay its import, and results are bit-identical either way.

Move ids: 2 f is face f clockwise, 2 f + 1 its inverse (f in U R F D L B order), so
``inverse(m) = m ^ 1``.
"""

from __future__ import annotations

import functools
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np

FACES = "URFDLB"
AXIS = {"U": (0, 1, 0), "R": (1, 0, 0), "F": (0, 0, 1),
        "D": (0, -1, 0), "L": (-1, 0, 0), "B": (0, 0, -1)}
MOVE_NAMES = tuple(n for f in FACES for n in (f, f + "'"))


def _face_grid(face: str, n: int) -> list[tuple[int, int, int]]:
    """Cubie positions of a face's stickers in kociemba net order (row by row)."""
    c = n - 1
    r = list(range(c, -c - 1, -2))  # c, ..., -c (top row first / right-to-left)
    fw = r[::-1]  # -c, ..., c
    if face == "U":  # B at top: rows z = -c .. c, columns x = -c .. c
        return [(x, c, z) for z in fw for x in fw]
    if face == "R":  # rows y = c .. -c, columns z = c .. -c
        return [(c, y, z) for y in r for z in r]
    if face == "F":
        return [(x, y, c) for y in r for x in fw]
    if face == "D":  # F at top: rows z = c .. -c
        return [(x, -c, z) for z in r for x in fw]
    if face == "L":  # columns z = -c .. c
        return [(-c, y, z) for y in r for z in fw]
    if face == "B":  # columns x = c .. -c
        return [(x, y, -c) for y in r for x in r]
    raise ValueError(face)


@functools.cache
def geometry(n: int) -> tuple[np.ndarray, np.ndarray]:
    """(positions (S, 3), normals (S, 3)) of the 6 n^2 stickers, in facelet order."""
    if n not in (2, 3):
        raise ValueError(f"parameter 'n' must be 2 or 3, got {n!r}")
    pos, nor = [], []
    for f in FACES:
        for p in _face_grid(f, n):
            pos.append(p)
            nor.append(AXIS[f])
    return np.array(pos, dtype=np.int64), np.array(nor, dtype=np.int64)


def _rotation(axis: tuple[int, int, int], quarter_turns: int) -> np.ndarray:
    """Integer rotation matrix by quarter_turns * 90 degrees about a unit axis (right hand)."""
    a = np.array(axis, dtype=np.int64)
    k = np.array([[0, -a[2], a[1]], [a[2], 0, -a[0]], [-a[1], a[0], 0]])  # k v = a x v
    rot = np.eye(3, dtype=np.int64)
    step = np.outer(a, a) + k  # +90 degrees: v cos + (a x v) sin + a (a.v)(1 - cos)
    for _ in range(quarter_turns % 4):
        rot = step @ rot
    return rot


@functools.cache
def move_tables(n: int) -> np.ndarray:
    """(12, S) int64: ``new_state = state[src[m]]`` applies move m."""
    pos, nor = geometry(n)
    index = {(tuple(p), tuple(q)): i for i, (p, q) in enumerate(zip(pos, nor))}
    tables = []
    for f in FACES:
        a = np.array(AXIS[f])
        layer = pos @ a == n - 1
        for qt in (-1, 1):  # clockwise (-90 degrees about the outward normal), then inverse
            rot = _rotation(AXIS[f], qt)
            src = np.arange(len(pos))
            for i in np.flatnonzero(layer):
                j = index[(tuple(rot @ pos[i]), tuple(rot @ nor[i]))]
                src[j] = i  # sticker i moves to slot j
            tables.append(src)
    out = np.stack(tables)
    out.setflags(write=False)
    return out


def solved(n: int, batch: int | None = None) -> np.ndarray:
    s = np.repeat(np.arange(6, dtype=np.int8), n * n)
    return s if batch is None else np.tile(s, (batch, 1))


def inverse(m):
    return np.bitwise_xor(m, 1)


def _apply_moves_reference(states: np.ndarray, moves, n: int) -> np.ndarray:
    """The plain formula (one gather through a (B, S) int64 index array): the reference the
    kernel is tested against, and the path for every input the kernel does not take."""
    src = move_tables(n)[np.asarray(moves)]
    if src.ndim == 1:
        return states[..., src]
    return np.take_along_axis(states, src, axis=1)


_PATCH_K = 20  # sticker writes per state-move in the kernel (a constant: unrolled)


@functools.cache
def patch_tables(n: int) -> tuple[np.ndarray, np.ndarray]:
    """(dst (12, K), src (12, K)) uint8: move m sets ``new[dst[m, k]] = old[src[m, k]]`` and
    leaves the other stickers in place. K = _PATCH_K (20, the stickers a 3x3x3 quarter turn
    changes; the 2x2x2's 12 are padded with no-op pairs (j, j), j a sticker the move leaves
    in place): a compile-time loop bound in the kernel (~10 % faster than a runtime one)."""
    tab = move_tables(n)
    moved = [np.flatnonzero(t != np.arange(tab.shape[1])) for t in tab]
    k = _PATCH_K
    assert max(len(x) for x in moved) <= k
    dst = np.zeros((len(tab), k), dtype=np.uint8)
    src = np.zeros_like(dst)
    for m, x in enumerate(moved):
        fixed = np.flatnonzero(tab[m] == np.arange(tab.shape[1]))[0]
        dst[m], src[m] = fixed, fixed  # padding: rewrite a sticker the move leaves in place
        dst[m, :len(x)] = x
        src[m, :len(x)] = tab[m][x]
    dst.setflags(write=False)
    src.setflags(write=False)
    return dst, src


def _patch_rows(states, moves, dst, src, out):  # compiled by numba (nogil) in _kernel()
    """out (a copy of states) gets each row's K moved stickers; returns the first row whose
    move is outside -M..M-1 (nothing is trusted then), else -1. Negative moves wrap as in
    numpy indexing."""
    n_moves = dst.shape[0]
    for i in range(states.shape[0]):
        m = moves[i]
        if m < 0:
            m += n_moves
        if m < 0 or m >= n_moves:
            return i
        for j in range(_PATCH_K):
            out[i, dst[m, j]] = states[i, src[m, j]]
    return -1


_KERNEL_AFTER = 2_000_000  # state-moves on the numpy path before the kernel is loaded
_numpy_state_moves = 0
_kernel_fn = None  # None: not loaded yet; False: unavailable (numba missing or failing)
_kernel_lock = threading.Lock()
_pool: tuple[int, ThreadPoolExecutor] | None = None  # (workers, pool)


def _kernel():
    """The compiled ``_patch_rows`` (numba, cached on disk), or None when numba fails."""
    global _kernel_fn
    with _kernel_lock:
        if _kernel_fn is None:
            try:
                import numba

                fn = numba.njit(cache=True, nogil=True)(_patch_rows)
                d, s = patch_tables(3)
                probe = solved(3, 2)
                out = probe.copy()
                if fn(probe, np.array([0, 1], dtype=np.int64), d, s, out) != -1 or not (
                        np.array_equal(out, _apply_moves_reference(probe, [0, 1], 3))):
                    raise RuntimeError("numba kernel disagrees with the reference")
                _kernel_fn = fn
            except Exception:  # noqa: BLE001 - any failure: stay on the numpy path
                _kernel_fn = False
    return _kernel_fn or None


def _run_chunks(fn, states, m, dst, src, out, parts: int) -> int:
    """The kernel over ~4 chunks per thread that the calling thread and parts - 1 pool
    threads take in turn (a thread that the busy machine does not schedule leaves its share
    to the others; one that never started is cancelled). Returns the kernel's flag."""
    global _pool
    if _pool is None or _pool[0] < parts - 1:
        _pool = (parts - 1, ThreadPoolExecutor(parts - 1, thread_name_prefix="cube-moves"))
    cut = np.linspace(0, len(states), 4 * parts + 1).astype(int)
    todo = iter(range(len(cut) - 1))  # next() on it is atomic under the GIL
    flags = [-1]

    def work():
        for c in todo:
            a, z = cut[c], cut[c + 1]
            r = fn(states[a:z], m[a:z], dst, src, out[a:z])
            if r >= 0:
                flags.append(r)

    futs = [_pool[1].submit(work) for _ in range(parts - 1)]
    work()
    for f in futs:
        if not f.cancel():
            f.result()
    return max(flags)


def kernel_available() -> bool:
    """Load the compiled move kernel now (normally loaded lazily); True if it is in use."""
    return _kernel() is not None


def apply_moves(states: np.ndarray, moves, n: int, *, threads: int = 1) -> np.ndarray:
    """Apply one move per state: states (B, S), moves int or (B,) ints in 0..11.

    Same result as ``_apply_moves_reference`` for every input (it is the fallback); a
    (B, S) integer batch takes the compiled copy-and-patch kernel once it is loaded.
    ``threads`` > 1 splits the batch over that many threads (the kernel releases the GIL)
    and loads the kernel at once."""
    global _numpy_state_moves, _pool
    tab = move_tables(n)
    m = np.asarray(moves)
    if not (type(states) is np.ndarray and states.ndim == 2
            and states.shape[1] == tab.shape[1] and states.dtype.kind in "iub"
            and (m.dtype.kind == "i" or (m.dtype.kind == "u" and m.dtype.itemsize <= 4))
            and (m.ndim == 0 or m.shape == (states.shape[0],)) and states.shape[0] > 0):
        return _apply_moves_reference(states, moves, n)
    fn = _kernel_fn or None
    if fn is None and _kernel_fn is None and (threads > 1
                                              or _numpy_state_moves >= _KERNEL_AFTER):
        fn = _kernel()
    if fn is None:
        _numpy_state_moves += states.shape[0]
        return _apply_moves_reference(states, moves, n)
    b = states.shape[0]
    m = np.broadcast_to(m, (b,)).astype(np.int64, copy=False)
    states = np.ascontiguousarray(states)
    out = states.copy()
    dst, src = patch_tables(n)
    parts = min(max(int(threads), 1), b)
    if parts == 1:
        bad = fn(states, m, dst, src, out)
    else:
        bad = _run_chunks(fn, states, m, dst, src, out, parts)
    if bad >= 0:  # a move out of range: the reference raises exactly as before
        return _apply_moves_reference(states, moves, n)
    return out


def apply_sequence(state: np.ndarray, moves, n: int) -> np.ndarray:
    for m in moves:
        state = apply_moves(state, int(m), n)
    return state


def is_solved(states: np.ndarray) -> np.ndarray:
    """Each face one colour (any colours: also true for a whole-cube rotation of solved)."""
    s = np.asarray(states)
    faces = s.reshape(*s.shape[:-1], 6, -1)
    return (faces == faces[..., :1]).all(axis=(-1, -2))


def neighbours(states: np.ndarray, n: int, moves: np.ndarray | None = None) -> np.ndarray:
    """(B, M, S): every state moved by each of ``moves`` (default all 12)."""
    tab = move_tables(n) if moves is None else move_tables(n)[np.asarray(moves)]
    return states[:, tab]


def random_walks(rng: np.random.Generator, batch: int, length: int, n: int,
                 n_moves: int = 12, no_immediate_inverse: bool = False):
    """States of ``batch`` walks of ``length`` moves from solved: (batch, length + 1, S), and
    the moves (batch, length). Moves are uniform over the first ``n_moves`` ids."""
    s = solved(n, batch)
    out = np.empty((batch, length + 1, s.shape[1]), dtype=np.int8)
    out[:, 0] = s
    mv = np.empty((batch, length), dtype=np.int64)
    for t in range(length):
        m = rng.integers(0, n_moves, batch)
        if no_immediate_inverse and t:
            bad = m == inverse(mv[:, t - 1])
            while bad.any():
                m[bad] = rng.integers(0, n_moves, int(bad.sum()))
                bad = m == inverse(mv[:, t - 1])
        mv[:, t] = m
        s = apply_moves(s, m, n)
        out[:, t + 1] = s
    return out, mv


def scramble(rng: np.random.Generator, batch: int, depth: int, n: int = 3,
             paper_rules: bool = True) -> np.ndarray:
    """Scrambles of ``depth`` moves; ``paper_rules``: no immediate inverse and no move three
    times in a row (the paper's evaluation scrambles)."""
    s = solved(n, batch)
    prev = np.full(batch, -1)
    prev2 = np.full(batch, -2)
    for _ in range(depth):
        m = rng.integers(0, 12, batch)
        if paper_rules:
            bad = (m == inverse(np.maximum(prev, 0)) & (prev >= 0)) | ((m == prev) & (m == prev2))
            while bad.any():
                m[bad] = rng.integers(0, 12, int(bad.sum()))
                bad = ((m == inverse(np.maximum(prev, 0))) & (prev >= 0)) | (
                    (m == prev) & (m == prev2))
        s = apply_moves(s, m, n)
        prev2, prev = prev, m
    return s


def facelets(state: np.ndarray) -> str:
    """kociemba facelet string of one 3x3x3 state (colour f -> letter FACES[f])."""
    return "".join(FACES[int(c)] for c in state)


def parse_solution(text: str) -> list[int]:
    """kociemba output ("R U2 F' ...") as quarter-turn move ids (X2 = two quarter turns)."""
    out: list[int] = []
    for tok in text.split():
        f = FACES.index(tok[0])
        if tok.endswith("2"):
            out += [2 * f, 2 * f]
        elif tok.endswith("'"):
            out.append(2 * f + 1)
        else:
            out.append(2 * f)
    return out


# ---- cubies: permutation / orientation read off a sticker state ---------------------------


@functools.cache
def cubie_slots(n: int) -> dict[str, np.ndarray]:
    """Per cubie position, its sticker slots in a rotation-invariant cyclic order.

    Corners: (slot with normal on the y axis, a, b) with det(n_y, n_a, n_b) = +1 (a rotation
    preserves the determinant, so turns keep the cyclic order). Edges (n = 3): reference slot
    first (normal on y if any, else on z), then the other.
    """
    pos, nor = geometry(n)
    cubies: dict[tuple, list[int]] = {}
    for i, p in enumerate(map(tuple, pos)):
        cubies.setdefault(p, []).append(i)
    corners, edges = [], []
    for _p, slots in sorted(cubies.items()):
        if len(slots) == 3:
            y = [s for s in slots if nor[s][1] != 0][0]
            a, b = [s for s in slots if s != y]
            if round(np.linalg.det(np.stack([nor[y], nor[a], nor[b]]))) != 1:
                a, b = b, a
            corners.append([y, a, b])
        elif len(slots) == 2:
            ref = [s for s in slots if nor[s][1] != 0] or [s for s in slots if nor[s][2] != 0]
            other = [s for s in slots if s != ref[0]]
            edges.append([ref[0], other[0]])
    return {"corners": np.array(corners), "edges": np.array(edges, dtype=np.int64).reshape(-1, 2)}


def cubies(states: np.ndarray, n: int, kind: str = "corners"):
    """(perm (B, K), orientation (B, K)) of the corner (or edge) cubies of each state.

    perm[p] = index (home position) of the cubie at position p, read from its colour set;
    orientation = which slot of position p holds the cubie's reference colour (U/D colour;
    for edges without U/D colour, the F/B colour)."""
    slots = cubie_slots(n)[kind]
    ref = solved(n)
    home = ref[slots]  # (K, k) colours of each cubie at home, in slot order
    key = np.sort(home, axis=1) @ (6 ** np.arange(home.shape[1]))
    lookup = np.full(6 ** home.shape[1], -1)
    lookup[key] = np.arange(len(slots))
    cols = np.asarray(states)[:, slots]  # (B, K, k)
    perm = lookup[np.sort(cols, axis=2) @ (6 ** np.arange(home.shape[1]))]
    ud = (cols == 0) | (cols == 3)
    fb = (cols == 2) | (cols == 5)
    refmask = np.where(ud.any(axis=2, keepdims=True), ud, fb)
    orient = np.argmax(refmask, axis=2)
    return perm, orient


def perm_parity(perm: np.ndarray) -> np.ndarray:
    """Parity (0 even, 1 odd) of each row's permutation, vectorised (count inversions)."""
    p = np.asarray(perm)
    inv = (p[:, :, None] > p[:, None, :]) & np.triu(np.ones((p.shape[1],) * 2, bool), 1)
    return inv.sum(axis=(1, 2)) % 2


def one_hot(states: np.ndarray) -> np.ndarray:
    """(B, S) colours -> (B, 6 S) float32 one-hot."""
    s = np.asarray(states, dtype=np.int64)
    out = np.zeros((s.shape[0], s.shape[1], 6), dtype=np.float32)
    np.put_along_axis(out, s[..., None], 1.0, axis=2)
    return out.reshape(s.shape[0], -1)
