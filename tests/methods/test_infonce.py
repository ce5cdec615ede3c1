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


@pytest.mark.parametrize("similarity", ["dot", "cosine"])
@pytest.mark.parametrize("tau", [0.01, 1e4])
def test_float32_finite_at_extreme_temperatures_with_large_norms(similarity, tau):
    """Rows of norm 1e4: dot logits reach 1e10 at tau = 0.01; still finite, as are gradients."""
    g = torch.Generator().manual_seed(5)
    z1 = (
        1e4 * torch.nn.functional.normalize(torch.randn(32, 8, generator=g), dim=1)
    ).requires_grad_()
    z2 = (
        1e4 * torch.nn.functional.normalize(torch.randn(32, 8, generator=g), dim=1)
    ).requires_grad_()
    for fn in (
        lambda: info_nce(z1, z2, temperature=tau, similarity=similarity, symmetric=True),
        lambda: nt_xent(z1, z2, temperature=tau, similarity=similarity),
    ):
        loss = fn()
        g1, g2 = torch.autograd.grad(loss, (z1, z2))
        assert torch.isfinite(loss) and torch.isfinite(g1).all() and torch.isfinite(g2).all()


# ---- extreme temperatures, float64, against the loop references ----------------------------


@pytest.mark.parametrize("tau", [0.01, 1e4])
@pytest.mark.parametrize("similarity", ["dot", "cosine"])
def test_extreme_temperatures_match_loop_reference(tau, similarity):
    """Values and gradients at tau = 0.01 and 1e4 against autograd of the exp/sum/log loops.

    The loops exponentiate directly, so the batch is kept where float64 exp cannot overflow
    (|s| / tau < 700); that is a limit of the reference, not of the loss.
    """
    z1, z2 = _pair(5, 3, seed=17, scale=0.5)
    z = torch.cat([z1, z2]).detach()
    s = pairwise_similarity(z, z, similarity)
    assert s.abs().max().item() / tau < 700
    cases = [
        (
            lambda a, b: info_nce(a, b, temperature=tau, similarity=similarity),
            lambda a, b: ref_info_nce(a, b, tau, similarity),
        ),
        (
            lambda a, b: info_nce(a, b, temperature=tau, similarity=similarity, symmetric=True),
            lambda a, b: ref_info_nce(a, b, tau, similarity, symmetric=True),
        ),
        (
            lambda a, b: nt_xent(a, b, temperature=tau, similarity=similarity),
            lambda a, b: ref_nt_xent(a, b, tau, similarity),
        ),
    ]
    for ours, ref in cases:
        got, want = _value_and_grads(ours, z1, z2), _value_and_grads(ref, z1, z2)
        assert all(torch.isfinite(t).all() for t in got)
        # at tau = 1e4 the gradients are O(1/tau): compare them relative to their own scale
        for g_, w in zip(got, want, strict=True):
            torch.testing.assert_close(g_, w, rtol=1e-9, atol=1e-12 * w.abs().max().item())


@pytest.mark.parametrize("fn", ["info_nce", "nt_xent"])
def test_tensor_temperature_gradient_matches_loop_reference(fn):
    z1, z2 = _pair(4, 3, seed=23)
    tau = torch.tensor(0.3, dtype=DT, requires_grad=True)
    if fn == "info_nce":
        ours = info_nce(z1, z2, temperature=tau, similarity="cosine", symmetric=True)
        ref = ref_info_nce(z1, z2, tau, "cosine", symmetric=True)
    else:
        ours = nt_xent(z1, z2, temperature=tau, similarity="dot")
        ref = ref_nt_xent(z1, z2, tau, "dot")
    got = torch.autograd.grad(ours, (z1, z2, tau))
    want = torch.autograd.grad(ref, (z1, z2, tau))
    for g_, w in zip(got, want, strict=True):
        torch.testing.assert_close(g_, w, rtol=1e-10, atol=1e-12)


