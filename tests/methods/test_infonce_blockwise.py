"""The blockwise (linear-memory) InfoNCE / NT-Xent against the dense reference.

Three ways, as for every loss here: against the dense reference (itself tested against a
loop reference and closed forms in ``test_infonce.py``), against float64 truth where float32
is ill-conditioned, and by hypothesis invariances (block size, batch permutation, view
swap). Gradients: ``gradcheck`` in float64, the temperature's gradient too. Memory: a
subprocess runs a batch whose dense logits would take 1 GiB and must stay far below that.
"""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
import textwrap
import zlib

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from methods.common.infonce import info_nce, nt_xent
from methods.common.infonce_blockwise import BLOCKWISE_FROM, info_nce_blockwise, nt_xent_blockwise

DT = torch.float64
TAUS = [1e-4, 1e-2, 1.0, 1e4]
BLOCKS = [1, 3, 64]


def _losses(symmetric: bool | None):
    """(reference, blockwise) pair: NT-Xent for ``symmetric is None``, else InfoNCE."""
    if symmetric is None:
        return nt_xent, nt_xent_blockwise, {}
    return info_nce, info_nce_blockwise, {"symmetric": symmetric}


def _value_and_grads(fn, z1, z2, tau, g, **kw):
    a, b = z1.clone().requires_grad_(), z2.clone().requires_grad_()
    t = torch.tensor(tau, dtype=z1.dtype, requires_grad=True)
    loss = fn(a, b, temperature=t, **kw)
    return [loss.detach(), *torch.autograd.grad(loss, (a, b, t), g)]


def _rel(got, want):
    return ((got.double() - want.double()).abs().max() / want.double().abs().max().clamp_min(
        1e-300)).item()


CASES = list(itertools.product([None, False, True], ["dot", "cosine"], ["mean", "none"], TAUS))


@pytest.mark.parametrize("symmetric, similarity, reduction, tau", CASES)
def test_matches_reference_float64_and_float32(symmetric, similarity, reduction, tau):
    """float64: loss, both gradients and the temperature's gradient within 1e-12 relative.
    float32, against float64 truth: loss and gradients within 1e-5 relative (the issue's
    bound) or, where the dense float32 reference itself misses truth (tau = 1e-4: cosine
    logits of 1e4, whose float32 rounding is ~1e-3 absolute; the reference is then 1e-5 to
    7e-5 off), within 10x the reference's own error (worst seen over 30 draws per case: 5.7x).
    At every block size, including blocks of one row and a batch smaller than one block.
    The draw is seeded from the case, not from ``hash()`` (salted per process: CI once drew
    an instance where float32 blockwise vs float32 dense differed by 5.2e-5)."""
    ref, blk, kw = _losses(symmetric)
    gen = torch.Generator().manual_seed(zlib.crc32(repr((symmetric, similarity,
                                                          reduction)).encode()))
    n, d = 10, 5
    z1, z2 = torch.randn(n, d, generator=gen, dtype=DT), torch.randn(n, d, generator=gen,
                                                                      dtype=DT)
    rows = 2 * n if symmetric is None else n
    g = torch.randn(rows, generator=gen, dtype=DT) if reduction == "none" else torch.tensor(
        1.3, dtype=DT)
    kw = {**kw, "similarity": similarity, "reduction": reduction}
    names = ["loss", "grad z1", "grad z2", "grad tau"]
    truth = _value_and_grads(ref, z1, z2, tau, g, **kw)
    dense32 = _value_and_grads(ref, z1.float(), z2.float(), tau, g.float(), **kw)
    for block in BLOCKS:
        got = _value_and_grads(blk, z1, z2, tau, g, block=block, **kw)
        for name, x, y in zip(names, got, truth):
            assert _rel(x, y) <= 1e-12, (name, "float64", block, _rel(x, y))
        got = _value_and_grads(blk, z1.float(), z2.float(), tau, g.float(), block=block, **kw)
        # float32's temperature gradient is a sum of ~n^2 signed terms: the reference is
        # itself only ~1e-5 accurate there (see the extreme-temperature test below)
        for name, x, y, r in list(zip(names, got, truth, dense32))[:3]:
            bound = max(1e-5, 10 * _rel(r, y))
            assert _rel(x, y) <= bound, (name, "float32", block, _rel(x, y), _rel(r, y))


