"""Tests of methods.crtr: cube group-action properties (hypothesis), the 2x2x2 perfect hash
and BFS against a plain dictionary BFS on sticker states, best-first search on exact
distances, the CRL/CRTR batch sampler, the loss against its broadcast form, the maze.

Small sizes only (no full 2x2x2 BFS here); the claims run at smoke scale from claims/.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from methods.crtr import core
from methods.crtr import experiments as ex
from methods.crtr.puzzles import cube, maze, pocket
from methods.crtr.search import best_first
from repro.registry import Unavailable

moves_st = st.lists(st.integers(0, 11), min_size=0, max_size=40)
n_st = st.sampled_from([2, 3])


def _state(n, seq):
    return cube.apply_sequence(cube.solved(n, 1), seq, n)


@settings(max_examples=40, deadline=None)
@given(n=n_st, seq=moves_st, m=st.integers(0, 11))
def test_move_order_four_and_inverse(n, seq, m):
    s = _state(n, seq)
    x = s
    for k in range(4):
        x = cube.apply_moves(x, m, n)
        assert (k == 3) == bool((x == s).all())
    assert (cube.apply_moves(cube.apply_moves(s, m, n), m ^ 1, n) == s).all()
    assert (cube.apply_moves(cube.apply_moves(s, m ^ 1, n), m, n) == s).all()


@settings(max_examples=40, deadline=None)
@given(n=n_st, seq=moves_st)
def test_colours_and_parity_invariants(n, seq):
    s = _state(n, seq)
    assert (np.bincount(s[0], minlength=6) == n * n).all()
    perm, tw = cube.cubies(s, n, "corners")
    assert sorted(perm[0].tolist()) == list(range(8))
    assert tw.sum() % 3 == 0
    if n == 3:
        ep, fl = cube.cubies(s, 3, "edges")
        assert sorted(ep[0].tolist()) == list(range(12))
        assert fl.sum() % 2 == 0
        assert cube.perm_parity(perm)[0] == cube.perm_parity(ep)[0]
        # each quarter turn is an odd permutation of corners: parity = number of moves mod 2
        assert cube.perm_parity(perm)[0] == len(seq) % 2


def test_solved_check_and_single_moves():
    for n in (2, 3):
        s0 = cube.solved(n, 1)
        assert cube.is_solved(s0)[0]
        for m in range(12):
            assert not cube.is_solved(cube.apply_moves(s0, m, n))[0]
        # opposite faces commute, adjacent ones do not
        t = cube.move_tables(n)
        assert np.array_equal(t[0][t[6]], t[6][t[0]])
        assert not np.array_equal(t[0][t[2]], t[2][t[0]])


def test_known_orders_3x3():
    s0 = cube.solved(3, 1)

    def order(seq):
        x, k = s0, 0
        while True:
            x, k = cube.apply_sequence(x, seq, 3), k + 1
            if (x == s0).all():
                return k
    assert order([2, 0]) == 105  # R U
    assert order([2, 0, 3, 1]) == 6  # R U R' U'
    assert order([0, 0, 2, 2]) == 6  # U2 R2


@settings(max_examples=20, deadline=None)
@given(n=n_st, seed=st.integers(0, 2**31 - 1))
def test_batched_moves_equal_loop(n, seed):
    rng = np.random.default_rng(seed)
    s = cube.scramble(rng, 16, 10, n)
    m = rng.integers(0, 12, 16)
    batched = cube.apply_moves(s, m, n)
    loop = np.stack([cube.apply_moves(s[i], int(m[i]), n) for i in range(16)])
    assert np.array_equal(batched, loop)
    nb = cube.neighbours(s, n)
    assert np.array_equal(nb[np.arange(16), m], batched)


def test_clockwise_matches_kociemba_convention():
    """kociemba's facelet string for R applied to solved (independently known)."""
    s = cube.apply_moves(cube.solved(3, 1), 2, 3)[0]
    assert cube.facelets(s) == (
        "UUFUUFUUF" "RRRRRRRRR" "FFDFFDFFD" "DDBDDBDDB" "LLLLLLLLL" "UBBUBBUBB")


def test_kociemba_roundtrip_small():
    pytest.importorskip("kociemba")
    out = ex.crtr_kociemba_roundtrip(seed=1, n_cubes=5, depth=25)
    assert out["solved_fraction"] == 1.0 and out["solved_export_ok"] == 1.0


# ---- 2x2x2 --------------------------------------------------------------------------------


def test_lehmer_matches_lexicographic_order():
    perms = np.array(list(itertools.permutations(range(5))))
    assert np.array_equal(pocket.lehmer_rank(perms), np.arange(math.factorial(5)))
    assert np.array_equal(pocket.lehmer_unrank(np.arange(120), 5), perms)


