"""CANDY model, training and evaluation, plus the baselines (brief sections 3.1 and 3.3).

* ``CandyModel``: per-session MLP encoders (neurons -> d) and mirror decoders, LeakyReLU,
  Xavier-normal init, and one shared linear dynamics A (initialised to I).
  - ``kind="lite"`` (the brief's pilot model): A acts directly on the encoder output a_t (C = I,
    no filter); predictions a_{t+k} = A^k a_t.
  - ``kind="full"``: the shared LDS x_{t+1} = A x_t + w, a_t = C x_t + r with diagonal
    W = diag(exp w), R = diag(exp r), trained mu0 and diagonal P0; latents are Kalman-filtered
    x_{t|t} and predictions are C A^k x_{t|t} (methods/candy/lds.py).
* loss = mean over sessions of [the sum over k = 1..K of MSE(y_{t+k}, dec_s(pred_k)) + l2 * sum
  of the session's encoder/decoder weight norms] (official src/dynamics/candy.py:1698-1732; the
  k = 0 reconstruction of brief sections 3.1/3.3 is the option ``recon_k0``) + lambda_c
  RnC(encoder outputs pooled over sessions, labels = behaviour) [+ lambda_b MSE(b, M a)].
* ``evaluate``: within-session, cross-session (decoder fitted on session 0's training latents,
  tested on each other session's test trials) and "uni" (one decoder fitted on all sessions'
  training latents) R^2 with ordinary least squares; k-step neural prediction R^2; eig(A).
* baselines: ``pca_cca`` (per-session PCA, aligned to session 0 by CCA on behaviour-matched
  points) and ``CebraLike`` (per-session encoders, shared normalised embedding, InfoNCE with a
  behaviour-matched positive from a random session; methods.common.infonce.info_nce).
"""

from __future__ import annotations

import math

import numpy as np
import torch
from sklearn.linear_model import LinearRegression
from sklearn.metrics import r2_score
from torch import nn

from methods.common.infonce import info_nce

from .data import Session
from .lds import kalman_filter
from .rnc import rnc_loss_pool

KINDS = ("lite", "full")
LDM_INITS = ("official", "identity")
CLIP_MODES = ("per_module", "global")


def model_device(module: nn.Module) -> torch.device:
    return next(module.parameters()).device


def mlp(sizes: list[int]) -> nn.Sequential:
    layers: list[nn.Module] = []
    for i in range(len(sizes) - 1):
        lin = nn.Linear(sizes[i], sizes[i + 1])
        nn.init.xavier_normal_(lin.weight)
        nn.init.zeros_(lin.bias)
        layers.append(lin)
        if i < len(sizes) - 2:
            layers.append(nn.LeakyReLU())
    return nn.Sequential(*layers)


