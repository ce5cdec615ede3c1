"""Tests of methods.spectral_bounds: data, samplers, training helpers and the experiments.

Fast by design (tiny sizes); the claims themselves run at smoke scale from claims/.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from methods.common.infonce_grad import effective_rank
from methods.common.probes import ridge_probe_accuracy
from methods.common.threads import single_cpu_thread
from methods.spectral_bounds import experiments as ex
from methods.spectral_bounds.data import (
    CLOUDS,
    gaussian_cloud,
    geometric_stds,
    make_mixture,
    random_rotation,
)
from methods.spectral_bounds.samplers import greedy_batch, pool_p_batch, random_batch
from methods.spectral_bounds.training import (
    make_encoder,
)
from repro import registry
from repro.registry import Unavailable

# ---- data ---------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", CLOUDS)
def test_clouds_are_seeded_unit_pairs(kind):
    a = gaussian_cloud(np.random.default_rng(3), n=200, dim=16, kind=kind)
    b = gaussian_cloud(np.random.default_rng(3), n=200, dim=16, kind=kind)
    for x, y in zip(a, b):
        assert x.shape == (200, 16) and x.dtype == torch.float64
        np.testing.assert_array_equal(x, y)
        np.testing.assert_allclose(x.norm(dim=1), 1.0, rtol=1e-12)
    z, zp = a
    assert float((z * zp).sum(1).mean()) > 0.7  # positives are aligned (noise 0.5)


def test_cloud_kinds_differ_as_designed():
    rng = np.random.default_rng(0)
    iso = gaussian_cloud(rng, n=2000, dim=32, kind="isotropic")[1]
    ani = gaussian_cloud(rng, n=2000, dim=32, kind="anisotropic", anisotropy=10.0)[1]
    off = gaussian_cloud(rng, n=2000, dim=32, kind="noncentred", anisotropy=10.0)[1]
    assert effective_rank(iso) > 0.9 * 32
    assert effective_rank(ani) < 0.7 * 32
    assert float(off.mean(0).norm()) > 0.6 > float(ani.mean(0).norm())
    with pytest.raises(ValueError, match="cloud"):
        gaussian_cloud(rng, n=4, dim=2, kind="spherical")


def test_geometric_stds_and_rotation():
    np.testing.assert_allclose(geometric_stds(5, 16.0), [1, 0.5, 0.25, 0.125, 0.0625])
    np.testing.assert_allclose(geometric_stds(1, 9.0), [1.0])
    r = random_rotation(6, np.random.default_rng(1))
    np.testing.assert_allclose(r @ r.T, np.eye(6), atol=1e-12)


def test_mixture_has_centred_rank_k_minus_1_means_and_the_stated_spectrum():
    m = make_mixture(np.random.default_rng(4), classes=5, dim=12, anisotropy=4.0)
    assert m.means.shape == (5, 12) and m.classes == 5 and m.dim == 12
    np.testing.assert_allclose(m.means.mean(0), 0.0, atol=1e-12)
    assert np.linalg.matrix_rank(m.means) == 4
    eig = np.sort(np.linalg.eigvalsh(m.shape @ m.shape.T))
    np.testing.assert_allclose([eig[0], eig[-1]], [1.0, 16.0], rtol=1e-10)
    x, c = m.sample(50, np.random.default_rng(0))
    assert x.shape == (50, 12) and set(c) <= set(range(5))
    with pytest.raises(ValueError, match="classes"):
        make_mixture(np.random.default_rng(0), classes=10, dim=5)


# ---- samplers -----------------------------------------------------------------------------


def _unit_rows(n, d, seed):
    x = np.random.default_rng(seed).standard_normal((n, d)) * geometric_stds(d, 20.0)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def _logdet(e, eps=1e-3):
    return np.linalg.slogdet(eps * np.eye(e.shape[1]) + e.T @ e)[1]


def test_random_and_greedy_batches_are_distinct_indices():
    emb = _unit_rows(300, 6, 0)
    r = random_batch(np.random.default_rng(0), 300, 40)
    g = greedy_batch(np.random.default_rng(0), emb, 40, candidates=16)
    for idx in (r, g):
        assert len(idx) == 40 and len(set(idx.tolist())) == 40 and idx.max() < 300
    # all remaining candidates are used when the pool runs out
    full = greedy_batch(np.random.default_rng(1), emb[:20], 20, candidates=64)
    assert sorted(full.tolist()) == list(range(20))


def test_greedy_batches_have_larger_log_det_than_random_ones():
    emb = _unit_rows(1000, 8, 1)
    rng = np.random.default_rng(2)
    greedy = [_logdet(emb[greedy_batch(rng, emb, 32, candidates=32)]) for _ in range(5)]
    rand = [_logdet(emb[random_batch(rng, 1000, 32)]) for _ in range(5)]
    assert min(greedy) > max(rand)


def test_greedy_inverse_update_matches_a_direct_log_det():
    # the greedy choice is the argmax of log det(A + z z^T): check one step by brute force
    emb = _unit_rows(50, 4, 3)
    rng = np.random.default_rng(5)
    idx = greedy_batch(rng, emb, 2, candidates=50)
    first, second = idx
    gains = [(_logdet(emb[[first, j]]), j) for j in range(50) if j != first]
    assert second == max(gains)[1]


def test_pool_p_keeps_the_candidate_closest_to_the_target():
    emb = _unit_rows(400, 8, 4)
    got = pool_p_batch(np.random.default_rng(9), emb, 30, candidates=5, target_factor=1.0)
    rng = np.random.default_rng(9)
    cands = [random_batch(rng, 400, 30) for _ in range(5)]
    reff = np.array([effective_rank(torch.from_numpy(emb[c])) for c in cands])
    np.testing.assert_array_equal(got, cands[int(np.argmin(np.abs(reff - np.median(reff))))])


# ---- training helpers ---------------------------------------------------------------------


def test_encoder_init_is_seeded_and_threads_are_restored():
    a = make_encoder(5, 7, 3, torch.Generator().manual_seed(1))
    b = make_encoder(5, 7, 3, torch.Generator().manual_seed(1))
    for p, q in zip(a.parameters(), b.parameters()):
        torch.testing.assert_close(p, q)
    for layer in (a[0], a[2]):
        bound = 1 / math.sqrt(layer.in_features)
        assert layer.weight.abs().max() <= bound and layer.bias.abs().max() <= bound
    before = torch.get_num_threads()
    with single_cpu_thread("cpu"):
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before


def test_ridge_probe_separates_separable_classes():
    rng = np.random.default_rng(0)
    c = rng.integers(0, 3, 300)
    h = np.eye(3)[c] * 5 + 0.1 * rng.standard_normal((300, 3))
    assert ridge_probe_accuracy(h[:200], c[:200], h[200:], c[200:], 3) == 1.0


# ---- experiments --------------------------------------------------------------------------


def test_every_experiment_is_registered():
    names = set(registry.names())
    for n in ("spectral_grad_identity", "spectral_band", "spectral_band_paper",
              "spectral_tau_law", "spectral_band_tracking", "spectral_whitening",
              "spectral_batch_selection", "spectral_imagenet100_speedup"):
        assert n in names


def test_grad_identity_band_and_tau_law_experiments():
    r = ex.spectral_grad_identity(seed=1, batch=16, dim=4, tau=0.2)
    assert r["grad_rel_err"] < 1e-12 and r["sqnorm_rel_err"] < 1e-12
    b = ex.spectral_band_experiment(seed=1, batch=32, dim=8, tau=0.5)
    assert b["containment"] == 1.0 and b["containment_all_keys"] == 1.0
    assert 0 <= b["vacuous_fraction"] <= 1 and 0 <= b["tightness_median"] <= 1
    errs = [ex.spectral_tau_law(seed=2, batch=64, dim=8, tau=t)["limit_rel_err"]
            for t in (1.0, 10.0, 100.0)]
    assert errs[0] > errs[1] > errs[2]
    # one batch per seed, whatever tau
    a = ex.spectral_tau_law(seed=2, batch=64, dim=8, tau=1.0)
    c = ex.spectral_tau_law(seed=2, batch=64, dim=8, tau=5.0)
    assert a["limit"] == c["limit"]


def test_band_tracking_is_deterministic_and_contained():
    kw = dict(seed=3, input_dim=12, dim=6, hidden=16, batch=32, steps=30, record_every=10)
    r = ex.spectral_band_tracking(**kw)
    assert r == ex.spectral_band_tracking(**kw)
    assert r["containment_min"] == 1.0 and r["envelope_margin"] >= 0
    assert len(r["grad_sq_curve"]) == 3 and -1 <= r["spearman_geometric"] <= 1


def test_whitening_experiment_whitens():
    r = ex.spectral_whitening(seed=0, input_dim=12, dim=6, batch=40, batches=4)
    assert r["reff_white_frac"] > 0.95 > r["reff_raw_frac"]
    assert r["grad_var_ratio"] > 0 and math.isclose(
        r["log_grad_var_ratio"], math.log(r["grad_var_ratio"]))


def test_batch_selection_runs_three_paired_samplers():
    r = ex.spectral_batch_selection(seed=0, input_dim=12, dim=6, hidden=16, pool=128,
                                    probe_samples=100, batch=32, steps=10, eval_every=5)
    for s in ("random", "pool", "greedy"):
        assert len(r[f"accuracy_curve_{s}"]) == 3  # steps 0, 5, 10
        assert r[f"steps_{s}"] in (0.0, 5.0, 10.0, 15.0)
        assert r[f"accuracy_curve_{s}"][0] == r["initial_accuracy"]  # same init and probe
    assert r["greedy_minus_random"] == r["steps_greedy"] - r["steps_random"]


@pytest.mark.parametrize("func", [ex.spectral_band_paper, ex.spectral_imagenet100_speedup])
def test_blocked_claims_raise_unavailable_with_the_reason(func):
    with pytest.raises(Unavailable) as e:
        func(seed=0)
    msg = str(e.value)
    assert "not available" in msg
    if func is ex.spectral_imagenet100_speedup:
        assert "$REPRO_DATA_DIR/imagenet100" in msg and "not implemented" in msg


@pytest.mark.parametrize(
    "func,kwargs,name",
    [
        (ex.spectral_tau_law, {"tau": 0.0}, "tau"),
        (ex.spectral_tau_law, {"cloud": "round"}, "cloud"),
        (ex.spectral_tau_law, {"batch": 1}, "batch"),
        (ex.spectral_band_experiment, {"anisotropy": 0.5}, "anisotropy"),
        (ex.spectral_grad_identity, {"noise": -1.0}, "noise"),
        (ex.spectral_tau_law, {"device": "tpu"}, "device"),
        (ex.spectral_band_tracking, {"loss": "triplet"}, "loss"),
        (ex.spectral_band_tracking, {"steps": 20, "record_every": 10}, "record_every"),
        (ex.spectral_whitening, {"batch": 32, "dim": 32}, "batch"),
        (ex.spectral_whitening, {"eps": 0.0}, "eps"),
        (ex.spectral_whitening, {"rank": "stable"}, "rank"),
        (ex.spectral_batch_selection, {"pool": 100, "batch": 256}, "pool"),
        (ex.spectral_batch_selection, {"target_fraction": 1.5}, "target_fraction"),
        (ex.spectral_band_paper, {"tau": -1.0}, "tau"),
        (ex.spectral_imagenet100_speedup, {"target_top1": 67.5}, "target_top1"),
    ],
)
def test_bad_parameters_name_the_parameter(func, kwargs, name):
    with pytest.raises(ValueError, match=f"'{name}'"):
        func(seed=0, **kwargs)
