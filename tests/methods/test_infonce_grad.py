"""Tests of methods.common.infonce_grad: the closed-form anchor gradient, the band, spectra.

The gradient is checked against autograd of the shared ``info_nce`` in float64, against a
50-digit mpmath reference where autograd itself loses digits (tau = 0.01), and against
the exact large-tau limit. The band is a theorem, so a hypothesis search for a violating
batch must find nothing; a deliberately wrong band shows that the search has teeth.
"""

from __future__ import annotations

import math

import mpmath
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import HealthCheck, find, given, settings
from hypothesis import strategies as st

from methods.common import infonce_grad as ig
from methods.common.infonce import info_nce
from methods.common.infonce_grad import (
    anchor_grad_sq_norm,
    anchor_gradient,
    anchor_gradients,
    band_contains,
    covariance_eigenvalues,
    effective_rank,
    effective_rank_from_eigenvalues,
    keys_lambda_max,
    large_tau_limit,
    negatives_lambda_max,
    spectral_band,
    zca_whiten,
)

DT = torch.float64
EPS = torch.finfo(DT).eps


@pytest.fixture(autouse=True)
def one_torch_thread():
    """Tiny matrices: intra-op threads only add overhead, and on an oversubscribed CI
    machine two spinning threads made the 1 000-example band search take 50 s instead of 1."""
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)


def cloud(seed, n, d, *, anisotropy=1.0, offset=0.0, noise=0.5, dtype=DT):
    """Unit anchors and positives normalise(x + noise xi) from an anisotropic, shifted cloud."""
    rng = np.random.default_rng(seed)
    stds = anisotropy ** (-np.arange(d) / max(d - 1, 1))
    q, _ = np.linalg.qr(rng.standard_normal((d, d)))
    shape = q * stds
    mean = offset * np.sqrt(np.sum(stds**2)) * rng.standard_normal(d) / math.sqrt(d)
    x = mean + rng.standard_normal((n, d)) @ shape.T
    xp = x + noise * rng.standard_normal((n, d)) @ shape.T
    z = F.normalize(torch.from_numpy(x), dim=1).to(dtype)
    zp = F.normalize(torch.from_numpy(xp), dim=1).to(dtype)
    return z, zp


def autograd_per_anchor(z, zp, tau):
    a = z.clone().requires_grad_(True)
    info_nce(a, zp, temperature=tau, reduction="none").sum().backward()
    return a.grad


def assert_matches_autograd(z, zp, tau):
    """|g_auto - g| <= 1e-12 |g| + 4 N eps / tau, per anchor.

    The absolute term is autograd's own floor: it forms p_ii - 1 by subtraction (absolute
    error ~eps) and sums N terms (p_ij - delta_ij) z_j / tau with unit z_j.
    """
    n = z.shape[0]
    g = anchor_gradient(z, zp, tau)
    ga = autograd_per_anchor(z, zp, tau)
    err = (ga - g).norm(dim=1)
    bound = 1e-12 * g.norm(dim=1) + 4 * n * EPS / tau
    assert torch.all(err <= bound), float((err / bound).max())


# ---- the identity -------------------------------------------------------------------------


@pytest.mark.parametrize("n,d", [(2, 1), (7, 3), (64, 16), (33, 80)])
@pytest.mark.parametrize("tau", [0.05, 0.1, 0.5, 1.0, 10.0])
def test_gradient_matches_autograd_float64(n, d, tau):
    z, zp = cloud(n * 100 + d, n, d, anisotropy=5.0)
    assert_matches_autograd(z, zp, tau)
    parts = anchor_gradients(z, zp, tau)
    # where 1 - p_ii is not tiny, autograd is accurate to ~1e-15 relative: demand 1e-12
    # (d = 1 can give g_i = 0 exactly: a negative key equal to the positive)
    ok = (parts.one_minus_p > 1e-3) & (parts.grad.norm(dim=1) > 1e-6)
    ga = autograd_per_anchor(z, zp, tau)
    rel = (ga - parts.grad).norm(dim=1) / parts.grad.norm(dim=1)
    assert torch.all(rel[ok] < 1e-12)
    # the factored squared norm equals |g|^2 of the vector form
    np.testing.assert_allclose(parts.sq_norm, parts.grad.square().sum(1), rtol=1e-12, atol=0)
    np.testing.assert_allclose(anchor_grad_sq_norm(z, zp, tau), parts.sq_norm, rtol=0, atol=0)


