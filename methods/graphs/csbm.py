"""Contextual stochastic block model (CSBM): a labelled graph with controlled average
degree and edge homophily, and Gaussian or bag-of-words node features.

Edges: ``round(n * avg_degree / 2)`` distinct undirected edges; each picks a uniform
endpoint i and, with probability ``homophily``, a partner uniform in i's class, otherwise
uniform among the other classes. The expected edge homophily is therefore ``homophily``
(duplicates are redrawn, which changes it only at O(m / n^2)).

Features:
* ``gaussian``: x_i = mu_{y_i} + eps_i, eps ~ N(0, I_F); class means are random with
  |mu_a - mu_b| about ``signal`` noise-sds apart;
* ``bow``: Cora-like binary bag-of-words; each class owns F / C "topic" words whose rate is
  ``signal`` times the background rate, and every node has about ``words`` words on average.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from .data import Graph, validate_graph

FEATURE_KINDS = ("gaussian", "bow")


def csbm(n: int, classes: int, features: int, *, avg_degree: float, homophily: float,
         rng: np.random.Generator, feature_kind: str = "gaussian", signal: float = 1.0,
         words: float = 18.0) -> Graph:
    """Draw one CSBM graph (see the module docstring)."""
    if feature_kind not in FEATURE_KINDS:
        raise ValueError(f"feature_kind must be one of {FEATURE_KINDS}, got {feature_kind!r}")
    if not (0.0 <= homophily <= 1.0):
        raise ValueError(f"homophily must be in [0, 1], got {homophily}")
    if classes < 2 or n < 2 * classes:
        raise ValueError(f"need classes >= 2 and n >= 2 * classes, got {classes}, {n}")
    m = int(round(n * avg_degree / 2))
    if m > n * (n - 1) // 4:
        raise ValueError(f"avg_degree {avg_degree} too dense for n = {n}")
    labels = rng.permutation(np.arange(n) % classes)
    members = [np.flatnonzero(labels == c) for c in range(classes)]
    others = [np.flatnonzero(labels != c) for c in range(classes)]
    keys = np.empty(0, dtype=np.int64)
    while len(keys) < m:
        k = 2 * (m - len(keys)) + 16
        i = rng.integers(0, n, k)
        same = rng.random(k) < homophily
        j = np.empty(k, dtype=np.int64)
        for c in range(classes):
            sel = labels[i] == c
            s_in, s_out = sel & same, sel & ~same
            j[s_in] = members[c][rng.integers(0, len(members[c]), s_in.sum())]
            j[s_out] = others[c][rng.integers(0, len(others[c]), s_out.sum())]
        ok = i != j
        new = np.minimum(i, j)[ok] * n + np.maximum(i, j)[ok]
        allk = np.concatenate([keys, new])
        _, first = np.unique(allk, return_index=True)
        keys = allk[np.sort(first)][:m]
    r, c = keys // n, keys % n
    adj = sp.coo_matrix((np.ones(2 * m), (np.r_[r, c], np.r_[c, r])), shape=(n, n)).tocsr()
    if feature_kind == "gaussian":
        means = rng.standard_normal((classes, features)) * (signal / np.sqrt(2 * features))
        x = means[labels] + rng.standard_normal((n, features))
    else:
        topic = rng.permutation(features) % classes  # word w belongs to class topic[w]
        base = words / (features * (1.0 + (signal - 1.0) / classes))
        rate = np.where(topic[None, :] == labels[:, None], signal * base, base)
        x = (rng.random((n, features)) < np.minimum(rate, 1.0)).astype(np.float32)
    return validate_graph(adj, x, labels, source="csbm")
