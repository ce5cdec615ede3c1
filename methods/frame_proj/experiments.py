"""Registered experiments for LWA (brief papers/frame_projections.md).

* ``fp_fourier_parseval``: Parseval and perfect reconstruction of the orthonormal rfft view;
* ``fp_cwt_frame``: frame bounds of the complex Morlet filterbank from its matrix;
* ``fp_ntxent_reference``: the shared NT-Xent against the brief's specification;
* ``fp_ssl_compare``: LWA-lite vs SimCLR (augmentations) vs supervised, with the controls
  (the same encoders untrained; a probe on the raw series), on one time-series dataset;
* ``fp_paper_table``: the paper's datasets, raising ``Unavailable`` (offline).
"""

from __future__ import annotations

import math

import numpy as np
import torch
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from methods.common.infonce import nt_xent
from methods.common.params import is_int, is_real, require
from methods.common.probes import logistic_probe_accuracy
from methods.common.seeding import child_seed, numpy_rng, torch_generator
from methods.common.threads import single_cpu_thread
from methods.common.timeseries import (
    downsample,
    load_dataset,
    stratified_subset,
    to_torch,
    znormalise,
)
from repro.registry import Unavailable, experiment

from .augment import random_rotations, rotate_triplets
from .models import LWA
from .synthetic import gabor_burst, imu_windows, pulse_train
from .training import (
    Views,
    embed,
    encode_all,
    make_baseline,
    train_lwa,
    train_simclr,
    train_supervised,
)
from .views import (
    cwt,
    cwt_magnitude,
    default_scales,
    fourier_inverse,
    fourier_view,
    frame_bounds,
    frame_matrix,
    half_spectrum_energy,
)


def _checked(seed, device, ints: dict | None = None, positive: dict | None = None) -> None:
    """ValueError naming the parameter: seed/device, ``ints`` {name: (value, lowest)} and
    ``positive`` {name: value} (finite and > 0)."""
    require(is_int(seed) and seed >= 0, "seed", "must be an int >= 0", seed)
    require(device in ("cpu", "cuda"), "device", "must be 'cpu' or 'cuda'", device)
    for name, (v, low) in (ints or {}).items():
        require(is_int(v) and v >= low, name, f"must be an int >= {low}", v)
    for name, v in (positive or {}).items():
        require(is_real(v) and v > 0, name, "must be a finite number > 0", v)


@experiment("fp_fourier_parseval")
def fp_fourier_parseval(*, seed: int, device: str = "cpu", length: int = 200, batch: int = 64,
                        channels: int = 3) -> dict:
    """Random float64 series (batch, channels, L) and (.., L+1), so both parities are covered.
    Returns the largest relative Parseval error, the largest irfft(rfft(x)) error and the
    largest error of x rebuilt from (|X|, angle X)."""
    _checked(seed, device, {"length": (length, 2), "batch": (batch, 1),
                            "channels": (channels, 1)})
    gen = torch_generator(seed, "signals")
    out = {}
    for parity, n in (("even", length + length % 2), ("odd", length + 1 - length % 2)):
        x = torch.randn(batch, channels, n, generator=gen, dtype=torch.float64)
        spec = torch.fft.rfft(x, dim=-1, norm="ortho")
        energy = (x ** 2).sum(-1)
        out[f"parseval_rel_err_{parity}"] = float(
            ((half_spectrum_energy(spec, n) - energy).abs() / energy).max())
        out[f"inverse_err_{parity}"] = float(
            (torch.fft.irfft(spec, n=n, dim=-1, norm="ortho") - x).abs().max())
        mag, phase = fourier_view(x)
        out[f"polar_inverse_err_{parity}"] = float((fourier_inverse(mag, phase, n) - x).abs().max())
        out[f"bins_{parity}"] = float(mag.shape[-1])
    return out