class CandyModel(nn.Module):
    def __init__(
        self,
        neurons: list[int],
        dim: int,
        hidden: list[int],
        kind: str = "lite",
        behaviour_dim: int = 2,
        ldm_init: str = "official",
    ):
        super().__init__()
        if kind not in KINDS:
            raise ValueError(f"parameter 'kind' must be one of {KINDS}, got {kind!r}")
        if ldm_init not in LDM_INITS:
            raise ValueError(f"parameter 'ldm_init' must be one of {LDM_INITS}, got {ldm_init!r}")
        self.kind, self.dim = kind, dim
        self.enc = nn.ModuleList([mlp([n, *hidden, dim]) for n in neurons])
        self.dec = nn.ModuleList([mlp([dim, *hidden[::-1], n]) for n in neurons])
        self.A = nn.Parameter(torch.eye(dim))
        self.mapper = nn.Linear(dim, behaviour_dim)
        if kind == "full":
            # official (src/dynamics/candy.py:223-227, utils_candy.py:34-42): C ~ N(0, 1),
            # W = R = 0.5 I; "identity" (our earlier default): C = I, W = R = 0.1 I
            official = ldm_init == "official"
            self.C = nn.Parameter(torch.randn(dim, dim) if official else torch.eye(dim))
            wr = math.log(0.5 if official else 0.1)
            self.log_w = nn.Parameter(torch.full((dim,), wr))
            self.log_r = nn.Parameter(torch.full((dim,), wr))
            self.mu0 = nn.Parameter(torch.zeros(dim))
            self.log_p0 = nn.Parameter(torch.zeros(dim))

    def add_session(self, neurons: int, hidden: list[int]) -> int:
        self.enc.append(mlp([neurons, *hidden, self.dim]))
        self.dec.append(mlp([self.dim, *hidden[::-1], neurons]))
        return len(self.enc) - 1

    def dynamics_parameters(self) -> list[nn.Parameter]:
        names = ["A"] + (["C", "log_w", "log_r", "mu0", "log_p0"] if self.kind == "full" else [])
        return [getattr(self, n) for n in names]

    def encode(self, s: int, y: torch.Tensor) -> torch.Tensor:
        return self.enc[s](y)

    def latents(self, a: torch.Tensor) -> torch.Tensor:
        """The dynamical latent used for decoding and prediction: a itself (lite) or x_{t|t}."""
        if self.kind == "lite":
            return a
        return kalman_filter(
            a,
            self.A,
            self.C,
            torch.diag(self.log_w.exp()),
            torch.diag(self.log_r.exp()),
            self.mu0,
            torch.diag(self.log_p0.exp()),
        ).mean

    def predict(self, x: torch.Tensor, k: int) -> torch.Tensor:
        """Predicted encoder output k steps ahead from latent x (B, T, d)."""
        ak = torch.linalg.matrix_power(self.A, k)
        if self.kind == "full":
            ak = self.C @ ak
        return x @ ak.T