@pytest.mark.parametrize("symmetric", [None, False, True])
@pytest.mark.parametrize("similarity", ["dot", "cosine"])
@pytest.mark.parametrize("tau", [1e-4, 1e4])
def test_float32_as_accurate_as_the_reference_at_extreme_temperatures(symmetric, similarity,
                                                                      tau):
    """Against float64 truth on 20 draws: the blockwise float32 error stays within 3x the
    dense reference's own error (+1e-6) for the loss and every gradient. (A single running
    log-sum-exp failed this: at tau = 1e-4 its gradient error was 5e-5, the reference's 1e-6.)"""
    ref, blk, kw = _losses(symmetric)
    gen = torch.Generator().manual_seed(7)
    worst_ref, worst_blk = np.zeros(4), np.zeros(4)
    for _ in range(20):
        z1, z2 = torch.randn(10, 5, generator=gen, dtype=DT), torch.randn(10, 5, generator=gen,
                                                                          dtype=DT)
        g = torch.tensor(1.0, dtype=DT)
        truth = _value_and_grads(ref, z1, z2, tau, g, similarity=similarity, **kw)
        r = _value_and_grads(ref, z1.float(), z2.float(), tau, g.float(), similarity=similarity,
                             **kw)
        b = _value_and_grads(blk, z1.float(), z2.float(), tau, g.float(),
                             similarity=similarity, block=3, **kw)
        worst_ref = np.maximum(worst_ref, [_rel(x, t) for x, t in zip(r, truth)])
        worst_blk = np.maximum(worst_blk, [_rel(x, t) for x, t in zip(b, truth)])
    assert (worst_blk <= 3 * worst_ref + 1e-6).all(), (worst_blk, worst_ref)


@pytest.mark.parametrize("symmetric", [None, False, True])
@pytest.mark.parametrize("similarity", ["dot", "cosine"])
def test_gradcheck_with_learned_temperature(symmetric, similarity):
    _, blk, kw = _losses(symmetric)
    gen = torch.Generator().manual_seed(3)
    z1 = torch.randn(5, 3, generator=gen, dtype=DT, requires_grad=True)
    z2 = torch.randn(5, 3, generator=gen, dtype=DT, requires_grad=True)
    t = torch.tensor(0.4, dtype=DT, requires_grad=True)
    for reduction in ("mean", "none"):
        assert torch.autograd.gradcheck(
            lambda a, b, tau, r=reduction: blk(a, b, temperature=tau, similarity=similarity,
                                               reduction=r, block=2, **kw), (z1, z2, t))


_UNIT_ROUNDOFF = {torch.bfloat16: 2.0**-8, torch.float16: 2.0**-11}


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
@pytest.mark.parametrize("symmetric", [None, False, True])
@pytest.mark.parametrize("tau", [0.1, 1.0])
def test_half_precision_inputs_like_the_reference(dtype, symmetric, tau):
    """float32 loss, gradients in the input dtype, and the same numbers as the reference up
    to the half-precision rounding of the similarities: |loss error| <= 6 u max|s| / tau
    and gradient error <= 8 u (1 + max|s| / tau) relative (the bounds argued in
    ``test_infonce.py::test_half_precision_matches_float64``), here between the two
    implementations, which round the same similarities."""
    ref, blk, kw = _losses(symmetric)
    u = _UNIT_ROUNDOFF[dtype]
    gen = torch.Generator().manual_seed(31)
    z1 = torch.randn(24, 16, generator=gen) / 4
    z2 = (z1 + 0.5 * torch.randn(24, 16, generator=gen) / 4)
    z1, z2 = z1.to(dtype), z2.to(dtype)
    s_max = (torch.cat([z1, z2]).float() @ torch.cat([z1, z2]).float().T).abs().max().item()
    g = torch.tensor(1.0)
    want = _value_and_grads(ref, z1, z2, tau, g, similarity="dot", **kw)
    got = _value_and_grads(blk, z1, z2, tau, g, similarity="dot", block=7, **kw)
    assert got[0].dtype == torch.float32 and got[1].dtype == got[2].dtype == dtype
    assert abs(got[0].item() - want[0].item()) <= 6 * u * s_max / tau
    grads = torch.cat([got[1], got[2]]), torch.cat([want[1], want[2]])
    assert _rel(*grads) <= 8 * u * (1 + s_max / tau)


_settings = settings(max_examples=25, deadline=None)


@_settings
@given(seed=st.integers(0, 2**31 - 1), n=st.integers(1, 9), d=st.integers(1, 6),
       tau=st.sampled_from([0.05, 0.2, 1.0, 3.0]), similarity=st.sampled_from(["dot", "cosine"]),
       b1=st.integers(1, 20), b2=st.integers(1, 20), symmetric=st.sampled_from([None, False, True]))