@experiment("fp_cwt_frame")
def fp_cwt_frame(*, seed: int, device: str = "cpu", length: int = 200, n_scales: int = 48,
                 smin: float = 1.0, smax: float = 128.0, signals: int = 256) -> dict:
    """T (S*L x L) of the complex Morlet (cmor1-1) filterbank, geomspace(smin, smax, S), from
    unit vectors; S = Re(T^H T) for real signals. A, B its extreme eigenvalues; on random
    signals the Rayleigh quotients must lie in [A, B], and the canonical dual S^-1 T^H
    rebuilds x. Also the FFT coefficients against a direct O(L^2) sum."""
    _checked(seed, device, {"length": (length, 4), "n_scales": (n_scales, 1),
                            "signals": (signals, 1)}, {"smin": smin, "smax": smax})
    require(smax >= smin, "smax", "must be >= smin", smax)
    scales = np.geomspace(smin, smax, n_scales)
    t_mat = frame_matrix(length, scales)
    a, b = frame_bounds(t_mat)
    gen = torch_generator(seed, "signals")
    x = torch.randn(signals, length, generator=gen, dtype=torch.float64)
    tx = cwt(x, scales)                                        # (signals, S, L) via FFT
    rq = (tx.abs() ** 2).sum((1, 2)) / (x ** 2).sum(1)
    s_op = (t_mat.conj().T @ t_mat).real
    rebuilt = torch.linalg.solve(s_op, (t_mat.conj().T @ tx.reshape(signals, -1).T).real).T
    # direct reference for a few (scale, shift) entries of the first signal
    tt = np.arange(length)
    xr = x[0].numpy()
    direct_err = 0.0
    for j in range(0, n_scales, max(1, n_scales // 6)):
        for tau in (0, length // 3, length - 1):
            u = (tt - tau) / scales[j]
            psi = np.exp(-u ** 2) * np.exp(2j * np.pi * u) / math.sqrt(math.pi * scales[j])
            ref = (xr * np.conj(psi)).sum()
            direct_err = max(direct_err, abs(ref - complex(tx[0, j, tau])) / (abs(ref) + 1e-300)
                             if abs(ref) > 1e-8 else abs(complex(tx[0, j, tau])))
    return {
        "A": a, "B": b, "B_over_A": b / a, "A_over_B": a / b,
        "rayleigh_min_minus_A": float(rq.min()) - a, "B_minus_rayleigh_max": b - float(rq.max()),
        "dual_recon_err": float(((rebuilt - x).abs().max(1).values / x.abs().max(1).values).max()),
        "fft_vs_direct_rel_err": direct_err,
    }


def ntxent_loop(a: torch.Tensor, b: torch.Tensor, tau: float) -> torch.Tensor:
    """The brief's NTX written as loops: 2N rows (a then b) on the unit sphere; row i's
    positive is the same sample in the other view, its negatives the other 2N-2 rows; the
    sum of cross-entropies divided by 2N."""
    z = torch.cat([a / a.norm(dim=1, keepdim=True), b / b.norm(dim=1, keepdim=True)])
    n2 = len(z)
    total = torch.zeros((), dtype=z.dtype)
    for i in range(n2):
        pos = (i + n2 // 2) % n2
        denom = sum(torch.exp(z[i] @ z[k] / tau) for k in range(n2) if k != i)
        total = total - torch.log(torch.exp(z[i] @ z[pos] / tau) / denom)
    return total / n2


@experiment("fp_ntxent_reference")
def fp_ntxent_reference(*, seed: int, device: str = "cpu", n: int = 12, dim: int = 8,
                        tau: float = 0.15) -> dict:
    _checked(seed, device, {"n": (n, 2), "dim": (dim, 1)}, {"tau": tau})
    gen = torch_generator(seed, "batch")
    a = torch.randn(n, dim, generator=gen, dtype=torch.float64)
    b = a + 0.5 * torch.randn(n, dim, generator=gen, dtype=torch.float64)
    same = torch.ones(n, dim, dtype=torch.float64)
    ref = ntxent_loop(a, b, tau)
    return {
        "degenerate_err": abs(float(nt_xent(same, same, temperature=tau)) - math.log(2 * n - 1)),
        "symmetry_err": abs(float(nt_xent(a, b, temperature=tau) - nt_xent(b, a, temperature=tau))),
        "loop_rel_err": abs(float(nt_xent(a, b, temperature=tau) - ref)) / float(ref),
    }


def _probe(train: torch.Tensor | np.ndarray, y_train: np.ndarray, test, y_test: np.ndarray,
           seed: int) -> float:
    """The shared logistic probe on features standardised with the training statistics,
    test accuracy in percent."""
    tr = np.asarray(train, dtype=np.float64).reshape(len(train), -1)
    te = np.asarray(test, dtype=np.float64).reshape(len(test), -1)
    sc = StandardScaler().fit(tr)
    return 100.0 * logistic_probe_accuracy(sc.transform(tr), y_train, sc.transform(te), y_test,
                                           seed=child_seed(seed, "probe"))


def _views(x: np.ndarray, scales) -> Views:
    xt = to_torch(x)
    mag, phase = fourier_view(xt)
    return Views(xt, mag, phase, cwt_magnitude(xt, scales))


def _angles(u: torch.Tensor, v: torch.Tensor) -> np.ndarray:
    cos = torch.nn.functional.cosine_similarity(u, v, dim=-1).clamp(-1, 1)
    return np.degrees(np.arccos(cos.numpy()))


def _geometry(h_t: torch.Tensor, h_F: torch.Tensor, m: int = 200) -> dict:
    """Same-sample angle between h_t and h_F (median, IQR) and the spread of
    Delta_ij = angle(h_t_i, h_t_j) - angle(h_F_i, h_F_j) over pairs i < j."""
    h_t, h_F = h_t[:m], h_F[:m]
    same = _angles(h_t, h_F)
    iu = np.triu_indices(len(h_t), 1)
    at = _angles(h_t[:, None, :], h_t[None, :, :])[iu]
    af = _angles(h_F[:, None, :], h_F[None, :, :])[iu]
    delta = np.abs(at - af)

    def iqr(v):
        q1, q3 = np.percentile(v, [25, 75])
        return float(q3 - q1)
    return {"angle_same_median": float(np.median(same)), "angle_same_iqr": iqr(same),
            "delta_abs_iqr": iqr(delta)}


def _lwa_run(seed: int, channels: int, n_scales: int, v_tr: Views, v_te: Views, width: int,
             blocks: int, train_kw: dict, views: tuple[str, ...] = ("F", "W"),
             segments: int = 0):
    """LWA-lite from its seeded initialisation: ([h_t, h_F, h_W] untrained on train/test,
    the same trained, the inference features [h_t, Phi_F(h_t), Phi_W(h_t)], training info).
    ``info['untrained_features']``: the inference feature of the same model at its
    initialisation (untrained encoders and mappers), the matched control. ``segments`` > 0:
    both inference features are read out per time stretch (``LWA.segment_features``)."""
    torch.manual_seed(child_seed(seed, "init-lwa"))
    lwa = LWA(channels, n_scales, width=width, blocks=blocks, views=views,
              bins=v_tr.mag.shape[-1])
    lwa.eval()
    untrained = (encode_all(lwa, v_tr), encode_all(lwa, v_te))

    def readout(h_tr, h_te):
        lwa.eval()
        with torch.no_grad():
            if segments:
                return tuple(torch.cat([lwa.segment_features(v.x[s:s + 512], segments)
                                        for s in range(0, len(v.x), 512)]) for v in (v_tr, v_te))
            return lwa.features(h_tr[0]), lwa.features(h_te[0])
    untrained_features = readout(*untrained)
    info = train_lwa(lwa, v_tr, gen=torch_generator(seed, "lwa"), **train_kw)
    info["untrained_features"] = untrained_features
    h_tr, h_te = encode_all(lwa, v_tr), encode_all(lwa, v_te)
    return untrained, (h_tr, h_te), readout(h_tr, h_te), info


def _simclr_run(seed: int, channels: int, x_tr: torch.Tensor, x_te: torch.Tensor, width: int,
                blocks: int, train_kw: dict, aug: dict):
    """SimCLR's 384-d encoder of ``width`` channels: (untrained train/test embeddings,
    trained ones, info)."""
    torch.manual_seed(child_seed(seed, "init-simclr"))
    sim = make_baseline(channels, None, width=width, blocks=blocks)
    untrained = (embed(sim["enc"], x_tr), embed(sim["enc"], x_te))
    info = train_simclr(sim, x_tr, gen=torch_generator(seed, "simclr"), aug=aug, **train_kw)
    return untrained, (embed(sim["enc"], x_tr), embed(sim["enc"], x_te)), info


@experiment("fp_ssl_compare")
def fp_ssl_compare(*, seed: int, device: str = "cpu", dataset: str, epochs: int = 30,
                   batch: int = 128, lr: float = 3e-3, tau: float = 0.15, width: int = 32,
                   blocks: int = 4, n_scales: int = 16, max_length: int = 256,
                   max_train: int = 1000, max_test: int = 0, jitter_sigma: float = 0.1,
                   scale_sigma: float = 0.1, max_segments: int = 5, warp_sigma: float = 0.2,
                   supervised: bool = True, min_steps: int = 0, simclr_width: int = 0) -> dict:
    """Pre-train on the training inputs, probe (logistic, standardised features) on the
    training labels, report test accuracy (%) of every representation:

    * ``acc_lwa``: LWA-lite, feature [h_t, Phi_h^F(h_t), Phi_h^W(h_t)] (384-d);
    * ``acc_lwa_enc3``: [h_t, h_F, h_W] from the three trained encoders (App. D.3);
    * ``acc_lwa_ht``: h_t alone (128-d);
    * ``acc_simclr``: SimCLR with jitter/scaling/time warp/permutation, 384-d encoder;
    * ``acc_supervised``: the same 384-d encoder trained with labels, probed the same way;
    * ``acc_untrained_views``: LWA's three encoders at initialisation, [h_t, h_F, h_W];
    * ``acc_untrained_time``: the 384-d time encoder at initialisation;
    * ``acc_raw``: the probe on the raw (z-normalised, downsampled) series;
    * ``acc_lwa_untrained`` / ``acc_lwa_ht_untrained``: LWA's own inference feature / h_t
      at initialisation (the matched controls of acc_lwa / acc_lwa_ht);
    * ``lwa_ntx_final`` / ``lwa_ntx_chance``: the NT-Xent part of LWA's loss over the last
      epoch and its chance value 3 log(2B - 1); ``simclr_loss_final`` / ``simclr_ntx_chance``
      the same for SimCLR (log(2B - 1)); ``*_steps``: optimiser steps taken.
    Budget: ``epochs`` at batch min(batch, n), raised to ``min_steps`` optimiser steps
    (0: no floor). SimCLR's encoder has ``simclr_width`` channels (0: ``width``), so its
    384-d output is not a rank-``width`` projection.
    Series are z-normalised per channel; series longer than ``max_length`` are
    average-pooled by an integer factor; at most ``max_train`` training series (a fixed
    stratified subset) and ``max_test`` test series (0: all)."""
    _checked(seed, device,
             {"epochs": (epochs, 1), "batch": (batch, 4), "width": (width, 4),
              "blocks": (blocks, 1), "n_scales": (n_scales, 1), "max_length": (max_length, 8),
              "max_train": (max_train, 8), "max_test": (max_test, 0),
              "max_segments": (max_segments, 1), "min_steps": (min_steps, 0),
              "simclr_width": (simclr_width, 0)}, {"lr": lr, "tau": tau})
    for name, v in (("jitter_sigma", jitter_sigma), ("scale_sigma", scale_sigma),
                    ("warp_sigma", warp_sigma)):
        require(is_real(v) and v >= 0, name, "must be a finite number >= 0", v)
    if device != "cpu":
        raise Unavailable("fp_ssl_compare runs on the CPU only (no CUDA path written)")
    xtr, ytr, xte, yte = load_dataset(dataset)
    tr = stratified_subset(ytr, max_train)
    te = stratified_subset(yte, max_test) if max_test else np.arange(len(yte))
    xtr, ytr, xte, yte = xtr[tr], ytr[tr], xte[te], yte[te]
    xtr, factor = downsample(znormalise(xtr), max_length)
    xte, _ = downsample(znormalise(xte), max_length)
    channels, length = xtr.shape[1], xtr.shape[2]
    classes = int(max(ytr.max(), yte.max())) + 1
    scales = default_scales(length, n_scales)
    out = {"train_size": float(len(xtr)), "test_size": float(len(xte)),
           "length": float(length), "downsample_factor": float(factor)}
    aug = dict(jitter_sigma=jitter_sigma, scale_sigma=scale_sigma, max_segments=max_segments,
               warp_sigma=warp_sigma)
    # one BLAS thread as well: the probes' BLAS threads only contend on a shared 2-core
    # machine (an 11 s probe took 0.5 s with one thread, same accuracy)
    with single_cpu_thread(device), threadpool_limits(1):
        v_tr, v_te = _views(xtr, scales), _views(xte, scales)
        out["acc_raw"] = _probe(xtr, ytr, xte, yte, seed)

        train_kw = dict(epochs=epochs, batch=batch, lr=lr, tau=tau, min_steps=min_steps)
        (u_tr, u_te), (h_tr, h_te), (f_tr, f_te), info = _lwa_run(
            seed, channels, len(scales), v_tr, v_te, width, blocks, train_kw)
        out["acc_untrained_views"] = _probe(torch.cat(u_tr, 1), ytr, torch.cat(u_te, 1), yte,
                                            seed)
        uf_tr, uf_te = info["untrained_features"]
        out["acc_lwa_untrained"] = _probe(uf_tr, ytr, uf_te, yte, seed)
        out["acc_lwa_ht_untrained"] = _probe(u_tr[0], ytr, u_te[0], yte, seed)
        out["lwa_ntx_final"], out["lwa_ntx_chance"] = info["ntx_final"], info["ntx_chance"]
        out["lwa_steps"] = float(info["steps"])
        out["acc_lwa"] = _probe(f_tr, ytr, f_te, yte, seed)
        out["acc_lwa_enc3"] = _probe(torch.cat(h_tr, 1), ytr, torch.cat(h_te, 1), yte, seed)
        out["acc_lwa_ht"] = _probe(h_tr[0], ytr, h_te[0], yte, seed)
        out.update(_geometry(h_te[0], h_te[1]))
        out["sec_per_epoch_lwa"] = info["sec_per_epoch"]
        out["lwa_loss_first"], out["lwa_loss_final"] = info["loss_first"], info["loss_final"]

        x_tr_t, x_te_t = to_torch(xtr), to_torch(xte)
        untrained, trained, info = _simclr_run(seed, channels, x_tr_t, x_te_t,
                                               simclr_width or width, blocks, train_kw, aug)
        out["acc_untrained_time"] = _probe(untrained[0], ytr, untrained[1], yte, seed)
        out["acc_simclr"] = _probe(trained[0], ytr, trained[1], yte, seed)
        out["sec_per_epoch_simclr"] = info["sec_per_epoch"]
        out["simclr_loss_final"], out["simclr_ntx_chance"] = (info["loss_final"],
                                                              info["ntx_chance"])
        out["simclr_steps"] = float(info["steps"])

        if supervised:
            torch.manual_seed(child_seed(seed, "init-sup"))
            sup = make_baseline(channels, classes, width=width, blocks=blocks)
            train_supervised(sup, x_tr_t, torch.as_tensor(ytr), epochs=epochs, batch=batch,
                             lr=lr, gen=torch_generator(seed, "sup"), min_steps=min_steps)
            out["acc_supervised"] = _probe(embed(sup["enc"], x_tr_t), ytr,
                                           embed(sup["enc"], x_te_t), yte, seed)
    out["gain_pp"] = out["acc_lwa"] - out["acc_simclr"]
    out["rel_gain_pct"] = 100.0 * out["gain_pp"] / max(out["acc_simclr"], 1e-9)
    out["gain_over_untrained_pp"] = out["acc_lwa"] - out["acc_untrained_views"]
    out["mapper_gain_pp"] = out["acc_lwa"] - out["acc_lwa_ht"]
    out["lwa_ntx_below_chance"] = out["lwa_ntx_chance"] - out["lwa_ntx_final"]
    out["simclr_below_chance"] = out["simclr_ntx_chance"] - out["simclr_loss_final"]
    return out


def _standardise_channels(x_tr: np.ndarray, x_te: np.ndarray):
    """Per-channel mean/sd over the training set (not per series: that would erase a
    constant gravity component)."""
    mu = x_tr.mean(axis=(0, 2), keepdims=True)
    sd = x_tr.std(axis=(0, 2), keepdims=True) + 1e-8
    return (x_tr - mu) / sd, (x_te - mu) / sd


def rotation_invariance_ratio(f, f_rot, y, f_train) -> float:
    """How far a rotation moves a representation, relative to how far apart the classes are:
    mean_i |f_i - f_rot_i| / mean_{i, j: y_i != y_j} |f_i - f_j|, on features standardised
    with the training statistics (as the probe sees them). 0: rotation-invariant (the
    orientation is erased); about 1 or more: a rotation moves a window as far as a change of
    class does (the orientation is kept)."""
    sc = StandardScaler().fit(np.asarray(f_train, dtype=np.float64).reshape(len(f_train), -1))
    a = sc.transform(np.asarray(f, dtype=np.float64).reshape(len(f), -1))
    b = sc.transform(np.asarray(f_rot, dtype=np.float64).reshape(len(f_rot), -1))
    moved = np.linalg.norm(a - b, axis=1).mean()
    d = np.linalg.norm(a[:, None, :] - a[None, :, :], axis=-1)
    between = d[np.asarray(y)[:, None] != np.asarray(y)[None, :]].mean()
    return float(moved / between)


@experiment("fp_orientation_invariance")
def fp_orientation_invariance(*, seed: int, device: str = "cpu", n_train: int = 2000,
                              n_test: int = 1000, label_frac: float = 0.1, epochs: int = 20,
                              batch: int = 128, lr: float = 3e-3, tau: float = 0.15,
                              width: int = 32, blocks: int = 4, n_scales: int = 16,
                              jitter_sigma: float = 0.1, scale_sigma: float = 0.1,
                              max_segments: int = 5, warp_sigma: float = 0.2,
                              min_steps: int = 0) -> dict:
    """Synthetic IMU windows (synthetic.py): pre-train LWA-lite and rotation-augmented SimCLR
    (uniform 3-D rotation of the accelerometer and gyroscope triplets, then the usual
    augmentations) on ``n_train`` unlabelled windows; the logistic probe sees the labels of a
    stratified ``label_frac`` of them; test accuracy (%) overall and on the three static
    classes (which differ only in gravity direction). Controls: LWA's untrained encoders and
    the raw-window probe. Channels standardised with training statistics, not per series."""
    _checked(seed, device, {"n_train": (n_train, 50), "n_test": (n_test, 10),
                            "epochs": (epochs, 1), "batch": (batch, 4), "width": (width, 4),
                            "blocks": (blocks, 1), "n_scales": (n_scales, 1),
                            "max_segments": (max_segments, 1), "min_steps": (min_steps, 0)},
             {"lr": lr, "tau": tau, "label_frac": label_frac})
    require(label_frac <= 1, "label_frac", "must be <= 1", label_frac)
    rng = numpy_rng(seed, "imu")
    xtr, ytr = imu_windows(n_train, rng)
    xte, yte = imu_windows(n_test, rng)
    # issue 16: the direct measurement. Every static test window is also encoded after a
    # uniform random 3-D rotation of both sensor triplets (before standardisation, like a
    # re-mounted device); the rotated copies ride along after the test set.
    s_idx = np.flatnonzero(yte < 3)
    xrot = rotate_triplets(torch.from_numpy(xte[s_idx]),
                           random_rotations(len(s_idx), torch_generator(seed, "imu-rot"),
                                            torch.float64)).numpy()
    xtr, xte = _standardise_channels(xtr, np.concatenate([xte, xrot]))
    xte, xrot = xte[:n_test], xte[n_test:]
    lab = stratified_subset(ytr, max(5, int(round(label_frac * n_train))), seed=0)
    static = yte < 3
    scales = default_scales(xtr.shape[-1], n_scales)
    train_kw = dict(epochs=epochs, batch=batch, lr=lr, tau=tau, min_steps=min_steps)
    aug = dict(jitter_sigma=jitter_sigma, scale_sigma=scale_sigma, max_segments=max_segments,
               warp_sigma=warp_sigma, rotate=True)
    out = {}

    def probe(name, f_tr, f_te):
        f_tr, f_te = np.asarray(f_tr)[lab], np.asarray(f_te)
        out[f"acc_{name}"] = _probe(f_tr, ytr[lab], f_te, yte, seed)
        out[f"static_acc_{name}"] = _probe(f_tr, ytr[lab], f_te[static], yte[static], seed)

    def invariance(name, f_tr, f_all):
        """Rotation-invariance ratio of the static test windows (see the helper)."""
        f_all = np.asarray(f_all)
        out[f"rot_ratio_{name}"] = rotation_invariance_ratio(
            f_all[s_idx], f_all[n_test:], yte[s_idx], f_tr)

    with single_cpu_thread(device), threadpool_limits(1):
        x_all = np.concatenate([xte, xrot])
        v_tr, v_te = _views(xtr, scales), _views(x_all, scales)
        probe("raw", xtr.reshape(n_train, -1), xte.reshape(n_test, -1))
        invariance("raw", xtr.reshape(n_train, -1), x_all.reshape(len(x_all), -1))
        (u_tr, u_te), _, (f_tr, f_te), info = _lwa_run(seed, 6, len(scales), v_tr, v_te, width,
                                                       blocks, train_kw)
        u_te = torch.cat(u_te, 1)
        probe("untrained_views", torch.cat(u_tr, 1), u_te[:n_test])
        invariance("untrained_views", torch.cat(u_tr, 1), u_te)
        probe("lwa", f_tr, f_te[:n_test])
        invariance("lwa", f_tr, f_te)
        uf_tr, uf_te = info["untrained_features"]
        probe("lwa_untrained", uf_tr, uf_te[:n_test])
        invariance("lwa_untrained", uf_tr, uf_te)
        s_untrained, trained, s_info = _simclr_run(seed, 6, to_torch(xtr), to_torch(x_all),
                                                   width, blocks, train_kw, aug)
        probe("simclr_rot", trained[0], trained[1][:n_test])
        probe("simclr_untrained", s_untrained[0], s_untrained[1][:n_test])
        invariance("simclr_rot", *trained)
        invariance("simclr_untrained", *s_untrained)
        out["lwa_ntx_final"], out["lwa_ntx_chance"] = info["ntx_final"], info["ntx_chance"]
        out["simclr_ntx_final"], out["simclr_ntx_chance"] = (s_info["loss_final"],
                                                             s_info["ntx_chance"])
        out["steps"] = info["steps"]
    out["static_gain_pp"] = out["static_acc_lwa"] - out["static_acc_simclr_rot"]
    out["gain_pp"] = out["acc_lwa"] - out["acc_simclr_rot"]
    return out


TASKS = {"pulse": pulse_train, "burst": gabor_burst}


@experiment("fp_views_ablation")
def fp_views_ablation(*, seed: int, device: str = "cpu", task: str, n_train: int = 800,
                      n_test: int = 400, epochs: int = 15, batch: int = 128, lr: float = 3e-3,
                      tau: float = 0.15, width: int = 32, blocks: int = 4,
                      n_scales: int = 16, min_steps: int = 0, segments: int = 0) -> dict:
    """LWA-lite with both frame views (full), without the orthonormal basis (no_ob: x and
    the wavelet view) and without the overcomplete frame (no_of: x and the Fourier view), on
    a periodic (``pulse``) or transient (``burst``) synthetic task (synthetic.py): test
    accuracy (%) of the logistic probe on each variant's inference feature, and on the same
    feature of the full model at its initialisation (the matched control). The variants
    share the initialisation of the parts they keep and the training batches' order.
    ``segments`` > 0 reads the feature out per time stretch (``LWA.segment_features``), so a
    burst's position in the window survives the readout (issue 16); 0 pools over the window
    as the paper does. ``ntx_below_chance_<variant>``: chance minus the last epoch's NT-Xent."""
    _checked(seed, device, {"n_train": (n_train, 20), "n_test": (n_test, 10),
                            "epochs": (epochs, 1), "batch": (batch, 4), "width": (width, 4),
                            "blocks": (blocks, 1), "n_scales": (n_scales, 1),
                            "min_steps": (min_steps, 0), "segments": (segments, 0)},
             {"lr": lr, "tau": tau})
    require(task in TASKS, "task", f"must be one of {tuple(TASKS)}", task)
    rng = numpy_rng(seed, f"task-{task}")
    xtr, ytr = TASKS[task](n_train, rng)
    xte, yte = TASKS[task](n_test, rng)
    xtr, xte = znormalise(xtr), znormalise(xte)
    scales = default_scales(xtr.shape[-1], n_scales)
    train_kw = dict(epochs=epochs, batch=batch, lr=lr, tau=tau, min_steps=min_steps)
    out = {}
    with single_cpu_thread(device), threadpool_limits(1):
        v_tr, v_te = _views(xtr, scales), _views(xte, scales)
        out["acc_raw"] = _probe(xtr, ytr, xte, yte, seed)
        for name, views in (("full", ("F", "W")), ("no_ob", ("W",)), ("no_of", ("F",))):
            _, _, (f_tr, f_te), info = _lwa_run(seed, 1, len(scales), v_tr, v_te, width,
                                                blocks, train_kw, views, segments)
            out[f"acc_{name}"] = _probe(f_tr, ytr, f_te, yte, seed)
            out[f"ntx_below_chance_{name}"] = info["ntx_chance"] - info["ntx_final"]
            if name == "full":
                u_tr, u_te = info["untrained_features"]
                out["acc_full_untrained"] = _probe(u_tr, ytr, u_te, yte, seed)
                out["steps"] = info["steps"]
    out["best_ablation"] = max(out["acc_no_ob"], out["acc_no_of"])
    out["ntx_below_chance_min"] = min(out[f"ntx_below_chance_{n}"]
                                      for n in ("full", "no_ob", "no_of"))
    return out


PAPER_DATA = ("IEEE SPC12/SPC22, PPG-DaLiA, HHAR, USC-HAD, Clemson, Chapman, CPSC2018, "
              "Sleep-EDF")


@experiment("fp_paper_table")
def fp_paper_table(*, seed: int, device: str = "cpu", table: str = "T1") -> dict:
    """The paper's Tables 1-3 need its nine datasets (downloads, preprocessed copies on
    Hugging Face): not available offline."""
    _checked(seed, device)
    require(table in ("T1", "T2", "T3"), "table", "must be 'T1', 'T2' or 'T3'", table)
    raise Unavailable(
        f"the paper's datasets ({PAPER_DATA}) are not available offline; get the "
        "preprocessed sets linked from github.com/eth-siplab/Learning-with-FrameProjections "
        "(Hugging Face) and port the LWA pipeline to them")
