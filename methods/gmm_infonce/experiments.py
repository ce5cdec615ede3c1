"""Registered experiments for the GMM InfoNCE paper (arXiv 2411.03517; brief papers/gmm_infonce.md).

* ``gmm_infonce``: one random mixture per seed; linear InfoNCE vs supervised LDA vs PCA,
  scored by distance to the Fisher subspace and by k-means NMI / ARI on held-out data.
* ``gmm_posterior_fisher``: the exact identity behind the method (brief section 3.3):
  P(c|x) does not change when x moves orthogonally to F, and does change along F.

Each seed draws its own instance; every random consumer has its own named child stream.
"""

from __future__ import annotations

import numpy as np
import scipy.linalg
import scipy.special
import torch

from methods.common.clustering import kmeans_scores
from methods.common.infonce import SIMILARITIES
from methods.common.params import is_int as _is_int
from methods.common.params import is_real as _is_real
from methods.common.params import require as _require
from methods.common.seeding import child_seed, numpy_rng, torch_generator
from repro.registry import Unavailable, experiment

from .data import BASE_SPECTRUM, GaussianMixture, make_gmm
from .subspace import lda_directions, pca_directions, subspace_distance
from .train import LR_SCHEDULES, block_means, train_linear_infonce

CURVE_POINTS = 50


def _check_device(device: str) -> None:
    _require(device in ("cpu", "cuda"), "device", "must be 'cpu' or 'cuda'", device)
    if device == "cuda" and not torch.cuda.is_available():
        raise Unavailable("device 'cuda' requested but torch sees no CUDA GPU; run with device=cpu")


def _check_instance(seed, dim, components, mean_std, spike_var, spike_dims) -> None:
    _require(_is_int(seed) and seed >= 0, "seed", "must be an int >= 0", seed)
    _require(
        _is_int(components) and components >= 2, "components", "must be an int >= 2", components
    )
    _require(_is_int(dim) and dim >= components, "dim", "must be an int >= components", dim)
    _require(_is_real(mean_std) and mean_std > 0, "mean_std", "must be a number > 0", mean_std)
    _require(_is_real(spike_var) and spike_var > 0, "spike_var", "must be a number > 0", spike_var)
    _require(
        _is_int(spike_dims) and 0 <= spike_dims <= dim - 2,
        "spike_dims",
        "must be an int in [0, dim - 2] (two more fixed eigenvalues 4 and 0.25 follow the spikes)",
        spike_dims,
    )


MAX_INSTANCE_DRAWS = 1000


def _instance(
    seed, dim, components, mean_std, spike_var, spike_dims, min_fisher_ratio=0.0
) -> GaussianMixture:
    """The brief's base configuration, with the spike (large-noise) block as knobs.

    With ``min_fisher_ratio`` > 0, instances are redrawn (from the same seeded stream) until
    the weakest Fisher direction has discriminant ratio >= min_fisher_ratio; 0 keeps the
    brief's generator unchanged (first draw).
    """
    return _instance_draws(
        seed, dim, components, mean_std, spike_var, spike_dims, min_fisher_ratio
    )[0]


def _instance_draws(
    seed, dim, components, mean_std, spike_var, spike_dims, min_fisher_ratio=0.0
) -> tuple[GaussianMixture, int]:
    """``_instance`` and the number of draws it took (1 = the first draw was accepted)."""
    spectrum = (float(spike_var),) * spike_dims + BASE_SPECTRUM[3:]
    rng = numpy_rng(seed, "instance")
    for draws in range(1, MAX_INSTANCE_DRAWS + 1):
        gmm = make_gmm(
            rng, dim=dim, components=components, mean_std=float(mean_std), spectrum=spectrum
        )
        if min_fisher_ratio <= 0 or gmm.fisher_ratios()[-1] >= min_fisher_ratio:
            return gmm, draws
    raise ValueError(
        f"parameter 'min_fisher_ratio' = {min_fisher_ratio!r} is unreachable: "
        f"none of {MAX_INSTANCE_DRAWS} "
        "instance draws had a weakest Fisher ratio that large"
    )


