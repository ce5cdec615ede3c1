"""Tests of methods.frame_proj (LWA): the Fourier view (Parseval, inverses), the Morlet
filterbank against a direct-sum reference and its frame bounds (hypothesis over random
signals), the NT-Xent reference, the augmentations' invariants, the models' shapes and
gradients, and the experiments' parameter checks. Tiny sizes; the claims run from claims/."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from methods.common.infonce import nt_xent
from methods.frame_proj import augment as aug
from methods.frame_proj import experiments as ex
from methods.frame_proj import views as V
from methods.frame_proj.models import LWA, Encoder1d, Mapper
from methods.frame_proj.training import effective_batch, lwa_loss
from repro import registry
from repro.registry import Unavailable

_hyp = settings(max_examples=12, deadline=None)


@_hyp
@given(length=st.integers(2, 90), seed=st.integers(0, 2**31 - 1))
def test_parseval_and_inverses(length, seed):
    x = torch.as_tensor(np.random.default_rng(seed).standard_normal((3, 2, length)))
    spec = torch.fft.rfft(x, dim=-1, norm="ortho")
    torch.testing.assert_close(V.half_spectrum_energy(spec, length), (x ** 2).sum(-1),
                               rtol=1e-10, atol=0)
    mag, phase = V.fourier_view(x)
    assert mag.shape[-1] == length // 2 + 1
    torch.testing.assert_close(V.fourier_inverse(mag, phase, length), x, rtol=0, atol=1e-12)


def test_parseval_fails_without_double_counting():
    """The naive sum of |X_k|^2 over the half spectrum is not ||x||^2 (a test that can fail)."""
    x = torch.randn(4, 50, dtype=torch.float64)
    spec = torch.fft.rfft(x, norm="ortho")
    assert not torch.allclose((spec.abs() ** 2).sum(-1), (x ** 2).sum(-1))


def _direct_cwt(x: np.ndarray, scales) -> np.ndarray:
    """W(s, tau) = sum_t x(t) conj(psi_s(t - tau)), loops over scale and shift. The filters
    are cut at |t - tau| <= ceil(4 max(scales)) as in ``morlet_filters`` (the Gaussian is
    exp(-16) ~ 1e-7 there), so the FFT path is checked to 1e-10, not the cut-off."""
    length = len(x)
    t = np.arange(length)
    half = math.ceil(4.0 * max(scales))
    out = np.zeros((len(scales), length), dtype=complex)
    for j, s in enumerate(scales):
        for tau in range(length):
            u = (t - tau) / s
            psi = np.exp(-u ** 2) * np.exp(2j * np.pi * u) / math.sqrt(math.pi * s)
            psi = psi * (np.abs(t - tau) <= half)
            out[j, tau] = (x * np.conj(psi)).sum()
    return out


@_hyp
@given(length=st.integers(4, 40), n_scales=st.integers(1, 5), smax=st.floats(1.5, 20.0),
       seed=st.integers(0, 2**31 - 1))
def test_cwt_equals_direct_linear_correlation(length, n_scales, smax, seed):
    x = np.random.default_rng(seed).standard_normal(length)
    scales = np.geomspace(1.0, smax, n_scales)
    got = V.cwt(torch.as_tensor(x), scales).numpy()
    np.testing.assert_allclose(got, _direct_cwt(x, scales), atol=1e-10)


def test_cwt_is_batched_and_magnitude_layout():
    x = torch.randn(5, 3, 32, dtype=torch.float64)
    scales = V.default_scales(32, 4)
    w = V.cwt(x, scales)
    assert w.shape == (5, 3, 4, 32)
    torch.testing.assert_close(w[2, 1], V.cwt(x[2, 1], scales))
    mag = V.cwt_magnitude(x, scales, chunk=2)
    assert mag.shape == (5, 12, 32) and mag.dtype == torch.float32
    torch.testing.assert_close(mag[3, 4:8], w[3, 1].abs().float(), rtol=1e-4, atol=1e-5)


def test_default_scales_cap():
    s = V.default_scales(24, 16)
    assert s[0] == 1.0 and s[-1] == pytest.approx(12.0) and len(s) == 16
    assert V.default_scales(1000, 48)[-1] == pytest.approx(128.0)


_FRAME = {}


def _frame(length=48):
    if length not in _FRAME:
        t = V.frame_matrix(length, np.geomspace(1, 24, 12))
        _FRAME[length] = (t, *V.frame_bounds(t))
    return _FRAME[length]


@_hyp
@given(seed=st.integers(0, 2**31 - 1))
def test_frame_inequality_random_signals(seed):
    t, a, b = _frame()
    x = torch.as_tensor(np.random.default_rng(seed).standard_normal(48))
    energy = float((V.cwt(x, np.geomspace(1, 24, 12)).abs() ** 2).sum())
    q = energy / float(x @ x)
    assert a * (1 - 1e-10) <= q <= b * (1 + 1e-10)
    assert a > 1e-6 * b


def test_frame_matrix_matches_cwt_and_dual_reconstructs():
    t, a, b = _frame()
    x = torch.randn(48, dtype=torch.float64)
    tx = t @ x.to(torch.complex128)
    torch.testing.assert_close(tx.reshape(12, 48), V.cwt(x, np.geomspace(1, 24, 12)))
    s = (t.conj().T @ t).real
    torch.testing.assert_close(torch.linalg.solve(s, (t.conj().T @ tx).real), x,
                               rtol=0, atol=1e-9)
    # the bounds are attained by the extreme eigenvectors
    ev, vec = torch.linalg.eigh(s)
    assert float(ev[0]) == pytest.approx(a) and float(ev[-1]) == pytest.approx(b)


@_hyp
@given(n=st.integers(2, 7), dim=st.integers(1, 5), tau=st.floats(0.05, 2.0),
       seed=st.integers(0, 2**31 - 1))
def test_ntxent_matches_loop_reference_and_is_symmetric(n, dim, tau, seed):
    g = torch.Generator().manual_seed(seed)
    a = torch.randn(n, dim, generator=g, dtype=torch.float64)
    b = torch.randn(n, dim, generator=g, dtype=torch.float64)
    ref = ex.ntxent_loop(a, b, tau)
    torch.testing.assert_close(nt_xent(a, b, temperature=tau), ref, rtol=1e-9, atol=1e-12)
    torch.testing.assert_close(nt_xent(b, a, temperature=tau), ref, rtol=1e-9, atol=1e-12)
    same = torch.ones(n, dim, dtype=torch.float64)
    assert float(nt_xent(same, same, temperature=tau)) == pytest.approx(math.log(2 * n - 1))


def test_permutation_reorders_segments_per_series():
    g = torch.Generator().manual_seed(0)
    x = torch.arange(2 * 3 * 20, dtype=torch.float64).reshape(2, 3, 20)
    y = aug.permutation(x, 5, g)
    for i in range(2):  # a permutation of the time axis, the same for every channel
        idx = (y[i, 0] - x[i, 0, 0]).long()
        torch.testing.assert_close(y[i], x[i][:, idx])
        assert sorted(idx.tolist()) == list(range(20))
    assert not torch.equal(y, x)
    assert torch.equal(aug.permutation(x, 1, g), x)


def test_time_warp_identity_and_monotone():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(4, 2, 30, dtype=torch.float64)
    torch.testing.assert_close(aug.time_warp(x, 0.0, 4, g), x)
    ramp = torch.arange(30, dtype=torch.float64).expand(4, 1, 30).clone()
    w = aug.time_warp(ramp, 0.3, 4, g)
    assert torch.all(w.diff(dim=-1) >= -1e-12)
    assert torch.allclose(w[..., 0], ramp[..., 0]) and torch.allclose(w[..., -1], ramp[..., -1])


def test_jitter_scaling_statistics():
    g = torch.Generator().manual_seed(0)
    x = torch.ones(2000, 2, 50, dtype=torch.float64)
    assert torch.equal(aug.jitter(x, 0.0, g), x)
    s = aug.scaling(x, 0.1, g)
    assert torch.all(s.std(-1) < 1e-12)  # one factor per (series, channel)
    assert float(s[:, :, 0].std()) == pytest.approx(0.1, rel=0.1)
    v = aug.simclr_view(x, g, jitter_sigma=0.1, scale_sigma=0.1, max_segments=5,
                        warp_sigma=0.2)
    assert v.shape == x.shape and torch.isfinite(v).all()


def test_models_shapes_and_gradients():
    torch.manual_seed(0)
    x = torch.randn(8, 2, 40)
    mag, phase = V.fourier_view(x)
    wav = V.cwt_magnitude(x, V.default_scales(40, 3))
    model = LWA(2, 3, width=8, blocks=2)
    h = model.encode(x, (mag, phase), wav)
    assert [t.shape for t in h] == [(8, 128)] * 3
    assert model.features(h[0]).shape == (8, 384)
    loss = lwa_loss(model, x, (mag, phase), wav, 0.15)
    loss.backward()
    for name, p in model.named_parameters():
        if not name.startswith("phi_h"):
            assert p.grad is not None and torch.isfinite(p.grad).all(), name
    assert Mapper()(torch.randn(5, 128)).shape == (5, 128)
    assert 400 < sum(p.numel() for p in Mapper().parameters()) < 500
    assert Encoder1d(3, 384, 8, 3)(torch.randn(4, 3, 17)).shape == (4, 384)


def test_effective_batch():
    assert effective_batch(40, 128) == 40
    assert effective_batch(1000, 128) == 128
    assert effective_batch(10, 128) == 10


def test_registered_and_parameter_checks():
    for n in ("fp_fourier_parseval", "fp_cwt_frame", "fp_ntxent_reference", "fp_ssl_compare",
              "fp_paper_table"):
        assert registry.get(n).package == "methods.frame_proj"
    with pytest.raises(ValueError, match="length"):
        ex.fp_fourier_parseval(seed=0, length=1)
    with pytest.raises(ValueError, match="smax"):
        ex.fp_cwt_frame(seed=0, smin=4.0, smax=2.0)
    with pytest.raises(ValueError, match="epochs"):
        ex.fp_ssl_compare(seed=0, dataset="GunPoint", epochs=0)
    with pytest.raises(Unavailable, match="not available offline"):
        ex.fp_paper_table(seed=0, table="T2")
    with pytest.raises(Unavailable, match="Nope_TRAIN"):
        ex.fp_ssl_compare(seed=0, dataset="Nope")


def test_ssl_compare_tiny_run_is_deterministic():
    kw = dict(dataset="GunPoint", epochs=1, width=4, blocks=1, n_scales=2, max_train=16,
              max_test=20, supervised=False)
    a = ex.fp_ssl_compare(seed=1, **kw)
    b = ex.fp_ssl_compare(seed=1, **kw)
    timing = ("sec_per_epoch_lwa", "sec_per_epoch_simclr")
    assert {k: v for k, v in a.items() if k not in timing} == {
        k: v for k, v in b.items() if k not in timing}
    for k in ("acc_lwa", "acc_simclr", "acc_untrained_views", "acc_raw", "acc_lwa_enc3"):
        assert 0.0 <= a[k] <= 100.0
    assert a["gain_pp"] == pytest.approx(a["acc_lwa"] - a["acc_simclr"])
    assert a["train_size"] == 16 and a["test_size"] == 20


def test_rotations_are_orthonormal_and_apply_per_triplet():
    g = torch.Generator().manual_seed(0)
    r = aug.random_rotations(50, g, torch.float64)
    eye = torch.eye(3, dtype=torch.float64).expand(50, 3, 3)
    torch.testing.assert_close(r @ r.transpose(1, 2), eye)
    torch.testing.assert_close(torch.linalg.det(r), torch.ones(50, dtype=torch.float64))
    x = torch.randn(50, 6, 10, dtype=torch.float64)
    y = aug.rotate_triplets(x, r)
    torch.testing.assert_close(y[:, :3].norm(dim=1), x[:, :3].norm(dim=1))  # norms kept
    torch.testing.assert_close(y[7, 3:, 4], r[7] @ x[7, 3:, 4])
    with pytest.raises(ValueError, match="multiple of 3"):
        aug.rotate_triplets(torch.zeros(2, 4, 5), r[:2])


def test_synthetic_imu_static_classes_differ_only_by_gravity():
    from methods.frame_proj.synthetic import gabor_burst, imu_windows, pulse_train

    x, y = imu_windows(500, np.random.default_rng(0), noise=0.0, tilt_deg=0.0)
    assert x.shape == (500, 6, 100) and set(y) == set(range(5))
    mean_acc = x[:, :3].mean(-1)
    for c, axis in ((0, 2), (1, 0), (2, 1)):
        np.testing.assert_allclose(mean_acc[y == c][:, axis], 1.0)
        np.testing.assert_allclose(x[y == c][:, 3:], 0.0)  # no rotation rate
    for gen in (pulse_train, gabor_burst):
        xs, ys = gen(40, np.random.default_rng(1))
        assert xs.shape == (40, 1, 200) and ys.min() == 0 and ys.max() == 3


def test_lwa_view_ablation_drops_terms():
    torch.manual_seed(0)
    x = torch.randn(8, 1, 32)
    four, wav = V.fourier_view(x), V.cwt_magnitude(x, V.default_scales(32, 2))
    model = LWA(1, 2, width=4, blocks=1, views=("W",))
    h = model.encode(x, four, wav)
    assert h[1] is None and h[2].shape == (8, 128)
    assert model.features(h[0]).shape == (8, 256)
    lwa_loss(model, x, four, wav, 0.15).backward()
    assert model.f_F.mag.head.weight.grad is None and model.f_W.head.weight.grad is not None
    with pytest.raises(ValueError, match="views"):
        LWA(1, 2, views=("Q",))


def test_segment_readout_averages_to_the_pooled_feature_and_keeps_position():
    """Issue 16: the per-stretch readout's average is the pooled h_t (linear head, equal
    stretches), and a bump early in the window moves the first stretch's output, not the
    last one's (a readout that repeated the pooled h_t would move every stretch alike)."""
    torch.manual_seed(0)
    lwa = LWA(1, 4, width=8, blocks=2, bins=101).eval()
    x = torch.randn(6, 1, 200)
    with torch.no_grad():
        seg = lwa.f_t.segments(x, 4)  # 200 -> 100 positions: 4 stretches of 25
        assert torch.allclose(seg.mean(1), lwa.f_t(x), atol=1e-5)
        assert lwa.segment_features(x, 4).shape == (6, 4 * 3 * 128)
        flat = torch.zeros(1, 1, 200)
        bump = flat.clone()
        bump[0, 0, 20:40] = 5.0  # positions 10-19 of stretch 0 after the stride-2 block
        moved = (lwa.f_t.segments(bump, 4) - lwa.f_t.segments(flat, 4)).norm(dim=-1)[0]
        assert moved[0] > 1e-2 and moved[3] < 1e-6 * moved[0]


def test_views_ablation_reports_its_preconditions():
    from methods.frame_proj.experiments import fp_views_ablation

    out = fp_views_ablation(seed=3, task="burst", n_train=40, n_test=20, epochs=1, width=4,
                            blocks=1, n_scales=2, segments=3)
    for k in ("acc_full", "acc_full_untrained", "ntx_below_chance_full",
              "ntx_below_chance_min", "best_ablation"):
        assert np.isfinite(out[k]), k
    assert out["ntx_below_chance_min"] <= out["ntx_below_chance_full"]