@pytest.mark.parametrize("tau", [0.01, 100.0])
@pytest.mark.parametrize("aligned", [True, False])
def test_gradient_matches_autograd_at_extreme_temperatures(tau, aligned):
    if aligned:
        z, zp = cloud(5, 48, 12, anisotropy=3.0, noise=0.3)
    else:  # independent anchors and keys: 1 - p_ii is O(1) for most anchors
        z, _ = cloud(6, 48, 12)
        _, zp = cloud(7, 48, 12)
    assert_matches_autograd(z, zp, tau)
    g = anchor_gradients(z, zp, tau)
    assert torch.all(torch.isfinite(g.grad)) and torch.all(torch.isfinite(g.sq_norm))
    assert torch.all(g.one_minus_p > 0)


@pytest.mark.parametrize("tau", [0.01, 0.1, 1.0, 100.0])
def test_per_anchor_loss_values_follow_from_one_minus_p(tau):
    # l_i = -log p_ii = -log1p(-(1 - p_ii)); info_nce computes LSE_j(s_ij) - s_ii, whose
    # absolute round-off is ~eps |s_ii| = eps |a_i| / tau
    z, zp = cloud(9, 40, 10, anisotropy=3.0)
    omp = anchor_gradients(z, zp, tau).one_minus_p
    ours = -torch.log1p(-omp)
    ref = info_nce(z, zp, temperature=tau, reduction="none")
    atol = 8 * EPS * float((z * zp).sum(1).abs().max()) / tau
    np.testing.assert_allclose(ref, ours, rtol=1e-12, atol=atol)


def test_mean_reduction_divides_by_n():
    z, zp = cloud(1, 10, 4)
    a = z.clone().requires_grad_(True)
    info_nce(a, zp, temperature=0.3).backward()
    np.testing.assert_allclose(a.grad * 10, anchor_gradient(z, zp, 0.3), rtol=1e-12, atol=1e-15)


def _mp_reference(z, zp, tau):
    """50-digit g_i = sum_j p_ij z_j+ / tau - z_i+ / tau and 1 - p_ii = sum_{j != i} p_ij."""
    mpmath.mp.dps = 50
    n, d = z.shape
    zz = [[mpmath.mpf(float(v)) for v in row] for row in z]
    kk = [[mpmath.mpf(float(v)) for v in row] for row in zp]
    t = mpmath.mpf(tau)
    grads, omp = [], []
    for i in range(n):
        s = [mpmath.fsum(zz[i][k] * kk[j][k] for k in range(d)) / t for j in range(n)]
        top = max(s)
        w = [mpmath.exp(v - top) for v in s]
        tot = mpmath.fsum(w)
        p = [v / tot for v in w]
        grads.append([
            float(mpmath.fsum(p[j] * kk[j][k] for j in range(n)) / t - kk[i][k] / t)
            for k in range(d)
        ])
        omp.append(float(mpmath.fsum(p[j] for j in range(n) if j != i)))
    return torch.tensor(grads, dtype=DT), torch.tensor(omp, dtype=DT)


def test_closed_form_keeps_full_precision_where_autograd_cannot():
    # near-orthogonal keys, anchors close to their positives, tau = 0.01: 1 - p_ii ~ 1e-40,
    # far below float64's resolution near 1
    g = torch.Generator().manual_seed(11)
    zp = F.normalize(torch.eye(5, dtype=DT) + 0.05 * torch.randn(5, 5, dtype=DT, generator=g),
                     dim=1)
    z = F.normalize(zp + 0.05 * torch.randn(5, 5, dtype=DT, generator=g), dim=1)
    parts = anchor_gradients(z, zp, 0.01)
    assert parts.one_minus_p.max() < 1e-20  # autograd's p_ii - 1 is pure round-off here
    g_ref, omp_ref = _mp_reference(z, zp, 0.01)
    auto_err = (autograd_per_anchor(z, zp, 0.01) - g_ref).norm(dim=1) / g_ref.norm(dim=1)
    assert float(auto_err.max()) > 1e-3  # autograd drops the -(1 - p_ii) z_i+ term
    np.testing.assert_allclose(parts.one_minus_p, omp_ref, rtol=1e-10)
    np.testing.assert_allclose(parts.grad, g_ref, rtol=1e-9, atol=0)
    np.testing.assert_allclose(parts.sq_norm, g_ref.square().sum(1), rtol=1e-9)


