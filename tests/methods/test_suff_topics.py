"""Tests of methods.sufficient_stats.topics and the ``suff_topic_classification`` experiment.

Exactness is checked against brute-force enumeration of every word sequence on a tiny model.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from methods.sufficient_stats.topic_experiments import curve_steps, suff_topic_classification
from methods.sufficient_stats.topics import (
    PosteriorProbe,
    TopicEncoder,
    TopicModel,
    bayes_accuracy,
    contrastive_loss,
    critic_logits,
    expected_bayes_accuracy,
    fit_posterior_probe,
    make_topic_model,
    mean_kl,
    suff_upper_bound,
)
from repro import registry

# ---- brute force on a tiny model -----------------------------------------------------------


def _tiny(seed: int = 0, topics: int = 3, vocab: int = 3) -> TopicModel:
    rng = np.random.default_rng(seed)
    prior = rng.dirichlet(np.full(topics, 3.0))
    return make_topic_model(rng, topics=topics, vocab=vocab, dirichlet=1.0, prior=prior)


def _sequences(vocab: int, length: int) -> np.ndarray:
    return np.array(list(itertools.product(range(vocab), repeat=length)), dtype=np.int64)


def _joint(model: TopicModel, seqs: np.ndarray) -> np.ndarray:
    """p(t, s) for every sequence s (n, K), by the product of word probabilities."""
    return model.prior * np.prod(model.phi[:, seqs], axis=2).T


def test_posterior_is_normalised_and_matches_enumeration():
    model = _tiny()
    seqs = _sequences(model.vocab, 3)
    joint = _joint(model, seqs)
    brute = joint / joint.sum(axis=1, keepdims=True)
    lp = model.log_posterior(model.counts(seqs))
    np.testing.assert_allclose(np.exp(lp).sum(axis=1), 1.0, atol=1e-12)
    np.testing.assert_allclose(np.exp(lp), brute, rtol=1e-10, atol=1e-14)


def test_posterior_stays_finite_for_long_documents():
    model = _tiny()
    counts = np.zeros((1, model.vocab))
    counts[0, 0] = 5000.0  # exp of the unnormalised log-posterior underflows
    lp = model.log_posterior(counts)
    assert np.all(np.isfinite(lp))
    assert abs(np.exp(lp).sum() - 1.0) < 1e-12


def test_pmi_and_exact_critic_match_enumeration():
    model = _tiny(1)
    s1 = _sequences(model.vocab, 2)
    s2 = s1
    j1 = _joint(model, s1)  # (n1, K)
    j2 = _joint(model, s2)
    # p(s1, s2) = sum_t pi_t p(s1|t) p(s2|t) = sum_t j1_t j2_t / pi_t
    p12 = (j1 / model.prior) @ j2.T
    brute = np.log(p12) - np.log(j1.sum(1))[:, None] - np.log(j2.sum(1))[None, :]
    c1, c2 = model.counts(s1), model.counts(s2)
    np.testing.assert_allclose(model.pmi(c1, c2), brute, atol=1e-12)
    enc = TopicEncoder.from_model(model)
    with torch.no_grad():
        t1 = torch.as_tensor(c1)
        t2 = torch.as_tensor(c2)
        s = critic_logits(enc.log_f(t1), enc.log_f(t2), enc.gamma).numpy()
    np.testing.assert_allclose(s, brute, atol=1e-12)


def test_exact_bayes_accuracy_full_at_least_half():
    for seed in range(5):
        model = _tiny(seed)
        s1 = _sequences(model.vocab, 2)
        j1 = _joint(model, s1)
        half = j1.max(axis=1).sum()
        full_seqs = _sequences(model.vocab, 4)
        full = _joint(model, full_seqs).max(axis=1).sum()
        assert full >= half - 1e-12
        assert 1.0 / model.topics - 1e-12 <= half <= 1.0


def test_sampled_bayes_accuracy_ordering_and_split():
    model = make_topic_model(np.random.default_rng(3), topics=5, vocab=100, dirichlet=1.0)
    rng = np.random.default_rng(4)
    c1, c2, t = model.sample_views(4000, 12, rng)
    np.testing.assert_array_equal(c1.sum(axis=1), 6)
    np.testing.assert_array_equal(c2.sum(axis=1), 6)
    half = model.log_posterior(c1)
    full = model.log_posterior(c1 + c2)
    assert bayes_accuracy(full, t) > bayes_accuracy(half, t)
    assert expected_bayes_accuracy(full) > expected_bayes_accuracy(half)
    # the empirical and the label-free estimates of the same expectation agree
    assert abs(bayes_accuracy(half, t) - expected_bayes_accuracy(half)) < 0.03
    with pytest.raises(ValueError, match="even"):
        model.sample_views(3, 11, rng)


def test_sample_split_keeps_fewer_words_per_view():
    model = make_topic_model(np.random.default_rng(3), topics=5, vocab=100, dirichlet=1.0)
    c1, c2, full, t = model.sample_split(500, 20, 3, np.random.default_rng(0))
    np.testing.assert_array_equal(c1.sum(axis=1), 3)
    np.testing.assert_array_equal(c2.sum(axis=1), 3)
    np.testing.assert_array_equal(full.sum(axis=1), 20)
    assert np.all(full >= c1 + c2)
    assert bayes_accuracy(model.log_posterior(full), t) > bayes_accuracy(model.log_posterior(c1), t)
    with pytest.raises(ValueError, match="view length"):
        model.sample_split(3, 20, 11, np.random.default_rng(0))


# ---- encoder, critic, loss -----------------------------------------------------------------


def test_encoder_output_on_simplex():
    enc = TopicEncoder(30, 4, init_std=3.0, generator=torch.Generator().manual_seed(0))
    counts = torch.as_tensor(np.random.default_rng(0).poisson(5.0, (50, 30)), dtype=torch.float32)
    f = enc(counts)
    assert f.shape == (50, 4)
    assert torch.all(f >= 0)
    torch.testing.assert_close(f.sum(dim=1), torch.ones(50), atol=1e-6, rtol=0)
    assert torch.all(torch.isfinite(enc.log_f(1e4 * counts)))


def test_contrastive_loss_is_cross_entropy_over_critic_matrix():
    model = _tiny(2, topics=4, vocab=10)
    c1, c2, _ = model.sample_views(16, 8, np.random.default_rng(0))
    enc = TopicEncoder(10, 4, init_std=0.5, generator=torch.Generator().manual_seed(1),
                       dtype=torch.float64)
    x1, x2 = torch.as_tensor(c1), torch.as_tensor(c2)
    f1, f2 = enc(x1), enc(x2)
    naive = torch.log((f1[:, None, :] * f2[None, :, :] * enc.gamma.exp()).sum(dim=2))
    torch.testing.assert_close(critic_logits(enc.log_f(x1), enc.log_f(x2), enc.gamma), naive)
    expected = (-naive.diag() + torch.logsumexp(naive, dim=1)).mean()
    torch.testing.assert_close(contrastive_loss(enc, x1, x2), expected)
    torch.testing.assert_close(
        contrastive_loss(enc, x1, x2), F.cross_entropy(naive, torch.arange(16))
    )


# ---- sufficiency upper bound ---------------------------------------------------------------


def test_suff_ub_zero_for_exact_encoder_and_positive_for_merged_topics():
    model = make_topic_model(np.random.default_rng(5), topics=4, vocab=40, dirichlet=1.0)
    rng = np.random.default_rng(6)
    fit, _, _ = model.sample_views(1500, 12, rng)
    ev, _, _ = model.sample_views(1500, 12, rng)
    pf, pe = model.log_posterior(fit), model.log_posterior(ev)
    assert suff_upper_bound(pf, pf, pe, pe) < 1e-8
    # merge topics 0 and 1 in the encoder: the posterior mass on them cannot be split again
    merged = model.log_posterior(fit)
    merged_e = model.log_posterior(ev)
    for lp in (merged, merged_e):
        lp[:, 0] = np.logaddexp(lp[:, 0], lp[:, 1])
        lp[:, 1] = -30.0
    assert suff_upper_bound(merged, pf, merged_e, pe) > 0.05


def test_suff_ub_upper_bounds_exact_sufficiency_by_enumeration():
    """Suff(f) <= E KL(pi(.|X1) || q(.|f(X1))) for any q (data processing), on a tiny model
    where Suff is computed exactly and f is made non-injective (words 0 and 1 look alike)."""
    model = _tiny(7, topics=3, vocab=3)
    s1 = _sequences(model.vocab, 2)
    s2 = _sequences(model.vocab, 2)
    j1 = _joint(model, s1)
    p1 = j1.sum(axis=1)
    post = j1 / p1[:, None]
    lik2 = np.prod(model.phi[:, s2], axis=2)  # (K, n2): p(s2 | t)
    p2_given_1 = post @ lik2  # (n1, n2)
    # encoder with identical columns for words 0 and 1 -> depends on the count of word 2 only
    A = np.array([[0.3, 0.3, -1.0], [-0.2, -0.2, 0.8], [0.1, 0.1, 0.1]])
    enc = TopicEncoder(3, 3, dtype=torch.float64)
    with torch.no_grad():
        enc.A.copy_(torch.as_tensor(A))
        log_f = enc.log_f(torch.as_tensor(model.counts(s1))).numpy()
    keys = np.round(log_f, 12)
    _, group = np.unique(keys, axis=0, return_inverse=True)
    group = group.ravel()
    assert group.max() + 1 < len(s1)  # genuinely non-injective
    suff = 0.0
    for g in np.unique(group):
        rows = group == g
        mix = (p1[rows, None] * p2_given_1[rows]).sum(axis=0) / p1[rows].sum()
        kl = np.sum(p2_given_1[rows] * (np.log(p2_given_1[rows]) - np.log(mix)), axis=1)
        suff += float(np.sum(p1[rows] * kl))
    assert suff > 1e-4

    def bound(probe: PosteriorProbe) -> float:
        lq = probe.log_q(log_f)
        return float(np.sum(p1 * np.sum(post * (np.log(post) - lq), axis=1)))

    rng = np.random.default_rng(0)
    probes = [PosteriorProbe(C=np.eye(3), d=np.zeros(3))]
    probes += [PosteriorProbe(C=rng.normal(size=(3, 3)), d=rng.normal(size=3)) for _ in range(5)]
    # the fitted probe, on a large sample from the same model
    c, _, _ = model.sample_views(4000, 4, np.random.default_rng(1))
    with torch.no_grad():
        lf_s = enc.log_f(torch.as_tensor(c)).numpy()
    probes.append(fit_posterior_probe(lf_s, model.log_posterior(c)))
    for probe in probes:
        assert bound(probe) >= suff - 1e-12
    assert bound(probes[-1]) <= bound(probes[0]) + 1e-3  # the fit improves on q = f


def test_mean_kl_nonnegative():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(20, 5))
    b = rng.normal(size=(20, 5))
    la = a - np.log(np.exp(a).sum(1, keepdims=True))
    lb = b - np.log(np.exp(b).sum(1, keepdims=True))
    assert mean_kl(la, lb) > 0
    assert abs(mean_kl(la, la)) < 1e-15


# ---- the registered experiment -------------------------------------------------------------

TINY = dict(
    topics=3, vocab=20, doc_len=8, batch=32, steps=12, restarts=2, warmup_steps=4,
    probe_labels=40, test_docs=200, suff_fit_docs=200, curve_points=4,
)


def test_experiment_registered_deterministic_and_sane():
    assert registry.get("suff_topic_classification").func is suff_topic_classification
    threads = torch.get_num_threads()
    a = suff_topic_classification(seed=3, **TINY)
    b = suff_topic_classification(seed=3, **TINY)
    assert torch.get_num_threads() == threads
    assert a == b
    assert a != suff_topic_classification(seed=4, **TINY)
    for k in ("suff_ub", "probe_acc", "probe_acc_exact", "bayes_half", "bayes_full"):
        assert np.isfinite(a[k]) and a[k] >= 0
    assert a["bayes_gap"] == pytest.approx(a["bayes_full"] - a["bayes_half"])
    assert a["curve_step"][0] == 0 and a["curve_step"][-1] == TINY["steps"]
    assert len(a["curve_step"]) == len(a["curve_suff_ub"])
    assert a["curve_suff_ub"][-1] == a["suff_ub"]
    assert min(a["curve_suff_ub"]) >= 0


def test_experiment_with_shorter_views_runs():
    out = suff_topic_classification(seed=0, **dict(TINY, doc_len=9, view_words=2))
    assert out["bayes_full"] >= out["bayes_half"] - 0.05


def test_curve_steps():
    assert curve_steps(1, 5) == [0, 1]
    s = curve_steps(1000, 12)
    assert s[0] == 0 and s[-1] == 1000 and s == sorted(set(s))


@pytest.mark.parametrize(
    "name, value",
    [
        ("topics", 1), ("vocab", 1), ("doc_len", 11), ("doc_len", 0), ("dirichlet", 0.0),
        ("batch", 1), ("steps", 0), ("lr", -0.1), ("init_std", 0.0), ("restarts", 0),
        ("warmup_steps", 0), ("probe_labels", 3), ("test_docs", 0), ("suff_fit_docs", 5),
        ("curve_points", 0), ("view_words", 5), ("view_words", -1), ("device", "tpu"),
        ("lr", float("nan")), ("steps", True),
    ],
)
def test_bad_params_raise_value_error_naming_param(name, value):
    params = dict(TINY, seed=0)
    params[name] = value
    with pytest.raises(ValueError, match=repr(name)):
        suff_topic_classification(**params)
