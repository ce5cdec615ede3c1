"""The two deterministic views of LWA (brief section 3), as batched tensor ops.

* Orthonormal Fourier view: ``rfft(x, norm="ortho")`` along time, L//2 + 1 bins, split into
  magnitude and phase. Parseval for the half spectrum counts the bins other than DC and
  (for even L) Nyquist twice; ``irfft(..., n=L)`` inverts it exactly.
* Complex Morlet (``cmor B-C``, pywt's convention) wavelet filterbank: at scale s the
  filter is psi_s(t) = s^-1/2 psi(t/s) with psi(t) = (pi B)^-1/2 exp(-t^2/B) exp(i 2 pi C t),
  sampled on integer t in [-K s, K s] (K = 4 sqrt(B): the Gaussian is e^-16 there), and
  the coefficient W(s, tau) = sum_t x(t) conj(psi_s(t - tau)) is a *linear* (zero-padded)
  correlation computed by FFT, cropped to tau = 0..L-1 (pywt's "same" output size). The
  learning view is |W| (magnitude only, as in the paper); the frame claim is about the
  complex W.
Frame bounds are computed numerically from the operator's matrix (``frame_bounds``).
"""

from __future__ import annotations

import math

import numpy as np
import torch


def fourier_view(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(|X|, angle X) of the orthonormal real FFT along the last axis, each (..., L//2+1)."""
    spec = torch.fft.rfft(x, dim=-1, norm="ortho")
    return spec.abs(), spec.angle()


def fourier_inverse(mag: torch.Tensor, phase: torch.Tensor, length: int) -> torch.Tensor:
    """x from (|X|, angle X): irfft(|X| e^{i angle}, n=length, norm="ortho")."""
    return torch.fft.irfft(torch.polar(mag, phase), n=length, dim=-1, norm="ortho")


def half_spectrum_energy(spec: torch.Tensor, length: int) -> torch.Tensor:
    """|X_0|^2 + 2 sum_{0<k<L/2} |X_k|^2 (+ |X_{L/2}|^2 when L is even): equals ||x||^2."""
    w = torch.full((spec.shape[-1],), 2.0, dtype=spec.real.dtype, device=spec.device)
    w[0] = 1.0
    if length % 2 == 0:
        w[-1] = 1.0
    return (spec.abs() ** 2 * w).sum(-1)


def default_scales(length: int, n_scales: int = 48, smin: float = 1.0,
                   smax: float = 128.0) -> np.ndarray:
    """The paper's geomspace(1, 128, 48), with the largest scale capped at L/2 (brief)."""
    return np.geomspace(smin, max(smin * 1.01, min(smax, length / 2)), n_scales)


def morlet_filters(scales, length: int, bandwidth: float = 1.0, center: float = 1.0,
                   dtype: torch.dtype = torch.complex128) -> tuple[torch.Tensor, int, int]:
    """FFT of the time-reversed conjugate filters for a linear correlation with a length-L
    signal: (S, N) spectra, the FFT size N and the crop offset."""
    scales = np.asarray(scales, dtype=np.float64)
    half = int(math.ceil(4.0 * math.sqrt(bandwidth) * scales.max()))
    t = np.arange(-half, half + 1, dtype=np.float64)
    u = t[None, :] / scales[:, None]
    psi = (np.exp(-u ** 2 / bandwidth) * np.exp(2j * np.pi * center * u)
           / math.sqrt(math.pi * bandwidth) / np.sqrt(scales)[:, None])
    n_fft = 1 << int(math.ceil(math.log2(length + 2 * half + 1)))
    # correlation with psi == convolution with conj(psi(-t)); the filter's index 0 is t = -half
    kernel = np.conj(psi[:, ::-1])
    spec = np.fft.fft(kernel, n=n_fft, axis=-1)
    return torch.as_tensor(spec, dtype=dtype), n_fft, half


def cwt(x: torch.Tensor, scales, bandwidth: float = 1.0, center: float = 1.0) -> torch.Tensor:
    """Complex CWT of real or complex x (..., L) -> (..., S, L), batched over leading axes."""
    length = x.shape[-1]
    cdtype = torch.complex128 if x.dtype in (torch.float64, torch.complex128) else torch.complex64
    filt, n_fft, half = morlet_filters(scales, length, bandwidth, center, cdtype)
    xf = torch.fft.fft(x.to(cdtype), n=n_fft, dim=-1)
    out = torch.fft.ifft(xf.unsqueeze(-2) * filt, dim=-1)
    # full-convolution index of tau is tau + half (the kernel starts at t = -half... reversed)
    return out[..., half:half + length]


def cwt_magnitude(x: torch.Tensor, scales, bandwidth: float = 1.0, center: float = 1.0,
                  chunk: int = 256) -> torch.Tensor:
    """|CWT| of x (n, C, L) as float32 (n, C * S, L), computed in chunks of series."""
    outs = []
    for start in range(0, len(x), chunk):
        w = cwt(x[start:start + chunk].to(torch.float32), scales, bandwidth, center).abs()
        outs.append(w.reshape(w.shape[0], -1, w.shape[-1]))
    return torch.cat(outs).to(torch.float32)


def frame_matrix(length: int, scales, bandwidth: float = 1.0, center: float = 1.0
                 ) -> torch.Tensor:
    """The analysis operator T (S*L, L), complex128, built from unit vectors."""
    eye = torch.eye(length, dtype=torch.float64)
    w = cwt(eye, scales, bandwidth, center)          # (L inputs, S, L outputs)
    return w.reshape(length, -1).T.contiguous()


def frame_bounds(t: torch.Tensor, real_signals: bool = True) -> tuple[float, float]:
    """(A, B) = extreme eigenvalues of the frame operator S = T^H T; for real signals the
    quadratic form is x^T Re(T^H T) x."""
    s = t.conj().T @ t
    if real_signals:
        s = s.real
    ev = torch.linalg.eigvalsh(s)
    return float(ev[0]), float(ev[-1])