def test_one_minus_p_is_the_sum_of_off_diagonal_probabilities():
    z, zp = cloud(3, 30, 8, anisotropy=4.0)
    for tau in (0.02, 0.2, 2.0):
        logp = torch.log_softmax(z @ zp.T / tau, dim=1)
        off = logp.masked_fill(torch.eye(30, dtype=torch.bool), -math.inf).exp().sum(1)
        np.testing.assert_allclose(anchor_gradients(z, zp, tau).one_minus_p, off, rtol=1e-12)


def test_float32_inputs_give_float32_outputs_close_to_float64():
    z, zp = cloud(4, 20, 6)
    g64 = anchor_gradients(z, zp, 0.2)
    g32 = anchor_gradients(z.float(), zp.float(), 0.2)
    assert g32.grad.dtype == torch.float32 and g32.sq_norm.dtype == torch.float32
    np.testing.assert_allclose(g32.sq_norm.double(), g64.sq_norm, rtol=1e-4)


# ---- the large-tau limit ------------------------------------------------------------------


@pytest.mark.parametrize("anisotropy,offset", [(1.0, 0.0), (10.0, 0.0), (10.0, 1.5)])
def test_tau_squared_mean_norm_tends_to_one_minus_mean_key_norm(anisotropy, offset):
    z, zp = cloud(8, 128, 16, anisotropy=anisotropy, offset=offset)
    limit = float(large_tau_limit(zp))
    np.testing.assert_allclose(limit, 1 - float(zp.mean(0).square().sum()), rtol=1e-12)
    errs = []
    for tau in (1e2, 1e3, 1e4):
        scaled = tau**2 * float(anchor_grad_sq_norm(z, zp, tau).mean())
        errs.append(abs(scaled - limit) / limit)
    assert errs[-1] < 1e-4
    # O(1/tau): each tenfold tau divides the error by about ten
    for a, b in zip(errs, errs[1:]):
        assert 5 < a / b < 20


def test_large_tau_limit_is_the_trace_of_the_key_covariance():
    x = torch.randn(50, 7, dtype=DT, generator=torch.Generator().manual_seed(0)) * 3
    cov = torch.cov(x.T, correction=0)
    np.testing.assert_allclose(float(large_tau_limit(x)), float(torch.trace(cov)), rtol=1e-12)


# ---- the band -----------------------------------------------------------------------------


def _loop_lambda_max(zp):
    n = zp.shape[0]
    out = []
    for i in range(n):
        neg = zp[torch.arange(n) != i]
        out.append(torch.linalg.eigvalsh(neg @ neg.T)[-1])
    return torch.stack(out)


@pytest.mark.parametrize("n,d", [(40, 5), (6, 20), (9, 8), (2, 3)])
def test_batched_negatives_lambda_max_matches_a_loop(n, d, monkeypatch):
    _, zp = cloud(n + d, n, d, anisotropy=7.0)
    ref = _loop_lambda_max(zp)
    np.testing.assert_allclose(negatives_lambda_max(zp), ref, rtol=1e-12, atol=1e-13)
    monkeypatch.setattr(ig, "_EIG_CHUNK_ENTRIES", 1)  # one anchor per eigen-solve
    np.testing.assert_allclose(negatives_lambda_max(zp), ref, rtol=1e-12, atol=1e-13)
    assert float(keys_lambda_max(zp)) >= float(ref.max()) - 1e-12  # interlacing


