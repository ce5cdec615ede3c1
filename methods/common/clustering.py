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
