"""Synthetic 6-channel IMU windows for the orientation-invariance claim (brief L11, row
lwa_orientation_invariance): 2 s at 50 Hz (100 samples), accelerometer xyz (in g) and
gyroscope xyz (rad/s). Five classes:

* 0-2, static: the device lies still in one of three orientations; the classes differ ONLY in
  the direction of gravity (z, x or y of the device frame), tilted by a random rotation of
  at most ``tilt_deg`` degrees;
* 3, walk: upright, vertical acceleration at 1.8 Hz (+-0.1) with amplitude 0.3 g, a second
  harmonic on x, gyroscope oscillation 0.5 rad/s on x;
* 4, run: the same at 2.8 Hz (+-0.1), amplitude 0.8 g, gyroscope 1.0 rad/s.
Gaussian sensor noise sd 0.05 on every channel. A random 3-D rotation of the device maps
static class c to static class c' exactly (up to the tilt), so rotation invariance erases
the static classes' only signal.
"""

from __future__ import annotations

import math

import numpy as np


def _rodrigues(axes: np.ndarray, angles: np.ndarray) -> np.ndarray:
    k = axes / np.linalg.norm(axes, axis=1, keepdims=True)
    kx = np.zeros((len(k), 3, 3))
    kx[:, 0, 1], kx[:, 0, 2], kx[:, 1, 2] = -k[:, 2], k[:, 1], -k[:, 0]
    kx = kx - kx.transpose(0, 2, 1)
    s, c = np.sin(angles)[:, None, None], np.cos(angles)[:, None, None]
    return np.eye(3) + s * kx + (1 - c) * kx @ kx


def imu_windows(n: int, rng: np.random.Generator, length: int = 100, fs: float = 50.0,
                tilt_deg: float = 15.0, noise: float = 0.05) -> tuple[np.ndarray, np.ndarray]:
    """(n, 6, length) float64 windows and labels 0..4 (balanced, shuffled)."""
    y = rng.permutation(np.arange(n) % 5)
    t = np.arange(length) / fs
    gravity = np.array([[0, 0, 1.0], [1.0, 0, 0], [0, 1.0, 0], [0, 0, 1.0], [0, 0, 1.0]])
    acc = np.repeat(gravity[y][:, :, None], length, axis=2)
    gyro = np.zeros((n, 3, length))
    moving = y >= 3
    freq = np.where(y == 3, 1.8, 2.8) + rng.uniform(-0.1, 0.1, n)
    amp = np.where(y == 3, 0.3, 0.8)
    gamp = np.where(y == 3, 0.5, 1.0)
    phase = rng.uniform(0, 2 * math.pi, (n, 2))
    arg = 2 * math.pi * freq[:, None] * t[None, :] + phase[:, :1]
    acc[:, 2] += moving[:, None] * amp[:, None] * np.sin(arg)
    acc[:, 0] += moving[:, None] * 0.3 * amp[:, None] * np.sin(2 * arg + phase[:, 1:])
    gyro[:, 0] += moving[:, None] * gamp[:, None] * np.cos(arg)
    rot = _rodrigues(rng.standard_normal((n, 3)),
                     np.radians(tilt_deg) * np.sqrt(rng.uniform(0, 1, n)))
    x = np.concatenate([np.einsum("nij,njl->nil", rot, acc),
                        np.einsum("nij,njl->nil", rot, gyro)], axis=1)
    return x + noise * rng.standard_normal(x.shape), y.astype(np.int64)


def pulse_train(n: int, rng: np.random.Generator, length: int = 200, fs: float = 25.0,
                bins: int = 4, noise: float = 0.3) -> tuple[np.ndarray, np.ndarray]:
    """Periodic task (brief L3 (a)): 8 s at 25 Hz of Gaussian pulses (width 40-80 ms) at a
    rate drawn uniformly in one of ``bins`` equal bins of 0.6-2.6 Hz, random phase and
    amplitude 0.8-1.2 per pulse train, plus white noise; label = the rate bin."""
    y = rng.permutation(np.arange(n) % bins)
    edges = np.linspace(0.6, 2.6, bins + 1)
    rate = rng.uniform(edges[y], edges[y + 1])
    t = np.arange(length) / fs
    width = rng.uniform(0.04, 0.08, n)[:, None]
    phase = rng.uniform(0, 1, n)[:, None]
    # distance (s) to the nearest pulse centre at times (k + phase) / rate
    cyc = t[None, :] * rate[:, None] - phase
    dist = (cyc - np.round(cyc)) / rate[:, None]
    x = rng.uniform(0.8, 1.2, (n, 1)) * np.exp(-0.5 * (dist / width) ** 2)
    return (x + noise * rng.standard_normal(x.shape))[:, None, :], y.astype(np.int64)


def gabor_burst(n: int, rng: np.random.Generator, length: int = 200, fs: float = 25.0,
                noise: float = 0.3) -> tuple[np.ndarray, np.ndarray]:
    """Transient task (brief L3 (b)): background of two random low-frequency sinusoids
    (0.2-1 Hz) plus white noise; label 0 = no burst, 1/2/3 = a Gabor burst (4-6 Hz carrier,
    Gaussian envelope sd 0.25 s, amplitude 1) centred in the first/second/last third."""
    y = rng.permutation(np.arange(n) % 4)
    t = np.arange(length) / fs
    f = rng.uniform(0.2, 1.0, (n, 2, 1))
    ph = rng.uniform(0, 2 * np.pi, (n, 2, 1))
    x = 0.5 * np.sin(2 * np.pi * f * t + ph).sum(1)
    third = length / fs / 3
    centre = (np.maximum(y, 1) - 1 + rng.uniform(0.25, 0.75, n)) * third
    carrier = rng.uniform(4.0, 6.0, n)[:, None]
    burst = (np.exp(-0.5 * ((t[None, :] - centre[:, None]) / 0.25) ** 2)
             * np.cos(2 * np.pi * carrier * t[None, :] + rng.uniform(0, 2 * np.pi, (n, 1))))
    x = x + (y > 0)[:, None] * burst
    return (x + noise * rng.standard_normal(x.shape))[:, None, :], y.astype(np.int64)
