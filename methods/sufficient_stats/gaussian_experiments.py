"""Registered experiments for the Gaussian half of the sufficient-statistics paper
(Lin & Mei, arXiv 2503.17538; brief papers/sufficient_stats.md, sections 3.4, 3.6, 4).

* ``suff_closed_form``: the closed forms' mutual consistency on random SPD covariances
  (claim suff_closed_form_properties).
* ``suff_gaussian_infonce``: linear rank-p InfoNCE on fresh view pairs; Suff(W) from the
  closed form vs Suff*_p and vs PCA (claims suff_simclr_sufficient_gaussian,
  suff_beats_pca, suff_negatives).
* ``suff_gaussian_risk``: downstream excess risk vs sufficiency over CCA ranks 1..d and
  InfoNCE checkpoints, with the chi^2 template bound (claim suff_risk_monotone).
* ``suff_aug_floor``: isotropic augmentation s*I, full-rank InfoNCE, a least-squares probe
  fitted on labelled views; its population risk minus the noise vs eps_aug(s)
  (claim suff_aug_error_floor).
"""

from __future__ import annotations

import math

import numpy as np
import scipy.stats
import torch

from methods.common.infonce import info_nce
from methods.common.params import is_int as _is_int
from methods.common.params import is_real as _is_real
from methods.common.params import require as _require
from methods.common.seeding import numpy_rng, torch_generator
from repro.registry import Unavailable, experiment

from . import gaussian as G

LR_SCHEDULES = ("cosine", "constant")


def _check_common(seed, device) -> None:
    _require(_is_int(seed) and seed >= 0, "seed", "must be an int >= 0", seed)
    _require(device in ("cpu", "cuda"), "device", "must be 'cpu' or 'cuda'", device)
    if device == "cuda" and not torch.cuda.is_available():
        raise Unavailable("device 'cuda' requested but torch sees no CUDA GPU; run with device=cpu")


def _check_testbed(dim, destroyed, rank=None) -> None:
    _require(_is_int(dim) and dim >= 2, "dim", "must be an int >= 2", dim)
    _require(
        _is_int(destroyed) and 0 <= destroyed < dim, "destroyed", "must be an int in [0, dim)",
        destroyed,
    )
    if rank is not None:
        _require(_is_int(rank) and 1 <= rank <= dim, "rank", "must be an int in [1, dim]", rank)


def _check_training(batch, steps, lr, lr_schedule, temperature, init_std, checkpoints) -> None:
    _require(_is_int(batch) and batch >= 2, "batch", "must be an int >= 2", batch)
    _require(_is_int(steps) and steps >= 1, "steps", "must be an int >= 1", steps)
    _require(_is_real(lr) and lr > 0, "lr", "must be a number > 0", lr)
    _require(
        lr_schedule in LR_SCHEDULES, "lr_schedule", f"must be one of {LR_SCHEDULES}", lr_schedule
    )
    _require(
        _is_real(temperature) and temperature > 0, "temperature", "must be a number > 0",
        temperature,
    )
    _require(_is_real(init_std) and init_std > 0, "init_std", "must be a number > 0", init_std)
    _require(
        _is_int(checkpoints) and 1 <= checkpoints, "checkpoints", "must be an int >= 1",
        checkpoints,
    )


def train_linear_infonce(
    tb: G.Testbed,
    *,
    rank: int,
    batch: int,
    steps: int,
    lr: float,
    seed: int,
    lr_schedule: str = "cosine",
    temperature: float = 1.0,
    init_std: float = 1.0,
    eval_steps=(),
    device: str = "cpu",
) -> tuple[np.ndarray, dict[int, np.ndarray]]:
    """Adam on info_nce(W x1, W x2) (shared encoder, bilinear critic with B = I) over ``steps``
    fresh batches of ``batch`` view pairs; returns the final W (float64) and W at each step in
    ``eval_steps`` (step 0 = the initialisation).

    Data come from the seeded numpy stream "train-data" and the initialisation (entries
    N(0, init_std^2 / d)) from the torch stream "init", both on the CPU, so neither depends on
    the device. Runs with one torch thread (restored afterwards).
    """
    dim = tb.dim
    data_rng = numpy_rng(seed, "train-data")
    gen = torch_generator(seed, "init")
    w0 = torch.randn(rank, dim, generator=gen, dtype=torch.float64) * (init_std / dim**0.5)
    W = torch.nn.Parameter(w0.to(device=device, dtype=torch.float32))
    opt = torch.optim.Adam([W], lr=lr)
    sched = (
        torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=steps)
        if lr_schedule == "cosine"
        else None
    )
    wanted = set(int(s) for s in eval_steps)
    snaps: dict[int, np.ndarray] = {}
    if 0 in wanted:
        snaps[0] = w0.numpy().copy()
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        for step in range(1, steps + 1):
            x1, x2 = tb.sample_views(batch, data_rng)
            a = torch.as_tensor(x1, dtype=torch.float32).to(device)
            b = torch.as_tensor(x2, dtype=torch.float32).to(device)
            loss = info_nce(a @ W.T, b @ W.T, temperature=temperature, similarity="dot")
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            if sched is not None:
                sched.step()
            if step in wanted:
                snaps[step] = W.detach().cpu().to(torch.float64).numpy().copy()
    finally:
        torch.set_num_threads(threads)
    return W.detach().cpu().to(torch.float64).numpy(), snaps