def train_candy(
    model: CandyModel,
    sessions: list[Session],
    *,
    epochs: int,
    batch: int,
    lr: float,
    lambda_c: float,
    tau: float,
    pool: int,
    horizon: int,
    lambda_b: float,
    gen: torch.Generator,
    session_ids: list[int] | None = None,
    frozen_pool: tuple[torch.Tensor, torch.Tensor] | None = None,
    params: list[nn.Parameter] | None = None,
    clip: float = 0.1,
    clip_mode: str = "per_module",
    l2: float = 5e-3,
    lr_step: int = 15,
    lr_gamma: float = 0.9,
    recon_k0: bool = False,
) -> list[float]:
    """Adam on the CANDY loss; each step takes one batch of trials from every session.

    Defaults follow the official code (methods/candy/README.md, parity table): StepLR
    (``lr_gamma`` every ``lr_step`` epochs; lr_gamma = 1 switches it off); gradient-norm clip
    ``clip`` applied per module (each session's encoder + decoder, the dynamics, the mapper;
    ``clip_mode="global"``: one clip over everything); L2 penalty ``l2`` * sum of the
    Frobenius norms of the session's encoder/decoder weight matrices, averaged over sessions;
    prediction loss over k = 1..horizon (``recon_k0`` adds the k = 0 reconstruction).

    ``session_ids`` maps the given sessions onto model sessions (default 0..S-1).
    ``frozen_pool`` (latents, labels) of already-trained sessions joins the RnC pool as fixed
    anchors (new-session transfer). ``params`` restricts what is trained."""
    ids = session_ids if session_ids is not None else list(range(len(sessions)))
    dev = model_device(model)
    ys = [torch.tensor(s.y_train, dtype=torch.float32, device=dev) for s in sessions]
    bs = [torch.tensor(s.b_train, dtype=torch.float32, device=dev) for s in sessions]
    if clip_mode not in CLIP_MODES:
        raise ValueError(f"parameter 'clip_mode' must be one of {CLIP_MODES}, got {clip_mode!r}")
    opt = torch.optim.Adam(params if params is not None else model.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=lr_step, gamma=lr_gamma)
    trained = {id(p) for g in opt.param_groups for p in g["params"]}
    groups = [list(model.enc[i].parameters()) + list(model.dec[i].parameters()) for i in ids]
    groups += [model.dynamics_parameters(), list(model.mapper.parameters())]
    groups = [[p for p in g if id(p) in trained] for g in groups]
    n_min = min(y.shape[0] for y in ys)
    steps = max(1, math.ceil(n_min / batch))
    losses = []
    for _ in range(epochs):
        perms = [torch.randperm(y.shape[0], generator=gen) for y in ys]
        for j in range(steps):
            yb = [y[p[j * batch : (j + 1) * batch]] for y, p in zip(ys, perms)]
            bb = [b[p[j * batch : (j + 1) * batch]] for b, p in zip(bs, perms)]
            a_s = [model.encode(i, y) for i, y in zip(ids, yb)]
            if model.kind == "lite":
                xs = a_s
            else:
                sizes = [a.shape[0] for a in a_s]
                xs = list(torch.split(model.latents(torch.cat(a_s)), sizes))
            loss = _pred_loss_ids(model, ids, yb, xs, horizon, recon_k0)
            if l2 > 0:
                loss = loss + l2 * sum(
                    p.norm()
                    for i in ids
                    for m in (model.enc[i], model.dec[i])
                    for n, p in m.named_parameters()
                    if "weight" in n
                ) / len(ids)
            if lambda_b > 0:
                loss = loss + lambda_b * sum(
                    ((model.mapper(a) - b) ** 2).mean() for a, b in zip(a_s, bb)
                ) / len(a_s)
            if lambda_c > 0:
                feats = [a.reshape(-1, a.shape[-1]) for a in a_s]
                labs = [b.reshape(-1, b.shape[-1]) for b in bb]
                if frozen_pool is not None:
                    feats.append(frozen_pool[0])
                    labs.append(frozen_pool[1])
                loss = loss + lambda_c * rnc_loss_pool(feats, labs, tau, pool, gen)
            opt.zero_grad()
            loss.backward()
            if clip_mode == "global":
                torch.nn.utils.clip_grad_norm_([p for g in groups for p in g], clip)
            else:
                for g in groups:
                    if g:
                        torch.nn.utils.clip_grad_norm_(g, clip)
            opt.step()
            losses.append(float(loss.detach()))
        sched.step()
    return losses


def _pred_loss_ids(model, ids, ys, xs, horizon, recon_k0=False):
    """Mean over sessions of the summed k-step MSEs, k = 1..horizon (0..horizon with
    ``recon_k0``; horizon 0 always keeps the k = 0 term so that something is trained)."""
    total = 0.0
    for s, y, x in zip(ids, ys, xs):
        t_len = y.shape[1]
        first = 0 if (recon_k0 or horizon == 0) else 1
        for k in range(first, min(horizon, t_len - 1) + 1):
            yhat = model.dec[s](model.predict(x[:, : t_len - k], k))
            total = total + ((yhat - y[:, k:]) ** 2).mean()
    return total / len(ys)


@torch.no_grad()
def session_latents(
    model: CandyModel, sessions: list[Session], split: str, session_ids: list[int] | None = None
) -> list[np.ndarray]:
    """(trials, T, d) dynamical latents per session for 'train' or 'test' trials."""
    ids = session_ids if session_ids is not None else list(range(len(sessions)))
    out = []
    for i, s in zip(ids, sessions):
        y = torch.tensor(getattr(s, f"y_{split}"), dtype=torch.float32, device=model_device(model))
        out.append(model.latents(model.encode(i, y)).cpu().numpy().astype(float))
    return out


def _flat(x: np.ndarray) -> np.ndarray:
    return x.reshape(-1, x.shape[-1])


def r2(pred: np.ndarray, target: np.ndarray) -> float:
    """R^2 averaged uniformly over behaviour dimensions."""
    return float(r2_score(_flat(target), _flat(pred)))


