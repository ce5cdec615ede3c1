"""Tests of methods.adv_ssl: the bias formula and the detach identity as hypothesis
properties, the losses, digits augmentations, the Fashion-MNIST reader and parameter checks.

Fast by design (tiny sizes); the claims themselves run at smoke scale from claims/.
"""

from __future__ import annotations

import gzip
import hashlib
import os
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from methods.adv_ssl import experiments as ex
from methods.adv_ssl.data import augment, digits, fashion_mnist
from methods.adv_ssl.losses import adv_loss, barlow_twins, batch_corrs, haochen_bs, whiten
from methods.adv_ssl.training import adv_embed
from methods.common.probes import knn_probe_accuracy
from repro import registry
from repro.registry import Unavailable

DATA = Path(os.environ.get("REPRO_DATA_DIR", "/work/shared/data")) / "fashion-mnist"


@settings(max_examples=12, deadline=None)
@given(dim=st.integers(2, 6), batch=st.integers(2, 48), seed=st.integers(0, 2**31 - 1),
       normalise=st.booleans())
def test_bias_formula_random_covariances(dim, batch, seed, normalise):
    """E|C_hat_B - I|^2 = |C - I|^2 + (E|z1|^2|z2|^2 - |C|^2)/B, Monte Carlo within 4 SE, for
    a random linear mixing of shared and private Gaussian parts (optionally normalised)."""
    rng = np.random.default_rng(seed)
    pop = 512
    mix = rng.standard_normal((dim, dim))
    s = rng.standard_normal((pop, dim)) @ mix
    z1 = s + rng.uniform(0.1, 2.0) * rng.standard_normal((pop, dim))
    z2 = s @ rng.standard_normal((dim, dim)) * 0.5 + rng.standard_normal((pop, dim))
    if normalise:
        z1 /= np.linalg.norm(z1, axis=1, keepdims=True)
        z2 /= np.linalg.norm(z2, axis=1, keepdims=True)
    c = z1.T @ z2 / pop
    eye = np.eye(dim)
    fourth = np.mean((z1 ** 2).sum(1) * (z2 ** 2).sum(1))
    predicted = ((c - eye) ** 2).sum() + (fourth - (c ** 2).sum()) / batch
    vals = ((batch_corrs(z1, z2, rng.integers(0, pop, (4000, batch))) - eye) ** 2).sum(axis=(1, 2))
    se = vals.std(ddof=1) / np.sqrt(len(vals))
    assert abs(vals.mean() - predicted) <= 4 * se


@settings(max_examples=10, deadline=None)
@given(sizes=st.lists(st.integers(2, 12), min_size=1, max_size=3), dim=st.integers(2, 6),
       lam=st.floats(1e-3, 10.0), seed=st.integers(0, 2**31 - 1), whitened=st.booleans())
def test_detach_identity_random_networks(sizes, dim, lam, seed, whitened):
    """Same-batch sg(C_hat - I) gives the gradient of align + lam/2 |C_hat - I|^2 exactly."""
    gen = torch.Generator().manual_seed(seed)
    net = ex._mlp(gen, [5, *sizes, dim])
    x = torch.randn(3 * dim + 4, 5, generator=gen, dtype=torch.float64)
    x2 = x + 0.3 * torch.randn(x.shape, generator=gen, dtype=torch.float64)

    def grads(variant):
        h1, h2 = net(x), net(x2)
        # "mixed": eps 1e-3 on the diagonal (a narrow hidden layer makes the covariance singular)
        z1, z2 = (adv_embed(h1, "mixed"), adv_embed(h2, "mixed")) if whitened else (h1, h2)
        return ex._grad(net, adv_loss(z1, z2, lam, variant)[0])

    g_code, g_twin = grads("code"), grads("twin")
    assert torch.allclose(g_code, g_twin, rtol=1e-10, atol=1e-12 * float(g_twin.abs().max()))


def test_xbatch_first_step_and_bad_variant():
    z = torch.randn(16, 3, dtype=torch.float64)
    a, g = adv_loss(z, z + 0.1, 0.1, "xbatch")
    b, _ = adv_loss(z, z + 0.1, 0.1, "code")
    assert torch.equal(a, b) and g.shape == (3, 3)
    with pytest.raises(ValueError, match="variant"):
        adv_loss(z, z, 0.1, "nope")