@experiment("gmm_infonce")
def gmm_infonce(
    *,
    seed: int,
    device: str = "cpu",
    dim: int = 20,
    components: int = 4,
    mean_std: float = 2.0,
    spike_var: float = 25.0,
    spike_dims: int = 3,
    min_fisher_ratio: float = 0.0,
    alpha: float = 1.0,
    batch: int = 256,
    steps: int = 1000,
    lr: float = 0.02,
    lr_schedule: str = "cosine",
    similarity: str = "dot",
    temperature: float = 1.0,
    init_std: float = 0.1,
    test_samples: int = 4000,
    lda_samples: int = 5000,
    kmeans_restarts: int = 10,
) -> dict:
    """Linear InfoNCE vs LDA vs PCA on one random shared-covariance GMM (brief sections 3-4).

    Knobs:
    * instance: dim, components, mean_std, Sigma's spectrum (spike_var x spike_dims, 4, 0.25,
      1, ...), and min_fisher_ratio (redraw instances whose weakest Fisher direction is
      nearly invisible; 0 = never, the brief's generator);
    * augmentation: alpha;
    * training: batch, steps, lr, lr_schedule, similarity, temperature, init_std;
    * evaluation: test_samples held-out points; LDA and PCA fitted on lda_samples fresh
      points (PCA ignores their labels); kmeans_restarts k-means restarts with one seed for
      all three methods, on the (K-1)-dim projections x -> W x.

    instance_min_fisher_ratio (a diagnostic, not a method metric) is the weakest discriminant
    ratio of the drawn instance: seeds where it is below ~0.03 need many more steps;
    instance_rejected_draws is how many draws ``min_fisher_ratio`` rejected before it.
    subspace_dist_gap_lda = subspace_dist_infonce - subspace_dist_lda (same draw).
    *_untrained: the InfoNCE encoder at its initialisation, the control the checks on the
    trained encoder must fail.
    final_loss is the mean training loss over the last 1/50 of the steps (the last
    loss_curve point); loss_curve has the training loss averaged over 50 consecutive blocks.
    """
    _check_device(device)
    _check_instance(seed, dim, components, mean_std, spike_var, spike_dims)
    _require(
        _is_real(min_fisher_ratio) and min_fisher_ratio >= 0,
        "min_fisher_ratio",
        "must be a number >= 0",
        min_fisher_ratio,
    )
    _require(_is_real(alpha) and 0 < alpha <= 1, "alpha", "must be a number in (0, 1]", alpha)
    _require(_is_int(batch) and batch >= 2, "batch", "must be an int >= 2", batch)
    _require(_is_int(steps) and steps >= 1, "steps", "must be an int >= 1", steps)
    _require(_is_real(lr) and lr > 0, "lr", "must be a number > 0", lr)
    _require(
        lr_schedule in LR_SCHEDULES, "lr_schedule", f"must be one of {LR_SCHEDULES}", lr_schedule
    )
    _require(similarity in SIMILARITIES, "similarity", f"must be one of {SIMILARITIES}", similarity)
    _require(
        _is_real(temperature) and temperature > 0,
        "temperature",
        "must be a number > 0",
        temperature,
    )
    _require(_is_real(init_std) and init_std > 0, "init_std", "must be a number > 0", init_std)
    _require(
        _is_int(test_samples) and test_samples >= components,
        "test_samples",
        "must be an int >= components",
        test_samples,
    )
    _require(
        _is_int(lda_samples) and lda_samples > dim + components,
        "lda_samples",
        "must be an int > dim + components (so the within-class scatter is invertible)",
        lda_samples,
    )
    _require(
        _is_int(kmeans_restarts) and kmeans_restarts >= 1,
        "kmeans_restarts",
        "must be an int >= 1",
        kmeans_restarts,
    )

    gmm, draws = _instance_draws(
        seed, dim, components, mean_std, spike_var, spike_dims, float(min_fisher_ratio)
    )
    k = components - 1
    fisher = gmm.fisher_basis()

    result = train_linear_infonce(
        gmm,
        k=k,
        alpha=float(alpha),
        batch=batch,
        steps=steps,
        lr=float(lr),
        data_rng=numpy_rng(seed, "train-data"),
        init_generator=torch_generator(seed, "init"),
        similarity=similarity,
        temperature=float(temperature),
        lr_schedule=lr_schedule,
        init_std=float(init_std),
        device=device,
    )
    x_fit, c_fit = gmm.sample(lda_samples, numpy_rng(seed, "baseline-data"))
    encoders = {
        "infonce": result.W,
        "untrained": result.W0,  # the control every check on the trained W must fail
        "lda": lda_directions(x_fit, c_fit, k),
        "pca": pca_directions(x_fit, k),
    }
    x_test, c_test = gmm.sample(test_samples, numpy_rng(seed, "test-data"))
    km_seed = child_seed(seed, "kmeans")

    out: dict = {
        "instance_min_fisher_ratio": float(gmm.fisher_ratios()[-1]),
        "instance_rejected_draws": float(draws - 1),
    }
    for name, W in encoders.items():
        out[f"subspace_dist_{name}"] = subspace_distance(W, fisher)
        scores = kmeans_scores(
            x_test @ W.T, c_test, n_clusters=components, seed=km_seed, n_init=kmeans_restarts
        )
        out[f"nmi_{name}"] = scores["nmi"]
        out[f"ari_{name}"] = scores["ari"]
    out["subspace_dist_gap_lda"] = out["subspace_dist_infonce"] - out["subspace_dist_lda"]
    out["log_subspace_dist_infonce"] = float(np.log(out["subspace_dist_infonce"]))
    curve = block_means(result.losses, CURVE_POINTS)
    out["final_loss"] = curve[-1]
    out["loss_curve"] = curve
    return out


