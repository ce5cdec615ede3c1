"""Tests of methods.common.infonce: loop references, closed forms, invariances, numerics, errors.

Values and gradients are compared in float64 against slow references written straight
from the definitions (explicit exp / sum / log over Python loops).
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from methods.common.infonce import info_nce, nt_xent, pairwise_similarity

DT = torch.float64


def _sim(a, b, similarity):
    dot = (a * b).sum()
    if similarity == "dot":
        return dot
    return dot / (a.norm() * b.norm())


def ref_info_nce(z1, z2, tau, similarity, symmetric=False):
    """-1/N sum_i log( exp(s(z1_i, z2_i)/tau) / sum_j exp(s(z1_i, z2_j)/tau) ), by loops."""
    n = z1.shape[0]

    def one_way(a, b):
        total = 0.0
        for i in range(n):
            num = torch.exp(_sim(a[i], b[i], similarity) / tau)
            den = sum(torch.exp(_sim(a[i], b[j], similarity) / tau) for j in range(n))
            total = total - torch.log(num / den)
        return total / n

    if symmetric:
        return 0.5 * (one_way(z1, z2) + one_way(z2, z1))
    return one_way(z1, z2)


def ref_nt_xent(z1, z2, tau, similarity):
    """SimCLR NT-Xent by loops: over the 2N views, positive = the pair, denominators skip k == i."""
    n = z1.shape[0]
    views = [z1[i] for i in range(n)] + [z2[i] for i in range(n)]
    total = 0.0
    for i in range(2 * n):
        pos = (i + n) % (2 * n)
        num = torch.exp(_sim(views[i], views[pos], similarity) / tau)
        den = sum(
            torch.exp(_sim(views[i], views[k], similarity) / tau) for k in range(2 * n) if k != i
        )
        total = total - torch.log(num / den)
    return total / (2 * n)


def _pair(n, d, seed, scale=0.7):
    g = torch.Generator().manual_seed(seed)
    z1 = (scale * torch.randn(n, d, generator=g, dtype=DT)).requires_grad_()
    z2 = (scale * torch.randn(n, d, generator=g, dtype=DT)).requires_grad_()
    return z1, z2


def _value_and_grads(fn, z1, z2):
    loss = fn(z1, z2)
    g1, g2 = torch.autograd.grad(loss, (z1, z2))
    return loss.detach(), g1, g2


GRID = list(itertools.product([1, 2, 5], [1, 3, 8], [0.1, 0.5, 1.0, 2.0], ["dot", "cosine"]))


@pytest.mark.parametrize("n,d,tau,similarity", GRID)
@pytest.mark.parametrize("symmetric", [False, True])
def test_info_nce_matches_loop_reference(n, d, tau, similarity, symmetric):
    z1, z2 = _pair(n, d, seed=n * 100 + d)
    got = _value_and_grads(
        lambda a, b: info_nce(a, b, temperature=tau, similarity=similarity, symmetric=symmetric),
        z1,
        z2,
    )
    want = _value_and_grads(lambda a, b: ref_info_nce(a, b, tau, similarity, symmetric), z1, z2)
    for g, w in zip(got, want, strict=True):
        torch.testing.assert_close(g, w, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("n,d,tau,similarity", GRID)
def test_nt_xent_matches_loop_reference(n, d, tau, similarity):
    z1, z2 = _pair(n, d, seed=n * 100 + d + 7)
    got = _value_and_grads(
        lambda a, b: nt_xent(a, b, temperature=tau, similarity=similarity), z1, z2
    )
    want = _value_and_grads(lambda a, b: ref_nt_xent(a, b, tau, similarity), z1, z2)
    for g, w in zip(got, want, strict=True):
        torch.testing.assert_close(g, w, rtol=1e-10, atol=1e-12)


def test_reduction_none_and_sum_are_consistent_with_mean():
    z1, z2 = _pair(6, 4, seed=3)
    per = info_nce(z1, z2, reduction="none", symmetric=True)
    assert per.shape == (6,)
    torch.testing.assert_close(per.mean(), info_nce(z1, z2, symmetric=True))
    torch.testing.assert_close(per.sum(), info_nce(z1, z2, symmetric=True, reduction="sum"))
    per2 = nt_xent(z1, z2, reduction="none")
    assert per2.shape == (12,)
    torch.testing.assert_close(per2.mean(), nt_xent(z1, z2))


# ---- closed forms ---------------------------------------------------------------------


def _orthonormal_rows(n, d, seed):
    g = torch.Generator().manual_seed(seed)
    q, _ = torch.linalg.qr(torch.randn(d, n, generator=g, dtype=DT))
    return q.T.contiguous()  # (n, d), orthonormal rows


@pytest.mark.parametrize("n", [1, 2, 4, 7])
@pytest.mark.parametrize("tau", [0.05, 0.3, 1.0, 4.0])
def test_nt_xent_closed_form_aligned_orthonormal(n, tau):
    z = _orthonormal_rows(n, d=n + 2, seed=n)
    want = -math.log(math.exp(1 / tau) / (math.exp(1 / tau) + 2 * n - 2))
    for sim in ("cosine", "dot"):  # unit-norm rows: dot and cosine coincide
        assert nt_xent(z, z.clone(), temperature=tau, similarity=sim).item() == pytest.approx(
            want, rel=1e-12
        )


@pytest.mark.parametrize("n", [1, 2, 4, 7])
@pytest.mark.parametrize("tau", [0.05, 0.3, 1.0, 4.0])
def test_info_nce_closed_form_aligned_orthonormal(n, tau):
    z = _orthonormal_rows(n, d=n + 2, seed=n)
    want = -math.log(math.exp(1 / tau) / (math.exp(1 / tau) + n - 1))
    for symmetric in (False, True):
        got = info_nce(z, z.clone(), temperature=tau, similarity="cosine", symmetric=symmetric)
        assert got.item() == pytest.approx(want, rel=1e-12)


@pytest.mark.parametrize("n", [2, 5, 16])
@pytest.mark.parametrize("similarity", ["dot", "cosine"])
def test_infinite_temperature_limits(n, similarity):
    z1, z2 = _pair(n, 4, seed=n)
    tau = 1e12
    assert nt_xent(z1, z2, temperature=tau, similarity=similarity).item() == pytest.approx(
        math.log(2 * n - 1), rel=1e-9
    )
    assert info_nce(z1, z2, temperature=tau, similarity=similarity).item() == pytest.approx(
        math.log(n), rel=1e-9
    )


def test_perfect_alignment_low_temperature_goes_to_zero():
    z = _orthonormal_rows(4, 6, seed=0)
    assert info_nce(z, z, temperature=0.01, similarity="cosine").item() < 1e-30
    assert nt_xent(z, z, temperature=0.01).item() < 1e-30


# ---- invariances (hypothesis) -----------------------------------------------------------

_settings = settings(max_examples=25, deadline=None)
_cases = dict(
    seed=st.integers(0, 2**31 - 1),
    n=st.integers(1, 9),
    d=st.integers(1, 6),
    tau=st.sampled_from([0.05, 0.2, 1.0, 3.0]),
    similarity=st.sampled_from(["dot", "cosine"]),
)


def _np_pair(seed, n, d):
    rng = np.random.default_rng(seed)
    return torch.tensor(rng.normal(size=(n, d))), torch.tensor(rng.normal(size=(n, d))), rng


@_settings
@given(**_cases, symmetric=st.booleans())
def test_batch_permutation_invariance(seed, n, d, tau, similarity, symmetric):
    z1, z2, rng = _np_pair(seed, n, d)
    p = torch.as_tensor(rng.permutation(n))
    kw = dict(temperature=tau, similarity=similarity)
    torch.testing.assert_close(
        info_nce(z1[p], z2[p], symmetric=symmetric, **kw),
        info_nce(z1, z2, symmetric=symmetric, **kw),
    )
    torch.testing.assert_close(nt_xent(z1[p], z2[p], **kw), nt_xent(z1, z2, **kw))
    # per-anchor losses permute with the batch
    torch.testing.assert_close(
        info_nce(z1[p], z2[p], reduction="none", **kw), info_nce(z1, z2, reduction="none", **kw)[p]
    )


@_settings
@given(**_cases)
def test_view_swap_invariance(seed, n, d, tau, similarity):
    z1, z2, _ = _np_pair(seed, n, d)
    kw = dict(temperature=tau, similarity=similarity)
    torch.testing.assert_close(
        info_nce(z2, z1, symmetric=True, **kw), info_nce(z1, z2, symmetric=True, **kw)
    )
    torch.testing.assert_close(nt_xent(z2, z1, **kw), nt_xent(z1, z2, **kw))


@_settings
@given(**_cases, symmetric=st.booleans())
def test_rotation_invariance(seed, n, d, tau, similarity, symmetric):
    z1, z2, rng = _np_pair(seed, n, d)
    q, _ = np.linalg.qr(rng.normal(size=(d, d)))
    q = torch.as_tensor(q)
    kw = dict(temperature=tau, similarity=similarity)
    torch.testing.assert_close(
        info_nce(z1 @ q, z2 @ q, symmetric=symmetric, **kw),
        info_nce(z1, z2, symmetric=symmetric, **kw),
    )
    torch.testing.assert_close(nt_xent(z1 @ q, z2 @ q, **kw), nt_xent(z1, z2, **kw))


def test_asymmetric_info_nce_is_not_view_symmetric():
    """Guards the symmetry test against vacuity: the one-way loss does depend on direction."""
    z1, z2 = _pair(5, 3, seed=11)
    assert abs(info_nce(z1, z2).item() - info_nce(z2, z1).item()) > 1e-6


# ---- float32 numerics ---------------------------------------------------------------------


@pytest.mark.parametrize("similarity", ["dot", "cosine"])
@pytest.mark.parametrize("norm", [1.0, 100.0])
def test_float32_finite_at_small_temperature(similarity, norm):
    g = torch.Generator().manual_seed(0)
    z1 = (
        norm * torch.nn.functional.normalize(torch.randn(64, 16, generator=g), dim=1)
    ).requires_grad_()
    z2 = (
        norm * torch.nn.functional.normalize(torch.randn(64, 16, generator=g), dim=1)
    ).requires_grad_()
    for fn in (
        lambda: info_nce(z1, z2, temperature=0.01, similarity=similarity),
        lambda: info_nce(z1, z2, temperature=0.01, similarity=similarity, symmetric=True),
        lambda: nt_xent(z1, z2, temperature=0.01, similarity=similarity),
    ):
        loss = fn()
        g1, g2 = torch.autograd.grad(loss, (z1, z2))
        assert loss.dtype == torch.float32
        assert torch.isfinite(loss) and torch.isfinite(g1).all() and torch.isfinite(g2).all()


def test_float32_small_temperature_matches_float64():
    g = torch.Generator().manual_seed(1)
    z1, z2 = torch.randn(32, 8, generator=g), torch.randn(32, 8, generator=g)
    for fn in (info_nce, nt_xent):
        lo = fn(z1, z2, temperature=0.01, similarity="cosine")
        hi = fn(z1.double(), z2.double(), temperature=0.01, similarity="cosine")
        assert lo.item() == pytest.approx(hi.item(), rel=1e-4)


def test_tensor_temperature_gets_a_gradient():
    z1, z2 = _pair(4, 3, seed=2)
    tau = torch.tensor(0.5, dtype=DT, requires_grad=True)
    (g,) = torch.autograd.grad(
        info_nce(z1, z2, temperature=tau, similarity="cosine", symmetric=True), (tau,)
    )
    assert torch.isfinite(g)


# ---- errors -------------------------------------------------------------------------------


@pytest.mark.parametrize("fn", [info_nce, nt_xent])
@pytest.mark.parametrize("tau", [0.0, -1.0, float("nan"), float("inf")])
def test_bad_temperature(fn, tau):
    z = torch.randn(3, 2)
    with pytest.raises(ValueError, match="temperature"):
        fn(z, z, temperature=tau)


@pytest.mark.parametrize("fn", [info_nce, nt_xent])
def test_shape_errors(fn):
    with pytest.raises(ValueError, match="shape mismatch"):
        fn(torch.randn(3, 2), torch.randn(4, 2))
    with pytest.raises(ValueError, match="shape mismatch"):
        fn(torch.randn(3, 2), torch.randn(3, 5))
    with pytest.raises(ValueError, match="2-D"):
        fn(torch.randn(3), torch.randn(3))
    with pytest.raises(ValueError, match="non-empty"):
        fn(torch.randn(0, 2), torch.randn(0, 2))
    with pytest.raises(TypeError, match="torch tensors"):
        fn(np.zeros((3, 2)), np.zeros((3, 2)))


@pytest.mark.parametrize("fn", [info_nce, nt_xent])
def test_unknown_similarity_and_reduction(fn):
    z = torch.randn(3, 2)
    with pytest.raises(ValueError, match="unknown similarity 'euclid'"):
        fn(z, z, similarity="euclid")
    with pytest.raises(ValueError, match="unknown reduction 'avg'"):
        fn(z, z, reduction="avg")
    with pytest.raises(ValueError, match="unknown similarity"):
        pairwise_similarity(z, z, "l2")