@settings(max_examples=30, deadline=None)
@given(seq=st.lists(st.integers(0, 5), max_size=30))
def test_pocket_encode_decode_and_index_moves(seq):
    s = _state(2, seq)
    i = pocket.encode(s)
    assert np.array_equal(pocket.decode(i), s)
    nb = pocket.neighbours_index(i, "qtm")[:, 0]
    for k, m in enumerate(pocket.QTM_MOVES):
        assert nb[k] == pocket.encode(cube.apply_moves(s, m, 2))[0]


def _dict_bfs(depth, moves):
    start = cube.solved(2)
    dist = {start.tobytes(): 0}
    frontier = [start]
    for d in range(1, depth + 1):
        nxt = []
        for s in frontier:
            for seq in moves:
                t = cube.apply_sequence(s[None], seq, 2)[0]
                if t.tobytes() not in dist:
                    dist[t.tobytes()] = d
                    nxt.append(t)
        frontier = nxt
    return dist


@pytest.mark.parametrize("metric,depth", [("qtm", 5), ("htm", 4)])
def test_pocket_bfs_matches_dictionary_bfs(metric, depth):
    seqs = pocket._move_sequences(metric)
    ref = _dict_bfs(depth, seqs)
    d = pocket.bfs(metric, depth)
    assert pocket.counts(d).tolist() == np.bincount(list(ref.values())).tolist()
    states = np.frombuffer(b"".join(ref), dtype=np.int8).reshape(len(ref), 24)
    assert np.array_equal(d[pocket.encode(states)], np.array(list(ref.values())))


def test_pocket_bfs_first_layers_published():
    c = pocket.counts(pocket.bfs("qtm", 6)).tolist()
    assert c == [1, 6, 27, 120, 534, 2256, 8969]


def test_distances_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("REPRO_CACHE_DIR", str(tmp_path))
    path = tmp_path / "crtr" / "pocket_qtm_v1.npy"
    path.parent.mkdir(parents=True)
    fake = np.zeros(pocket.N_STATES, np.uint8)
    fake[:10] = pocket.GODS_NUMBER["qtm"]
    np.save(path, fake)
    d, secs = pocket.distances("qtm")  # a cached table must be valid: zeros everywhere is not
    assert secs == 0.0 and d.max() == 14
    assert pocket.cache_dir() == tmp_path / "crtr"


# ---- search -------------------------------------------------------------------------------


def _pocket_search(idx, score, n_actions, cap):
    roots = pocket.decode(idx)
    return best_first(roots, lambda s: cube.neighbours(s, 2, np.array(pocket.QTM_MOVES)),
                      cube.is_solved, score, n_actions=n_actions, max_nodes=cap,
                      key=lambda s: pocket.encode(s).tolist())


def test_search_bfs_is_optimal_and_perfect_heuristic_is_greedy_optimal():
    d = pocket.bfs("qtm", 5)
    rng = np.random.default_rng(0)
    idx = np.concatenate([rng.choice(np.flatnonzero(d == k), 6) for k in range(1, 6)])
    opt = d[idx]
    bfs = _pocket_search(idx, lambda s: np.zeros(len(s)), 6, 100_000)
    assert bfs.solved.all() and np.array_equal(bfs.length, opt)

    def exact(s):
        v = d[pocket.encode(s)].astype(float)
        return np.where(v == pocket.UNSEEN, 99.0, v)

    g = _pocket_search(idx, exact, 1, 1000)
    assert g.solved.all() and np.array_equal(g.length, opt)
    assert np.array_equal(g.nodes, opt + 1)  # root + one node per move
    assert g.success_at(int(opt.max()) + 1) == 1.0 and g.success_at(1) == 0.0


def test_greedy_fails_when_every_child_is_seen():
    # a 3-cycle graph 0 -> 1 -> 2 -> 0 and goal 9 unreachable: greedy must stop, not loop
    succ = {0: [1], 1: [2], 2: [0]}
    res = best_first(np.array([[0]]), lambda s: np.array([[[succ[int(x[0])][0]]] for x in s]),
                     lambda s: s[:, 0] == 9, lambda s: np.zeros(len(s)), n_actions=1,
                     max_nodes=100)
    assert not res.solved[0] and res.nodes[0] == 3 and res.length[0] == -1


def test_tree_cap_is_respected():
    d = pocket.bfs("qtm", 3)
    idx = np.flatnonzero(d == 3)[:5]
    res = _pocket_search(idx, lambda s: np.zeros(len(s)), 6, 5)
    assert (res.nodes <= 5).all() and not res.solved.any()