def test_nt_xent_per_view_gradients_match_reference():
    """reduction='none' with arbitrary upstream weights: the -inf self-logits get zero gradient
    for any upstream gradient (nt_xent sets them outside autograd; this checks that is exact)."""
    z1, z2 = _pair(4, 3, seed=29)
    n = z1.shape[0]
    w = torch.linspace(-1.0, 2.0, 2 * n, dtype=DT)
    views = [z1[i] for i in range(n)] + [z2[i] for i in range(n)]
    ref_terms = []
    for i in range(2 * n):
        num = torch.exp(_sim(views[i], views[(i + n) % (2 * n)], "cosine") / 0.2)
        den = sum(
            torch.exp(_sim(views[i], views[k], "cosine") / 0.2) for k in range(2 * n) if k != i
        )
        ref_terms.append(-torch.log(num / den))
    ref = torch.stack(ref_terms)
    ours = nt_xent(z1, z2, temperature=0.2, reduction="none")
    torch.testing.assert_close(ours, ref, rtol=1e-12, atol=1e-12)
    got = torch.autograd.grad((w * ours).sum(), (z1, z2))
    want = torch.autograd.grad((w * ref).sum(), (z1, z2))
    for g_, w_ in zip(got, want, strict=True):
        torch.testing.assert_close(g_, w_, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("similarity", ["dot", "cosine"])
def test_gradcheck_and_second_order(similarity):
    """First and second derivatives (w.r.t. z1, z2 and a tensor tau) by finite differences,
    so Hessian-vector products through either loss are also right."""
    z1, z2 = _pair(3, 2, seed=41)
    tau = torch.tensor(0.3, dtype=DT, requires_grad=True)
    for fn in (
        lambda a, b, t: nt_xent(a, b, temperature=t, similarity=similarity),
        lambda a, b, t: info_nce(a, b, temperature=t, similarity=similarity, symmetric=True),
    ):
        assert torch.autograd.gradcheck(fn, (z1, z2, tau))
        assert torch.autograd.gradgradcheck(fn, (z1, z2, tau))


# ---- half precision (CPU) -------------------------------------------------------------------

# unit roundoff u: bfloat16 keeps 8 significant bits, float16 11
_UNIT_ROUNDOFF = {torch.bfloat16: 2.0**-8, torch.float16: 2.0**-11}


def _half_cases(tau, similarity):
    return [
        lambda a, b: info_nce(a, b, temperature=tau, similarity=similarity),
        lambda a, b: info_nce(a, b, temperature=tau, similarity=similarity, symmetric=True),
        lambda a, b: nt_xent(a, b, temperature=tau, similarity=similarity),
    ]


def _half_or_skip(dtype, fn, *args):
    try:
        return fn(*args)
    except (RuntimeError, NotImplementedError) as exc:  # a missing CPU kernel for this dtype
        if "Half" in str(exc) or "BFloat16" in str(exc) or "not implemented" in str(exc):
            pytest.skip(f"CPU kernel missing for {dtype}: {exc}")
        raise


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
@pytest.mark.parametrize("similarity", ["dot", "cosine"])
@pytest.mark.parametrize("tau", [0.01, 0.1, 1.0])
def test_half_precision_matches_float64(dtype, similarity, tau):
    """Loss (float32 out) and gradients (input dtype) of half inputs vs float64 on the same values.

    Tolerance, from where the error comes from: the only half-precision arithmetic is the
    normalisation and the similarity matmul, so each logit s/tau carries an error of a few
    unit roundoffs of |s| divided by tau, <= 3 u max|s| / tau; a per-anchor cross-entropy is
    2-Lipschitz in the max-norm of its logits, so |loss error| <= 6 u max|s| / tau. Gradients
    (first order): relative max-norm error ~ logit error + rounding of the half backward
    matmuls, bounded by 8 u (1 + max|s| / tau) and tested at tau >= 0.1 where that is < 1/2
    (bfloat16 dot at tau = 0.1 is left out by that rule). Not at tau = 0.01: there a bfloat16
    logit is uncertain by ~0.4, and float16 gradients of O(1e-5) underflow without loss
    scaling (documented in the module).
    """
    u = _UNIT_ROUNDOFF[dtype]
    g = torch.Generator().manual_seed(31)
    # rows of norm ~1, so dot similarities are O(1) like cosine ones
    z1 = torch.randn(24, 16, generator=g, dtype=DT) / 4
    z2 = z1 + 0.5 * torch.randn(24, 16, generator=g, dtype=DT) / 4
    z1, z2 = z1.to(dtype), z2.to(dtype)  # round the inputs once; compare on identical values
    z = torch.cat([z1, z2]).to(DT)
    s_max = pairwise_similarity(z, z, similarity).abs().max().item()
    loss_tol = 6 * u * s_max / tau
    grad_rtol = 8 * u * (1 + s_max / tau)
    for fn in _half_cases(tau, similarity):
        a, b = z1.clone().requires_grad_(), z2.clone().requires_grad_()
        loss, ga, gb = _half_or_skip(dtype, _value_and_grads, fn, a, b)
        want, wa, wb = _value_and_grads(fn, z1.to(DT).requires_grad_(), z2.to(DT).requires_grad_())
        assert loss.dtype == torch.float32 and ga.dtype == gb.dtype == dtype
        assert torch.isfinite(loss) and torch.isfinite(ga).all() and torch.isfinite(gb).all()
        assert abs(loss.double().item() - want.item()) <= loss_tol
        if tau >= 0.1 and grad_rtol < 0.5:
            got_g, want_g = torch.cat([ga, gb]).to(DT), torch.cat([wa, wb])
            err = (got_g - want_g).abs().max().item() / want_g.abs().max().item()
            assert err <= grad_rtol, (err, grad_rtol)


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_half_precision_logits_do_not_overflow(dtype):
    """Dot similarities of ~900 at tau = 0.01 are logits of ~9e4: beyond float16's 65504, so
    they would be inf if divided in half precision. Upcasting first keeps loss and grads finite
    and the loss close to float64."""
    g = torch.Generator().manual_seed(37)
    z1 = 30 * torch.nn.functional.normalize(torch.randn(16, 8, generator=g, dtype=DT), dim=1)
    z2 = z1 + 0.3 * torch.randn(16, 8, generator=g, dtype=DT)
    z1, z2 = z1.to(dtype), z2.to(dtype)
    s_max = pairwise_similarity(z1.to(DT), z2.to(DT)).abs().max().item()
    assert s_max / 0.01 > torch.finfo(torch.float16).max
    for fn in _half_cases(0.01, "dot"):
        a, b = z1.clone().requires_grad_(), z2.clone().requires_grad_()
        loss, ga, gb = _half_or_skip(dtype, _value_and_grads, fn, a, b)
        assert torch.isfinite(loss) and torch.isfinite(ga).all() and torch.isfinite(gb).all()
        want = fn(z1.to(DT), z2.to(DT))
        assert abs(loss.double().item() - want.item()) <= 6 * _UNIT_ROUNDOFF[dtype] * s_max / 0.01


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
