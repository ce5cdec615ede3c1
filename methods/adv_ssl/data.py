"""Data: scikit-learn digits with the brief's augmentations, synthetic normalised embedding
populations, and a Fashion-MNIST IDX reader (``$REPRO_DATA_DIR/fashion-mnist``).
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import math
from pathlib import Path

import numpy as np
import torch
from sklearn.datasets import load_digits

from repro.registry import Unavailable, data_dir

FMNIST_HOW = ("`apt install dataset-fashion-mnist`, or put the four .gz files from "
              "github.com/zalandoresearch/fashion-mnist under $REPRO_DATA_DIR/fashion-mnist")

FMNIST_FILES = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}


def digits(n_pretrain: int = 1000) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Digits in [0, 1] (1 797 x 64), the first ``n_pretrain`` after a fixed shuffle for
    pre-training (and probe training), the rest for test. The split is fixed (seed 0)."""
    x, y = load_digits(return_X_y=True)
    perm = np.random.default_rng(0).permutation(len(x))
    x, y = x[perm] / 16.0, y[perm]
    return x[:1000][:n_pretrain], y[:1000][:n_pretrain], x[1000:], y[1000:]


def fashion(train_size: int, test_size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray,
                                                       np.ndarray]:
    """Fashion-MNIST in [0, 1] (flattened 784): the first ``train_size`` of a fixed shuffle
    (seed 0) of the training set for pre-training and probe training, and the first
    ``test_size`` of a fixed shuffle of the test set. Raises ``Unavailable`` when absent."""
    x_tr, y_tr = fashion_mnist("train")
    x_te, y_te = fashion_mnist("test")
    p_tr = np.random.default_rng(0).permutation(len(x_tr))[:train_size]
    p_te = np.random.default_rng(0).permutation(len(x_te))[:test_size]
    return (x_tr[p_tr].reshape(len(p_tr), -1) / 255.0, y_tr[p_tr],
            x_te[p_te].reshape(len(p_te), -1) / 255.0, y_te[p_te])


def augment(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Brief section 4: +-1-pixel shift (zero pad and crop), Gaussian noise sigma 0.1,
    15 % pixel dropout, intensity scaling 0.8-1.2. ``x`` is (N, side*side) in [0, 1]
    (8x8 digits; 28x28 Fashion-MNIST)."""
    n, d = x.shape
    side = math.isqrt(d)
    if side * side != d:
        raise ValueError(f"augment needs square images, got {d} pixels")
    img = torch.nn.functional.pad(x.view(n, 1, side, side), (1, 1, 1, 1))
    sx = torch.randint(0, 3, (n,), generator=gen)
    sy = torch.randint(0, 3, (n,), generator=gen)
    rows = (sy[:, None] + torch.arange(side))[:, :, None].expand(n, side, side)
    cols = (sx[:, None] + torch.arange(side))[:, None, :].expand(n, side, side)
    out = img[torch.arange(n)[:, None, None], 0, rows, cols].reshape(n, d)
    out = out * (0.8 + 0.4 * torch.rand(n, 1, generator=gen, dtype=x.dtype))
    out = out + 0.1 * torch.randn(out.shape, generator=gen, dtype=x.dtype)
    keep = (torch.rand(out.shape, generator=gen) >= 0.15).to(x.dtype)
    return out * keep


def normalised_population(size: int, dim: int, noise: float, rng: np.random.Generator
                          ) -> tuple[np.ndarray, np.ndarray]:
    """``size`` pairs of unit vectors: z_k = normalise(s + noise * xi_k), s ~ N(0, diag(l)) with
    an anisotropic spectrum l_j = 1 / (1 + j). Sampling pairs uniformly from this finite
    population gives iid pairs with an exactly known C (the population mean)."""
    scale = 1.0 / np.sqrt(1.0 + np.arange(dim))
    s = rng.standard_normal((size, dim)) * scale
    z1 = s + noise * rng.standard_normal((size, dim))
    z2 = s + noise * rng.standard_normal((size, dim))
    return (z1 / np.linalg.norm(z1, axis=1, keepdims=True),
            z2 / np.linalg.norm(z2, axis=1, keepdims=True))


def _read_idx(path: Path) -> np.ndarray:
    with gzip.open(path, "rb") as fh:
        raw = fh.read()
    if raw[:2] != b"\x00\x00" or raw[2] != 0x08:
        raise ValueError(f"{path}: not an unsigned-byte IDX file")
    ndim = raw[3]
    shape = tuple(int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    data = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim)
    if data.size != int(np.prod(shape)):
        raise ValueError(f"{path}: expected {shape} values, found {data.size}")
    return data.reshape(shape)


def fashion_mnist(split: str = "train", root: Path | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Fashion-MNIST images (N, 28, 28) uint8 and labels (N,), checked against SHA256SUMS.

    Raises ``Unavailable`` when the files are not under ``<data_dir>/fashion-mnist``.
    """
    if split not in FMNIST_FILES:
        raise ValueError(f"parameter 'split' must be one of {tuple(FMNIST_FILES)}, got {split!r}")
    root = Path(root) if root is not None else data_dir() / "fashion-mnist"
    names = FMNIST_FILES[split]
    missing = [n for n in names if not (root / n).is_file()]
    if missing:
        raise Unavailable(
            f"Fashion-MNIST not found under {root} (missing {', '.join(missing)}): "
            f"{FMNIST_HOW}")
    files = [root / n for n in (*names, "SHA256SUMS")]
    stamp = tuple((str(f), f.stat().st_mtime_ns, f.stat().st_size) for f in files if f.is_file())
    return _read_fashion(str(root), names, stamp)


@functools.lru_cache(maxsize=4)  # one unit per seed would re-read and re-hash the same files
def _read_fashion(root_s: str, names: tuple[str, ...], stamp: tuple) -> tuple[np.ndarray,
                                                                               np.ndarray]:
    """Read and verify one split; cached on the files' paths, mtimes and sizes."""
    root = Path(root_s)
    sums_file = root / "SHA256SUMS"
    if sums_file.is_file():
        sums = dict(reversed(line.split()) for line in sums_file.read_text().splitlines()
                    if line.strip())
        for n in names:
            digest = hashlib.sha256((root / n).read_bytes()).hexdigest()
            if n in sums and sums[n] != digest:
                raise ValueError(f"{root / n}: SHA-256 {digest} does not match SHA256SUMS; "
                                 f"the file is damaged: {FMNIST_HOW}")
    x, y = (_read_idx_checked(root / n) for n in names)
    if x.ndim != 3 or x.shape[1:] != (28, 28) or y.ndim != 1:
        raise ValueError(f"{root / names[0]}: images of shape {x.shape} and labels of shape "
                         f"{y.shape}, expected (N, 28, 28) and (N,); {FMNIST_HOW}")
    if len(x) != len(y):
        raise ValueError(f"{root}: {len(x)} images but {len(y)} labels; {FMNIST_HOW}")
    return x, y


def _read_idx_checked(path: Path) -> np.ndarray:
    """``_read_idx`` with every way a file can be damaged reported as its name and the fix."""
    try:
        return _read_idx(path)
    except (OSError, EOFError, ValueError, IndexError) as e:
        msg = str(e).removeprefix(f"{path}: ")
        raise ValueError(f"{path}: unreadable ({msg}); {FMNIST_HOW}") from None
