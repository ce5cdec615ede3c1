"""The shared linear dynamical system (brief section 3.1), in torch and batched over trials:

    x_1 ~ N(mu0, P0),   x_{t+1} = A x_t + w_t, w_t ~ N(0, W),   a_t = C x_t + r_t, r_t ~ N(0, R)

* ``kalman_filter``: filtered and one-step predicted moments, gains and the log-likelihood,
  with a per-(trial, step) mask (a masked step skips its measurement update, as for padding);
* ``rts_smoother``: Rauch-Tung-Striebel smoothed moments;
* ``k_step_predict``: E[a_{t+k} | a_{1:t}] = C A^k x_{t|t};
* ``joint_gaussian_reference``: an independent reference that stacks (x_{1:T}, a_{1:T}) into
  one Gaussian and conditions it directly (O(T^3) linear algebra, for tests and the
  candy_kalman_reference claim);
* ``steady_state_gain``: the stationary gain from scipy's discrete algebraic Riccati solver.

Everything works in the inputs' dtype; use float64 where identities are checked.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch


@dataclass
class FilterResult:
    mean: torch.Tensor  # (B, T, d) x_{t|t}
    cov: torch.Tensor  # (B, T, d, d) P_{t|t}
    pred_mean: torch.Tensor  # (B, T, d) x_{t|t-1}
    pred_cov: torch.Tensor  # (B, T, d, d) P_{t|t-1}
    gain: torch.Tensor  # (B, T, d, m) K_t (zero where masked)
    loglik: torch.Tensor  # (B,) sum_t log p(a_t | a_{1:t-1}) over unmasked steps


def _sym(p: torch.Tensor) -> torch.Tensor:
    return 0.5 * (p + p.transpose(-1, -2))


def kalman_filter(
    a: torch.Tensor,
    A: torch.Tensor,
    C: torch.Tensor,
    W: torch.Tensor,
    R: torch.Tensor,
    mu0: torch.Tensor,
    P0: torch.Tensor,
    mask: torch.Tensor | None = None,
) -> FilterResult:
    """Kalman filter over a (B, T, m) batch; ``mask`` (B, T) bool, True = observed."""
    if a.ndim != 3:
        raise ValueError(f"a must be (B, T, m), got {tuple(a.shape)}")
    b, t_len, m = a.shape
    d = A.shape[0]
    if C.shape != (m, d):
        raise ValueError(f"C must be ({m}, {d}), got {tuple(C.shape)}")
    eye = torch.eye(d, dtype=a.dtype, device=a.device)
    mean = mu0.expand(b, d)
    cov = P0.expand(b, d, d)
    means, covs, pmeans, pcovs, gains = [], [], [], [], []
    loglik = a.new_zeros(b)
    for t in range(t_len):
        if t > 0:
            mean = mean @ A.T
            cov = _sym(A @ cov @ A.T + W)
        pmeans.append(mean)
        pcovs.append(cov)
        s = _sym(C @ cov @ C.T + R)  # (B, m, m)
        chol = torch.linalg.cholesky(s)
        resid = a[:, t] - mean @ C.T  # (B, m)
        sol = torch.cholesky_solve(resid[..., None], chol)[..., 0]
        k = torch.cholesky_solve(C @ cov, chol).transpose(-1, -2)  # P C^T S^-1, (B, d, m)
        ll = -0.5 * (
            (resid * sol).sum(-1)
            + 2 * torch.log(torch.diagonal(chol, dim1=-2, dim2=-1)).sum(-1)
            + m * math.log(2 * math.pi)
        )
        new_mean = mean + (k @ resid[..., None])[..., 0]
        ikc = eye - k @ C
        new_cov = _sym(ikc @ cov @ ikc.transpose(-1, -2) + k @ R @ k.transpose(-1, -2))  # Joseph
        if mask is not None:
            obs = mask[:, t]
            new_mean = torch.where(obs[:, None], new_mean, mean)
            new_cov = torch.where(obs[:, None, None], new_cov, cov)
            k = torch.where(obs[:, None, None], k, torch.zeros_like(k))
            ll = torch.where(obs, ll, torch.zeros_like(ll))
        loglik = loglik + ll
        mean, cov = new_mean, new_cov
        means.append(mean)
        covs.append(cov)
        gains.append(k)
    return FilterResult(
        torch.stack(means, 1),
        torch.stack(covs, 1),
        torch.stack(pmeans, 1),
        torch.stack(pcovs, 1),
        torch.stack(gains, 1),
        loglik,
    )


def rts_smoother(res: FilterResult, A: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Rauch-Tung-Striebel smoother: (B, T, d) means x_{t|T} and (B, T, d, d) covariances."""
    t_len = res.mean.shape[1]
    sm, sc = [res.mean[:, -1]], [res.cov[:, -1]]
    for t in range(t_len - 2, -1, -1):
        p_pred = res.pred_cov[:, t + 1]
        g = torch.linalg.solve(p_pred, A @ res.cov[:, t]).transpose(-1, -2)  # P_t A^T P_pred^-1
        m = res.mean[:, t] + (g @ (sm[0] - res.pred_mean[:, t + 1])[..., None])[..., 0]
        c = _sym(res.cov[:, t] + g @ (sc[0] - p_pred) @ g.transpose(-1, -2))
        sm.insert(0, m)
        sc.insert(0, c)
    return torch.stack(sm, 1), torch.stack(sc, 1)