def decoding_scores(
    lat_train: list[np.ndarray], lat_test: list[np.ndarray], sessions: list[Session]
) -> dict[str, float]:
    """within_r2_s{i}, cross_r2_s{i} (decoder of session 0 on session i >= 1), uni_r2_s{i}, and
    their means within_r2, cross_r2, uni_r2 (ordinary least squares with intercept)."""
    out: dict[str, float] = {}
    dec0 = LinearRegression().fit(_flat(lat_train[0]), _flat(sessions[0].b_train))
    uni = LinearRegression().fit(
        np.concatenate([_flat(x) for x in lat_train]),
        np.concatenate([_flat(s.b_train) for s in sessions]),
    )
    for i, s in enumerate(sessions):
        own = LinearRegression().fit(_flat(lat_train[i]), _flat(s.b_train))
        out[f"within_r2_s{i}"] = r2(own.predict(_flat(lat_test[i])), s.b_test)
        out[f"uni_r2_s{i}"] = r2(uni.predict(_flat(lat_test[i])), s.b_test)
        if i > 0:
            out[f"cross_r2_s{i}"] = r2(dec0.predict(_flat(lat_test[i])), s.b_test)
    n = len(sessions)
    out["within_r2"] = float(np.mean([out[f"within_r2_s{i}"] for i in range(n)]))
    out["uni_r2"] = float(np.mean([out[f"uni_r2_s{i}"] for i in range(n)]))
    out["cross_r2"] = float(np.mean([out[f"cross_r2_s{i}"] for i in range(1, n)]))
    return out


def neural_r2(pred: np.ndarray, target: np.ndarray) -> float:
    """1 - SSE / SST pooled over all neurons and bins (variance-weighted R^2)."""
    p, t = _flat(pred), _flat(target)
    return float(1 - ((p - t) ** 2).sum() / ((t - t.mean(0)) ** 2).sum())


@torch.no_grad()
def kstep_scores(model: CandyModel, sessions: list[Session], ks=(1, 2, 3, 4)) -> dict[str, float]:
    """kstep_r2_k{k}: neural R^2 of dec_s(prediction k steps ahead) against y_{t+k} on test
    trials, averaged over sessions; kstep_oracle_r2_k{k}: the same for the noise-free mean
    E[y_{t+k} | z_{t+k}] when the generator knows it (the noise ceiling)."""
    out: dict[str, float] = {}
    lat = session_latents(model, sessions, "test")
    for k in ks:
        vals, oracle = [], []
        for s, (sess, x) in enumerate(zip(sessions, lat)):
            t_len = x.shape[1]
            xt = torch.tensor(x[:, : t_len - k], dtype=torch.float32, device=model_device(model))
            yhat = model.dec[s](model.predict(xt, k)).cpu().numpy()
            vals.append(neural_r2(yhat, sess.y_test[:, k:]))
            if sess.mean_test is not None:
                oracle.append(neural_r2(sess.mean_test[:, k:], sess.y_test[:, k:]))
        out[f"kstep_r2_k{k}"] = float(np.mean(vals))
        if oracle:
            out[f"kstep_oracle_r2_k{k}"] = float(np.mean(oracle))
    return out


