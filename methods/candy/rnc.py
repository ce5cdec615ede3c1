"""Rank-N-Contrast (Zha et al., NeurIPS 2023) as CANDY uses it (brief section 3.1): one view,
no augmentation, every ordered pair (i, k), k != i, is a positive, and its negatives are the
points j != i at least as far from i in label space as k is (k itself included):

    L = 1/(n(n-1)) sum_i sum_{k != i}
            -log[ exp(s_ik/tau) / sum_{j != i, d_ij >= d_ik} exp(s_ij/tau) ]

with s_ij = -||f_i - f_j||_2 and d_ij = ||l_i - l_j||_1.

Written as a log-sum-exp over masked logits, so it stays finite at small tau. The vectorised
form ``rnc_loss`` sorts label distances per anchor (O(n^2 log n)); ``rnc_loss_dense`` builds
the (n, n, n) mask of the definition (O(n^3), brief section 7).

The feature distance uses sqrt(max(||f_i - f_j||^2, eps)): the gradient of the Euclidean norm
is undefined at 0, and duplicate latents (identical rows) would otherwise send NaN to the
optimiser. At a duplicate the clamp makes the gradient of that distance exactly 0; elsewhere the
value differs from the exact norm by nothing at all (the clamp is inactive above eps).
"""

from __future__ import annotations

import math

import torch

EPS_SQ = 1e-30


def _check(features: torch.Tensor, labels: torch.Tensor, temperature: float) -> torch.Tensor:
    if not isinstance(features, torch.Tensor) or features.ndim != 2:
        raise ValueError(
            f"features must be a 2-D tensor (n, d), got {getattr(features, 'shape', features)!r}"
        )
    if labels.ndim == 1:
        labels = labels[:, None]
    if labels.ndim != 2 or labels.shape[0] != features.shape[0]:
        raise ValueError(
            f"labels must be (n,) or (n, p) with n = {features.shape[0]}, got {tuple(labels.shape)}"
        )
    if features.shape[0] < 2:
        raise ValueError(f"Rank-N-Contrast needs at least 2 points, got {features.shape[0]}")
    t = float(temperature)
    if not (math.isfinite(t) and t > 0):
        raise ValueError(f"temperature must be a finite number > 0, got {temperature!r}")
    return labels


def feature_distances(features: torch.Tensor) -> torch.Tensor:
    """(n, n) Euclidean distances, with a NaN-free gradient at duplicate rows (module docstring)."""
    diff = features[:, None, :] - features[None, :, :]
    return torch.sqrt((diff * diff).sum(-1).clamp_min(EPS_SQ))


def label_distances(labels: torch.Tensor) -> torch.Tensor:
    """(n, n) L1 distances between label rows."""
    if labels.ndim == 1:
        labels = labels[:, None]
    return (labels[:, None, :] - labels[None, :, :]).abs().sum(-1)


def rnc_loss_dense(
    features: torch.Tensor, labels: torch.Tensor, temperature: float = 0.1
) -> torch.Tensor:
    """RnC through an explicit (n, n, n) denominator mask: O(n^3) time and memory. The
    straightforward vectorisation of the definition; ``rnc_loss`` is the fast form."""
    labels = _check(features, labels, temperature).to(features.dtype)
    n = features.shape[0]
    logits = -feature_distances(features) / temperature  # s_ij / tau
    dl = label_distances(labels)
    eye = torch.eye(n, dtype=torch.bool, device=features.device)
    # mask[i, k, j]: j is in the denominator of pair (i, k)
    mask = (dl[:, None, :] >= dl[:, :, None]) & ~eye[:, None, :]
    masked = logits[:, None, :].expand(n, n, n).masked_fill(~mask, float("-inf"))
    lse = torch.logsumexp(masked, dim=-1)  # (i, k); finite: j = k is always in the set
    return (lse - logits)[~eye].mean()


def rnc_loss(
    features: torch.Tensor, labels: torch.Tensor, temperature: float = 0.1
) -> torch.Tensor:
    """Mean Rank-N-Contrast loss over all ordered pairs (i, k), k != i (module docstring).

    O(n^2 log n): for each anchor i, sort the other points by label distance; the denominator
    of pair (i, k) is then a suffix log-sum-exp (``logcumsumexp`` of the reversed order) read at
    the first position whose label distance is >= d_ik (``searchsorted``), which takes every
    tie. The anchor itself gets label distance -1 so it sorts first and is never included.
    """
    labels = _check(features, labels, temperature).to(features.dtype)
    n = features.shape[0]
    logits = -feature_distances(features) / temperature
    eye = torch.eye(n, dtype=torch.bool, device=features.device)
    dl = label_distances(labels).masked_fill(eye, -1.0)
    d_asc, order = torch.sort(dl, dim=1)
    s_sorted = torch.gather(logits, 1, order)
    suffix = torch.logcumsumexp(s_sorted.flip(1), dim=1).flip(1)  # logsumexp(s_sorted[p:])
    pos = torch.searchsorted(d_asc.contiguous(), dl.contiguous(), right=False)
    lse = torch.gather(suffix, 1, pos.clamp_max(n - 1))
    return (lse - logits)[~eye].mean()


def rnc_loss_pool(
    features_by_session: list[torch.Tensor],
    labels_by_session: list[torch.Tensor],
    temperature: float,
    max_points: int,
    gen: torch.Generator | None = None,
) -> torch.Tensor:
    """RnC on embeddings pooled across sessions, subsampled to at most ``max_points`` points
    (the code's ``contrastive_num_batch x batch_size`` cap), an equal share per session."""
    per = max(1, max_points // len(features_by_session))
    fs, ls = [], []
    for f, lab in zip(features_by_session, labels_by_session):
        idx = torch.randperm(f.shape[0], generator=gen)[:per]
        fs.append(f[idx])
        ls.append(lab[idx])
    return rnc_loss(torch.cat(fs), torch.cat(ls), temperature)