def _checkpoint_steps(steps: int, checkpoints: int) -> list[int]:
    return sorted(set(int(round(s)) for s in np.linspace(0, steps, checkpoints + 1)))


# ---------------------------------------------------------------------------------------------
@experiment("suff_closed_form")
def suff_closed_form(
    *,
    seed: int,
    device: str = "cpu",
    dim: int = 10,
    rank: int = 3,
    random_encoders: int = 100,
    invariance_encoders: int = 10,
    chi2_encoders: int = 3,
) -> dict:
    """Brief section 4, suff_closed_form_properties, on random SPD Sx, Sxi (float64).

    err_cca_optimum  |Suff(CCA_p) - Suff*_p|                                          (i)
    min_random_gap   min over ``random_encoders`` Gaussian rank-p W of Suff(W) - Suff*_p (ii)
    err_invariance   max |Suff(T W) - Suff(W)| over ``invariance_encoders`` W, random T, with
                     Suff(T W) from B_TW = Sv - Sx (TW)^T (TW Sv (TW)^T)^-1 TW Sx on the raw
                     T W (``suff_kl`` orthonormalises its rows, which would make it a tautology)
                                                                                   (iii)
    err_chi2_quadrature  max over ``chi2_encoders`` rank-1 W on a separate d = 2 instance of
                     |Suff_chi2 closed form - by quadrature of its definition| / (1 + chi2)
                     (``G.suff_chi2_quadrature``): the independent route for (iv)
    chi2_quadrature  mean Suff_chi2 of those encoders (quadrature), for the record
    err_chi2_kl      max |log(1 + Suff_chi2) - 2 Suff_KL_s|: chi^2 from det B_W / det A, KL
                     from the canonical s_k formula; compared on the log scale, where both are
                     O(1) numbers (chi^2 itself is exp(2 Suff) - 1, up to e^40 for a random
                     W at d = 50)                                                  (iv)
    err_chi2_rel     the same as a relative error |chi2_det - (e^{2 Suff_KL_s} - 1)| / (1 + chi2)
    err_excess       max |excess_regression - beta^T (B_W - A) beta|                 (v)
    err_svals_vs_det max |Suff_KL (slogdet) - Suff_KL_s (s_k)| over the random encoders
    """
    _check_common(seed, device)
    _check_testbed(dim, 0, rank)
    _require(
        _is_int(random_encoders) and random_encoders >= 1, "random_encoders", "must be an int >= 1",
        random_encoders,
    )
    _require(
        _is_int(invariance_encoders) and invariance_encoders >= 1, "invariance_encoders",
        "must be an int >= 1", invariance_encoders,
    )
    _require(
        _is_int(chi2_encoders) and chi2_encoders >= 1, "chi2_encoders", "must be an int >= 1",
        chi2_encoders,
    )
    rng = numpy_rng(seed, "closed-form")
    sx = G.random_spd(dim, rng)
    sxi = G.random_spd(dim, rng)
    beta = rng.standard_normal(dim) / np.sqrt(dim)
    star = G.suff_star(rank, sx, sxi)
    cca = G.cca_encoder(rank, sx, sxi)
    err_cca = abs(G.suff_kl(cca, sx, sxi) - star)

    gaps, err_sv, err_log, err_rel, err_ex = [], [], [], [], []
    for _ in range(random_encoders):
        W = rng.standard_normal((rank, dim))
        kl = G.suff_kl(W, sx, sxi)
        kl_s = G.suff_kl_svals(W, sx, sxi)
        chi = G.suff_chi2(W, sx, sxi)
        gaps.append(kl - star)
        err_sv.append(abs(kl - kl_s))
        err_log.append(abs(math.log1p(chi) - 2.0 * kl_s))
        err_rel.append(abs(chi - math.expm1(2.0 * kl_s)) / (1.0 + chi))
        err_ex.append(abs(G.excess_regression(W, beta, sx, sxi) - G.excess(W, beta, sx, sxi)))
    for enc in (cca,):
        err_ex.append(abs(G.excess_regression(enc, beta, sx, sxi) - G.excess(enc, beta, sx, sxi)))
    inv = []
    for _ in range(invariance_encoders):
        W = rng.standard_normal((rank, dim))
        # random invertible T with condition number <= 10: U diag(s) V^T, s in [0.3, 3]
        u = G.random_orthogonal(rank, rng)
        v = G.random_orthogonal(rank, rng)
        T = (u * rng.uniform(0.3, 3.0, rank)) @ v.T
        tw = T @ W
        sv = sx + sxi
        b_raw = sv - (tw @ sx).T @ np.linalg.solve(tw @ sv @ tw.T, tw @ sx)
        kl_raw = 0.5 * (
            np.linalg.slogdet(b_raw)[1] - np.linalg.slogdet(G.cond_cov_full(sx, sxi))[1]
        )
        inv.append(abs(kl_raw - G.suff_kl(W, sx, sxi)))
    # (iv) by an independent route: quadrature of the chi^2 definition on a d = 2 instance
    qrng = numpy_rng(seed, "chi2-quadrature")
    sx2 = G.random_spd(2, qrng)
    sxi2 = G.random_spd(2, qrng)
    err_quad, chi_quad = [], []
    for _ in range(chi2_encoders):
        W = qrng.standard_normal((1, 2))
        q = G.suff_chi2_quadrature(W, sx2, sxi2)
        closed = G.suff_chi2(W, sx2, sxi2)
        err_quad.append(abs(closed - q) / (1.0 + q))
        chi_quad.append(q)
    return {
        "suff_star": star,
        "err_cca_optimum": err_cca,
        "min_random_gap": float(min(gaps)),
        "err_invariance": float(max(inv)),
        "err_chi2_kl": float(max(err_log)),
        "err_chi2_rel": float(max(err_rel)),
        "err_chi2_quadrature": float(max(err_quad)),
        "chi2_quadrature": float(np.mean(chi_quad)),
        "err_excess": float(max(err_ex)),
        "err_svals_vs_det": float(max(err_sv)),
    }