def eigen_scores(a_learned: np.ndarray, a_true: np.ndarray, prefix: str = "eig") -> dict:
    """Compare the learned dynamics' eigenvalues with the true system's (basis-free).

    For every true eigenvalue with positive imaginary part, the learned eigenvalue closest
    to it; when the learned A has no complex pair the closest real one is used, so the angle
    check fails instead of producing NaN (brief section 7). Returns ``{prefix}_mod`` / ``_arg``
    (of the match to the true pair with the largest modulus), their absolute errors, and list
    metrics for the complex-plane plot."""
    lt = np.linalg.eigvals(a_true)
    ll = np.linalg.eigvals(a_learned)
    true_up = sorted([v for v in lt if v.imag > 0], key=lambda v: -abs(v))
    v_true = true_up[0]
    cand = [v for v in ll if v.imag >= 0] or list(ll)
    v = min(cand, key=lambda c: abs(c - v_true))
    return {
        f"{prefix}_mod": float(abs(v)),
        f"{prefix}_arg": float(abs(np.angle(v))),
        f"{prefix}_mod_err": float(abs(abs(v) - abs(v_true))),
        f"{prefix}_arg_err": float(abs(abs(np.angle(v)) - abs(np.angle(v_true)))),
        f"{prefix}_true_mod": float(abs(v_true)),
        f"{prefix}_true_arg": float(np.angle(v_true)),
        f"{prefix}_learned_re": [float(x.real) for x in ll],
        f"{prefix}_learned_im": [float(x.imag) for x in ll],
        f"{prefix}_true_re": [float(x.real) for x in lt],
        f"{prefix}_true_im": [float(x.imag) for x in lt],
    }


# ----------------------------------------------------------------------------- baselines


def pca_fit(x: np.ndarray, dim: int) -> tuple[np.ndarray, np.ndarray]:
    """(mean, (n, dim) top principal directions) of rows of x."""
    mu = x.mean(0)
    _, _, vt = np.linalg.svd(x - mu, full_matrices=False)
    return mu, vt[:dim].T


def cca(x: np.ndarray, y: np.ndarray, dim: int, reg: float = 1e-6):
    """Canonical correlation analysis: returns (mx, Wx, my, Wy, corrs); u = (x - mx) Wx and
    v = (y - my) Wy have identity covariance and diagonal cross-covariance diag(corrs)."""
    mx, my = x.mean(0), y.mean(0)
    xc, yc = x - mx, y - my
    n = len(x)

    def inv_sqrt(c):
        w, v = np.linalg.eigh(c + reg * np.eye(len(c)))
        return v @ np.diag(w**-0.5) @ v.T

    ix, iy = inv_sqrt(xc.T @ xc / n), inv_sqrt(yc.T @ yc / n)
    u, s, vt = np.linalg.svd(ix @ (xc.T @ yc / n) @ iy)
    return mx, ix @ u[:, :dim], my, iy @ vt[:dim].T, s[:dim]


def behaviour_matches(b_ref: np.ndarray, b_other: np.ndarray) -> np.ndarray:
    """For each row of b_other, the index of the row of b_ref with the nearest behaviour."""
    from scipy.spatial import cKDTree

    return cKDTree(b_ref).query(b_other)[1]


def pca_cca_scores(sessions: list[Session], dim: int) -> dict[str, float]:
    """Per-session PCA to ``dim`` components; for each session i >= 1, CCA between its PCs and
    session 0's PCs on behaviour-matched training points (each session-i point paired with the
    session-0 point of nearest behaviour). Cross R^2: a decoder fitted on session 0's training
    points in its CCA coordinates, tested on session i's test points in theirs. Uni R^2: all
    sessions mapped into session 0's PC space through the CCA maps, one pooled decoder."""
    pcs = [pca_fit(_flat(s.y_train), dim) for s in sessions]
    proj = [
        [(_flat(getattr(s, f"y_{sp}")) - mu) @ v for sp in ("train", "test")]
        for s, (mu, v) in zip(sessions, pcs)
    ]
    b0 = _flat(sessions[0].b_train)
    out: dict[str, float] = {}
    lat_tr, lat_te = [proj[0][0]], [proj[0][1]]
    for i in range(1, len(sessions)):
        bi = _flat(sessions[i].b_train)
        match = behaviour_matches(b0, bi)
        mx, wx, my, wy, _ = cca(proj[0][0][match], proj[i][0], dim)
        u0_tr = (proj[0][0] - mx) @ wx
        ui_te = (proj[i][1] - my) @ wy
        dec = LinearRegression().fit(u0_tr, b0)
        out[f"cross_r2_s{i}"] = r2(dec.predict(ui_te), sessions[i].b_test)
        # map session i into session 0's PC space: v -> u -> x = u Wx^+ + mx
        back = np.linalg.pinv(wx)
        lat_tr.append(((proj[i][0] - my) @ wy) @ back + mx)
        lat_te.append(ui_te @ back + mx)
    out["cross_r2"] = float(np.mean([out[f"cross_r2_s{i}"] for i in range(1, len(sessions))]))
    uni = LinearRegression().fit(
        np.concatenate(lat_tr), np.concatenate([_flat(s.b_train) for s in sessions])
    )
    out["uni_r2"] = float(np.mean([r2(uni.predict(x), s.b_test) for x, s in zip(lat_te, sessions)]))
    own = [LinearRegression().fit(proj[i][0], _flat(s.b_train)) for i, s in enumerate(sessions)]
    out["within_r2"] = float(
        np.mean(
            [r2(m.predict(proj[i][1]), s.b_test) for i, (m, s) in enumerate(zip(own, sessions))]
        )
    )
    return out