@experiment("gmm_posterior_fisher")
def gmm_posterior_fisher(
    *,
    seed: int,
    device: str = "cpu",
    dim: int = 20,
    components: int = 4,
    mean_std: float = 2.0,
    spike_var: float = 25.0,
    spike_dims: int = 3,
    points: int = 100,
    perturbation: float = 1.0,
) -> dict:
    """max |Delta P(c|x)| over ``points`` mixture draws x for random steps of norm ``perturbation``
    orthogonal to F (should be ~1e-16) and inside F (should be clearly non-zero).

    Closed-form float64 numpy on the CPU whatever ``device`` says (an exact identity check,
    nothing to accelerate).
    """
    _require(device in ("cpu", "cuda"), "device", "must be 'cpu' or 'cuda'", device)
    _check_instance(seed, dim, components, mean_std, spike_var, spike_dims)
    _require(_is_int(points) and points >= 1, "points", "must be an int >= 1", points)
    _require(
        _is_real(perturbation) and perturbation > 0,
        "perturbation",
        "must be a number > 0",
        perturbation,
    )

    gmm = _instance(seed, dim, components, mean_std, spike_var, spike_dims)
    fisher = gmm.fisher_basis()  # (k, D), orthonormal rows
    rng = numpy_rng(seed, "posterior-points")
    x, _ = gmm.sample(points, rng)

    g = rng.standard_normal((points, dim))
    v_orth = g - (g @ fisher.T) @ fisher
    v_along = rng.standard_normal((points, fisher.shape[0])) @ fisher

    def scaled(v):
        return float(perturbation) * v / np.linalg.norm(v, axis=1, keepdims=True)

    p0 = gmm.posterior(x)
    return {
        "max_dp_orthogonal": float(np.max(np.abs(gmm.posterior(x + scaled(v_orth)) - p0))),
        "max_dp_along": float(np.max(np.abs(gmm.posterior(x + scaled(v_along)) - p0))),
        "max_err_bayes": float(np.max(np.abs(p0 - _bayes_posterior(gmm, x)))),
    }


def _bayes_posterior(gmm: GaussianMixture, x: np.ndarray) -> np.ndarray:
    """(n, K) P(c | x) by Bayes' rule from the full Gaussian log-densities log pi_c - |L^-1 (x -
    mu_c)|^2 / 2 (the shared log-determinant cancels): a second route to ``gmm.posterior``,
    which expands the quadratic and keeps only the c-dependent terms, so a wrong or missing
    term there (e.g. the constant mu_c' Sigma^-1 mu_c / 2) shows here."""
    chol = np.linalg.cholesky(gmm.cov)
    logp = np.empty((x.shape[0], gmm.components))
    for c in range(gmm.components):
        z = scipy.linalg.solve_triangular(chol, (x - gmm.means[c]).T, lower=True)
        logp[:, c] = np.log(gmm.weights[c]) - 0.5 * np.sum(z * z, axis=0)
    return np.exp(logp - scipy.special.logsumexp(logp, axis=1, keepdims=True))