# ---------------------------------------------------------------------------------------------
@experiment("suff_gaussian_infonce")
def suff_gaussian_infonce(
    *,
    seed: int,
    device: str = "cpu",
    dim: int = 10,
    destroyed: int = 3,
    rank: int = 3,
    batch: int = 512,
    steps: int = 1000,
    lr: float = 0.01,
    lr_schedule: str = "cosine",
    temperature: float = 1.0,
    init_std: float = 1.0,
    checkpoints: int = 40,
) -> dict:
    """Linear rank-p InfoNCE on the brief's section 4 Gaussian configuration.

    suff_infonce / suff_pca / suff_star: Suff_KL in nats (closed form) of the trained W, of
    PCA on the views and the rank-p optimum (top-p CCA); suff_gap = suff_infonce - suff_star;
    pca_over_infonce = suff_pca / suff_infonce. suff_gap_untrained / pca_over_untrained: the
    same for W at its initialisation (step 0), the control every check on the trained W must
    fail. curve_step / curve_suff_gap: Suff(W_t) -
    Suff*_p at ``checkpoints`` + 1 evenly spaced steps (step 0 = initialisation).
    """
    _check_common(seed, device)
    _check_testbed(dim, destroyed, rank)
    _check_training(batch, steps, lr, lr_schedule, temperature, init_std, checkpoints)
    tb = G.make_testbed(numpy_rng(seed, "instance"), dim=dim, destroyed=destroyed)
    star = G.suff_star(rank, tb.sx, tb.sxi)
    evals = _checkpoint_steps(steps, checkpoints)
    W, snaps = train_linear_infonce(
        tb, rank=rank, batch=batch, steps=steps, lr=float(lr), seed=seed,
        lr_schedule=lr_schedule, temperature=float(temperature), init_std=float(init_std),
        eval_steps=evals, device=device,
    )
    suff = G.suff_kl(W, tb.sx, tb.sxi)
    suff_0 = G.suff_kl(snaps[0], tb.sx, tb.sxi)  # the same encoder at its initialisation
    suff_pca = G.suff_kl(G.pca_encoder(rank, tb.sx, tb.sxi), tb.sx, tb.sxi)
    return {
        "suff_star": star,
        "suff_infonce": suff,
        "suff_gap": suff - star,
        "suff_gap_untrained": suff_0 - star,
        "suff_pca": suff_pca,
        "pca_over_infonce": suff_pca / suff,
        "pca_over_untrained": suff_pca / suff_0,
        "excess_infonce": G.excess(W, tb.beta, tb.sx, tb.sxi),
        "curve_step": [float(s) for s in evals],
        "curve_suff_gap": [G.suff_kl(snaps[s], tb.sx, tb.sxi) - star for s in evals],
    }