band_cases = st.fixed_dictionaries({
    "seed": st.integers(0, 2**32 - 1),
    "n": st.integers(2, 48),
    "d": st.integers(1, 24),
    "log_tau": st.floats(math.log(0.01), math.log(100.0)),
    "log_aniso": st.floats(0.0, math.log(1e3)),
    "offset": st.floats(0.0, 3.0),
    "noise": st.floats(0.0, 2.0),
    "antipodal": st.booleans(),
})


def _band_batch(case):
    z, zp = cloud(case["seed"], case["n"], case["d"], anisotropy=math.exp(case["log_aniso"]),
                  offset=case["offset"], noise=case["noise"])
    if case["antipodal"]:  # a negative key exactly opposite anchor 0's positive: U is tight
        zp = zp.clone()
        zp[1] = -zp[0]
    return z, zp, math.exp(case["log_tau"])


@settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=band_cases)
def test_search_finds_no_batch_violating_the_band(case):
    z, zp, tau = _band_batch(case)
    tight = spectral_band(z, zp, tau, eig="per_anchor")
    loose = spectral_band(z, zp, tau, eig="all_keys")
    assert bool(band_contains(tight).all()), "per-anchor band violated"
    assert bool(band_contains(loose).all()), "interlacing band violated"
    assert torch.all(loose.lower <= tight.lower * (1 + 1e-12))
    assert torch.all(loose.upper >= tight.upper * (1 - 1e-12))
    assert torch.all(tight.lower >= 0) and torch.all(tight.lower <= tight.upper)


def test_band_holds_for_degenerate_batches_up_to_round_off():
    # every key the same unit vector: r_i = 1 and L_i = |g_i|^2 = 0 exactly; in float64
    # r_i = 1 - 1e-16 and L_i ~ 1e-32 (the case the property search first found)
    zp = torch.ones(20, 1, dtype=DT)
    band = spectral_band(zp.clone(), zp, 1.0)
    assert torch.all(band.sq_norm == 0) and bool(band_contains(band).all())
    # a negative key exactly opposite the positive: U_i is attained
    zp = F.normalize(torch.tensor([[1.0, 0.0], [-1.0, 0.0]], dtype=DT), dim=1)
    band = spectral_band(zp.clone(), zp, 0.5)
    assert bool(band_contains(band).all())


def test_the_band_search_has_teeth():
    """The same search finds a violation of a band that is wrong by a little (r -> r/2)."""

    def violates_halved_band(case):
        z, zp, tau = _band_batch(case)
        band = spectral_band(z, zp, tau)
        rc = (band.r / 2).clamp(max=1.0)
        scale = anchor_gradients(z, zp, tau).one_minus_p.square() / tau**2
        wrong = ig.Band(scale * (1 - rc).square(), scale * (1 + rc).square(), band.r,
                        band.sq_norm)
        return not bool(band_contains(wrong).all())

    found = find(band_cases, violates_halved_band, settings=settings(max_examples=300,
                                                                      deadline=None))
    assert violates_halved_band(found)


def test_band_is_tight_for_an_isotropic_batch_at_large_tau():
    # brief 3.2: at high tau, r_i^2 -> lambda_max(M^-) ~ 1/d for isotropic keys
    z, zp = cloud(2, 512, 32)
    band = spectral_band(z, zp, 50.0)
    assert float((band.lower / band.upper).median()) > 0.3
    assert float(band.r.max()) < 0.5


def test_band_needs_unit_keys_and_a_known_eigen_method():
    z, zp = cloud(1, 8, 3)
    with pytest.raises(ValueError, match="unit-norm"):
        spectral_band(z, 2 * zp, 0.5)
    with pytest.raises(ValueError, match="eig"):
        spectral_band(z, zp, 0.5, eig="lanczos")


