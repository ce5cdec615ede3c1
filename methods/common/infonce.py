"""InfoNCE (one-directional or CLIP-symmetric) and SimCLR's NT-Xent, shared by every paper.

Both losses are written as ``F.cross_entropy`` over similarity logits, i.e. through
log-sum-exp, so they stay finite in float32 at small temperatures (exp-then-log
formulations overflow once a logit exceeds log(float32 max) ~ 88.7, e.g. a cosine
similarity of 1 at tau < 0.0113).

Conventions: ``z1`` and ``z2`` are (N, d) batches; row i of ``z1`` and row i of ``z2`` are a
positive pair. ``similarity`` is ``"dot"`` (bilinear, no normalisation) or ``"cosine"``.

Precision (float16 / bfloat16). The similarity matrix is computed in the input dtype (the
matmul is where half precision pays on GPU); it is then upcast to float32 *before* dividing
by tau, and the log-sum-exp / cross-entropy runs in float32 -- the same split
``torch.autocast`` makes (matmul in half, ``cross_entropy`` in float32). Dividing by a small
tau in half precision would overflow float16 (max 65504: a dot similarity of 700 at tau =
0.01) and would leave bfloat16 logits with ~3 significant digits (spacing 0.5 at 100), and
exp/sum in half underflows. Consequences:

* the loss of a float16/bfloat16 input is returned as float32 (as under autocast); gradients
  reach ``z1``/``z2`` in their own dtype. float32 and float64 inputs are computed and returned
  in their own dtype.
* the accuracy floor is the rounding of the half-precision similarities, an absolute logit
  error of order u * |sim| / tau (unit roundoff u = 2**-8 for bfloat16, 2**-11 for float16):
  ~0.4 for cosine bfloat16 logits at tau = 0.01, which the softmax weights and hence the
  gradients inherit. Pass float32 inputs when that matters.
* float16 gradients of the mean loss at small tau are O(1e-5) and partly underflow (float16's
  smallest normal is 6e-5); use loss scaling (``torch.amp.GradScaler``) as for any float16
  training. bfloat16 has float32's exponent range and does not underflow.
* float16 ``"dot"`` similarities must themselves fit float16 (|z_i . z_j| < 65504); use
  ``"cosine"`` or bfloat16 for large-norm embeddings.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

SIMILARITIES = ("dot", "cosine")
REDUCTIONS = ("mean", "sum", "none")


def _check_inputs(
    z1: torch.Tensor, z2: torch.Tensor, temperature, similarity: str, reduction: str
) -> None:
    if not isinstance(z1, torch.Tensor) or not isinstance(z2, torch.Tensor):
        raise TypeError(
            f"z1 and z2 must be torch tensors, got {type(z1).__name__} and {type(z2).__name__}"
        )
    if z1.ndim != 2 or z2.ndim != 2:
        raise ValueError(
            "z1 and z2 must be 2-D (batch, dim); "
            f"got shapes {tuple(z1.shape)} and {tuple(z2.shape)}"
        )
    if z1.shape != z2.shape:
        raise ValueError(
            f"shape mismatch: z1 has shape {tuple(z1.shape)}, z2 has shape {tuple(z2.shape)}"
        )
    if z1.shape[0] < 1 or z1.shape[1] < 1:
        raise ValueError(f"z1 and z2 must be non-empty; got shape {tuple(z1.shape)}")
    t = float(temperature.detach()) if isinstance(temperature, torch.Tensor) else float(temperature)
    if not (math.isfinite(t) and t > 0):
        raise ValueError(f"temperature must be a finite number > 0, got {temperature!r}")
    if similarity not in SIMILARITIES:
        raise ValueError(f"unknown similarity {similarity!r}; expected one of {SIMILARITIES}")
    if reduction not in REDUCTIONS:
        raise ValueError(f"unknown reduction {reduction!r}; expected one of {REDUCTIONS}")


def _embed(z: torch.Tensor, similarity: str) -> torch.Tensor:
    """Rows as they enter the bilinear form: unit-normalised for cosine, unchanged for dot."""
    if similarity == "cosine":
        return F.normalize(z, dim=1)
    if similarity != "dot":
        raise ValueError(f"unknown similarity {similarity!r}; expected one of {SIMILARITIES}")
    return z


def pairwise_similarity(a: torch.Tensor, b: torch.Tensor, similarity: str = "dot") -> torch.Tensor:
    """(N, M) matrix of similarities between rows of ``a`` (N, d) and rows of ``b`` (M, d),
    in the inputs' dtype."""
    return _embed(a, similarity) @ _embed(b, similarity).T


