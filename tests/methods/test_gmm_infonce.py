"""Tests of methods.gmm_infonce.

The GMM identities, sdist, sampling, baselines, training and the registered experiments.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.linalg import subspace_angles

from methods.common.seeding import child_seed, numpy_rng
from methods.gmm_infonce.data import make_gmm, random_rotation
from methods.gmm_infonce.experiments import gmm_infonce, gmm_posterior_fisher
from methods.gmm_infonce.subspace import lda_directions, pca_directions, subspace_distance
from methods.gmm_infonce.train import block_means, train_linear_infonce
from repro import registry

# ---- posterior and Fisher subspace ---------------------------------------------------------


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), components=st.integers(2, 6), extra=st.integers(5, 15))
def test_posterior_invariant_orthogonal_to_fisher_and_not_along(seed, components, extra):
    rng = np.random.default_rng(seed)
    dim = components + extra
    weights = rng.dirichlet(np.ones(components) * 2)
    gmm = make_gmm(rng, dim=dim, components=components, weights=weights)
    fisher = gmm.fisher_basis()
    assert fisher.shape == (components - 1, dim)
    np.testing.assert_allclose(fisher @ fisher.T, np.eye(components - 1), atol=1e-12)
    x, _ = gmm.sample(50, rng)
    g = 3.0 * rng.standard_normal((50, dim))
    v_orth = g - (g @ fisher.T) @ fisher
    p0 = gmm.posterior(x)
    np.testing.assert_allclose(p0.sum(axis=1), 1.0, atol=1e-12)
    assert np.max(np.abs(gmm.posterior(x + v_orth) - p0)) < 1e-10
    v_along = rng.standard_normal((50, components - 1)) @ fisher
    assert np.max(np.abs(gmm.posterior(x + 3.0 * v_along) - p0)) > 1e-3


def test_posterior_matches_bayes_rule_from_densities():
    from scipy.stats import multivariate_normal

    rng = np.random.default_rng(1)
    gmm = make_gmm(rng, dim=6, components=3, weights=np.array([0.2, 0.3, 0.5]))
    x, _ = gmm.sample(20, rng)
    joint = np.stack(
        [
            w * multivariate_normal(m, gmm.cov).pdf(x)
            for m, w in zip(gmm.means, gmm.weights, strict=True)
        ],
        axis=1,
    )
    np.testing.assert_allclose(
        gmm.posterior(x), joint / joint.sum(axis=1, keepdims=True), rtol=1e-9, atol=1e-14
    )


def test_base_instance_is_non_isotropic_with_the_stated_spectrum():
    gmm = make_gmm(np.random.default_rng(0))
    eig = np.sort(np.linalg.eigvalsh(gmm.cov))[::-1]
    np.testing.assert_allclose(eig[:4], [25, 25, 25, 4], rtol=1e-10)
    np.testing.assert_allclose(eig[-1], 0.25, rtol=1e-10)
    assert gmm.means.shape == (4, 20)
    np.testing.assert_allclose(gmm.weights @ gmm.means, 0.0, atol=1e-12)
    assert np.linalg.matrix_rank(gmm.means) == 3
    rot = random_rotation(7, np.random.default_rng(0))
    np.testing.assert_allclose(rot @ rot.T, np.eye(7), atol=1e-12)


def test_fisher_ratios_are_the_whitened_between_class_spectrum():
    rng = np.random.default_rng(2)
    gmm = make_gmm(rng, dim=9, components=4, weights=np.array([0.1, 0.2, 0.3, 0.4]))
    chol = np.linalg.cholesky(gmm.cov)
    centred = gmm.means - gmm.weights @ gmm.means
    whitened = np.linalg.solve(chol, (centred * np.sqrt(gmm.weights)[:, None]).T)
    want = np.linalg.svd(whitened, compute_uv=False)[:3] ** 2
    np.testing.assert_allclose(gmm.fisher_ratios(), want, rtol=1e-9)


def test_min_fisher_ratio_redraws_weak_instances():
    base = gmm_infonce(seed=4, **SMALL)  # seed 4's first instance has a weak third direction
    assert base["instance_min_fisher_ratio"] < 0.05
    redrawn = gmm_infonce(seed=4, min_fisher_ratio=0.05, **SMALL)
    assert redrawn["instance_min_fisher_ratio"] >= 0.05
    with pytest.raises(ValueError, match="'min_fisher_ratio'"):
        gmm_infonce(seed=0, min_fisher_ratio=1e6, **SMALL)


# ---- subspace distance ---------------------------------------------------------------------


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), k=st.integers(1, 4), extra=st.integers(1, 10))
def test_sdist_properties(seed, k, extra):
    rng = np.random.default_rng(seed)
    dim = 2 * k + extra
    q = random_rotation(dim, rng)
    a, b = q[:k], q[k : 2 * k]  # orthogonal subspaces
    change = rng.standard_normal((k, k)) + 3 * np.eye(k)  # invertible change of basis
    assert subspace_distance(change @ (5 * a), a) < 1e-7
    assert subspace_distance(a, b) == pytest.approx(1.0, abs=1e-12)
    c = rng.standard_normal((k, dim))
    d = subspace_distance(c, a)
    assert 0.0 <= d <= 1.0
    assert d == pytest.approx(subspace_distance(a, c), abs=1e-12)
    # principal-angle form: sqrt(mean sin^2)
    sines = np.sin(subspace_angles(c.T, a.T))
    assert d == pytest.approx(np.sqrt(np.mean(sines**2)), abs=1e-10)


def test_sdist_accepts_torch_and_rejects_dependent_rows():
    w = torch.randn(3, 8, dtype=torch.float64)
    assert subspace_distance(w, w.numpy()) < 1e-7
    with pytest.raises(ValueError, match="linearly dependent"):
        subspace_distance(np.ones((2, 5)), np.eye(5)[:2])


# ---- augmentation sampling -----------------------------------------------------------------


@pytest.mark.parametrize("alpha", [1.0, 0.7, 0.4, 0.0])
def test_positive_pair_agreement_rate(alpha):
    weights = np.array([0.1, 0.2, 0.3, 0.4])
    gmm = make_gmm(np.random.default_rng(3), weights=weights)
    n = 200_000
    _, _, c, c_plus = gmm.sample_pairs(n, alpha, np.random.default_rng(4))
    for comp in range(4):
        sel = c == comp
        want = alpha + (1 - alpha) * weights[comp]
        se = np.sqrt(want * (1 - want) / sel.sum()) + 1e-12
        assert abs(np.mean(c_plus[sel] == comp) - want) <= 4.5 * se
    # the component marginals are pi for both views
    for labels in (c, c_plus):
        np.testing.assert_allclose(np.bincount(labels, minlength=4) / n, weights, atol=0.005)


def test_pairs_share_noise_structure():
    """x+ ~ N(mu_{c+}, Sigma) independently of x: its within-component covariance is Sigma."""
    gmm = make_gmm(np.random.default_rng(5), dim=6, components=3)
    x, xp, c, cp = gmm.sample_pairs(100_000, 0.5, np.random.default_rng(6))
    resid = xp - gmm.means[cp]
    np.testing.assert_allclose(
        np.cov(resid, rowvar=False), gmm.cov, atol=0.1 * np.abs(gmm.cov).max()
    )
    cross = (x - gmm.means[c]).T @ resid / len(x)
    assert np.abs(cross).max() < 0.1


# ---- baselines -----------------------------------------------------------------------------


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_lda_with_many_samples_finds_fisher_and_pca_does_not(seed):
    rng = np.random.default_rng(seed)
    gmm = make_gmm(rng)
    x, c = gmm.sample(40_000, rng)
    assert subspace_distance(lda_directions(x, c, 3), gmm.fisher_basis()) < 0.12
    assert subspace_distance(pca_directions(x, 3), gmm.fisher_basis()) > 0.9


def test_lda_needs_enough_classes():
    with pytest.raises(ValueError, match="classes"):
        lda_directions(np.random.default_rng(0).normal(size=(50, 4)), np.zeros(50, dtype=int), 2)


# ---- training ------------------------------------------------------------------------------


def test_short_training_lowers_the_loss_and_moves_towards_fisher():
    gmm = make_gmm(np.random.default_rng(7))
    res = train_linear_infonce(
        gmm,
        k=3,
        alpha=1.0,
        batch=128,
        steps=300,
        lr=0.02,
        data_rng=np.random.default_rng(8),
        init_generator=torch.Generator().manual_seed(9),
    )
    assert res.W.shape == (3, 20) and res.losses.shape == (300,)
    assert res.losses[-30:].mean() < res.losses[:30].mean() - 0.1
    w0 = torch.randn(3, 20, generator=torch.Generator().manual_seed(9), dtype=torch.float64).numpy()
    assert (
        subspace_distance(res.W, gmm.fisher_basis())
        < subspace_distance(w0, gmm.fisher_basis()) - 0.2
    )


def test_block_means():
    assert block_means(np.arange(10.0), 5) == [0.5, 2.5, 4.5, 6.5, 8.5]
    assert block_means(np.arange(3.0), 50) == [0.0, 1.0, 2.0]
    assert block_means(np.array([]), 5) == []


# ---- experiments ---------------------------------------------------------------------------

SMALL = dict(steps=60, batch=64, test_samples=400, lda_samples=400, kmeans_restarts=2)


def test_gmm_infonce_is_registered_deterministic_and_complete():
    exp = registry.get("gmm_infonce")
    assert exp.func is gmm_infonce and exp.package == "methods.gmm_infonce" and exp.required == []
    a = exp(SMALL, 3, "cpu")
    b = exp(SMALL, 3, "cpu")
    assert a == b
    c = exp(SMALL, 4, "cpu")
    assert c["subspace_dist_infonce"] != a["subspace_dist_infonce"]
    want = {f"{m}_{n}" for m in ("subspace_dist", "nmi", "ari")
            for n in ("infonce", "untrained", "lda", "pca")}
    assert set(a) == want | {
        "final_loss", "loss_curve", "instance_min_fisher_ratio", "instance_rejected_draws",
        "subspace_dist_gap_lda", "log_subspace_dist_infonce",
    }
    for key in want | {"final_loss", "instance_min_fisher_ratio"}:
        assert isinstance(a[key], float) and np.isfinite(a[key])
    assert len(a["loss_curve"]) == 50 and a["final_loss"] == a["loss_curve"][-1]
    cos = exp({**SMALL, "similarity": "cosine", "temperature": 0.2}, 3, "cpu")
    assert np.isfinite(cos["subspace_dist_infonce"])


def test_gmm_posterior_fisher_experiment():
    exp = registry.get("gmm_posterior_fisher")
    out = exp({"points": 100}, 0, "cpu")
    assert out["max_dp_orthogonal"] <= 1e-10
    assert out["max_dp_along"] >= 1e-3
    assert out == exp({"points": 100}, 0, "cpu")


@pytest.mark.parametrize(
    "name,value",
    [
        ("alpha", 0.0),
        ("alpha", 1.5),
        ("batch", 1),
        ("steps", 0),
        ("lr", -0.1),
        ("lr_schedule", "step"),
        ("similarity", "l2"),
        ("temperature", 0.0),
        ("dim", 2),
        ("components", 1),
        ("test_samples", 2),
        ("lda_samples", 10),
        ("kmeans_restarts", 0),
        ("mean_std", 0.0),
        ("spike_var", -1.0),
        ("spike_dims", 19),
        ("steps", 2.5),
        ("batch", True),
        ("init_std", float("nan")),
        ("device", "tpu"),
        ("min_fisher_ratio", -0.1),
    ],
)
def test_gmm_infonce_bad_param_names_it(name, value):
    with pytest.raises(ValueError, match=repr(name)):
        gmm_infonce(seed=0, **{name: value})


@pytest.mark.parametrize("name,value", [("points", 0), ("perturbation", 0.0), ("seed", -1)])
def test_gmm_posterior_fisher_bad_param_names_it(name, value):
    kwargs = {"seed": 0, name: value}
    with pytest.raises(ValueError, match=repr(name)):
        gmm_posterior_fisher(**kwargs)


def test_cuda_without_gpu_is_unavailable():
    if torch.cuda.is_available():
        pytest.skip("a GPU is present")
    with pytest.raises(registry.Unavailable, match="cuda"):
        gmm_infonce(seed=0, device="cuda")


def test_child_streams_are_named_and_stable():
    assert child_seed(0, "a") == child_seed(0, "a") != child_seed(0, "b")
    assert child_seed(0, "a") != child_seed(1, "a")
    assert numpy_rng(5, "x").integers(1 << 30) == numpy_rng(5, "x").integers(1 << 30)
    with pytest.raises(ValueError, match="seed"):
        child_seed(-1, "a")
