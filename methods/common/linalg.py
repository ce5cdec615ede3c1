"""Small linear-algebra helpers shared by the synthetic testbeds."""

from __future__ import annotations

import numpy as np


def random_rotation(dim: int, rng: np.random.Generator) -> np.ndarray:
    """Haar-distributed (dim, dim) orthogonal matrix: QR of a Gaussian matrix, sign-fixed."""
    q, r = np.linalg.qr(rng.standard_normal((dim, dim)))
    return q * np.sign(np.diag(r))
