"""Context maze (brief section 3.2): a size x size grid with Bernoulli(p) walls drawn anew
for every trajectory, so the walls are static context that identifies the trajectory.

Only the largest 4-connected component of free cells is kept (the rest become walls).
Observation: (walls, agent) one-hot planes flattened to 2 * size^2 floats.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

DIRS = np.array([[-1, 0], [1, 0], [0, -1], [0, 1]])  # up, down, left, right; reverse = d ^ 1


def generate(rng: np.random.Generator, n: int, size: int = 8, p: float = 0.25,
             min_cells: int = 8) -> np.ndarray:
    """(n, size, size) bool walls; the free cells form one connected component of at least
    ``min_cells`` cells (mazes are redrawn until they do)."""
    out = np.empty((n, size, size), dtype=bool)
    filled = 0
    while filled < n:
        walls = rng.random((size, size)) < p
        lab, k = ndimage.label(~walls)
        if k == 0:
            continue
        sizes = np.bincount(lab.ravel())[1:]
        if sizes.max() < min_cells:
            continue
        out[filled] = lab != 1 + int(np.argmax(sizes))
        filled += 1
    return out


def _free_neighbours(walls: np.ndarray, pos: np.ndarray) -> np.ndarray:
    """(B, 4) bool: which moves from pos (B, 2) land on a free cell."""
    size = walls.shape[-1]
    nxt = pos[:, None, :] + DIRS[None]
    inside = ((nxt >= 0) & (nxt < size)).all(-1)
    nc = np.clip(nxt, 0, size - 1)
    free = ~walls[np.arange(len(pos))[:, None], nc[..., 0], nc[..., 1]]
    return inside & free


def random_walks(rng: np.random.Generator, walls: np.ndarray, length: int) -> np.ndarray:
    """(B, length + 1, 2) cells of one walk per maze: uniform free start, uniform moves to
    free neighbours without immediate backtracking (backtracking only at dead ends)."""
    b, size = walls.shape[0], walls.shape[-1]
    free_idx = [np.flatnonzero(~w.ravel()) for w in walls]
    start = np.array([f[rng.integers(len(f))] for f in free_idx])
    pos = np.stack([start // size, start % size], 1)
    out = np.empty((b, length + 1, 2), dtype=np.int64)
    out[:, 0] = pos
    last = np.full(b, -1)
    for t in range(length):
        ok = _free_neighbours(walls, pos)
        back = np.zeros_like(ok)
        has = last >= 0
        back[has, np.bitwise_xor(last[has], 1)] = True
        ok2 = ok & ~back
        ok2[~ok2.any(1)] = ok[~ok2.any(1)]
        w = ok2 * rng.random(ok2.shape)
        d = np.argmax(w, 1)
        pos = pos + DIRS[d]
        last = d
        out[:, t + 1] = pos
    return out


def observe(walls: np.ndarray, cells: np.ndarray) -> np.ndarray:
    """(B, 2 size^2) float32 observations of agents at cells (B, 2) in mazes walls (B, s, s)."""
    b, size = walls.shape[0], walls.shape[-1]
    agent = np.zeros((b, size, size), dtype=np.float32)
    agent[np.arange(b), cells[:, 0], cells[:, 1]] = 1.0
    return np.concatenate([walls.reshape(b, -1).astype(np.float32), agent.reshape(b, -1)], 1)


def bfs_distances(walls: np.ndarray, goal: tuple[int, int]) -> np.ndarray:
    """(size, size) shortest-path lengths to goal (-1 where unreachable)."""
    size = walls.shape[0]
    dist = np.full((size, size), -1, dtype=np.int64)
    dist[goal] = 0
    frontier = [goal]
    d = 0
    while frontier:
        d += 1
        nxt = []
        for r, c in frontier:
            for dr, dc in DIRS:
                rr, cc = r + dr, c + dc
                if 0 <= rr < size and 0 <= cc < size and not walls[rr, cc] and dist[rr, cc] < 0:
                    dist[rr, cc] = d
                    nxt.append((rr, cc))
        frontier = nxt
    return dist


def greedy_descent(walls: np.ndarray, dist_to_goal: np.ndarray, start: tuple[int, int],
                   goal: tuple[int, int], cap: int) -> tuple[bool, int]:
    """Move to the unvisited free neighbour with the smallest ``dist_to_goal`` (a (s, s)
    latent-distance map) until the goal (success), a dead end or ``cap`` steps."""
    size = walls.shape[0]
    pos, seen = start, {start}
    for step in range(cap):
        if pos == goal:
            return True, step
        best, best_d = None, np.inf
        for dr, dc in DIRS:
            q = (pos[0] + dr, pos[1] + dc)
            if 0 <= q[0] < size and 0 <= q[1] < size and not walls[q] and q not in seen:
                if dist_to_goal[q] < best_d:
                    best, best_d = q, dist_to_goal[q]
        if best is None:
            return False, step
        pos = best
        seen.add(pos)
    return pos == goal, cap