def k_step_predict(x_filt: torch.Tensor, A: torch.Tensor, C: torch.Tensor, k: int) -> torch.Tensor:
    """E[a_{t+k} | a_{1:t}] = C A^k x_{t|t} for every t: (B, T, d) -> (B, T, m)."""
    if k < 0:
        raise ValueError(f"k must be >= 0, got {k}")
    ak = torch.linalg.matrix_power(A, k)
    return x_filt @ (C @ ak).T


def joint_gaussian_reference(a: np.ndarray, A, C, W, R, mu0, P0, observed=None) -> dict:
    """Independent reference for one trial a (T, m): stack z = (x_1..x_T, a_1..a_T) as one
    Gaussian (mean and covariance from the model's moments, built by explicit sums), then
    condition on the observed a's. Returns filtered means x_{t|t} (conditioning on observed
    a_{1:t}), smoothed means x_{t|T}, k-step predictions E[a_{t+k} | a_{1:t}] for k = 1..3,
    and the marginal log-likelihood of the observed a's."""
    a = np.asarray(a, float)
    t_len, m = a.shape
    d = A.shape[0]
    obs = np.ones(t_len, bool) if observed is None else np.asarray(observed, bool)
    # moments of x: E x_t = A^(t-1) mu0; Cov(x_s, x_t) = A^(s-u) Var(x_u) (A^(t-u))^T, u=min
    pw = [np.linalg.matrix_power(A, i) for i in range(t_len + 4)]
    mx = np.stack([pw[t] @ mu0 for t in range(t_len)])
    var = [P0]
    for _ in range(1, t_len):
        var.append(A @ var[-1] @ A.T + W)
    cxx = np.zeros((t_len * d, t_len * d))
    for s in range(t_len):
        for t in range(t_len):
            u = min(s, t)
            cxx[s * d : (s + 1) * d, t * d : (t + 1) * d] = pw[s - u] @ var[u] @ pw[t - u].T
    cbig = np.kron(np.eye(t_len), C)
    caa = cbig @ cxx @ cbig.T + np.kron(np.eye(t_len), R)
    cxa = cxx @ cbig.T
    ma = (mx @ C.T).reshape(-1)
    mxf = mx.reshape(-1)

    def cond_x(rows):
        """E[x | a_rows]."""
        if len(rows) == 0:
            return mx.copy()
        sub = caa[np.ix_(rows, rows)]
        return (mxf + cxa[:, rows] @ np.linalg.solve(sub, a.reshape(-1)[rows] - ma[rows])).reshape(
            t_len, d
        )

    def rows_upto(t):
        return [s * m + j for s in range(t + 1) if obs[s] for j in range(m)]

    filt = np.stack([cond_x(rows_upto(t))[t] for t in range(t_len)])
    smooth = cond_x(rows_upto(t_len - 1))
    pred = {}
    for k in (1, 2, 3):
        pred[k] = np.stack([C @ pw[k] @ filt[t] for t in range(t_len)])
    # direct conditional expectation of a_{t+k} from the joint (not via the filter)
    direct = {}
    for k in (1, 2, 3):
        vals = []
        for t in range(t_len - k):
            rows = rows_upto(t)
            tgt = list(range((t + k) * m, (t + k + 1) * m))
            if rows:
                sub = caa[np.ix_(rows, rows)]
                vals.append(
                    ma[tgt]
                    + caa[np.ix_(tgt, rows)] @ np.linalg.solve(sub, a.reshape(-1)[rows] - ma[rows])
                )
            else:
                vals.append(ma[tgt])
        direct[k] = np.stack(vals)
    rows = rows_upto(t_len - 1)
    sub = caa[np.ix_(rows, rows)]
    resid = a.reshape(-1)[rows] - ma[rows]
    _, logdet = np.linalg.slogdet(sub)
    loglik = -0.5 * (
        resid @ np.linalg.solve(sub, resid) + logdet + len(rows) * math.log(2 * math.pi)
    )
    return {
        "filtered": filt,
        "smoothed": smooth,
        "predicted": pred,
        "direct": direct,
        "loglik": float(loglik),
    }


def steady_state_gain(A, C, W, R) -> tuple[np.ndarray, np.ndarray]:
    """(P_inf, K_inf): stationary one-step prediction covariance from scipy's DARE (filtering
    form, A^T and C^T) and the stationary Kalman gain P C^T (C P C^T + R)^-1."""
    from scipy.linalg import solve_discrete_are

    p = solve_discrete_are(np.asarray(A).T, np.asarray(C).T, np.asarray(W), np.asarray(R))
    k = p @ C.T @ np.linalg.inv(C @ p @ C.T + R)
    return p, k


def simulate_lds(
    rng: np.random.Generator, A, C, W, R, mu0, P0, t_len: int
) -> tuple[np.ndarray, np.ndarray]:
    """One trial (x (T, d), a (T, m)) from the model."""
    d, m = A.shape[0], C.shape[0]
    x = np.zeros((t_len, d))
    x[0] = rng.multivariate_normal(mu0, P0)
    for t in range(1, t_len):
        x[t] = A @ x[t - 1] + rng.multivariate_normal(np.zeros(d), W)
    a = x @ C.T + rng.multivariate_normal(np.zeros(m), R, size=t_len)
    return x, a