# ---- batches and loss ---------------------------------------------------------------------


@settings(max_examples=20, deadline=None)
@given(r=st.sampled_from([1, 2, 4]), k=st.integers(1, 16), seed=st.integers(0, 1000))
def test_batch_repeats(r, k, seed):
    ids = core.batch_trajectories(np.random.default_rng(seed), 64, k * r, r)
    counts = np.bincount(ids)
    assert set(counts[counts > 0].tolist()) == {r} and (counts > 0).sum() == k


def test_offsets_distribution():
    rng = np.random.default_rng(0)
    length, gamma = 6, 0.9
    a, g = core.sample_offsets(rng, 400_000, length, gamma)
    assert np.bincount(a).size == length - 1  # anchors 0..L-2
    for anchor in (0, 3, 4):
        dd = (g - a)[a == anchor]
        kmax = length - 1 - anchor
        p = gamma ** np.arange(kmax + 1)
        p /= p.sum()
        emp = np.bincount(dd, minlength=kmax + 1) / len(dd)
        se = np.sqrt(p * (1 - p) / len(dd))
        assert emp.size == kmax + 1 and (np.abs(emp - p) < 5 * se + 1e-12).all()


@settings(max_examples=20, deadline=None)
@given(b=st.integers(2, 24), d=st.integers(1, 16), kind=st.sampled_from(["dot", "l2"]),
       seed=st.integers(0, 2**31 - 1), scale=st.floats(0.1, 5.0))
def test_loss_matches_broadcast_form(b, d, kind, seed, scale):
    g = torch.Generator().manual_seed(seed)
    x = scale * torch.randn(b, d, generator=g, dtype=torch.float64)
    y = x + torch.randn(b, d, generator=g, dtype=torch.float64)
    assert torch.allclose(core.crtr_loss(x, y, kind), core.crtr_loss_broadcast(x, y, kind),
                          rtol=1e-10, atol=1e-10)
    z = torch.zeros(b, d, dtype=torch.float64) + x[:1]
    assert math.isclose(float(core.crtr_loss(z, z, kind)), d * math.log(b), rel_tol=1e-10)


def test_loss_gradient_matches_broadcast():
    g = torch.Generator().manual_seed(3)
    x = torch.randn(8, 5, generator=g, dtype=torch.float64, requires_grad=True)
    y = torch.randn(8, 5, generator=g, dtype=torch.float64, requires_grad=True)
    for kind in ("dot", "l2"):
        ga = torch.autograd.grad(core.crtr_loss(x, y, kind), (x, y))
        gb = torch.autograd.grad(core.crtr_loss_broadcast(x, y, kind), (x, y))
        assert all(torch.allclose(a, b, rtol=1e-10, atol=1e-12) for a, b in zip(ga, gb))


# ---- maze ---------------------------------------------------------------------------------


def test_maze_generation_and_walks():
    from scipy import ndimage

    rng = np.random.default_rng(0)
    walls = maze.generate(rng, 50, 8, 0.25)
    for w in walls:
        assert ndimage.label(~w)[1] == 1
    tr = maze.random_walks(rng, walls, 40)
    steps = np.abs(np.diff(tr, axis=1)).sum(-1)
    assert (steps == 1).all()
    b = np.arange(50)[:, None]
    assert not walls[b, tr[..., 0], tr[..., 1]].any()
    # no immediate backtracking except at dead ends
    back = (tr[:, 2:] == tr[:, :-2]).all(-1)
    for i, t in zip(*np.nonzero(back)):
        ok = maze._free_neighbours(walls[i:i + 1], tr[i, t + 1][None])[0]
        assert ok.sum() == 1


def test_maze_bfs_and_greedy_with_exact_distance():
    rng = np.random.default_rng(1)
    w = maze.generate(rng, 1, 8, 0.25)[0]
    free = np.argwhere(~w)
    goal = tuple(free[0])
    dist = maze.bfs_distances(w, goal)
    assert (dist[~w] >= 0).all() and (dist[w] == -1).all()
    start = tuple(np.argwhere(dist == dist.max())[0])
    ok, steps = maze.greedy_descent(w, dist.astype(float), start, goal, 256)
    assert ok and steps == dist.max()


# ---- experiments: parameters and unavailability --------------------------------------------


