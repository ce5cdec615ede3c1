"""RAGC: CSADA loss (reduction to InfoNCE, the code's literal arithmetic, gradients), weight
ranges, high-confidence selection, training invariants, structural noise."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from methods.common.infonce import nt_xent
from methods.graphs.csbm import csbm
from methods.ragc.experiments import add_random_edges, ragc_late_degradation, ragc_mechanics
from methods.ragc.model import (
    RagcConfig,
    csada_loss,
    csada_loss_reference,
    high_confidence,
    new_weights,
    partner_index,
    train_ragc,
)


def _z(seed, n, d):
    z = torch.from_numpy(np.random.default_rng(seed).standard_normal((2 * n, d)))
    return torch.nn.functional.normalize(z, dim=1)


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 10_000), st.integers(2, 20), st.integers(1, 10))
def test_unit_weights_reduce_to_infonce(seed, n, d):
    z = _z(seed, n, d)
    s = z @ z.T
    got = csada_loss(s, torch.ones_like(s), torch.ones(2 * n, dtype=s.dtype))
    ref = nt_xent(z[:n], z[n:], temperature=1.0, similarity="dot")
    assert abs(float(got - ref)) <= 1e-12


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 10_000), st.integers(2, 15))
def test_matches_code_arithmetic(seed, n):
    z = _z(seed, n, 4)
    s = z @ z.T
    w = torch.from_numpy(2 + (math.e - 1) * np.random.default_rng(seed).random((2 * n, 2 * n)))
    wp = w[torch.arange(2 * n), partner_index(n)]
    assert abs(float(csada_loss(s, w, wp) - csada_loss_reference(s, w, wp))) <= 1e-12


def test_loop_reference_and_gradient():
    n = 4
    z = _z(0, n, 3)
    s = (z @ z.T).clone().requires_grad_()
    sd = s.detach()
    w = torch.from_numpy(2 + np.random.default_rng(1).random((2 * n, 2 * n)))
    wp = torch.from_numpy(2 + np.random.default_rng(2).random(2 * n))
    tot = 0.0
    for i in range(2 * n):
        p = (i + n) % (2 * n)
        pos = math.exp(float(sd[i, p] * wp[i]))
        neg = sum(math.exp(float(sd[i, j] * w[i, j])) for j in range(2 * n) if j != i) - pos
        tot += -math.log(pos / (pos + neg))
    assert float(csada_loss(s, w, wp)) == pytest.approx(tot / (2 * n), abs=1e-12)
    assert torch.autograd.gradcheck(lambda x: csada_loss(x, w, wp), (s,))


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 10_000))
def test_weight_ranges(seed):
    rng = np.random.default_rng(seed)
    q = torch.from_numpy((rng.random((20, 20)) < 0.5).astype(float))
    s = torch.from_numpy(rng.random((20, 20)))
    w = new_weights(q, s, RagcConfig(variant="ragc", beta=0.9, gamma=2.0))
    assert float(w.min()) >= 2 - 1e-12 and float(w.max()) <= 1 + math.e + 1e-12
    h = new_weights(q, s, RagcConfig(variant="hsan", beta=0.9))
    assert float(h.min()) >= 0 and float(h.max()) <= 1
    # HSAN: negatives weigh S_n^beta (harder = more similar = heavier)
    np.testing.assert_allclose(h[q == 0].numpy(), (s[q == 0] ** 0.9).numpy())


def test_high_confidence_fraction():
    rng = np.random.default_rng(0)
    z = rng.standard_normal((200, 4))
    c = rng.standard_normal((3, 4))
    keep = high_confidence(z, c, 0.85)
    assert abs(len(keep) - 0.85 * 200) <= 2


def test_mechanics_small():
    r = ragc_mechanics(seed=0, nodes=60, epochs=10, hidden=16)
    assert r["label_shuffle_diff"] == 0.0 and r["loss_finite"] == 1.0
    assert 2 - 1e-6 <= r["w_update_min"] and r["w_update_max"] <= 1 + math.e + 1e-6
    assert r["a_min"] >= 0 and r["a_excess"] <= 0 and r["alpha_change"] > 0


def test_add_random_edges():
    g = csbm(100, 2, 5, avg_degree=4.0, homophily=0.9, rng=np.random.default_rng(0))
    g2 = add_random_edges(g, 0.5, seed=0)
    assert g2.edges == g.edges + round(0.5 * g.edges)
    assert (g.adj - g2.adj.multiply(g.adj)).nnz == 0  # old edges kept


def _small_graph():
    return csbm(60, 3, 10, avg_degree=4.0, homophily=0.8, rng=np.random.default_rng(1))


def _scores(pred):
    return {"acc": float(np.mean(pred == 0)), "nmi": 0.0, "ari": 0.0, "f1": 0.0}


@pytest.mark.parametrize("accumulate", [True, False])
def test_optimiser_loop_as_released(monkeypatch, accumulate):
    """Released train.py:71-72: backward + step, never zero_grad (gradients accumulate);
    ``accumulate_grads = False`` zeroes them every epoch."""
    calls = []
    orig = torch.optim.Adam.zero_grad
    monkeypatch.setattr(torch.optim.Adam, "zero_grad",
                        lambda self, *a, **k: (calls.append(1), orig(self, *a, **k)))
    cfg = RagcConfig(hidden=8, epochs=7, update_every=5, kmeans_init=1,
                     accumulate_grads=accumulate)
    res = train_ragc(_small_graph(), cfg, seed=0, evaluate=_scores)
    assert len(calls) == (0 if accumulate else 7)
    # the code's cadence: 0-based epochs 0 and 5, i.e. after 1 and 6 steps; final separately
    assert [ep for ep, _ in res.evals] == [1, 6]
    assert res.final is not None and res.untrained is not None


def test_accumulated_gradient_is_the_running_sum():
    """With accumulation the second step sees g1 + g2 (checked on the first parameter's
    .grad when Adam steps); without it, g2 alone."""
    g = _small_graph()
    seen = []
    orig = torch.optim.Adam.step

    def step(self, *a, **k):
        seen.append(self.param_groups[0]["params"][0].grad.clone())
        return orig(self, *a, **k)

    for accumulate in (True, False):
        seen.clear()
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(torch.optim.Adam, "step", step)
            train_ragc(g, RagcConfig(variant="plain", hidden=8, epochs=2, kmeans_init=1,
                                     accumulate_grads=accumulate), seed=0)
        if accumulate:
            acc = [t.clone() for t in seen]
        else:
            zero = [t.clone() for t in seen]
    torch.testing.assert_close(acc[0], zero[0])
    # step 1 is identical, so both runs reach step 2 with the same parameters and the same
    # fresh gradient g2 (= zero[1]); the released loop adds it to g1
    torch.testing.assert_close(acc[1], acc[0] + zero[1])
    assert float(acc[0].abs().max()) > 0


def test_late_degradation_experiment_small():
    r = ragc_late_degradation(seed=0, nodes=60, classes=3, features=10, epochs=12,
                              hidden=8, kmeans_init=1, variants="ragc")
    assert r["ragc_gap_zero_minus_acc"] == pytest.approx(
        r["zero_ragc_gap_acc"] - r["acc_ragc_gap_acc"])
    assert r["acc_ragc_loss_finite"] == 1.0 and r["zero_ragc_loss_finite"] == 1.0
    # same X_aug and initialisation: the first epoch is identical under both loops
    assert r["acc_ragc_loss_first"] == r["zero_ragc_loss_first"]
