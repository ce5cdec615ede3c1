"""Clustering quality of an embedding: k-means against the true labels (NMI and ARI).

Why: several papers compare representations by how well k-means on them recovers the
classes. One function, with the restarts and seed explicit, so that methods compared in
one experiment are scored identically.
"""

from __future__ import annotations

import numpy as np
from sklearn.cluster import KMeans
from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score


def kmeans_scores(z, labels, *, n_clusters: int, seed: int, n_init: int = 10) -> dict[str, float]:
    """k-means (``n_init`` restarts, ``random_state=seed``) on the rows of ``z``.

    Returns NMI and ARI of the k-means partition against ``labels``.
    """
    z = np.asarray(z.detach().cpu() if hasattr(z, "detach") else z, dtype=np.float64)
    labels = np.asarray(labels.detach().cpu() if hasattr(labels, "detach") else labels)
    if z.ndim != 2 or labels.shape != (z.shape[0],):
        raise ValueError(f"z must be (n, d) and labels (n,); got {z.shape} and {labels.shape}")
    if not np.all(np.isfinite(z)):
        raise ValueError("z contains non-finite values")
    if n_clusters < 1 or n_clusters > z.shape[0]:
        raise ValueError(f"n_clusters must be in [1, n={z.shape[0]}], got {n_clusters}")
    if n_init < 1:
        raise ValueError(f"n_init must be >= 1, got {n_init}")
    pred = KMeans(n_clusters=n_clusters, n_init=n_init, random_state=seed).fit_predict(z)
    return {
        "nmi": float(normalized_mutual_info_score(labels, pred)),
        "ari": float(adjusted_rand_score(labels, pred)),
    }


def _as_labels(v) -> np.ndarray:
    return np.asarray(v.detach().cpu() if hasattr(v, "detach") else v).astype(np.int64).ravel()


def matched_predictions(labels, pred) -> np.ndarray:
    """``pred`` relabelled by the one-to-one cluster-to-class map that maximises agreement
    (Hungarian matching, ``scipy.optimize.linear_sum_assignment``); clusters left without a
    class (more clusters than classes) get label -1."""
    from scipy.optimize import linear_sum_assignment

    labels, pred = _as_labels(labels), _as_labels(pred)
    if labels.shape != pred.shape:
        raise ValueError(f"labels and pred must have the same shape, got {labels.shape}, "
                         f"{pred.shape}")
    cls, lab_i = np.unique(labels, return_inverse=True)
    clu, pred_i = np.unique(pred, return_inverse=True)
    counts = np.zeros((len(clu), len(cls)), dtype=np.int64)
    np.add.at(counts, (pred_i, lab_i), 1)
    rows, cols = linear_sum_assignment(-counts)
    mapping = np.full(len(clu), -1, dtype=np.int64)
    mapping[rows] = cls[cols]
    return mapping[pred_i]


def clustering_accuracy(labels, pred) -> float:
    """Clustering ACC: accuracy after the best one-to-one cluster-to-class matching."""
    return float(np.mean(matched_predictions(labels, pred) == _as_labels(labels)))


def cluster_scores(labels, pred) -> dict[str, float]:
    """ACC (Hungarian), NMI (arithmetic), ARI and macro-F1 after the same matching."""
    from sklearn.metrics import f1_score

    labels, pred = _as_labels(labels), _as_labels(pred)
    matched = matched_predictions(labels, pred)
    return {
        "acc": float(np.mean(matched == labels)),
        "nmi": float(normalized_mutual_info_score(labels, pred)),
        "ari": float(adjusted_rand_score(labels, pred)),
        "f1": float(f1_score(labels, matched, labels=np.unique(labels), average="macro",
                             zero_division=0)),
    }


def kmeans_cluster_scores(z, labels, *, n_clusters: int, seed: int, n_init: int = 10,
                          l2_normalize: bool = False) -> dict[str, float]:
    """k-means on the rows of ``z`` (optionally L2-normalised first), scored with
    :func:`cluster_scores` (ACC, NMI, ARI, macro-F1)."""
    z = np.asarray(z.detach().cpu() if hasattr(z, "detach") else z, dtype=np.float64)
    if not np.all(np.isfinite(z)):
        raise ValueError("z contains non-finite values")
    if l2_normalize:
        z = z / np.maximum(np.linalg.norm(z, axis=1, keepdims=True), 1e-12)
    pred = KMeans(n_clusters=n_clusters, n_init=n_init, random_state=seed).fit_predict(z)
    return cluster_scores(labels, pred)