def train_cebra_like(
    sessions: list[Session],
    *,
    dim: int,
    hidden: list[int],
    steps: int,
    batch: int,
    lr: float,
    tau: float,
    label_noise: float,
    gen: torch.Generator,
    rng: np.random.Generator,
    device: str = "cpu",
) -> nn.ModuleList:
    """CEBRA-style multi-session training (brief section 3.3): anchors from random sessions;
    the positive for an anchor with behaviour b is the point, in a random session, whose
    behaviour is nearest to b + N(0, (label_noise * sd_b)^2); cosine InfoNCE with in-batch
    negatives (the other anchors' positives, i.e. points spread over all sessions)."""
    from scipy.spatial import cKDTree

    encs = nn.ModuleList([mlp([s.neurons, *hidden, dim]) for s in sessions]).to(device)
    ys = [torch.tensor(_flat(s.y_train), dtype=torch.float32, device=device) for s in sessions]
    bs = [_flat(s.b_train) for s in sessions]
    trees = [cKDTree(b) for b in bs]
    sd = np.concatenate(bs).std(0)
    opt = torch.optim.Adam(encs.parameters(), lr=lr)
    n_s = len(sessions)
    for _ in range(steps):
        s_a = rng.integers(0, n_s, batch)
        s_p = rng.integers(0, n_s, batch)
        i_a = np.array([rng.integers(0, len(bs[s])) for s in s_a])
        target = np.stack([bs[s][i] for s, i in zip(s_a, i_a)])
        target = target + label_noise * sd * rng.standard_normal(target.shape)
        i_p = np.array([trees[s].query(t)[1] for s, t in zip(s_p, target)])
        za = torch.cat([encs[s](ys[s][i_a[s_a == s]]) for s in range(n_s)])
        zp = torch.cat([encs[s](ys[s][i_p[s_p == s]]) for s in range(n_s)])
        # restore anchor order on both sides so row j of za and zp are a pair
        order_a = np.concatenate([np.where(s_a == s)[0] for s in range(n_s)])
        order_p = np.concatenate([np.where(s_p == s)[0] for s in range(n_s)])
        za = za[np.argsort(order_a)]
        zp = zp[np.argsort(order_p)]
        loss = info_nce(za, zp, temperature=tau, similarity="cosine")
        opt.zero_grad()
        loss.backward()
        opt.step()
    return encs


@torch.no_grad()
def cebra_latents(encs: nn.ModuleList, sessions: list[Session], split: str) -> list[np.ndarray]:
    out = []
    for e, s in zip(encs, sessions):
        z = e(torch.tensor(getattr(s, f"y_{split}"), dtype=torch.float32, device=model_device(e)))
        out.append(torch.nn.functional.normalize(z, dim=-1).cpu().numpy().astype(float))
    return out
