"""Closed forms of the Gaussian sufficiency testbed (methods/sufficient_stats/gaussian.py).

Property tests over random SPD covariances for the brief's identities (i)-(v), plus an
independent, Monte-Carlo-free route to Suff_KL through Gaussian mutual information written
with joint-covariance determinants, and small checks of the experiments' contracts.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from methods.sufficient_stats import gaussian as G

SETTINGS = settings(max_examples=25, deadline=None, derandomize=True)


@st.composite
def problems(draw, max_dim: int = 8):
    """(Sx, Sxi, W, beta, rng) with random SPD covariances and a random rank-p encoder."""
    d = draw(st.integers(2, max_dim))
    p = draw(st.integers(1, d))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    sx = G.random_spd(d, rng, ridge=draw(st.sampled_from([0.05, 0.2, 1.0])))
    sxi = G.random_spd(d, rng, ridge=draw(st.sampled_from([0.05, 0.2, 1.0])))
    W = rng.standard_normal((p, d))
    beta = rng.standard_normal(d)
    return sx, sxi, W, beta, rng


def _logdet(m):
    sign, val = np.linalg.slogdet(m)
    assert sign > 0
    return val


def _gaussian_mi(cov_a, cov_b, cross):
    """I(a; b) = 1/2 log(det Ca det Cb / det [[Ca, Cab], [Cba, Cb]]) for jointly Gaussian a, b."""
    joint = np.block([[cov_a, cross], [cross.T, cov_b]])
    return 0.5 * (_logdet(cov_a) + _logdet(cov_b) - _logdet(joint))


@SETTINGS
@given(problems())
def test_suff_kl_equals_mutual_information_gap(prob):
    """Suff_KL = I(X1; X2) - I(W X1; X2), with both MIs from joint-covariance determinants."""
    sx, sxi, W, _, _ = prob
    sv = sx + sxi
    i_full = _gaussian_mi(sv, sv, sx)
    i_enc = _gaussian_mi(W @ sv @ W.T, sv, W @ sx)
    assert G.suff_kl(W, sx, sxi) == pytest.approx(i_full - i_enc, abs=1e-8)
    assert G.mutual_information(sx, sxi) == pytest.approx(i_full, abs=1e-8)
    assert G.suff_kl_svals(W, sx, sxi) == pytest.approx(i_full - i_enc, abs=1e-8)


@SETTINGS
@given(problems())
def test_cca_attains_optimum_and_random_encoders_do_not_beat_it(prob):
    """(i) Suff(CCA_p) = Suff*_p; (ii) no rank-p W does better."""
    sx, sxi, W, _, rng = prob
    p, d = W.shape
    star = G.suff_star(p, sx, sxi)
    assert G.suff_kl(G.cca_encoder(p, sx, sxi), sx, sxi) == pytest.approx(star, abs=1e-9)
    for _ in range(20):
        assert G.suff_kl(rng.standard_normal((p, d)), sx, sxi) >= star - 1e-9
    assert star >= -1e-12
    if p == d:
        assert abs(G.suff_kl(W, sx, sxi)) < 1e-9


@SETTINGS
@given(problems())
def test_invariant_to_invertible_transform(prob):
    """(iii) Suff(T W) = Suff(W) for invertible T (and so are B_W, excess, chi^2)."""
    sx, sxi, W, beta, rng = prob
    p = W.shape[0]
    u, v = G.random_orthogonal(p, rng), G.random_orthogonal(p, rng)
    T = (u * rng.uniform(0.2, 5.0, p)) @ v.T
    assert G.suff_kl(T @ W, sx, sxi) == pytest.approx(G.suff_kl(W, sx, sxi), abs=1e-9)
    assert G.excess(T @ W, beta, sx, sxi) == pytest.approx(G.excess(W, beta, sx, sxi), abs=1e-9)


@SETTINGS
@given(problems())
def test_chi2_equals_exp_two_kl_minus_one(prob):
    """(iv) Suff_chi2 = det B_W / det A - 1 = exp(2 Suff_KL) - 1, KL via the s_k formula."""
    sx, sxi, W, _, _ = prob
    b = G.cond_cov_encoder(W, sx, sxi)
    a = G.cond_cov_full(sx, sxi)
    chi_det = math.exp(_logdet(b) - _logdet(a)) - 1.0
    chi = G.suff_chi2(W, sx, sxi)
    assert chi == pytest.approx(chi_det, rel=1e-9, abs=1e-12)
    assert math.log1p(chi) == pytest.approx(2.0 * G.suff_kl_svals(W, sx, sxi), abs=1e-8)


@SETTINGS
@given(problems())
def test_excess_forms_agree_and_bound_holds(prob):
    """(v) excess as explained-variance difference = beta^T (B_W - A) beta >= 0; the chi^2
    template bound holds; eps_aug is the full-view risk floor."""
    sx, sxi, W, beta, _ = prob
    ex = G.excess(W, beta, sx, sxi)
    assert G.excess_regression(W, beta, sx, sxi) == pytest.approx(ex, abs=1e-9)
    assert ex >= -1e-9
    assert G.chi2_bound(W, beta, sx, sxi) >= ex - 1e-9
    # B_W >= A in the Loewner order
    gap = G.cond_cov_encoder(W, sx, sxi) - G.cond_cov_full(sx, sxi)
    assert np.linalg.eigvalsh(gap).min() >= -1e-9
    # risk of the best linear predictor from the full view minus the noise = eps_aug
    sv = sx + sxi
    w_opt = np.linalg.solve(sv, sx @ beta)
    d = sx.shape[0]
    risk = G.linear_risk(w_opt, np.eye(d), beta, sx, sxi, noise_var=0.3)
    assert risk - 0.3 == pytest.approx(G.eps_aug(beta, sx, sxi), abs=1e-9)


def test_testbed_matches_brief_pilot():
    """Brief section 5: canonical correlations and CCA / PCA sufficiencies of the config."""
    tb = G.make_testbed(np.random.default_rng(0))
    rho = G.canonical_correlations(tb.sx, tb.sxi)
    pilot = [0.812, 0.791, 0.763, 0.727, 0.679, 0.609, 0.5, 0.13, 0.12, 0.109]
    assert np.allclose(rho, pilot, atol=1.5e-3)
    for p, suff in [(1, 2.009), (2, 1.519), (3, 1.082), (5, 0.397), (8, 0.013)]:
        assert G.suff_star(p, tb.sx, tb.sxi) == pytest.approx(suff, abs=1e-3)
    pca = G.pca_encoder(3, tb.sx, tb.sxi)
    assert G.suff_kl(pca, tb.sx, tb.sxi) == pytest.approx(2.527, abs=1e-3)
    assert float(tb.beta @ tb.sx @ tb.beta) == pytest.approx(1.0)
    # beta lies in the preserved directions: CCA rank 7 already has zero excess
    assert abs(G.excess(G.cca_encoder(7, tb.sx, tb.sxi), tb.beta, tb.sx, tb.sxi)) < 1e-12


def test_testbed_deterministic_and_views_have_right_covariance():
    a = G.make_testbed(np.random.default_rng(5))
    b = G.make_testbed(np.random.default_rng(5))
    assert np.array_equal(a.sx, b.sx) and np.array_equal(a.beta, b.beta)
    x1, x2 = a.sample_views(200_000, np.random.default_rng(1))
    assert np.allclose(x1.T @ x2 / len(x1), a.sx, atol=0.1)
    assert np.allclose(x1.T @ x1 / len(x1), a.sv, atol=0.3)


def test_bad_inputs_raise_value_error_naming_them():
    rng = np.random.default_rng(0)
    sx, sxi = G.random_spd(4, rng), G.random_spd(4, rng)
    with pytest.raises(ValueError, match="p must"):
        G.suff_star(5, sx, sxi)
    with pytest.raises(ValueError, match="W must"):
        G.suff_kl(np.zeros((2, 4)), sx, sxi)
    with pytest.raises(ValueError, match="sx"):
        G.suff_kl(np.eye(4)[:2], np.ones((3, 4)), sxi)
    with pytest.raises(ValueError, match="destroyed"):
        G.make_testbed(rng, dim=4, destroyed=4)


def test_experiments_small_and_deterministic():
    from methods.sufficient_stats import gaussian_experiments as E

    kw = dict(seed=3, steps=60, batch=64, checkpoints=5)
    a = E.suff_gaussian_infonce(**kw)
    b = E.suff_gaussian_infonce(**kw)
    assert a == b
    assert len(a["curve_step"]) == len(a["curve_suff_gap"]) == 6
    assert a["suff_gap"] >= -1e-9 and a["suff_pca"] > a["suff_star"]
    r = E.suff_gaussian_risk(seed=0, steps=0)
    assert len(r["encoder_suff"]) == len(r["encoder_excess"]) == len(r["encoder_bound"]) == 10
    assert r["min_slack"] >= -1e-9
    c = E.suff_closed_form(seed=0, dim=6, rank=2, random_encoders=20, invariance_encoders=3)
    assert c["err_cca_optimum"] < 1e-9 and c["min_random_gap"] > -1e-9
    f = E.suff_aug_floor(seed=0, steps=20, batch=64, aug_scale=1.0, probe_samples=500)
    assert abs(f["suff_infonce"]) < 1e-9 and abs(f["floor_error_rel"]) < 0.05
    with pytest.raises(ValueError, match="'rank'"):
        E.suff_gaussian_infonce(seed=0, rank=11)
    with pytest.raises(ValueError, match="'batch'"):
        E.suff_gaussian_infonce(seed=0, batch=1)
    with pytest.raises(ValueError, match="'aug_scale'"):
        E.suff_aug_floor(seed=0, aug_scale=-1.0)