def test_whiten_and_baselines():
    gen = torch.Generator().manual_seed(0)
    z = torch.randn(256, 4, generator=gen, dtype=torch.float64) @ torch.tensor(
        [[2.0, 0, 0, 0], [1, 1, 0, 0], [0, 0, 3, 0], [0, 0, 1, 0.5]], dtype=torch.float64)
    w = whiten(z, eps=0.0)
    assert torch.allclose(w.T @ w / 255, torch.eye(4, dtype=torch.float64), atol=1e-10)
    assert float(barlow_twins(w, w)) < 1e-3  # identical decorrelated views: c = I (up to 1/B)
    assert float(barlow_twins(z, z)) > float(barlow_twins(w, w))  # off-diagonal term is paid
    assert float(haochen_bs(w, w)) > 0


def test_digits_split_and_augment_deterministic():
    x_tr, y_tr, x_te, y_te = digits()
    assert x_tr.shape == (1000, 64) and x_te.shape == (797, 64)
    assert 0 <= x_tr.min() <= x_tr.max() <= 1
    xb = torch.tensor(x_tr[:8], dtype=torch.float32)
    a = augment(xb, torch.Generator().manual_seed(3))
    b = augment(xb, torch.Generator().manual_seed(3))
    assert a.shape == (8, 64) and torch.equal(a, b) and not torch.equal(a, xb)


def test_knn_probe_separable():
    x = np.vstack([np.zeros((10, 2)) + [1, 0], np.zeros((10, 2)) + [0, 1]]) + 0.01
    y = np.repeat([0, 1], 10)
    assert knn_probe_accuracy(x, y, x, y, k=5) == 1.0


@pytest.mark.skipif(not (DATA / "t10k-labels-idx1-ubyte.gz").is_file(), reason="no fashion-mnist")
def test_fashion_mnist_reader():
    x, y = fashion_mnist("test", root=DATA)
    assert x.shape == (10000, 28, 28) and x.dtype == np.uint8
    assert y.shape == (10000,) and set(np.unique(y)) == set(range(10))


def test_fashion_mnist_missing_and_corrupt(tmp_path, monkeypatch):
    monkeypatch.setenv("REPRO_DATA_DIR", str(tmp_path))
    with pytest.raises(Unavailable, match="dataset-fashion-mnist"):
        fashion_mnist("train")
    root = tmp_path / "fashion-mnist"
    root.mkdir()
    for name, payload in [("t10k-images-idx3-ubyte.gz", b"\x00\x00\x08\x03" + (1).to_bytes(4, "big")
                           + (28).to_bytes(4, "big") * 2 + bytes(784)),
                          ("t10k-labels-idx1-ubyte.gz", b"\x00\x00\x08\x01" + (1).to_bytes(4, "big")
                           + bytes(1))]:
        (root / name).write_bytes(gzip.compress(payload))
    x, y = fashion_mnist("test")
    assert x.shape == (1, 28, 28) and y.shape == (1,)
    digest = hashlib.sha256(b"other").hexdigest()
    (root / "SHA256SUMS").write_text(f"{digest}  t10k-labels-idx1-ubyte.gz\n")
    with pytest.raises(ValueError, match="SHA-256"):
        fashion_mnist("test")
    with pytest.raises(ValueError, match="split"):
        fashion_mnist("val")


def test_registered_and_bad_params():
    for name in ("advssl_batch_estimators", "advssl_detach_identity", "advssl_crossbatch_gradient",
                 "advssl_digits", "advssl_timing", "advssl_fewshot", "advssl_cifar10_linear"):
        assert registry.get(name)
    with pytest.raises(ValueError, match="'batch'"):
        ex.advssl_batch_estimators(seed=0, batch=1)
    with pytest.raises(ValueError, match="'methods'"):
        ex.advssl_digits(seed=0, methods=["simclr"])
    with pytest.raises(ValueError, match="'lam'"):
        ex.advssl_detach_identity(seed=0, lam=-1.0)
    with pytest.raises(Unavailable, match="CIFAR-10"):
        ex.advssl_cifar10_linear(seed=0)


def test_estimators_deterministic_and_small_run():
    a = ex.advssl_batch_estimators(seed=4, batches=300, batch=8)
    assert a == ex.advssl_batch_estimators(seed=4, batches=300, batch=8)
    d = ex.advssl_detach_identity(seed=2)
    assert d["code_vs_twin_rel"] <= 1e-10 < 1e-6 <= d["xbatch_vs_twin_rel"]
    r = ex.advssl_digits(seed=0, methods=["adv_code", "twin"], epochs=1)
    assert r["lin_adv_code"] == r["lin_twin"] and 10 < r["lin_adv_code"] <= 100