@pytest.mark.parametrize(
    "z,zp,tau,match",
    [
        (torch.zeros(4, 3, dtype=DT), torch.zeros(4, 2, dtype=DT), 1.0, "same shape"),
        (torch.zeros(1, 3, dtype=DT), torch.zeros(1, 3, dtype=DT), 1.0, "N >= 2"),
        (torch.zeros(4, 3, dtype=DT), torch.zeros(4, 3, dtype=DT), 0.0, "temperature"),
        (torch.zeros(4, 3, dtype=DT), torch.zeros(4, 3, dtype=DT), math.nan, "temperature"),
        (torch.zeros(4, 3, dtype=DT), torch.zeros(4, 3), 1.0, "dtype"),
        (torch.zeros(4, 3, dtype=torch.long), torch.zeros(4, 3, dtype=torch.long), 1.0, "dtype"),
    ],
)
def test_bad_inputs_are_refused(z, zp, tau, match):
    with pytest.raises(ValueError, match=match):
        anchor_gradients(z, zp, tau)


# ---- effective rank and whitening ---------------------------------------------------------


def test_effective_rank_limits_and_definitions():
    d = 6
    lam = torch.ones(d, dtype=DT)
    for kind in ("roy_vetterli", "participation"):
        assert effective_rank_from_eigenvalues(lam, kind) == pytest.approx(d, rel=1e-12)
        assert effective_rank_from_eigenvalues(3.7 * lam, kind) == pytest.approx(d, rel=1e-12)
        spike = torch.tensor([0.0, 0.0, 5.0, 0.0], dtype=DT)  # 0 log 0 = 0
        assert effective_rank_from_eigenvalues(spike, kind) == pytest.approx(1.0, rel=1e-12)
        assert effective_rank_from_eigenvalues(torch.zeros(3, dtype=DT), kind) == 0.0
    two = torch.tensor([1.0, 3.0], dtype=DT)
    p = two / two.sum()
    assert effective_rank_from_eigenvalues(two) == pytest.approx(
        math.exp(-float((p * p.log()).sum())), rel=1e-12)
    assert effective_rank_from_eigenvalues(two, "participation") == pytest.approx(16 / 10)
    with pytest.raises(ValueError, match="kind"):
        effective_rank_from_eigenvalues(two, "shannon")


def test_effective_rank_of_a_batch_uses_the_centred_covariance():
    x = torch.randn(400, 5, dtype=DT, generator=torch.Generator().manual_seed(1))
    ref = torch.linalg.eigvalsh(torch.cov(x.T, correction=0))
    np.testing.assert_allclose(covariance_eigenvalues(x), ref, rtol=1e-10, atol=1e-14)
    assert effective_rank(x + 100.0) == pytest.approx(effective_rank(x), rel=1e-9)
    # N < d: the Gram route gives the same non-zero spectrum
    y = x[:3]
    assert effective_rank(y) == pytest.approx(
        effective_rank_from_eigenvalues(torch.linalg.eigvalsh(torch.cov(y.T, correction=0))),
        rel=1e-9)


def test_zca_whitening_gives_an_isotropic_centred_batch():
    g = torch.Generator().manual_seed(2)
    h = torch.randn(300, 8, dtype=DT, generator=g) @ torch.diag(
        torch.logspace(0, 2, 8, dtype=DT)) + 5.0
    eps = 1e-6
    w = zca_whiten(h, eps)
    np.testing.assert_allclose(w.mean(0), 0.0, atol=1e-10)
    cov = w.T @ w / w.shape[0]
    lam = torch.linalg.eigvalsh(torch.cov(h.T, correction=0))
    np.testing.assert_allclose(torch.linalg.eigvalsh(cov), (lam / (lam + eps)).sort().values,
                               rtol=1e-9)
    np.testing.assert_allclose(cov, torch.eye(8, dtype=DT), atol=1e-5)  # eps / lambda_min ~ 1e-6
    assert zca_whiten(h.float(), eps).dtype == torch.float32
    assert effective_rank(F.normalize(w, dim=1)) > 0.95 * 8


@pytest.mark.parametrize("n,eps,match", [(8, 1e-3, "N > d"), (50, 0.0, "eps"),
                                         (50, math.inf, "eps")])
def test_zca_refuses_bad_inputs(n, eps, match):
    with pytest.raises(ValueError, match=match):
        zca_whiten(torch.randn(n, 8, dtype=DT), eps)