def test_block_size_and_batch_permutation_invariance(seed, n, d, tau, similarity, b1, b2,
                                                     symmetric):
    _, blk, kw = _losses(symmetric)
    rng = np.random.default_rng(seed)
    z1, z2 = torch.tensor(rng.normal(size=(n, d))), torch.tensor(rng.normal(size=(n, d)))
    kw = {**kw, "temperature": tau, "similarity": similarity, "reduction": "none"}
    x, y = blk(z1, z2, block=b1, **kw), blk(z1, z2, block=b2, **kw)
    torch.testing.assert_close(x, y, rtol=1e-12, atol=1e-12)
    p = torch.as_tensor(rng.permutation(n))
    perm = torch.cat([p, p + n]) if symmetric is None else p
    torch.testing.assert_close(blk(z1[p], z2[p], block=b1, **kw), x[perm], rtol=1e-12,
                               atol=1e-12)
    if symmetric is None:  # NT-Xent: swapping the views swaps the halves
        torch.testing.assert_close(blk(z2, z1, block=b2, **kw), torch.cat([x[n:], x[:n]]),
                                   rtol=1e-12, atol=1e-12)


def test_bad_block_and_inputs_are_refused():
    z = torch.randn(4, 3)
    for fn in (nt_xent_blockwise, info_nce_blockwise):
        with pytest.raises(ValueError, match="block"):
            fn(z, z, block=0)
        with pytest.raises(ValueError, match="temperature"):
            fn(z, z, temperature=0.0)
        with pytest.raises(ValueError, match="shape"):
            fn(z, z[:3])


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_memory_is_linear_in_the_batch():
    """N = 8,192 pairs: the dense loss's (2N)^2 float32 logits alone are 1 GiB (and their
    gradient another). Forward + backward here must add under 120 MiB to the peak RSS of
    a process that already holds the inputs (measured: ~20 MiB at block 512)."""
    code = textwrap.dedent("""
        import json, torch
        torch.set_num_threads(1)
        from methods.common.infonce_blockwise import nt_xent_blockwise
        z1 = torch.randn(8192, 16, requires_grad=True)
        z2 = torch.randn(8192, 16, requires_grad=True)
        z1.sum().backward(); z2.sum().backward()  # gradient buffers allocated up front
        z1.grad = z2.grad = None
        def status(key):  # kB; ru_maxrss would carry the parent's peak across exec
            for line in open("/proc/self/status"):
                if line.startswith(key + ":"):
                    return int(line.split()[1])
        before = status("VmRSS")
        open("/proc/self/clear_refs", "w").write("5")  # the peak (VmHWM) := current RSS
        nt_xent_blockwise(z1, z2, temperature=0.1, block=512).backward()
        after = status("VmHWM")
        print(json.dumps({"extra_kib": after - before}))
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=300, check=True)
    extra_mib = json.loads(out.stdout.strip().splitlines()[-1])["extra_kib"] / 1024
    assert extra_mib < 120, extra_mib


@pytest.mark.parametrize("n", [BLOCKWISE_FROM - 1, BLOCKWISE_FROM])
def test_auto_switches_to_blockwise_at_the_benchmarked_size(monkeypatch, n):
    """nt_xent_auto: the dense reference below BLOCKWISE_FROM pairs, the blockwise loss from
    there on, with the reference's value and gradient either way (float64, 1e-12)."""
    import methods.common.infonce_blockwise as bw

    g = torch.Generator().manual_seed(n)
    z1 = torch.randn(n, 8, generator=g, dtype=torch.float64, requires_grad=True)
    z2 = torch.randn(n, 8, generator=g, dtype=torch.float64)
    calls = []
    real = bw.nt_xent_blockwise
    monkeypatch.setattr(bw, "nt_xent_blockwise", lambda *a, **k: calls.append(1) or real(*a, **k))
    got = bw.nt_xent_auto(z1, z2, temperature=0.5, similarity="cosine")
    assert len(calls) == (1 if n >= BLOCKWISE_FROM else 0)
    (g_got,) = torch.autograd.grad(got, z1)
    ref = nt_xent(z1, z2, temperature=0.5, similarity="cosine")
    (g_ref,) = torch.autograd.grad(ref, z1)
    assert torch.allclose(got, ref, rtol=1e-12, atol=0)
    assert torch.allclose(g_got, g_ref, rtol=1e-9, atol=1e-15)