def test_bad_params_and_unavailable():
    with pytest.raises(ValueError, match="repeats"):
        ex.crtr_maze(seed=0, repeats=[0])
    with pytest.raises(ValueError, match="loss"):
        ex.crtr_pocket(seed=0, loss="cos", bfs_depth=5, greedy_depths=[3])
    with pytest.raises(Unavailable, match="GPU"):
        ex.crtr_cube(seed=0, gpu_only=True)
    with pytest.raises(Unavailable, match="offline"):
        ex.crtr_paper_reference(seed=0)
    with pytest.raises(ValueError, match="koc_min_depth"):
        ex.crtr_cube(seed=0, koc_min_depth=-1, kociemba=False)


def test_cube_kociemba_ratio_only_on_deep_scrambles():
    """Issue 18: scrambles shallower than koc_min_depth never enter the length ratio (there
    the scramble bounds the optimum, so the ratio is ~1 by construction)."""
    pytest.importorskip("kociemba")
    kw = dict(seed=0, repeats=[2], supervised=False, search=False, steps=2, batch=16,
              width=8, blocks=0, dim=4, depths=[1], per_depth=8)
    shallow = ex.crtr_cube(**kw, koc_min_depth=0)
    deep = ex.crtr_cube(**kw, koc_min_depth=2)
    assert not any(k.startswith("len_over") for k in deep)
    if shallow["greedy_r2_d1"] > 0:
        assert "len_over_kociemba_r2" in shallow


def test_env_properties_all_zero():
    out = ex.crtr_env_properties(seed=0, n_random=100)
    fails = {k: v for k, v in out.items() if "fail" in k or "moved" in k or "single" in k}
    assert all(v == 0 for v in fails.values()), fails
    assert out["c3_order_RU"] == 105 and out["c3_order_sexy"] == 6


# ---- Sokoban-lite -------------------------------------------------------------------------


def _sokoban_level(seed):
    from methods.crtr.puzzles import sokoban
    return sokoban.random_level(np.random.default_rng(seed), 5, 2, 0.1, 25)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_sokoban_reverse_play_is_a_valid_forward_trajectory(seed):
    from methods.crtr.puzzles import sokoban
    board, traj = _sokoban_level(seed)
    assert board.solved(traj[-1][1]) and not board.solved(traj[0][1])
    for s, t in zip(traj[:-1], traj[1:]):
        assert t in board.forward(s)
    dist = sokoban.distances_to(board, traj[-1])
    # distance along the trajectory never exceeds the remaining steps, and is exact at the end
    assert all(dist[s] <= len(traj) - 1 - i for i, s in enumerate(traj))
    assert dist[traj[-1]] == 0


def test_sokoban_bfs_matches_forward_search():
    """Backward BFS distance == forward BFS (plain dictionary search) from the start."""
    from methods.crtr.puzzles import sokoban
    board, traj = _sokoban_level(5)
    goals = set(sokoban.solved_states(board))
    back = sokoban.distances_to(board, sokoban.solved_states(board))
    start = traj[0]
    seen, frontier, d = {start}, [start], 0
    while frontier and not (set(frontier) & goals):
        d += 1
        nxt = []
        for s in frontier:
            for t in board.forward(s):
                if t not in seen:
                    seen.add(t)
                    nxt.append(t)
        frontier = nxt
    assert back[start] == d
    # the backward relation is the inverse of the forward one
    for s in list(seen)[:200]:
        for t in board.forward(s):
            assert s in board.backward(t)


def test_sokoban_observe_batch_matches_board():
    from methods.crtr.puzzles import sokoban
    board, traj = _sokoban_level(3)
    obs = board.observe(traj)
    n = len(traj)
    vb = sokoban.observe_batch(np.tile(board.walls.reshape(-1), (n, 1)),
                               np.tile(np.array(board.targets), (n, 1)),
                               np.array([s[0] for s in traj]), np.array([s[1] for s in traj]))
    assert np.array_equal(obs, vb)


def test_pocket_seed_share_and_budget_curve():
    """Issue 18: per-seed solved indicators, the success-vs-budget curve and the length over
    the exact optimum per distance come out of crtr_pocket and agree with each other."""
    out = ex.crtr_pocket(seed=0, repeats=[2], supervised=False, steps=5, batch=32, width=16,
                         blocks=0, bfs_depth=7, greedy_depths=[4], per_distance=10,
                         greedy_per_depth=10, search_instances=5, budgets=[50, 500])
    assert out["curve_budget"] == [50.0, 500.0]
    assert out["curve_success_r2"] == [out["success_r2_b50"], out["success_r2_b500"]]
    for b in (50, 500):
        assert out[f"seed_solved_r2_b{b}"] == float(out[f"success_r2_b{b}"] >= 0.5)
    if out["greedy_r2_d4"] > 0:
        assert out["greedy_len_over_opt_r2_d4"] >= 1.0
