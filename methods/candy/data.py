"""Data for CANDY: two seeded generators and a loader for users' own recordings.

A dataset is a list of ``Session``s; each holds trials as arrays (trials, T, neurons) and
(trials, T, behaviour dims), split into train and test trials, plus the true latent when it is
known (synthetic data only).

* ``spiral_sessions``: the paper's spiral demo exactly as the brief reconstructs it (section
  3.2): 3 sessions, z_0 = (0.5, 0.5), A = 0.99 R(pi/15), behaviour = z, y = Q_s g(z) + N(0, 0.1^2)
  with g(z) = (z1, z2, sin 2z1 + cos 2z2), Q = I, R_x(30 deg), R_y(45 deg). The 20 validation
  trials are drawn (so the random stream matches the 120/20/60 layout) and not used.
  ``random_z0=True`` is the brief's variant (ours): z_0 on the annulus r in [0.3, 0.7] with a
  uniform angle and process noise sigma_w = 0.02. Extra sessions (``sessions`` > 3) get
  Haar-random rotations with det +1.
* ``lds_poisson_sessions`` (ours): a shared latent LDS (complex eigenvalue pairs rho e^{+-i theta})
  at unit stationary variance drives each session through its own random readout to 30-120
  neurons, a softplus nonlinearity and Poisson spiking; behaviour = a fixed linear readout of
  the latent, shared by all sessions. ``readout="mlp"`` is the brief's paper-scale generator
  (section 4, scales: y = softplus(B_s h(z)) with h a fixed random 2-layer MLP shared by the
  sessions): h(z) = W2 tanh(W1 z + b1), 32 hidden units, 8 outputs, drawn once per dataset.
  Counts are smoothed with a Gaussian kernel and z-scored per neuron (training statistics)
  before they reach the encoders.
* ``load_sessions``: per-session NumPy ``.npz`` files (a file or a directory of them) holding
  ``spikes`` or ``rates`` as (neurons, time) and ``behaviour`` (or ``behavior``) as (dims, time);
  validated, cut into trials and split. Errors name the bad or missing file.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from scipy.ndimage import gaussian_filter1d

from methods.common.linalg import random_rotation

SPIRAL_RHO = 0.99
SPIRAL_THETA = math.pi / 15
SPIRAL_Z0 = (0.5, 0.5)
SPIRAL_NOISE = 0.1


@dataclass
class Session:
    y_train: np.ndarray  # (N_tr, T, n) neural input to the encoder
    b_train: np.ndarray  # (N_tr, T, p) behaviour
    y_test: np.ndarray
    b_test: np.ndarray
    z_train: np.ndarray | None = None  # true latent, when known
    z_test: np.ndarray | None = None
    mean_train: np.ndarray | None = None  # noise-free E[y | z] (spiral), for the oracle ceiling
    mean_test: np.ndarray | None = None
    info: dict = field(default_factory=dict)

    @property
    def neurons(self) -> int:
        return self.y_train.shape[-1]


def rot2(theta: float) -> np.ndarray:
    c, s = math.cos(theta), math.sin(theta)
    return np.array([[c, -s], [s, c]])


def spiral_A() -> np.ndarray:
    return SPIRAL_RHO * rot2(SPIRAL_THETA)


def spiral_g(z: np.ndarray) -> np.ndarray:
    """g(z) = (z1, z2, sin 2 z1 + cos 2 z2), on the last axis."""
    return np.stack([z[..., 0], z[..., 1], np.sin(2 * z[..., 0]) + np.cos(2 * z[..., 1])], -1)


def spiral_rotations() -> list[np.ndarray]:
    """Q_0 = I, Q_1 = R_x(+30 deg), Q_2 = R_y(+45 deg) (brief section 3.2)."""
    c, s = math.cos(math.pi / 6), math.sin(math.pi / 6)
    qx = np.array([[1, 0, 0], [0, c, -s], [0, s, c]])
    c, s = math.cos(math.pi / 4), math.sin(math.pi / 4)
    qy = np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]])
    return [np.eye(3), qx, qy]


def proper_rotation(dim: int, rng: np.random.Generator) -> np.ndarray:
    q = random_rotation(dim, rng)
    if np.linalg.det(q) < 0:
        q[:, 0] = -q[:, 0]
    return q


def spiral_latents(
    rng: np.random.Generator, trials: int, t_len: int, random_z0: bool, process_noise: float
) -> np.ndarray:
    a = spiral_A()
    z = np.zeros((trials, t_len, 2))
    if random_z0:
        r = rng.uniform(0.3, 0.7, trials)
        phi = rng.uniform(0, 2 * math.pi, trials)
        z[:, 0] = np.stack([r * np.cos(phi), r * np.sin(phi)], 1)
    else:
        z[:, 0] = SPIRAL_Z0
    for t in range(1, t_len):
        z[:, t] = z[:, t - 1] @ a.T
        if process_noise > 0:
            z[:, t] += process_noise * rng.standard_normal((trials, 2))
    return z


def spiral_sessions(
    rng: np.random.Generator,
    *,
    sessions: int = 3,
    train: int = 120,
    valid: int = 20,
    test: int = 60,
    t_len: int = 50,
    random_z0: bool = False,
    process_noise: float | None = None,
    rotations: list | None = None,
) -> list[Session]:
    """The brief's spiral (module docstring). ``process_noise`` defaults to 0 for the demo and
    0.02 for the random-z0 variant; ``rotations`` overrides the per-session Q's."""
    if process_noise is None:
        process_noise = 0.02 if random_z0 else 0.0
    qs = list(rotations) if rotations is not None else spiral_rotations()
    while len(qs) < sessions:
        qs.append(proper_rotation(3, rng))
    out = []
    for s in range(sessions):
        n = train + valid + test
        z = spiral_latents(rng, n, t_len, random_z0, process_noise)
        mean = spiral_g(z) @ qs[s].T
        y = mean + SPIRAL_NOISE * rng.standard_normal(mean.shape)
        tr, te = slice(0, train), slice(train + valid, n)
        out.append(
            Session(y[tr], z[tr], y[te], z[te], z[tr], z[te], mean[tr], mean[te], {"Q": qs[s]})
        )
    return out


