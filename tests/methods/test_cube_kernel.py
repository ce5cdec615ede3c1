"""The compiled copy-and-patch move kernel of methods.crtr.puzzles.cube against the plain
gather formula it replaced (kept as ``cube._apply_moves_reference``): bit-identical results
for every input shape ``apply_moves`` accepts, the same errors outside them, and the lazy
switch from the numpy path to the kernel."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from methods.crtr.puzzles import cube

ref = cube._apply_moves_reference

needs_kernel = pytest.mark.skipif(not cube.kernel_available(),
                                  reason="numba kernel unavailable (numpy path only)")


def _same(a, b):
    return type(a) is type(b) and a.dtype == b.dtype and a.shape == b.shape and (
        np.array_equal(a, b))


@pytest.mark.parametrize("n", [2, 3])
def test_patch_tables_reproduce_move_tables(n):
    dst, src = cube.patch_tables(n)
    tab = cube.move_tables(n)
    assert dst.shape[1] == 20  # stickers changed by a 3x3x3 quarter turn (2x2x2: 12, padded)
    for m in range(12):
        full = np.arange(tab.shape[1])
        full[dst[m]] = src[m]
        assert np.array_equal(full, tab[m])


@needs_kernel
@pytest.mark.parametrize("n", [2, 3])
@pytest.mark.parametrize("batch", [1, 2, 7, 1000])
@pytest.mark.parametrize("threads", [1, 2, 3])
def test_kernel_equals_reference_random_batches(n, batch, threads):
    rng = np.random.default_rng(batch + 10 * n)
    s = cube.scramble(rng, batch, 15, n)
    for dtype in (np.int64, np.int32, np.uint8, np.int16):
        m = rng.integers(0, 12, batch).astype(dtype)
        assert _same(cube.apply_moves(s, m, n, threads=threads), ref(s, m, n))
    m = rng.integers(-12, 12, batch)  # negative ids wrap as in numpy indexing
    assert _same(cube.apply_moves(s, m, n, threads=threads), ref(s, m, n))
    for k in range(12):  # every move, as an int, a numpy int, a 0-d array and a (B,) array
        want = ref(s, k, n)
        for mv in (k, np.int64(k), np.array(k), np.full(batch, k), [k] * batch):
            assert _same(cube.apply_moves(s, mv, n, threads=threads), want)


@needs_kernel
def test_kernel_other_dtypes_and_layouts():
    rng = np.random.default_rng(0)
    s = cube.scramble(rng, 50, 10)
    m = rng.integers(0, 12, 50)
    for x in (s.astype(np.int64), s.astype(np.uint8), s.astype(bool), s[::2], s[:, :],
              np.asfortranarray(s)):
        mm = m[:len(x)]
        assert _same(cube.apply_moves(x, mm, 3), ref(x, mm, 3))
    ro = s.copy()
    ro.setflags(write=False)
    assert _same(cube.apply_moves(ro, m, 3), ref(ro, m, 3))
    out = cube.apply_moves(s, m, 3)
    assert out.flags.c_contiguous and out.flags.writeable and not np.shares_memory(out, s)


def test_fallback_shapes_equal_reference():
    """Inputs the kernel does not take go through the reference: identical by construction,
    checked here so that the gate does not send them to the kernel by mistake."""
    rng = np.random.default_rng(1)
    s = cube.scramble(rng, 6, 10)
    m = rng.integers(0, 12, 6)
    cases = [
        (s[0], 3),  # one state (S,), int move
        (s[None], 5),  # (1, B, S), int move
        (s[:1], m),  # (1, S) broadcast against (B,) moves
        (s, m[:1]),  # (B, S) broadcast against (1,) moves
        (np.zeros((0, 54), np.int8), np.zeros(0, np.int64)),  # B = 0
        (np.zeros((0, 54), np.int8), 4),
        (s.astype(np.float32), m),
        (s, m.astype(np.uint64)),
    ]
    for x, mv in cases:
        assert _same(cube.apply_moves(x, mv, 3), ref(x, mv, 3))


@pytest.mark.parametrize("bad", [12, -13, 100])
def test_out_of_range_moves_raise_as_before(bad):
    rng = np.random.default_rng(2)
    s = cube.scramble(rng, 20, 5)
    m = rng.integers(0, 12, 20)
    m[7] = bad
    with pytest.raises(IndexError):
        ref(s, m, 3)
    with pytest.raises(IndexError):
        cube.apply_moves(s, m, 3)
    with pytest.raises(IndexError):
        cube.apply_moves(s, m, 3, threads=2)
    with pytest.raises(IndexError):
        cube.apply_moves(s, bad, 3)
    with pytest.raises(ValueError):
        cube.apply_moves(s, m % 12, 4)


def test_lazy_switch(monkeypatch):
    """Below the threshold the numpy path runs (no numba import); past it the kernel loads."""
    rng = np.random.default_rng(3)
    s = cube.scramble(rng, 10, 5)
    m = rng.integers(0, 12, 10)
    monkeypatch.setattr(cube, "_kernel_fn", None)
    monkeypatch.setattr(cube, "_numpy_state_moves", 0)
    monkeypatch.setattr(cube, "_KERNEL_AFTER", 30)
    for _ in range(3):
        assert _same(cube.apply_moves(s, m, 3), ref(s, m, 3))
    assert cube._kernel_fn is None and cube._numpy_state_moves == 30
    assert _same(cube.apply_moves(s, m, 3), ref(s, m, 3))
    assert cube._kernel_fn is not None  # loaded (or marked unavailable: False)


@needs_kernel
@settings(max_examples=30, deadline=None)
@given(n=st.sampled_from([2, 3]), seed=st.integers(0, 2**31 - 1),
       batch=st.integers(1, 40), depth=st.integers(0, 25), threads=st.integers(1, 3))
def test_hypothesis_kernel_equals_reference(n, seed, batch, depth, threads):
    rng = np.random.default_rng(seed)
    s = cube.scramble(rng, batch, depth, n, paper_rules=False)
    m = rng.integers(-12, 12, batch)
    assert _same(cube.apply_moves(s, m, n, threads=threads), ref(s, m, n))


@needs_kernel
@pytest.mark.parametrize("n", [2, 3])
def test_random_walks_and_neighbours_unchanged(n):
    """random_walks (which calls apply_moves) gives the same walks as a replay through the
    reference; neighbours agrees with per-move application."""
    walks, mv = cube.random_walks(np.random.default_rng(4), 300, 12, n,
                                  no_immediate_inverse=True)
    s = cube.solved(n, 300)
    for t in range(12):
        s = ref(s, mv[:, t], n)
        assert np.array_equal(walks[:, t + 1], s)
    nb = cube.neighbours(walks[:, -1], n)
    for k in range(12):
        assert np.array_equal(nb[:, k], cube.apply_moves(walks[:, -1], k, n))
