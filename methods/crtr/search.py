"""Best-first search with a learned distance, run in lockstep over many instances.

As in the paper's ``search/solver.py`` (brief section 3.1): the queue key is the distance
to the goal; each expansion pops the best node, makes all its children, drops states
already in the tree and pushes the best ``n_actions`` of the rest (``n_actions`` = number of
moves: full BestFS; 1: the greedy "no search" mode, a descent without revisits that fails
when every child has been seen). ``nodes`` is the tree size (root included) when the goal is
generated, the quantity capped by ``max_nodes``; success at budget b = solved with
nodes <= b. All instances advance one expansion per round, so the distance of every
child in a round is one batched call.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np


@dataclass
class SearchResult:
    solved: np.ndarray  # (n,) bool
    nodes: np.ndarray  # (n,) int tree size at the end (goal generated, or cap/queue empty)
    length: np.ndarray  # (n,) int moves of the solution (-1 when unsolved)
    expansions: int  # total expansions over all instances
    children_scored: int  # total children whose distance was computed

    def success_at(self, budget: int) -> float:
        return float(np.mean(self.solved & (self.nodes <= budget)))


def best_first(roots: np.ndarray, expand: Callable[[np.ndarray], np.ndarray],
               is_goal: Callable[[np.ndarray], np.ndarray],
               score: Callable[[np.ndarray], np.ndarray], *, n_actions: int,
               max_nodes: int, key: Callable[[np.ndarray], list] | None = None) -> SearchResult:
    """Search from each root (n, S). ``expand``: (k, S) -> (k, M, S) children;
    ``is_goal``: (m, S) -> bool; ``score``: (m, S) -> distance (lower is better);
    ``key``: (m, S) -> hashable per state (default: the bytes of each row)."""
    if key is None:
        def key(x):
            return [r.tobytes() for r in np.ascontiguousarray(x)]
    n = len(roots)
    counter = itertools.count()
    root_keys = key(roots)
    goal0 = np.asarray(is_goal(roots), dtype=bool)
    solved = goal0.copy()
    nodes = np.ones(n, dtype=np.int64)
    length = np.where(goal0, 0, -1).astype(np.int64)
    seen = [{k} for k in root_keys]
    store: list[list[np.ndarray]] = [[roots[i]] for i in range(n)]
    depth: list[list[int]] = [[0] for _ in range(n)]
    heaps = [[(0.0, next(counter), 0)] for _ in range(n)]
    active = [i for i in range(n) if not goal0[i]]
    expansions = scored = 0
    while active:
        popped = []
        for i in active:
            if heaps[i]:
                _, _, j = heapq.heappop(heaps[i])
                popped.append((i, j))
        if not popped:
            break
        parents = np.stack([store[i][j] for i, j in popped])
        kids = expand(parents)  # (k, M, S)
        k, m = kids.shape[:2]
        flat = kids.reshape(k * m, -1)
        keys = key(flat)
        goals = np.asarray(is_goal(flat), dtype=bool)
        expansions += k
        fresh = np.array([keys[r] not in seen[popped[r // m][0]] for r in range(k * m)])
        idx = np.flatnonzero(fresh & ~goals)
        dist = np.full(k * m, np.inf)
        if len(idx):
            dist[idx] = np.asarray(score(flat[idx]), dtype=np.float64)
            scored += len(idx)
        still = []
        for r, (i, j) in enumerate(popped):
            rows = np.arange(r * m, (r + 1) * m)
            hit = rows[fresh[rows] & goals[rows]]
            if len(hit):
                solved[i] = True
                nodes[i] += 1
                length[i] = depth[i][j] + 1
                continue
            cand = rows[fresh[rows]]
            cand = cand[np.argsort(dist[cand], kind="stable")][:n_actions]
            for c in cand:
                if nodes[i] >= max_nodes:
                    break
                if keys[c] in seen[i]:  # duplicate child of the same parent
                    continue
                seen[i].add(keys[c])
                store[i].append(flat[c])
                depth[i].append(depth[i][j] + 1)
                heapq.heappush(heaps[i], (float(dist[c]), next(counter), len(store[i]) - 1))
                nodes[i] += 1
            if nodes[i] < max_nodes and heaps[i]:
                still.append(i)
        active = still
    return SearchResult(solved, nodes, length, expansions, scored)
