"""Synthetic topic-classification testbed (brief section 3.5; ours -- the paper's model is not
available to us).

Generative model: K topics with word distributions phi_t ~ Dirichlet(beta0 * 1_V) over a
vocabulary of V words, a topic t ~ prior (uniform unless given), and a document of L words
drawn i.i.d. from phi_t. The augmentation is a random split of the document's words into
two halves X1, X2 of L/2 words each, which are conditionally independent given t.

Exact quantities (phi is known):

* the posterior pi(t|x) ∝ pi_t prod_w phi_t(w)^count_w, computed in log space from counts
  (the multinomial coefficient does not depend on t and cancels); it is exactly sufficient;
* PMI(x1, x2) = log sum_t pi(t|x1) pi(t|x2) / pi_t;
* Bayes accuracy of argmax_t pi(t|x) from the half document X1 and from the full document
  X1 + X2 (empirical, on a given test set, so it is paired with a probe's accuracy).

The well-specified contrastive model: encoder f(x) = softmax(A counts(x) + b) in the simplex
Delta_K, critic S(x1, x2) = log sum_t f_t(x1) f_t(x2) exp(gamma_t) (log-space, logsumexp).
With A = log phi, b = log pi, gamma = -log pi it equals the PMI exactly.

Sufficiency upper bound. For any channel q(t | f(x1)),
    Suff(f) = E KL(P(X2|X1) || P(X2|f(X1)))
           <= E KL(sum_t pi(t|X1) P(X2|t) || sum_t q(t|f(X1)) P(X2|t))     (inf over Q)
           <= E KL(pi(.|X1) || q(.|f(X1)))                                 (data processing
                                                                            through t -> X2)
so Suff_ub = E KL(pi(.|X1) || q(.|f(X1))) is an upper bound for *every* q. We take q as a
multinomial-logistic map on log f, softmax(C log f + d), fitted by L-BFGS to the soft true
posteriors on one sample and evaluated on an independent one: a fixed q evaluated on fresh
data is an unbiased estimate of a valid upper bound (fitting and evaluating on the same
sample would bias it low).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from scipy.optimize import minimize

__all__ = [
    "TopicModel",
    "make_topic_model",
    "TopicEncoder",
    "critic_logits",
    "contrastive_loss",
    "PosteriorProbe",
    "fit_posterior_probe",
    "mean_kl",
    "suff_upper_bound",
    "bayes_accuracy",
    "expected_bayes_accuracy",
]


@dataclass(frozen=True)
class TopicModel:
    """K topics over V words; ``phi`` (K, V) rows on the simplex, ``prior`` (K,)."""

    phi: np.ndarray
    prior: np.ndarray

    def __post_init__(self) -> None:
        phi = np.asarray(self.phi, dtype=np.float64)
        prior = np.asarray(self.prior, dtype=np.float64)
        if phi.ndim != 2 or phi.shape[0] < 2 or phi.shape[1] < 2:
            raise ValueError(f"phi must be (K >= 2, V >= 2), got shape {phi.shape}")
        if np.any(phi <= 0) or not np.allclose(phi.sum(axis=1), 1.0, atol=1e-10):
            raise ValueError("phi rows must be strictly positive and sum to 1")
        if prior.shape != (phi.shape[0],) or np.any(prior <= 0) or abs(prior.sum() - 1) > 1e-10:
            raise ValueError("prior must be (K,), strictly positive, summing to 1")
        object.__setattr__(self, "phi", phi)
        object.__setattr__(self, "prior", prior)

    @property
    def topics(self) -> int:
        return self.phi.shape[0]

    @property
    def vocab(self) -> int:
        return self.phi.shape[1]

    @property
    def log_phi(self) -> np.ndarray:
        return np.log(self.phi)

    @property
    def log_prior(self) -> np.ndarray:
        return np.log(self.prior)

    def sample_words(
        self, n: int, length: int, rng: np.random.Generator
    ) -> tuple[np.ndarray, np.ndarray]:
        """``n`` documents of ``length`` i.i.d. words: word ids (n, length) and topics (n,)."""
        t = rng.choice(self.topics, size=n, p=self.prior)
        cdf = np.cumsum(self.phi, axis=1)
        cdf[:, -1] = 1.0
        u = rng.random((n, length))
        words = np.empty((n, length), dtype=np.int64)
        for k in range(self.topics):  # K small: one vectorised searchsorted per topic
            rows = t == k
            if rows.any():
                words[rows] = np.searchsorted(cdf[k], u[rows], side="right")
        return np.minimum(words, self.vocab - 1), t

    def counts(self, words: np.ndarray) -> np.ndarray:
        """Bag-of-words counts (n, V) of word-id rows (n, m)."""
        n = words.shape[0]
        out = np.zeros((n, self.vocab), dtype=np.float64)
        np.add.at(out, (np.repeat(np.arange(n), words.shape[1]), words.ravel()), 1.0)
        return out

    def sample_split(
        self, n: int, length: int, view_len: int, rng: np.random.Generator
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """``n`` documents of ``length`` words, each split at random into two disjoint views of
        ``view_len`` words: counts c1, c2, the whole document's counts (all (n, V)) and topics.

        The augmentation: each document's words are permuted at random; view 1 is the first
        ``view_len`` words, view 2 the next ``view_len``; any remaining words are dropped from
        both views (but count in the whole document).
        """
        if not (view_len >= 1 and 2 * view_len <= length):
            raise ValueError(
                f"view length must be >= 1 and at most half the document length {length!r}, "
                f"got {view_len!r}"
            )
        words, t = self.sample_words(n, length, rng)
        words = rng.permuted(words, axis=1)
        c1 = self.counts(words[:, :view_len])
        c2 = self.counts(words[:, view_len: 2 * view_len])
        full = c1 + c2
        if 2 * view_len < length:
            full = full + self.counts(words[:, 2 * view_len:])
        return c1, c2, full, t

    def sample_views(
        self, n: int, length: int, rng: np.random.Generator
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Documents of even ``length`` split at random into two halves: c1, c2 (n, V), topics."""
        if length < 2 or length % 2:
            raise ValueError(f"document length must be an even int >= 2, got {length!r}")
        c1, c2, _, t = self.sample_split(n, length, length // 2, rng)
        return c1, c2, t

    def log_posterior(self, counts: np.ndarray) -> np.ndarray:
        """log pi(t | x) (n, K) from counts (n, V): log-softmax of log pi_t + counts . log phi_t."""
        logits = np.asarray(counts, dtype=np.float64) @ self.log_phi.T + self.log_prior
        return logits - _logsumexp(logits, axis=1)

    def pmi(self, c1: np.ndarray, c2: np.ndarray) -> np.ndarray:
        """PMI(x1_i, x2_j) = log sum_t pi(t|x1_i) pi(t|x2_j) / pi_t, (n1, n2)."""
        lp1 = self.log_posterior(c1)
        lp2 = self.log_posterior(c2)
        z = lp1[:, None, :] + lp2[None, :, :] - self.log_prior
        return _logsumexp(z, axis=2)[..., 0]


def _logsumexp(a: np.ndarray, axis: int) -> np.ndarray:
    m = np.max(a, axis=axis, keepdims=True)
    return m + np.log(np.sum(np.exp(a - m), axis=axis, keepdims=True))


def make_topic_model(
    rng: np.random.Generator, *, topics: int, vocab: int, dirichlet: float, prior=None
) -> TopicModel:
    """phi_t ~ Dirichlet(dirichlet * 1_V) i.i.d.; ``prior`` uniform unless given.

    Tiny Dirichlet draws can underflow to 0 in float64; they are floored at 1e-300 and the
    rows renormalised so that every log phi is finite.
    """
    phi = rng.dirichlet(np.full(vocab, float(dirichlet)), size=topics)
    phi = np.maximum(phi, 1e-300)
    phi /= phi.sum(axis=1, keepdims=True)
    pr = np.full(topics, 1.0 / topics) if prior is None else np.asarray(prior, dtype=np.float64)
    return TopicModel(phi=phi, prior=pr)


def bayes_accuracy(log_post: np.ndarray, labels: np.ndarray) -> float:
    """Accuracy of the Bayes rule argmax_t pi(t|x) on a labelled set."""
    return float(np.mean(np.argmax(log_post, axis=1) == np.asarray(labels)))


def expected_bayes_accuracy(log_post: np.ndarray) -> float:
    """E max_t pi(t|X) over the given documents: the Bayes accuracy without using labels
    (the same expectation as :func:`bayes_accuracy`, with lower variance)."""
    return float(np.mean(np.exp(np.max(log_post, axis=1))))


# ---- the contrastive model ----------------------------------------------------------------


class TopicEncoder(torch.nn.Module):
    """f(x) = softmax(A counts + b) in Delta_K, with the critic's log-weights gamma (K,)."""

    def __init__(self, vocab: int, topics: int, *, init_std: float = 0.1, generator=None,
                 dtype: torch.dtype = torch.float32):
        super().__init__()
        a0 = torch.randn(topics, vocab, generator=generator, dtype=torch.float64) * init_std
        self.A = torch.nn.Parameter(a0.to(dtype))
        self.b = torch.nn.Parameter(torch.zeros(topics, dtype=dtype))
        self.gamma = torch.nn.Parameter(torch.zeros(topics, dtype=dtype))

    @classmethod
    def from_model(cls, model: TopicModel, dtype: torch.dtype = torch.float64) -> TopicEncoder:
        """The exact posterior encoder: A = log phi, b = log pi, gamma = -log pi (S = PMI)."""
        enc = cls(model.vocab, model.topics, dtype=dtype)
        with torch.no_grad():
            enc.A.copy_(torch.as_tensor(model.log_phi, dtype=dtype))
            enc.b.copy_(torch.as_tensor(model.log_prior, dtype=dtype))
            enc.gamma.copy_(torch.as_tensor(-model.log_prior, dtype=dtype))
        return enc

    def log_f(self, counts: torch.Tensor) -> torch.Tensor:
        """log f(x) (n, K), a log-softmax (never log of a softmax)."""
        return F.log_softmax(counts @ self.A.T + self.b, dim=1)

    def forward(self, counts: torch.Tensor) -> torch.Tensor:
        return self.log_f(counts).exp()


def critic_logits(log_f1: torch.Tensor, log_f2: torch.Tensor, gamma: torch.Tensor) -> torch.Tensor:
    """S[i, j] = log sum_t f_t(x1_i) f_t(x2_j) e^{gamma_t}, by logsumexp over t: (n1, n2)."""
    return torch.logsumexp(log_f1[:, None, :] + log_f2[None, :, :] + gamma, dim=2)


def contrastive_loss(enc: TopicEncoder, c1: torch.Tensor, c2: torch.Tensor) -> torch.Tensor:
    """InfoNCE over the (N, N) critic matrix: anchor x1_i, positive x2_i, negatives x2_j (j != i),
    as ``F.cross_entropy`` over the logits (the form of methods/common/infonce.py)."""
    logits = critic_logits(enc.log_f(c1), enc.log_f(c2), enc.gamma)
    targets = torch.arange(c1.shape[0], device=c1.device)
    return F.cross_entropy(logits, targets)


# ---- sufficiency upper bound ---------------------------------------------------------------


@dataclass(frozen=True)
class PosteriorProbe:
    """q(t | f) = softmax(C log f + d), fitted to soft posteriors."""

    C: np.ndarray  # (K, M): M encoder outputs
    d: np.ndarray  # (K,)

    def log_q(self, log_f: np.ndarray) -> np.ndarray:
        z = np.asarray(log_f, dtype=np.float64) @ self.C.T + self.d
        return z - _logsumexp(z, axis=1)


def fit_posterior_probe(
    log_f: np.ndarray, log_post: np.ndarray, *, max_iter: int = 300
) -> PosteriorProbe:
    """Minimise the mean KL(pi(.|x) || softmax(C log f(x) + d)) over (C, d) by L-BFGS (float64,
    scipy, analytic gradient). The objective is convex in (C, d).

    Starts from q = f (C = I, d = 0), which is already optimal for the exact posterior encoder.
    """
    lf = np.asarray(log_f, dtype=np.float64)
    lp = np.asarray(log_post, dtype=np.float64)
    n, k = lp.shape
    m = lf.shape[1]
    p = np.exp(lp)
    neg_entropy = float(np.sum(p * lp) / n)

    def objective(theta: np.ndarray) -> tuple[float, np.ndarray]:
        C = theta[: k * m].reshape(k, m)
        d = theta[k * m:]
        z = lf @ C.T + d
        log_q = z - _logsumexp(z, axis=1)
        value = neg_entropy - float(np.sum(p * log_q) / n)
        r = (np.exp(log_q) - p) / n  # d value / d z
        return value, np.concatenate([(r.T @ lf).ravel(), r.sum(axis=0)])

    theta0 = np.concatenate([np.eye(k, m).ravel(), np.zeros(k)])
    res = minimize(
        objective, theta0, jac=True, method="L-BFGS-B",
        options={"maxiter": max_iter, "ftol": 1e-12, "gtol": 1e-8},
    )
    return PosteriorProbe(C=res.x[: k * m].reshape(k, m).copy(), d=res.x[k * m:].copy())


def mean_kl(log_p: np.ndarray, log_q: np.ndarray) -> float:
    """Mean over rows of KL(p || q) (nats); each row's KL is >= 0."""
    p = np.exp(log_p)
    return float(np.mean(np.sum(p * (log_p - log_q), axis=1)))


def suff_upper_bound(
    log_f_fit: np.ndarray,
    log_post_fit: np.ndarray,
    log_f_eval: np.ndarray,
    log_post_eval: np.ndarray,
) -> float:
    """Suff_ub = E KL(pi(.|X1) || q(.|f(X1))) with q fitted on one sample, evaluated on another."""
    probe = fit_posterior_probe(log_f_fit, log_post_fit)
    return mean_kl(log_post_eval, probe.log_q(log_f_eval))
