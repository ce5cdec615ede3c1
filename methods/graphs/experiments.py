"""Registered experiments for the shared graph pieces (used by the CaliGCL and RAGC claims).

* ``graphs_cora_loader``: reads Cora through :func:`load_cora` and reports its vital
  statistics (the loader validates shapes, symmetry, labels and the checksum);
* ``graphs_csbm_control``: achieved average degree and edge homophily of the CSBM
  generator against their targets;
* ``graphs_training_free``: the training-free baselines (probe and k-means on Â^2 X) on
  Cora or a CSBM graph.
"""

from __future__ import annotations

import numpy as np

from methods.common.params import is_int, is_real, require
from methods.common.seeding import numpy_rng
from repro.registry import experiment

from .csbm import FEATURE_KINDS, csbm
from .data import Graph, load_cora, load_graph
from .evaluation import training_free


def check_common(seed, device) -> None:
    require(is_int(seed) and seed >= 0, "seed", "must be an int >= 0", seed)
    require(device in ("cpu", "cuda"), "device", "must be 'cpu' or 'cuda'", device)


def dataset(name: str, seed: int, *, nodes: int, classes: int, features: int,
            avg_degree: float, homophily: float, signal: float, stream: str = "graph"
            ) -> Graph:
    """A seeded CSBM (``csbm_gaussian`` / ``csbm_bow``: the other arguments set it) or a
    real graph by name: ``cora``, or any ``$REPRO_DATA_DIR/graphs/<name>.zip`` in Cora's
    layout (``citeseer``, ``bat``, ...; raises Unavailable naming the file when absent)."""
    kinds = {f"csbm_{k}": k for k in FEATURE_KINDS}
    if name not in kinds:
        require(isinstance(name, str) and not name.startswith("csbm_"), "dataset",
                f"a CSBM must be one of {tuple(kinds)}", name)
        return load_graph(name)
    require(is_int(nodes) and nodes >= 4 * classes, "nodes", "must be an int >= 4 classes",
            nodes)
    require(is_real(homophily) and 0 <= homophily <= 1, "homophily", "must be in [0, 1]",
            homophily)
    require(is_real(avg_degree) and avg_degree > 0, "avg_degree", "must be > 0", avg_degree)
    return csbm(nodes, classes, features, avg_degree=avg_degree, homophily=homophily,
                rng=numpy_rng(seed, stream), feature_kind=kinds[name], signal=signal)


@experiment("graphs_cora_loader")
def graphs_cora_loader(*, seed: int, device: str = "cpu") -> dict:
    """Cora's statistics as read by the loader (the seed is unused: the data are fixed)."""
    check_common(seed, device)
    g = load_cora()
    deg = np.asarray(g.adj.sum(axis=1)).ravel()
    return {
        "nodes": float(g.n), "edges": float(g.edges), "features": float(g.features.shape[1]),
        "classes": float(g.classes), "isolated": float(np.sum(deg == 0)),
        "asymmetry": float(abs(g.adj - g.adj.T).sum()),
        "self_loops": float(g.adj.diagonal().sum()),
        "homophily": g.edge_homophily(),
        "smallest_class": float(np.bincount(g.labels).min()),
        "largest_class": float(np.bincount(g.labels).max()),
    }


@experiment("graphs_csbm_control")
def graphs_csbm_control(*, seed: int, device: str = "cpu", nodes: int = 1000,
                        classes: int = 5, features: int = 200, avg_degree: float = 8.0,
                        homophily: float = 0.8, feature_kind: str = "gaussian") -> dict:
    """Achieved average degree and edge homophily of one CSBM draw."""
    check_common(seed, device)
    g = dataset(f"csbm_{feature_kind}", seed, nodes=nodes, classes=classes, features=features,
                avg_degree=avg_degree, homophily=homophily, signal=1.0)
    return {"avg_degree": 2.0 * g.edges / g.n, "homophily": g.edge_homophily(),
            "degree_error": 2.0 * g.edges / g.n - avg_degree,
            "homophily_error": g.edge_homophily() - homophily,
            "words_per_node": float(g.features.sum(axis=1).mean())}


@experiment("graphs_training_free")
def graphs_training_free(*, seed: int, device: str = "cpu", dataset_name: str = "cora",
                         nodes: int = 1000, classes: int = 5, features: int = 200,
                         avg_degree: float = 8.0, homophily: float = 0.8, signal: float = 1.0,
                         hops: int = 2, splits: int = 10) -> dict:
    """Linear probe (10 %/90 %, C by CV on the training part) and k-means (raw and
    L2-normalised rows) on Â^hops X, plus the same probe on raw X for scale."""
    check_common(seed, device)
    require(is_int(hops) and hops >= 0, "hops", "must be an int >= 0", hops)
    g = dataset(dataset_name, seed, nodes=nodes, classes=classes, features=features,
                avg_degree=avg_degree, homophily=homophily, signal=signal)
    out = training_free(g, seed=seed, splits=splits, k=hops)
    raw = training_free(g, seed=seed, splits=splits, k=0, kmeans=False)
    out["x_probe_acc"] = raw["sx_probe_acc"]
    return out
