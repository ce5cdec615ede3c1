"""Evaluation protocols shared by the graph papers.

* linear probe: random 10 % / 90 % node splits, several per seed; a logistic probe whose C
  is chosen by cross-validation inside the training 10 % only
  (``methods.common.probes.logistic_probe_cv``);
* training-free baselines: the same probe on Â^k X (k = 2), and k-means on Â^k X with and
  without L2 normalisation of the rows (both reported; the name says which).
"""

from __future__ import annotations

import numpy as np
import torch

from methods.common.clustering import kmeans_cluster_scores
from methods.common.probes import logistic_probe_cv
from methods.common.seeding import child_seed, numpy_rng

from .data import Graph
from .gcn import normalized_adjacency, propagate, undirected_edges


def random_splits(n: int, splits: int, seed: int, train_frac: float = 0.1,
                  name: str = "probe_splits") -> list[tuple[np.ndarray, np.ndarray]]:
    """``splits`` random (train, test) node partitions with ``round(train_frac * n)``
    training nodes, from the seed's ``name`` stream."""
    rng = numpy_rng(seed, name)
    k = int(round(train_frac * n))
    out = []
    for _ in range(splits):
        p = rng.permutation(n)
        out.append((np.sort(p[:k]), np.sort(p[k:])))
    return out


def linear_probe(emb: np.ndarray, labels: np.ndarray, *, seed: int, splits: int = 10,
                 train_frac: float = 0.1) -> dict[str, float]:
    """Mean and sd (over splits) of test accuracy in %, and the median chosen C."""
    accs, cs = [], []
    for s, (tr, te) in enumerate(random_splits(len(labels), splits, seed, train_frac)):
        acc, c = logistic_probe_cv(emb[tr], labels[tr], emb[te], labels[te],
                                   seed=child_seed(seed, f"probe{s}"))
        accs.append(100.0 * acc)
        cs.append(c)
    return {"acc": float(np.mean(accs)), "acc_sd": float(np.std(accs)),
            "c_median": float(np.median(cs))}


def propagated_features(g: Graph, k: int = 2) -> np.ndarray:
    """Â^k X with Â = D̃^{-1/2}(A + I)D̃^{-1/2} (sparse products, float64)."""
    a_hat = normalized_adjacency(undirected_edges(g.adj), g.n, dtype=torch.float64)
    return propagate(a_hat, torch.from_numpy(g.features.astype(np.float64)), k).numpy()


def training_free(g: Graph, *, seed: int, splits: int = 10, k: int = 2,
                  probe: bool = True, kmeans: bool = True, n_init: int = 10
                  ) -> dict[str, float]:
    """Training-free baselines on Â^k X: ``sx_probe_acc`` (linear probe, %),
    ``sx_km_*`` (k-means on raw rows) and ``sx_l2km_*`` (k-means on L2-normalised rows),
    clustering metrics x 100."""
    sx = propagated_features(g, k)
    out: dict[str, float] = {}
    if probe:
        r = linear_probe(sx, g.labels, seed=seed, splits=splits)
        out.update({"sx_probe_acc": r["acc"], "sx_probe_acc_sd": r["acc_sd"]})
    if kmeans:
        for tag, l2 in (("sx_km", False), ("sx_l2km", True)):
            sc = kmeans_cluster_scores(sx, g.labels, n_clusters=g.classes,
                                       seed=child_seed(seed, "kmeans"), n_init=n_init,
                                       l2_normalize=l2)
            out.update({f"{tag}_{m}": 100.0 * v for m, v in sc.items()})
    return out