# ---------------------------------------------------------------------------------------------
def _spearman(a, b, tie_tol: float) -> float:
    """Spearman correlation with values within ``tie_tol`` of each other treated as ties
    (e.g. excess risks that are 0 up to round-off)."""
    def snap(v):
        v = np.asarray(v, dtype=float)
        return np.round(v / tie_tol) * tie_tol

    return float(scipy.stats.spearmanr(snap(a), snap(b)).statistic)


@experiment("suff_gaussian_risk")
def suff_gaussian_risk(
    *,
    seed: int,
    device: str = "cpu",
    dim: int = 10,
    destroyed: int = 3,
    rank: int = 3,
    batch: int = 512,
    steps: int = 0,
    checkpoint_every: int = 100,
    lr: float = 0.01,
    lr_schedule: str = "cosine",
    temperature: float = 1.0,
    init_std: float = 1.0,
    tie_tol: float = 1e-9,
) -> dict:
    """Excess risk vs sufficiency across encoders (brief section 4, suff_risk_monotone).

    Encoders: CCA ranks 1..d, then (if ``steps`` > 0) the rank-p InfoNCE encoder at every
    ``checkpoint_every`` steps (initialisation excluded, final step included). Per encoder:
    encoder_suff (Suff_KL), encoder_excess (beta^T (B_W - A) beta), encoder_bound
    (beta^T B_W beta * Suff_chi2). spearman: Spearman(Suff, excess) over all encoders, values
    within ``tie_tol`` counted as ties (CCA ranks above the preserved block all have excess 0
    up to round-off); spearman_cca: the same over the nested CCA encoders only;
    cca_excess_min_drop / cca_suff_min_drop: min over k of excess (Suff) at CCA rank k minus at
    rank k + 1 (>= 0 and > 0 by the theorem: nested W make B_W fall in the Loewner order);
    min_slack: min over encoders of bound - excess; min_bound_ratio: min of bound / excess over
    the encoders whose excess exceeds ``tie_tol`` (how loose the bound is where it bites).
    """
    _check_common(seed, device)
    _check_testbed(dim, destroyed, rank)
    _require(_is_int(steps) and steps >= 0, "steps", "must be an int >= 0", steps)
    _require(
        _is_int(checkpoint_every) and checkpoint_every >= 1, "checkpoint_every",
        "must be an int >= 1", checkpoint_every,
    )
    _require(_is_real(tie_tol) and tie_tol > 0, "tie_tol", "must be a number > 0", tie_tol)
    if steps > 0:
        _check_training(batch, steps, lr, lr_schedule, temperature, init_std, 1)
    tb = G.make_testbed(numpy_rng(seed, "instance"), dim=dim, destroyed=destroyed)
    encoders = [G.cca_encoder(k, tb.sx, tb.sxi) for k in range(1, dim + 1)]
    if steps > 0:
        evals = list(range(checkpoint_every, steps + 1, checkpoint_every))
        if evals[-1:] != [steps]:
            evals.append(steps)
        _, snaps = train_linear_infonce(
            tb, rank=rank, batch=batch, steps=steps, lr=float(lr), seed=seed,
            lr_schedule=lr_schedule, temperature=float(temperature), init_std=float(init_std),
            eval_steps=evals, device=device,
        )
        encoders += [snaps[s] for s in evals]
    suff = [G.suff_kl(W, tb.sx, tb.sxi) for W in encoders]
    exc = [G.excess(W, tb.beta, tb.sx, tb.sxi) for W in encoders]
    bound = [G.chi2_bound(W, tb.beta, tb.sx, tb.sxi) for W in encoders]
    slack = np.asarray(bound) - np.asarray(exc)
    exc_arr = np.asarray(exc)
    positive = exc_arr > float(tie_tol)
    ratio = np.asarray(bound)[positive] / exc_arr[positive]
    return {
        "spearman": _spearman(suff, exc, float(tie_tol)),
        "spearman_cca": _spearman(suff[:dim], exc[:dim], float(tie_tol)),
        "cca_excess_min_drop": float(np.min(-np.diff(exc[:dim]))),
        "cca_suff_min_drop": float(np.min(-np.diff(suff[:dim]))),
        "min_slack": float(slack.min()),
        "min_bound_ratio": float(ratio.min()) if ratio.size else float("inf"),
        "encoders": float(len(encoders)),
        "encoder_suff": [float(v) for v in suff],
        "encoder_excess": [float(v) for v in exc],
        "encoder_bound": [float(v) for v in bound],
    }


