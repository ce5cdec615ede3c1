"""Mutation tests of the theory claims (issue 19): break one closed form at a time and show
that the claim built to check it no longer reproduces.

Each test runs the claim at smoke scale in-process (no cache, nothing written) with one
function of the paper package replaced by a subtly wrong version, and asserts that the
named check (and hence the claim) is not `reproduced`. Smoke parameters keep every run
well under a few seconds.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scipy.special import log_softmax

import methods.gmm_infonce.data as gmm_data
import methods.sufficient_stats.gaussian as G
import repro

CLAIMS = Path(__file__).resolve().parents[2] / "claims"


def _run(claim: str, scale: str = "smoke"):
    res = repro.run_claim(
        CLAIMS / f"{claim}.yaml", scale, use_cache=False, write=False, progress=False
    )
    checks = {c["name"]: c["verdict"] for c in res.record["checks"]}
    return res.verdict, checks


def test_closed_form_claim_reproduces_unmutated():
    verdict, checks = _run("suff_closed_form_properties")
    assert verdict == "reproduced", checks


def _scaled(fn, factor):
    def wrapped(*args, **kwargs):
        return factor * fn(*args, **kwargs)

    return wrapped


# (function, mutant, the check that must catch it)
CLOSED_FORM_MUTANTS = {
    # chi^2 by the closed form: a factor 1 instead of 2 in the exponent
    "suff_chi2": (
        lambda W, sx, sxi: float(np.expm1(G.suff_kl(W, sx, sxi))),
        "chi2_equals_exp_2kl_minus_1",
    ),
    # chi^2 a few per cent off
    "suff_chi2@1.03": (_scaled(G.suff_chi2, 1.03), "chi2_equals_exp_2kl_minus_1"),
    # Suff_KL (slogdet) missing the 1/2
    "suff_kl": (lambda W, sx, sxi: 2.0 * G.suff_kl(W, sx, sxi), "cca_attains_optimum"),
    # the s_k route off by a little
    "suff_kl_svals": (_scaled(G.suff_kl_svals, 1.001), "slogdet_equals_svals_form"),
    # the CCA optimum summing one term too few
    "suff_star": (
        lambda p, sx, sxi: G.suff_star(min(p + 1, sx.shape[0]), sx, sxi),
        "cca_attains_optimum",
    ),
    # excess = beta^T B_W beta only (A dropped)
    "excess": (
        lambda W, beta, sx, sxi: float(beta @ G.cond_cov_encoder(W, sx, sxi) @ beta),
        "excess_equals_conditional_form",
    ),
    # A = Cov(X2|X1) with a wrong sign-free Sx Sv^-1 Sx / 2 term
    "cond_cov_full": (
        lambda sx, sxi: G._sym(
            G.view_cov(sx, sxi) - 0.5 * sx @ np.linalg.solve(G.view_cov(sx, sxi), sx)
        ),
        "chi2_equals_exp_2kl_minus_1",
    ),
}


@pytest.mark.parametrize("name", sorted(CLOSED_FORM_MUTANTS))
def test_each_closed_form_mutation_fails_the_claim(monkeypatch, name):
    mutant, check = CLOSED_FORM_MUTANTS[name]
    monkeypatch.setattr(G, name.split("@")[0], mutant)
    verdict, checks = _run("suff_closed_form_properties")
    assert verdict != "reproduced", checks
    assert checks[check] != "reproduced", checks


def test_posterior_without_constant_term_fails_gmm_posterior_fisher(monkeypatch):
    verdict, checks = _run("gmm_posterior_fisher")
    assert verdict == "reproduced", checks

    def no_constant(self, x):
        pm = self._precision_means
        return log_softmax(np.asarray(x) @ pm.T + np.log(self.weights), axis=1)

    monkeypatch.setattr(gmm_data.GaussianMixture, "log_posterior", no_constant)
    verdict, checks = _run("gmm_posterior_fisher")
    assert checks["posterior_equals_bayes_rule"] == "not_reproduced", checks
    # the two comparisons of posteriors with each other cannot see it
    assert checks["invariant_orthogonal_to_fisher"] == "reproduced", checks
    assert verdict == "not_reproduced"


# ---- band claims: a loosened and an invalidly narrowed band each change the verdict --------


def _band_with_r_scaled(factor_sq):
    """spectral_band with r_i^2 multiplied by ``factor_sq`` (9: a 9x looser band; 0.5: a band
    sqrt 2 narrower than the theorem allows)."""
    import methods.common.infonce_grad as ig

    original = ig.spectral_band

    def mutant(z, z_pos, temperature, *, eig="per_anchor"):
        band = original(z, z_pos, temperature, eig=eig)
        scale = band.upper / (1 + band.r.clamp(max=1.0)).square()
        r = band.r * factor_sq**0.5
        rc = r.clamp(max=1.0)
        return ig.Band(
            lower=scale * (1 - rc).square(), upper=scale * (1 + rc).square(), r=r,
            sq_norm=band.sq_norm,
        )

    return mutant


def test_band_claim_reproduces_unmutated():
    verdict, checks = _run("spectral_band_ours")
    assert verdict == "reproduced", checks


@pytest.mark.parametrize(
    "factor_sq, check",
    [(9.0, "band_is_tight_below"), (0.5, "band_holds_where_nearly_attained")],
    ids=["looser_9x", "narrower_than_valid"],
)
def test_band_mutations_change_the_verdict(monkeypatch, factor_sq, check):
    import methods.spectral_bounds.experiments as sx

    monkeypatch.setattr(sx, "spectral_band", _band_with_r_scaled(factor_sq))
    verdict, checks = _run("spectral_band_ours")
    assert checks[check] == "not_reproduced", checks
    assert verdict == "not_reproduced"
    # the containment check on the anisotropic cloud alone does not see either mutation
    assert checks["band_contains_every_anchor"] == "reproduced", checks


def test_untrained_encoder_makes_the_sufficiency_claims_invalid(monkeypatch):
    """Issue 19 part 2: with training switched off (the returned W is its initialisation),
    the trained-beats-untrained precondition fails on every seed, so the claims that speak
    about a trained encoder are `invalid` -- not `reproduced`, and not `not_reproduced`."""
    import methods.sufficient_stats.gaussian_experiments as GE

    real = GE.train_linear_infonce

    def untrained(*args, **kwargs):
        W, snaps = real(*args, **{**kwargs, "steps": 1})
        return snaps[0], {s: snaps[0] for s in kwargs["eval_steps"]}

    monkeypatch.setattr(GE, "train_linear_infonce", untrained)
    for claim in ("suff_simclr_sufficient_gaussian", "suff_beats_pca"):
        verdict, checks = _run(claim)
        assert verdict == "invalid", (claim, checks)


def test_untrained_encoder_makes_infonce_gmm_invalid(monkeypatch):
    """The same for the Gaussian-mixture claim: an encoder left at its initialisation fails
    trained_beats_untrained on every seed, so infonce_gmm is `invalid`."""
    import dataclasses

    import methods.gmm_infonce.experiments as GX

    real = GX.train_linear_infonce

    def untrained(*args, **kwargs):
        r = real(*args, **{**kwargs, "steps": 2})
        return dataclasses.replace(r, W=r.W0)

    monkeypatch.setattr(GX, "train_linear_infonce", untrained)
    verdict, checks = _run("infonce_gmm")
    assert verdict == "invalid", checks