def test_pipelines_per_release():
    """act2025 whitens each sub-batch of 128 (ACT methods/act.py:36-40) and normalises to unit
    norm; act2024 does not whiten and scales to sqrt(D); its first view pair's G is C_hat - I
    itself (not detached), i.e. the loss align + lam |C_hat - I|^2."""
    from methods.adv_ssl.training import PIPELINES, _groups, step_loss

    gen = torch.Generator().manual_seed(1)
    h = torch.randn(256, 8, generator=gen, dtype=torch.float64) @ torch.randn(
        8, 8, generator=gen, dtype=torch.float64)
    groups = _groups("act2025", 256, gen)
    assert len(groups) == 2 and sorted(torch.cat(groups).tolist()) == list(range(256))
    z = adv_embed(h, "act2025", groups)
    assert torch.allclose(z.norm(dim=1), torch.ones(256, dtype=torch.float64))
    w = whiten(h[groups[0]], eps=0.0)
    assert torch.allclose(z[groups[0]], w / w.norm(dim=1, keepdim=True))
    assert _groups("act2025", 64, gen) is None and _groups("act2024", 512, gen) is None
    z24 = adv_embed(h, "act2024")
    assert torch.allclose(z24.norm(dim=1), torch.full((256,), 8 ** 0.5, dtype=torch.float64))
    h2 = h + 0.1
    lam = PIPELINES["act2024"]["lam"]
    loss, _ = step_loss("adv_code", h, h2, pipeline="act2024", lam=lam, g_prev=None, gen=gen)
    z1, z2 = adv_embed(h, "act2024"), adv_embed(h2, "act2024")
    c = z1.T @ z2 / 256 - torch.eye(8, dtype=torch.float64)
    assert torch.allclose(loss, ((z1 - z2) ** 2).sum(1).mean() + lam * (c ** 2).sum())
    with pytest.raises(ValueError, match="multiple"):
        _groups("act2025", 200, gen)


def test_embedding_must_be_below_whitened_rows():
    """The defect of the former batch-size design: 32 dimensions whitened over 16 rows."""
    with pytest.raises(ValueError, match="'emb'"):
        ex.advssl_digits(seed=0, methods=["twin"], batch=16, emb=32, epochs=1)
    with pytest.raises(ValueError, match="'pipeline'"):
        ex.advssl_digits(seed=0, methods=["twin"], pipeline="act2023", epochs=1)


def test_training_reports_losses_and_untrained_copy():
    from methods.adv_ssl.training import train

    x = digits()[0][:256]
    gen = torch.Generator().manual_seed(0)
    backbone, times, info = train("adv_code", x, seed_gen=gen, epochs=3, batch=64, lr=1e-3)
    assert len(times) == 3 and np.isfinite(info["loss_first"]) and np.isfinite(info["loss_last"])
    before = [p.detach().clone() for p in info["untrained"].parameters()]
    assert any(not torch.equal(a, b) for a, b in zip(before, backbone.parameters()))
    _, _, info2 = train("bt", x, seed_gen=torch.Generator().manual_seed(0), epochs=3, batch=64,
                        lr=1e-3, steps=5)
    assert np.isfinite(info2["loss_first"])


@pytest.mark.skipif(not (DATA / "train-images-idx3-ubyte.gz").is_file(), reason="no fashion-mnist")
def test_fewshot_same_preprocessing_on_fashion(monkeypatch):
    """The few-shot experiment reads the real Fashion-MNIST files and standardises raw pixels
    exactly as it standardises features (pool mean and sd)."""
    monkeypatch.setenv("REPRO_DATA_DIR", str(DATA.parent))
    calls = []
    real = ex._standardise
    monkeypatch.setattr(ex, "_standardise", lambda *a: calls.append(a) or real(*a))
    r = ex.advssl_fewshot(seed=0, n_pretrain=256, steps=3, shots=[1], draws=1, pool_size=200,
                          test_size=100)
    assert {"fewshot_ssl_nt1", "fewshot_raw_nt1", "fewshot_untrained_nt1",
            "separation_raw", "loss_drop"} <= set(r)
    assert len(calls) == 3 and calls[2][0].shape == (200, 784)  # raw pixels, standardised too