def _logits(a: torch.Tensor, b: torch.Tensor, temperature: float | torch.Tensor) -> torch.Tensor:
    """(N, M) logits sim(a_i, b_j) / tau from embedded rows, in at least float32.

    float32/float64: 1/tau is folded into ``b`` -- an (M, d) scaling instead of an (N, M)
    division in the forward and again in the backward pass. float16/bfloat16: the similarities
    are computed in the input dtype and upcast to float32 before dividing by tau (module
    docstring).
    """
    if torch.promote_types(a.dtype, torch.float32) == a.dtype:
        return a @ (b / temperature).T
    return (a @ b.T).float() / temperature


def _reduce(loss: torch.Tensor, reduction: str) -> torch.Tensor:
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    return loss


def info_nce(
    z1: torch.Tensor,
    z2: torch.Tensor,
    *,
    temperature: float | torch.Tensor = 1.0,
    similarity: str = "dot",
    symmetric: bool = False,
    reduction: str = "mean",
) -> torch.Tensor:
    """InfoNCE with in-batch negatives: anchor z1[i], positive z2[i], negatives z2[j != i].

    loss_i = -log softmax_j(sim(z1_i, z2_j) / tau)[i]. ``symmetric=True`` averages this with
    the same loss taken from z2 to z1 (CLIP). ``reduction="none"`` returns the N per-anchor
    losses (averaged over both directions when symmetric).
    """
    _check_inputs(z1, z2, temperature, similarity, reduction)
    logits = _logits(_embed(z1, similarity), _embed(z2, similarity), temperature)
    targets = torch.arange(z1.shape[0], device=z1.device)
    loss = F.cross_entropy(logits, targets, reduction="none")
    if symmetric:
        loss = 0.5 * (loss + F.cross_entropy(logits.T, targets, reduction="none"))
    return _reduce(loss, reduction)


def nt_xent(
    z1: torch.Tensor,
    z2: torch.Tensor,
    *,
    temperature: float | torch.Tensor = 0.5,
    similarity: str = "cosine",
    reduction: str = "mean",
) -> torch.Tensor:
    """SimCLR's NT-Xent over the 2N views: each view's positive is its pair, the other 2N-2
    views are its negatives.

    Self-similarities are set to -inf before the cross-entropy. ``reduction="none"``
    returns the 2N per-view losses (views of z1 first).
    """
    _check_inputs(z1, z2, temperature, similarity, reduction)
    n = z1.shape[0]
    z = _embed(torch.cat([z1, z2], dim=0), similarity)  # normalised once, used on both sides
    logits = _logits(z, z, temperature)
    # Exclude k == i. Done in place and outside autograd: the gradient of the loss w.r.t. a
    # -inf logit that is never a target is exactly 0 through the log-softmax backward
    # (exp(-inf) = 0), so recording the fill would only make autograd copy the (2N, 2N)
    # gradient to zero entries that are already zero. (Nothing saved for backward holds
    # ``logits`` at this point; autograd's version counter would raise if it did.)
    with torch.no_grad():
        logits.fill_diagonal_(float("-inf"))
    idx = torch.arange(n, device=z.device)
    targets = torch.cat([idx + n, idx])
    return _reduce(F.cross_entropy(logits, targets, reduction="none"), reduction)
