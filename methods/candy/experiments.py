"""Registered experiments for CANDY (brief papers/candy.md).

* ``candy_align``: train CANDY (lite or full) on a generated dataset and score cross-session,
  uni and within-session decoding, k-step prediction and eig(A); optionally the baselines
  (no-contrastive ablation, per-session PCA + CCA, CEBRA-like InfoNCE) on the same data.
* ``candy_transfer``: frozen shared dynamics on a new session vs a model trained from scratch.
* ``candy_rnc_reference``, ``candy_kalman_reference``, ``candy_spiral_generator``: exact
  reference values and identities.
* ``candy_real_data``: the same pipeline on the user's own recordings
  ($REPRO_DATA_DIR/candy/<dataset>/*.npz); Unavailable when they are absent.

Every random consumer has its own named child stream of the unit's seed.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from methods.common.params import is_int as _is_int
from methods.common.params import is_real as _is_real
from methods.common.params import require as _require
from methods.common.seeding import numpy_rng, torch_generator
from methods.common.threads import single_cpu_thread
from repro.registry import Unavailable, data_dir, experiment

from . import model as M
from .data import (
    LDS_READOUTS,
    SPIRAL_NOISE,
    SessionFileError,
    lds_poisson_sessions,
    load_sessions,
    proper_rotation,
    spiral_A,
    spiral_g,
    spiral_latents,
    spiral_rotations,
    spiral_sessions,
)
from .lds import (
    joint_gaussian_reference,
    k_step_predict,
    kalman_filter,
    rts_smoother,
    simulate_lds,
    steady_state_gain,
)
from .rnc import rnc_loss

DATASETS = ("spiral", "spiral_random_z0", "lds_poisson")


def _check_device(device: str) -> None:
    _require(device in ("cpu", "cuda"), "device", "must be 'cpu' or 'cuda'", device)
    if device == "cuda" and not torch.cuda.is_available():
        raise Unavailable("device 'cuda' requested but torch sees no CUDA GPU; run with device=cpu")


def _make_data(data: str, seed: int, sessions: int, lds_latent_dim: int, lds_readout="linear"):
    rng = numpy_rng(seed, "data")
    if data == "spiral":
        return spiral_sessions(rng, sessions=sessions), spiral_A()
    if data == "spiral_random_z0":
        return spiral_sessions(rng, sessions=sessions, random_z0=True), spiral_A()
    ss = lds_poisson_sessions(
        rng, sessions=sessions, latent_dim=lds_latent_dim, readout=lds_readout
    )
    return ss, ss[0].info["A"]


def _check_official(clip, clip_mode, l2, lr_step, lr_gamma, recon_k0, ldm_init) -> dict:
    """Validate the training options of the parity table (methods/candy/README.md)."""
    _require(_is_real(clip) and clip > 0, "clip", "must be a number > 0", clip)
    _require(clip_mode in M.CLIP_MODES, "clip_mode", f"must be one of {M.CLIP_MODES}", clip_mode)
    _require(_is_real(l2) and l2 >= 0, "l2", "must be a number >= 0", l2)
    _require(_is_int(lr_step) and lr_step >= 1, "lr_step", "must be an int >= 1", lr_step)
    _require(_is_real(lr_gamma) and 0 < lr_gamma <= 1, "lr_gamma", "must be in (0, 1]", lr_gamma)
    _require(isinstance(recon_k0, bool), "recon_k0", "must be true or false", recon_k0)
    _require(ldm_init in M.LDM_INITS, "ldm_init", f"must be one of {M.LDM_INITS}", ldm_init)
    return dict(
        clip=clip,
        clip_mode=clip_mode,
        l2=l2,
        lr_step=lr_step,
        lr_gamma=lr_gamma,
        recon_k0=recon_k0,
        ldm_init=ldm_init,
    )


def _check_training(kind, lambda_c, tau, epochs, batch, lr, pool, horizon, dim, hidden):
    _require(kind in M.KINDS, "kind", f"must be one of {M.KINDS}", kind)
    _require(_is_real(lambda_c) and lambda_c >= 0, "lambda_c", "must be a number >= 0", lambda_c)
    _require(_is_real(tau) and tau > 0, "tau", "must be a number > 0", tau)
    _require(_is_int(epochs) and epochs >= 1, "epochs", "must be an int >= 1", epochs)
    _require(_is_int(batch) and batch >= 1, "batch", "must be an int >= 1", batch)
    _require(_is_real(lr) and lr > 0, "lr", "must be a number > 0", lr)
    _require(_is_int(pool) and pool >= 2, "pool", "must be an int >= 2", pool)
    _require(_is_int(horizon) and horizon >= 0, "horizon", "must be an int >= 0", horizon)
    _require(_is_int(dim) and dim >= 2, "dim", "must be an int >= 2", dim)
    _require(_is_int(hidden) and hidden >= 1, "hidden", "must be an int >= 1", hidden)


def _trajectories(lat: list[np.ndarray], prefix: str) -> dict:
    """First test trial of every session, dims 0 and 1, concatenated (for scatter plots), and
    the session index of every point (for the package's own overlay figure)."""
    return {
        f"{prefix}_x": [float(v) for x in lat for v in x[0, :, 0]],
        f"{prefix}_y": [float(v) for x in lat for v in x[0, :, 1]],
        f"{prefix}_session": [float(i) for i, x in enumerate(lat) for _ in x[0, :, 0]],
    }


def _pca_latents(sessions, dim):
    out = []
    for s in sessions:
        mu, v = M.pca_fit(M._flat(s.y_train), dim)
        out.append((s.y_test - mu) @ v)
    return out


def fit_candy(
    sessions,
    *,
    kind,
    lambda_c,
    tau,
    epochs,
    batch,
    lr,
    pool,
    horizon,
    lambda_b,
    dim,
    hidden,
    seed,
    tag="candy",
    device="cpu",
    ldm_init="official",
    **opts,
):
    """Build and train a CandyModel; ``opts`` (clip, clip_mode, l2, lr_step, lr_gamma,
    recon_k0) go to M.train_candy (official defaults there)."""
    torch.manual_seed(0)  # nothing should use the global stream; belt and braces
    gen = torch_generator(seed, f"{tag}_init")
    with torch.random.fork_rng():
        torch.manual_seed(int(torch.randint(0, 2**31 - 1, (1,), generator=gen)))
        model = M.CandyModel(
            [s.neurons for s in sessions],
            dim,
            [hidden, hidden],
            kind,
            sessions[0].b_train.shape[-1],
            ldm_init,
        ).to(device)
    losses = M.train_candy(
        model,
        sessions,
        epochs=epochs,
        batch=batch,
        lr=lr,
        lambda_c=lambda_c,
        tau=tau,
        pool=pool,
        horizon=horizon,
        lambda_b=lambda_b,
        gen=torch_generator(seed, f"{tag}_train"),
        **opts,
    )
    return model, losses


def score_candy(model, sessions, a_true, prefix=""):
    lat_tr = M.session_latents(model, sessions, "train")
    lat_te = M.session_latents(model, sessions, "test")
    out = M.decoding_scores(lat_tr, lat_te, sessions)
    out.update(M.kstep_scores(model, sessions))
    if a_true is not None:
        out.update(M.eigen_scores(model.A.detach().cpu().numpy().astype(float), a_true))
    return {f"{prefix}{k}": v for k, v in out.items()}, lat_te


ALIGNED_R2 = 0.85


def _training_evidence(ss, losses, lambda_c, train) -> dict:
    """Preconditions' numbers: first / final training loss (mean of the first / last 10 steps)
    and the untrained copy's (same seed, same init, zero epochs) within-session and k = 1
    prediction R^2, so a claim can require that training happened."""
    untrained, _ = fit_candy(ss, lambda_c=lambda_c, **{**train, "epochs": 0})
    sc, _ = score_candy(untrained, ss, None)
    return {
        "train_loss_first": float(np.mean(losses[:10])),
        "train_loss_final": float(np.mean(losses[-10:])),
        "train_loss_finite": float(np.all(np.isfinite(losses))),
        "untrained_within_r2": sc["within_r2"],
        "untrained_kstep_r2_k1": sc["kstep_r2_k1"],
    }


def _alignment_summaries(out: dict, n: int) -> dict:
    """Bounded cross-session statistics (an unaligned decoder's R^2 is unbounded below, so a
    mean over seeds is dominated by the worst seed): cross_r2_clip0 (mean over sessions >= 1 of
    max(R^2, 0)), cross_r2_median (median over sessions >= 1), aligned (1 when every session
    >= 1 reaches R^2 >= ALIGNED_R2, else 0: its mean over seeds is the success fraction)."""
    cr = np.array([out[f"cross_r2_s{i}"] for i in range(1, n)])
    return {
        "cross_r2_clip0": float(np.clip(cr, 0, None).mean()),
        "cross_r2_median": float(np.median(cr)),
        "cross_r2_min": float(cr.min()),
        "aligned": float(cr.min() >= ALIGNED_R2),
    }


@experiment("candy_align")
def candy_align(
    *,
    seed: int,
    device: str = "cpu",
    data: str = "spiral",
    sessions: int = 3,
    lds_latent_dim: int = 2,
    lds_readout: str = "linear",
    kind: str = "lite",
    lambda_c: float = 1.0,
    tau: float = 0.1,
    epochs: int = 500,
    batch: int = 32,
    lr: float = 2e-3,
    pool: int = 2048,
    horizon: int = 4,
    lambda_b: float = 0.0,
    dim: int = 2,
    hidden: int = 32,
    clip: float = 0.1,
    clip_mode: str = "per_module",
    l2: float = 5e-3,
    lr_step: int = 15,
    lr_gamma: float = 0.9,
    recon_k0: bool = False,
    ldm_init: str = "official",
    baselines: bool = False,
    cebra_steps: int = 1500,
    cebra_batch: int = 256,
    cebra_dim: int = 3,
    cebra_tau: float = 0.1,
) -> dict:
    """CANDY on generated data (module docstring). Metrics: cross_r2 (mean over sessions >= 1
    of a session-0 decoder on their test trials), cross_r2_s{i}, uni_r2, within_r2 (+ per
    session), kstep_r2_k{1..4} (+ kstep_oracle_r2_k* on the spiral), eig_mod / eig_arg and their
    errors against the true A, train_loss_final; with ``baselines`` the same decoding metrics
    prefixed nocon_ (lambda_c = 0, same seed), pcacca_ and cebra_. List metrics for plots:
    traj_before_* (per-session PCA of each session's test data), traj_after_* (CANDY
    latents), traj_nocon_* (the lambda_c = 0 model's latents, with ``baselines``) and
    eig_{true,learned}_{re,im}."""
    _check_device(device)
    _require(data in DATASETS, "data", f"must be one of {DATASETS}", data)
    _require(_is_int(sessions) and sessions >= 2, "sessions", "must be an int >= 2", sessions)
    _require(
        lds_readout in LDS_READOUTS, "lds_readout", f"must be one of {LDS_READOUTS}", lds_readout
    )
    _check_training(kind, lambda_c, tau, epochs, batch, lr, pool, horizon, dim, hidden)
    _require(_is_real(lambda_b) and lambda_b >= 0, "lambda_b", "must be a number >= 0", lambda_b)
    official = _check_official(clip, clip_mode, l2, lr_step, lr_gamma, recon_k0, ldm_init)
    train = dict(
        **official,
        kind=kind,
        tau=tau,
        epochs=epochs,
        batch=batch,
        lr=lr,
        pool=pool,
        horizon=horizon,
        lambda_b=lambda_b,
        dim=dim,
        hidden=hidden,
        seed=seed,
        device=device,
    )
    with single_cpu_thread(device):
        ss, a_true = _make_data(data, seed, sessions, lds_latent_dim, lds_readout)
        model, losses = fit_candy(ss, lambda_c=lambda_c, **train)
        out, lat_te = score_candy(model, ss, a_true)
        out.update(_training_evidence(ss, losses, lambda_c, train))
        out.update(_alignment_summaries(out, len(ss)))
        out.update(_trajectories(lat_te, "traj_after"))
        out.update(_trajectories(_pca_latents(ss, 2), "traj_before"))
        if baselines:
            nocon, _ = fit_candy(ss, lambda_c=0.0, **train)
            sc, lat_nocon = score_candy(nocon, ss, a_true, "nocon_")
            out.update(_trajectories(lat_nocon, "traj_nocon"))
            out.update({k: v for k, v in sc.items() if not isinstance(v, list)})
            out.update({f"pcacca_{k}": v for k, v in M.pca_cca_scores(ss, dim).items()})
            encs = M.train_cebra_like(
                ss,
                dim=cebra_dim,
                hidden=[hidden, hidden],
                steps=cebra_steps,
                batch=cebra_batch,
                lr=lr,
                tau=cebra_tau,
                label_noise=0.1,
                gen=torch_generator(seed, "cebra"),
                rng=numpy_rng(seed, "cebra"),
                device=device,
            )
            sc = M.decoding_scores(
                M.cebra_latents(encs, ss, "train"), M.cebra_latents(encs, ss, "test"), ss
            )
            out.update({f"cebra_{k}": v for k, v in sc.items()})
    return out


@experiment("candy_transfer")
def candy_transfer(
    *,
    seed: int,
    device: str = "cpu",
    data: str = "spiral_random_z0",
    kind: str = "lite",
    lambda_c: float = 1.0,
    tau: float = 0.1,
    epochs: int = 500,
    new_epochs: int = 500,
    batch: int = 32,
    lr: float = 2e-3,
    pool: int = 2048,
    horizon: int = 4,
    dim: int = 2,
    hidden: int = 32,
    new_trials: int = 10,
    clip: float = 0.1,
    clip_mode: str = "per_module",
    l2: float = 5e-3,
    lr_step: int = 15,
    lr_gamma: float = 0.9,
    recon_k0: bool = False,
    ldm_init: str = "official",
) -> dict:
    """Brief's candy_new_session_transfer: train on spiral sessions 0-1 plus 2 extra random
    rotations; a new session (a fresh random rotation) has ``new_trials`` training trials.
    (a) frozen: the trained model's shared dynamics (A, and for the full model C, W, R, mu0,
    P0) are frozen, and only a new encoder/decoder pair is fitted, with the old sessions'
    training latents (fixed) in the RnC pool; (b) scratch: a new one-session model on the same
    trials. Both are scored by a decoder fitted on the new session's training trials and tested
    on its test trials: r2_frozen, r2_scratch, r2_gain = r2_frozen - r2_scratch; r2_untrained
    (the new encoder before training) and new_loss_first / new_loss_final (mean of the first /
    last 10 steps of the frozen-dynamics fit) show that training happened."""
    _check_device(device)
    _require(data in ("spiral", "spiral_random_z0"), "data", "must be a spiral dataset", data)
    _check_training(kind, lambda_c, tau, epochs, batch, lr, pool, horizon, dim, hidden)
    _require(
        _is_int(new_trials) and new_trials >= 2, "new_trials", "must be an int >= 2", new_trials
    )
    _require(
        _is_int(new_epochs) and new_epochs >= 1, "new_epochs", "must be an int >= 1", new_epochs
    )
    rz = data == "spiral_random_z0"
    official = _check_official(clip, clip_mode, l2, lr_step, lr_gamma, recon_k0, ldm_init)
    opts = {k: v for k, v in official.items() if k != "ldm_init"}
    train = dict(
        **official,
        kind=kind,
        tau=tau,
        batch=batch,
        lr=lr,
        pool=pool,
        horizon=horizon,
        lambda_b=0.0,
        dim=dim,
        hidden=hidden,
        seed=seed,
        device=device,
    )
    with single_cpu_thread(device):
        rng = numpy_rng(seed, "data")
        qs = spiral_rotations()[:2] + [proper_rotation(3, rng) for _ in range(3)]
        ss = spiral_sessions(rng, sessions=5, random_z0=rz, rotations=qs)
        old, new = ss[:4], ss[4]
        new.y_train, new.b_train = new.y_train[:new_trials], new.b_train[:new_trials]
        model, _ = fit_candy(old, lambda_c=lambda_c, epochs=epochs, **train)
        with torch.no_grad():  # the old sessions' encoder outputs: fixed RnC anchors
            anchor = torch.cat(
                [
                    model.encode(
                        i, torch.tensor(M._flat(s.y_train), dtype=torch.float32, device=device)
                    )
                    for i, s in enumerate(old)
                ]
            )
            labels = torch.tensor(
                np.concatenate([M._flat(s.b_train) for s in old]),
                dtype=torch.float32,
                device=device,
            )
        for p in model.parameters():
            p.requires_grad_(False)
        gen = torch_generator(seed, "new_init")
        with torch.random.fork_rng():
            torch.manual_seed(int(torch.randint(0, 2**31 - 1, (1,), generator=gen)))
            sid = model.add_session(new.neurons, [hidden, hidden])
            model.to(device)
        params = list(model.enc[sid].parameters()) + list(model.dec[sid].parameters())
        lat_u = [M.session_latents(model, [new], sp, [sid])[0] for sp in ("train", "test")]
        new_losses = M.train_candy(
            model,
            [new],
            epochs=new_epochs,
            batch=batch,
            lr=lr,
            lambda_c=lambda_c,
            tau=tau,
            pool=pool,
            horizon=horizon,
            lambda_b=0.0,
            gen=torch_generator(seed, "new_train"),
            session_ids=[sid],
            frozen_pool=(anchor, labels),
            params=params,
            **opts,
        )
        lat_f = [M.session_latents(model, [new], sp, [sid])[0] for sp in ("train", "test")]
        scratch, _ = fit_candy([new], lambda_c=lambda_c, epochs=new_epochs, tag="scratch", **train)
        lat_s = [M.session_latents(scratch, [new], sp)[0] for sp in ("train", "test")]
    out = {
        "new_loss_first": float(np.mean(new_losses[:10])),
        "new_loss_final": float(np.mean(new_losses[-10:])),
    }
    for name, (tr, te) in (("frozen", lat_f), ("scratch", lat_s), ("untrained", lat_u)):
        dec = M.LinearRegression().fit(M._flat(tr), M._flat(new.b_train))
        out[f"r2_{name}"] = M.r2(dec.predict(M._flat(te)), new.b_test)
    out["r2_gain"] = out["r2_frozen"] - out["r2_scratch"]
    return out


# ----------------------------------------------------------------------------- references

RNC_F = [[0, 0], [1, 0], [1, 1], [3, 2]]
RNC_L1 = [0, 1, 3, 6]
RNC_L2 = [[0, 0], [1, 0], [0, 2], [3, 3]]


@experiment("candy_rnc_reference")
def candy_rnc_reference(*, seed: int, device: str = "cpu", n: int = 12) -> dict:
    """RnC on the brief's tiny cases (rnc_tau1, rnc_tau05, rnc_tau01, rnc_2d_tau05), the
    equal-label / identical-feature case against log(n - 1) (rnc_degenerate_err), and the
    largest change under a random rotation + translation of the features and under a
    permutation of the points (rnc_rotation_err, rnc_permutation_err), all in float64."""
    _check_device(device)
    _require(_is_int(n) and n >= 3, "n", "must be an int >= 3", n)
    dt = torch.float64
    f = torch.tensor(RNC_F, dtype=dt)
    out = {
        "rnc_tau1": float(rnc_loss(f, torch.tensor(RNC_L1, dtype=dt), 1.0)),
        "rnc_tau05": float(rnc_loss(f, torch.tensor(RNC_L1, dtype=dt), 0.5)),
        "rnc_tau01": float(rnc_loss(f, torch.tensor(RNC_L1, dtype=dt), 0.1)),
        "rnc_2d_tau05": float(rnc_loss(f, torch.tensor(RNC_L2, dtype=dt), 0.5)),
    }
    same = torch.ones(n, 3, dtype=dt)
    out["rnc_degenerate_err"] = abs(
        float(rnc_loss(same, torch.zeros(n, dtype=dt), 0.3)) - math.log(n - 1)
    )
    rng = numpy_rng(seed, "rnc")
    x = torch.tensor(rng.standard_normal((n, 3)), dtype=dt)
    lab = torch.tensor(rng.standard_normal((n, 2)), dtype=dt)
    q = torch.tensor(proper_rotation(3, rng), dtype=dt)
    base = rnc_loss(x, lab, 0.2)
    out["rnc_rotation_err"] = abs(float(rnc_loss(x @ q.T + 5.0, lab, 0.2) - base))
    perm = torch.tensor(rng.permutation(n))
    out["rnc_permutation_err"] = abs(float(rnc_loss(x[perm], lab[perm], 0.2) - base))
    return out


def _random_lds(rng, d=2, m=3):
    th = rng.uniform(0.1, 1.0)
    a = rng.uniform(0.7, 0.95) * np.array(
        [[math.cos(th), -math.sin(th)], [math.sin(th), math.cos(th)]]
    )
    c = rng.standard_normal((m, d))
    lw = rng.standard_normal((d, d))
    w = 0.1 * (lw @ lw.T) + 0.05 * np.eye(d)
    lr_ = rng.standard_normal((m, m))
    r = 0.1 * (lr_ @ lr_.T) + 0.1 * np.eye(m)
    return a, c, w, r, rng.standard_normal(d), np.eye(d) * rng.uniform(0.5, 2.0)


@experiment("candy_kalman_reference")
def candy_kalman_reference(*, seed: int, device: str = "cpu", t_len: int = 20) -> dict:
    """Brief's candy_kalman_reference on a random stable 2-D LDS with 3-D observations, float64:
    largest absolute differences between our filter / RTS smoother / k-step predictions /
    log-likelihood and direct Gaussian conditioning of the stacked joint (with three masked
    steps), plus the filter's gain after 400 steps vs scipy's DARE steady-state gain."""
    _check_device(device)
    _require(_is_int(t_len) and t_len >= 5, "t_len", "must be an int >= 5", t_len)
    rng = numpy_rng(seed, "lds")
    a, c, w, r, mu0, p0 = _random_lds(rng)
    _, obs_a = simulate_lds(rng, a, c, w, r, mu0, p0, t_len)
    observed = np.ones(t_len, bool)
    observed[rng.choice(np.arange(1, t_len - 1), 3, replace=False)] = False
    ref = joint_gaussian_reference(obs_a, a, c, w, r, mu0, p0, observed)
    T = lambda v: torch.tensor(v, dtype=torch.float64)  # noqa: E731
    res = kalman_filter(
        T(obs_a)[None], T(a), T(c), T(w), T(r), T(mu0), T(p0), torch.tensor(observed)[None]
    )
    sm, _ = rts_smoother(res, T(a))
    out = {
        "kf_filtered_err": float(np.abs(res.mean[0].numpy() - ref["filtered"]).max()),
        "kf_smoothed_err": float(np.abs(sm[0].numpy() - ref["smoothed"]).max()),
        "kf_loglik_err": abs(float(res.loglik[0]) - ref["loglik"]),
    }
    out["kf_kstep_err"] = max(
        float(
            np.abs(
                k_step_predict(res.mean, T(a), T(c), k)[0, : t_len - k].numpy() - ref["direct"][k]
            ).max()
        )
        for k in (1, 2, 3)
    )
    # a masked step equals skipping its update: filter the observed steps only, with the
    # transition to the next observed step composed by hand, on a trial whose last step is masked
    p_inf, k_inf = steady_state_gain(a, c, w, r)
    long = kalman_filter(T(np.zeros((1, 400, 3))), T(a), T(c), T(w), T(r), T(mu0), T(p0))
    out["kf_steady_gain_err"] = float(np.abs(long.gain[0, -1].numpy() - k_inf).max())
    out["kf_steady_cov_err"] = float(np.abs(long.pred_cov[0, -1].numpy() - p_inf).max())
    return out


@experiment("candy_spiral_generator")
def candy_spiral_generator(*, seed: int, device: str = "cpu", trials: int = 200) -> dict:
    """Properties of the spiral generator at the paper's settings (brief section 3.2)."""
    _check_device(device)
    _require(_is_int(trials) and trials >= 2, "trials", "must be an int >= 2", trials)
    rng = numpy_rng(seed, "spiral")
    ss = spiral_sessions(rng, train=trials, valid=0, test=1)
    a = spiral_A()
    z = ss[0].z_train
    step_err = float(np.abs(z[:, 1:] - z[:, :-1] @ a.T).max())
    z0_err = float(np.abs(z[:, 0] - np.array([0.5, 0.5])).max())
    ev = np.linalg.eigvals(a)
    up = ev[np.argmax(ev.imag)]
    qs = [s.info["Q"] for s in ss]
    orth = max(float(np.abs(q.T @ q - np.eye(3)).max()) for q in qs)
    det = max(abs(float(np.linalg.det(q)) - 1) for q in qs)
    resid = np.concatenate([(s.y_train - spiral_g(s.z_train) @ s.info["Q"].T).ravel() for s in ss])
    zr = spiral_latents(numpy_rng(seed, "variant"), trials, 50, True, 0.0)
    r0 = np.linalg.norm(zr[:, 0], axis=1)
    return {
        "spiral_step_err": step_err,
        "spiral_z0_err": z0_err,
        "spiral_eig_mod": float(abs(up)),
        "spiral_eig_arg": float(np.angle(up)),
        "spiral_q_orth_err": orth,
        "spiral_q_det_err": det,
        "spiral_noise_std": float(resid.std()),
        "spiral_noise_target": SPIRAL_NOISE,
        "variant_r0_min": float(r0.min()),
        "variant_r0_max": float(r0.max()),
        "variant_r0_outside": float(np.mean((r0 < 0.3) | (r0 > 0.7))),
    }


@experiment("candy_real_data")
def candy_real_data(
    *,
    seed: int,
    device: str = "cpu",
    dataset: str = "mouse_striatum",
    trial_len: int = 50,
    kind: str = "lite",
    lambda_c: float = 1.0,
    tau: float = 0.1,
    epochs: int = 500,
    dim: int = 2,
) -> dict:
    """CANDY on the user's own recordings: $REPRO_DATA_DIR/candy/<dataset>/ holding one .npz per
    session (``spikes`` or ``rates`` as neurons x time, ``behaviour`` as dims x time; see
    methods/candy/data.py). Raises Unavailable when the directory is absent."""
    _check_device(device)
    root = data_dir() / "candy" / dataset
    if not root.exists():
        raise Unavailable(
            f"no recordings at {root}. The paper's data are not reachable offline: mouse dorsal "
            "striatum two-photon wheel-turning (8 sessions, Schnitzer lab, Google Drive link in "
            "github.com/schnitzer-lab/CANDY-public) and monkey centre-out reaching (Perich et al., "
            "DANDI 000688). Export each session as <name>.npz with arrays 'spikes' or 'rates' "
            "(neurons x time) and 'behaviour' (dims x time) into that directory."
        )
    try:
        ss = load_sessions(root, trial_len=trial_len)
    except SessionFileError as exc:
        raise ValueError(str(exc)) from exc
    with single_cpu_thread(device):
        model, _ = fit_candy(
            ss,
            kind=kind,
            lambda_c=lambda_c,
            tau=tau,
            epochs=epochs,
            batch=32,
            lr=2e-3,
            pool=2048,
            horizon=4,
            lambda_b=0.0,
            dim=dim,
            hidden=32,
            seed=seed,
        )
        out, _ = score_candy(model, ss, None)
    return {k: v for k, v in out.items() if not isinstance(v, list)}