# ---------------------------------------------------------------------------------------------
@experiment("suff_aug_floor")
def suff_aug_floor(
    *,
    seed: int,
    device: str = "cpu",
    dim: int = 10,
    aug_scale: float = 1.0,
    noise_std: float = 0.5,
    batch: int = 512,
    steps: int = 300,
    lr: float = 0.01,
    lr_schedule: str = "cosine",
    temperature: float = 1.0,
    init_std: float = 1.0,
    probe_samples: int = 2000,
) -> dict:
    """Risk floor at Suff ~ 0 (brief section 4, suff_aug_error_floor).

    Sxi = aug_scale * I, full-rank (p = d) InfoNCE encoder W; a least-squares linear probe
    (with intercept) is fitted on ``probe_samples`` labelled views (W x1, y), y = beta^T x +
    N(0, noise_std^2). measured_excess = population risk of that probe (closed form given its
    weights, so no test-set noise) - noise_std^2; eps_aug = beta^T (Sx - Sx Sv^-1 Sx) beta.
    floor_error = measured_excess - eps_aug, and floor_error_rel = floor_error / Var(Y).
    floor_error_rel_untrained / suff_untrained: the same for the encoder at its initialisation
    (the control: any full-rank W has Suff = 0, so it meets the floor as well).
    """
    _check_common(seed, device)
    _check_testbed(dim, 0)
    _require(_is_real(aug_scale) and aug_scale > 0, "aug_scale", "must be a number > 0", aug_scale)
    _require(
        _is_real(noise_std) and noise_std >= 0, "noise_std", "must be a number >= 0", noise_std
    )
    _require(
        _is_int(probe_samples) and probe_samples > dim + 1, "probe_samples",
        "must be an int > dim + 1", probe_samples,
    )
    _check_training(batch, steps, lr, lr_schedule, temperature, init_std, 1)
    tb = G.make_testbed(
        numpy_rng(seed, "instance"), dim=dim, destroyed=0, aug_scale=float(aug_scale)
    )
    W, snaps = train_linear_infonce(
        tb, rank=dim, batch=batch, steps=steps, lr=float(lr), seed=seed,
        lr_schedule=lr_schedule, temperature=float(temperature), init_std=float(init_std),
        eval_steps=(0,), device=device,
    )
    rng = numpy_rng(seed, "probe-data")
    lx = np.linalg.cholesky(tb.sx)
    x = rng.standard_normal((probe_samples, dim)) @ lx.T
    x1 = x + math.sqrt(aug_scale) * rng.standard_normal((probe_samples, dim))
    y = x @ tb.beta + noise_std * rng.standard_normal(probe_samples)
    noise_var = float(noise_std) ** 2
    var_y = float(tb.beta @ tb.sx @ tb.beta) + noise_var
    eps = G.eps_aug(tb.beta, tb.sx, tb.sxi)

    def probe_excess(enc: np.ndarray) -> float:
        feats = np.hstack([x1 @ enc.T, np.ones((probe_samples, 1))])
        coef, *_ = np.linalg.lstsq(feats, y, rcond=None)
        risk = G.linear_risk(coef[:-1], enc, tb.beta, tb.sx, tb.sxi, noise_var, bias=coef[-1])
        return risk - noise_var

    measured = probe_excess(W)
    measured_0 = probe_excess(snaps[0])
    return {
        "suff_infonce": G.suff_kl(W, tb.sx, tb.sxi),
        "measured_excess": measured,
        "eps_aug": eps,
        "var_y": var_y,
        "floor_error": measured - eps,
        "floor_error_rel": (measured - eps) / var_y,
        "measured_excess_rel": measured / var_y,
        "floor_error_rel_untrained": (measured_0 - eps) / var_y,
        "suff_untrained": G.suff_kl(snaps[0], tb.sx, tb.sxi),
    }