LDS_READOUTS = ("linear", "mlp")
MLP_HIDDEN, MLP_OUT = 32, 8


def _standardise(h: np.ndarray) -> np.ndarray:
    """Zero mean, unit variance per feature over all trials and steps (keeps the firing-rate
    scale of the linear readout, where Var z = I)."""
    flat = h.reshape(-1, h.shape[-1])
    return (h - flat.mean(0)) / flat.std(0)


def lds_dynamics(latent_dim: int, rho: float, theta0: float) -> np.ndarray:
    """Block-diagonal A with pairs rho R(theta_j), theta_j = theta0 * (1 + j/2)."""
    if latent_dim % 2:
        raise ValueError(f"parameter 'latent_dim' must be even (complex pairs), got {latent_dim}")
    a = np.zeros((latent_dim, latent_dim))
    for j in range(latent_dim // 2):
        a[2 * j : 2 * j + 2, 2 * j : 2 * j + 2] = rho * rot2(theta0 * (1 + j / 2))
    return a


def lds_poisson_sessions(
    rng: np.random.Generator,
    *,
    sessions: int = 4,
    latent_dim: int = 2,
    rho: float = 0.97,
    theta: float = 2 * math.pi / 20,
    min_neurons: int = 30,
    max_neurons: int = 120,
    train: int = 100,
    test: int = 50,
    t_len: int = 50,
    gain: float = 1.5,
    smooth_sigma: float = 2.0,
    readout: str = "linear",
) -> list[Session]:
    """The harder generator (module docstring). Stationary latent: z_0 ~ N(0, I) and
    W = (1 - rho^2) I keep Var z_t = I for rotation-scaled blocks. ``readout="mlp"`` passes z
    through the fixed random MLP h before each session's linear readout B_s (its draws come
    after the linear generator's shared draws, so "linear" keeps its random stream)."""
    if readout not in LDS_READOUTS:
        raise ValueError(f"parameter 'readout' must be one of {LDS_READOUTS}, got {readout!r}")
    a = lds_dynamics(latent_dim, rho, theta)
    sw = math.sqrt(1 - rho**2)
    m_beh = rng.standard_normal((2, latent_dim)) / math.sqrt(latent_dim)
    feat = latent_dim
    if readout == "mlp":
        w1 = 1.5 * rng.standard_normal((MLP_HIDDEN, latent_dim)) / math.sqrt(latent_dim)
        b1 = 0.5 * rng.standard_normal(MLP_HIDDEN)
        w2 = rng.standard_normal((MLP_OUT, MLP_HIDDEN)) / math.sqrt(MLP_HIDDEN)
        feat = MLP_OUT
    out = []
    for _ in range(sessions):
        n_neur = int(rng.integers(min_neurons, max_neurons + 1))
        b_read = gain * rng.standard_normal((n_neur, feat)) / math.sqrt(feat)
        bias = rng.uniform(-1.0, 0.5, n_neur)
        n = train + test
        z = np.zeros((n, t_len, latent_dim))
        z[:, 0] = rng.standard_normal((n, latent_dim))
        for t in range(1, t_len):
            z[:, t] = z[:, t - 1] @ a.T + sw * rng.standard_normal((n, latent_dim))
        h = z if readout == "linear" else _standardise(np.tanh(z @ w1.T + b1) @ w2.T)
        rate = np.logaddexp(0.0, h @ b_read.T + bias)  # softplus, spikes per bin
        counts = rng.poisson(rate).astype(float)
        y = preprocess(counts, train, smooth_sigma)
        beh = z @ m_beh.T
        out.append(
            Session(
                y[:train],
                beh[:train],
                y[train:],
                beh[train:],
                z[:train],
                z[train:],
                None,
                None,
                {"neurons": n_neur, "A": a},
            )
        )
    return out


def preprocess(counts: np.ndarray, train: int, smooth_sigma: float) -> np.ndarray:
    """Gaussian smoothing along time within each trial, then z-scoring per neuron with the
    first ``train`` trials' statistics."""
    y = (
        gaussian_filter1d(counts, smooth_sigma, axis=1, mode="nearest")
        if smooth_sigma > 0
        else counts
    )
    mu = y[:train].mean(axis=(0, 1))
    sd = y[:train].std(axis=(0, 1)) + 1e-6
    return (y - mu) / sd


NEURAL_KEYS = ("spikes", "rates")
BEHAVIOUR_KEYS = ("behaviour", "behavior")


class SessionFileError(ValueError):
    """A session file is missing, unreadable or malformed; the message names the file."""


def _read_npz(path: Path) -> tuple[np.ndarray, np.ndarray, str]:
    try:
        with np.load(path, allow_pickle=False) as f:
            keys = set(f.files)
            nk = [k for k in NEURAL_KEYS if k in keys]
            bk = [k for k in BEHAVIOUR_KEYS if k in keys]
            if len(nk) != 1:
                raise SessionFileError(
                    f"{path}: needs exactly one of the arrays {NEURAL_KEYS} (neurons x time); "
                    f"found arrays {sorted(keys)}"
                )
            if len(bk) != 1:
                raise SessionFileError(
                    f"{path}: needs exactly one of the arrays {BEHAVIOUR_KEYS} (dims x time); "
                    f"found arrays {sorted(keys)}"
                )
            y, b = np.asarray(f[nk[0]], float), np.asarray(f[bk[0]], float)
    except SessionFileError:
        raise
    except Exception as exc:  # zipfile / pickle / format errors
        raise SessionFileError(
            f"{path}: not a readable .npz file ({type(exc).__name__}: {exc})"
        ) from exc
    if b.ndim == 1:
        b = b[None, :]
    if y.ndim != 2:
        raise SessionFileError(
            f"{path}: '{nk[0]}' must be 2-D (neurons x time), got shape {y.shape}"
        )
    if b.ndim != 2:
        raise SessionFileError(
            f"{path}: '{bk[0]}' must be 1-D or 2-D (dims x time), got shape {b.shape}"
        )
    if y.shape[1] != b.shape[1]:
        raise SessionFileError(
            f"{path}: '{nk[0]}' has {y.shape[1]} time bins but '{bk[0]}' has {b.shape[1]} "
            "(both must be laid out as (rows x time))"
        )
    if not (np.isfinite(y).all() and np.isfinite(b).all()):
        raise SessionFileError(f"{path}: contains NaN or inf")
    if nk[0] == "spikes" and (y < 0).any():
        raise SessionFileError(f"{path}: 'spikes' has negative counts")
    return y, b, nk[0]


def load_sessions(
    path: str | Path,
    *,
    trial_len: int = 50,
    test_fraction: float = 0.3,
    smooth_sigma: float = 2.0,
    min_trials: int = 4,
) -> list[Session]:
    """Sessions from a ``.npz`` file or a directory of them (sorted by name). Each recording is
    cut into consecutive trials of ``trial_len`` bins (a remainder is dropped); the last
    ``test_fraction`` of the trials are the test set. Spikes are smoothed (``smooth_sigma``
    bins) and every neural array is z-scored per neuron with training statistics. All sessions
    must share the behaviour dimension."""
    path = Path(path)
    if not path.exists():
        raise SessionFileError(f"{path}: no such file or directory")
    files = sorted(path.glob("*.npz")) if path.is_dir() else [path]
    if not files:
        raise SessionFileError(f"{path}: directory holds no .npz session files")
    out, dims = [], set()
    for fp in files:
        y, b, kind = _read_npz(fp)
        trials = y.shape[1] // trial_len
        if trials < min_trials:
            raise SessionFileError(
                f"{fp}: {y.shape[1]} time bins make {trials} trials of {trial_len}; "
                f"need >= {min_trials}"
            )
        n_test = max(1, int(round(test_fraction * trials)))
        n_train = trials - n_test
        yt = y[:, : trials * trial_len].T.reshape(trials, trial_len, -1)
        bt = b[:, : trials * trial_len].T.reshape(trials, trial_len, -1)
        yt = preprocess(yt, n_train, smooth_sigma if kind == "spikes" else 0.0)
        dims.add(bt.shape[-1])
        out.append(
            Session(
                yt[:n_train],
                bt[:n_train],
                yt[n_train:],
                bt[n_train:],
                info={"file": str(fp), "kind": kind},
            )
        )
    if len(dims) != 1:
        raise SessionFileError(
            f"{path}: sessions disagree on the behaviour dimension: {sorted(dims)}"
        )
    return out
