"""CaliGCL: partitioned similarity (Jensen bound, equality cases, loop references), its
losses (GRACE at K = 1, calibrated-loss reductions, gradients) and the CLT probability."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from methods.caligcl.experiments import caligcl_negative_partition_prob, caligcl_spart_bound
from methods.caligcl.losses import (
    calibrated_loss,
    log_spart,
    log_spart_pairs,
    own_pair_mask,
    partitioned_loss,
    spart_unit_matrix,
)
from methods.graphs.grace import grace_loss

vectors = st.integers(0, 10_000)


def _rand(seed, *shape):
    return torch.from_numpy(np.random.default_rng(seed).standard_normal(shape))


def _spart_loop(h, g, k, tau):
    parts = np.array_split(np.arange(len(h)), k)
    return sum(math.exp(k * float(h[p] @ g[p]) / tau) for p in parts) / k


@settings(max_examples=60, deadline=None)
@given(vectors, st.integers(1, 40), st.integers(1, 8), st.sampled_from([0.2, 0.5, 1.0]))
def test_jensen_bound(seed, d, k, tau):
    k = min(k, d)
    h = torch.nn.functional.normalize(_rand(seed, 5, d), dim=1)
    g = torch.nn.functional.normalize(_rand(seed + 1, 5, d), dim=1)
    gap = log_spart_pairs(h, g, k, tau) - (h * g).sum(1) / tau
    assert float(gap.min()) >= -1e-12
    if k == 1:
        assert float(gap.abs().max()) <= 1e-12


@settings(max_examples=30, deadline=None)
@given(vectors, st.integers(1, 6), st.integers(1, 5))
def test_equality_for_equal_partition_products(seed, m, k):
    u, w = _rand(seed, 3, m), _rand(seed + 7, 3, m)
    h, g = u.repeat(1, k), w.repeat(1, k)
    gap = log_spart_pairs(h, g, k, 0.7) - (h * g).sum(1) / 0.7
    assert float(gap.abs().max()) <= 1e-10


def test_log_spart_matches_loop_unequal_partitions():
    a, b = _rand(0, 4, 11), _rand(1, 3, 11)
    got = log_spart(a, b, 3, 0.5)
    for i in range(4):
        for j in range(3):
            ref = _spart_loop(a[i].numpy(), b[j].numpy(), 3, 0.5)
            assert float(got[i, j]) == pytest.approx(math.log(ref), abs=1e-12)
    np.testing.assert_allclose(log_spart_pairs(a[:3], b, 3, 0.5).numpy(),
                               np.diag(got[:3].numpy()), atol=1e-12)


def test_unit_matrix_matches_log_space():
    z = torch.nn.functional.normalize(_rand(2, 9, 12), dim=1)
    s, c = spart_unit_matrix(z, 4, 0.25)
    ref = log_spart(z, z, 4, 0.25)
    off = ~torch.eye(9, dtype=torch.bool)
    np.testing.assert_allclose(torch.log(s[off]).numpy() + c - math.log(4), ref[off].numpy(),
                               atol=1e-12)
    assert float(s.diagonal().abs().max()) == 0.0


def _part_loss_loop(z1, z2, k, tau, pos=None):
    h = torch.nn.functional.normalize(torch.cat([z1, z2]), dim=1).numpy()
    n2 = len(h)
    n = n2 // 2
    tot = 0.0
    for i in range(n2):
        partner = (i + n) % n2
        sims = [_spart_loop(h[i], h[j], k, tau) for j in range(n2)]
        den = sum(sims[j] for j in range(n2) if j != i)
        if pos is None:
            num = sims[partner]
        else:
            num = sum(sims[j] for j in range(n2) if j != i and pos[i, j])
            if num == 0:
                num = sims[partner]
        tot += -math.log(num / den)
    return tot / n2


@pytest.mark.parametrize("k,tau", [(1, 0.5), (3, 0.5), (4, 0.1)])
def test_partitioned_loss_matches_loop(k, tau):
    z1, z2 = _rand(3, 5, 12), _rand(4, 5, 12)
    # tau = 0.1 with K = 4 exceeds the linear-space shift bound: exercises the log path
    got = float(partitioned_loss(z1, z2, k=k, tau=tau))
    assert got == pytest.approx(_part_loss_loop(z1, z2, k, tau), abs=1e-10)


def test_k1_is_grace():
    z1, z2 = _rand(5, 8, 6), _rand(6, 8, 6)
    assert float(partitioned_loss(z1, z2, k=1, tau=0.4)) == pytest.approx(
        float(grace_loss(z1, z2, 0.4)), abs=1e-12)


def test_calibrated_loss_reductions_and_loop():
    z1, z2 = _rand(7, 5, 8), _rand(8, 5, 8)
    own = own_pair_mask(5)
    assert float(calibrated_loss(z1, z2, own, k=2, tau=0.5)) == pytest.approx(
        float(partitioned_loss(z1, z2, k=2, tau=0.5)), abs=1e-12)
    empty = torch.zeros(10, 10, dtype=torch.bool)  # every anchor falls back to its pair
    assert float(calibrated_loss(z1, z2, empty, k=2, tau=0.5)) == pytest.approx(
        float(partitioned_loss(z1, z2, k=2, tau=0.5)), abs=1e-12)
    pos = torch.from_numpy(np.random.default_rng(0).random((10, 10)) < 0.3)
    pos[3] = False  # one anchor without positives
    got = float(calibrated_loss(z1, z2, pos, k=2, tau=0.5))
    assert got == pytest.approx(_part_loss_loop(z1, z2, 2, 0.5, pos.numpy()), abs=1e-10)


def test_gradients():
    z1 = _rand(9, 4, 6).requires_grad_()
    z2 = _rand(10, 4, 6).requires_grad_()
    pos = torch.from_numpy(np.random.default_rng(1).random((8, 8)) < 0.4)
    assert torch.autograd.gradcheck(lambda a, b: partitioned_loss(a, b, k=3, tau=0.5),
                                    (z1, z2))
    assert torch.autograd.gradcheck(lambda a, b: calibrated_loss(a, b, pos, k=2, tau=0.5),
                                    (z1, z2))


@pytest.mark.parametrize("m", [4, 16, 64])
def test_clt_probability(m):
    r = caligcl_negative_partition_prob(seed=0, m=m, samples=40000)
    assert r["abs_err"] < 0.015 and r["freq"] > 0


def test_bound_experiment_small():
    r = caligcl_spart_bound(seed=0, dim=16, pairs=200)
    assert r["min_rel_gap"] >= -1e-9 and r["eq_err_k1"] < 1e-9
    assert r["eq_err_equal_parts"] < 1e-9 and r["max_rel_gap"] > 0


def test_neg_share_pairs_matches_loop():
    from methods.caligcl.experiments import _neg_share_pairs
    rng = np.random.default_rng(3)
    a = torch.from_numpy(rng.standard_normal((12, 10)))
    b = torch.from_numpy(rng.standard_normal((12, 10)))
    mask = torch.from_numpy(rng.random((12, 12)) < 0.4)
    for k in (1, 3, 5):
        neg = tot = 0
        for i in range(12):
            for j in range(12):
                if mask[i, j]:
                    for pa, pb in zip(np.array_split(a[i].numpy(), k),
                                      np.array_split(b[j].numpy(), k)):
                        neg += float(pa @ pb) < 0
                        tot += 1
        assert _neg_share_pairs(a, b, mask, k) == pytest.approx(100.0 * neg / tot)


def _write_graph_zip(path, name, n=40, f=6, c=3, seed=0):
    import io
    import zipfile
    rng = np.random.default_rng(seed)
    adj = (rng.random((n, n)) < 0.15).astype(np.int32)
    adj = np.triu(adj, 1)
    adj = adj + adj.T
    lab = np.arange(n) % c
    feat = (rng.random((n, f)) < 0.3).astype(np.float32)
    with zipfile.ZipFile(path, "w") as zf:
        for member, arr in ((f"{name}_adj.npy", adj), (f"{name}_feat.npy", feat),
                            (f"{name}_label.npy", lab.astype(np.int64))):
            buf = io.BytesIO()
            np.save(buf, arr)
            zf.writestr(member, buf.getvalue())
    return adj, feat, lab


def test_load_real_citeseer_layout(tmp_path, monkeypatch):
    """CiteSeer is read from <data>/graphs/citeseer.zip in the Cora layout; absent -> a clear
    Unavailable naming the file."""
    from methods.caligcl.experiments import load_real
    from repro.registry import Unavailable
    monkeypatch.setenv("REPRO_DATA_DIR", str(tmp_path))
    with pytest.raises(Unavailable, match="citeseer.zip"):
        load_real("citeseer", 0)
    (tmp_path / "graphs").mkdir()
    adj, feat, lab = _write_graph_zip(tmp_path / "graphs" / "citeseer.zip", "citeseer")
    g = load_real("citeseer", 0)
    assert g.n == 40 and g.classes == 3 and g.edges == int(adj.sum() // 2)
    np.testing.assert_array_equal(g.labels, lab)
    np.testing.assert_array_equal(g.features, feat)
