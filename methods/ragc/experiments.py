"""Registered experiments for RAGC (brief papers/ragc.md).

* ``ragc_mechanics``: invariants on a small CSBM (weight range, edge bounds, alpha,
  finiteness, labels unused);
* ``ragc_loss_identity``: CSADA loss with unit weights vs InfoNCE (``nt_xent``), float64;
* ``ragc_compare``: k-means on X_aug / Â^2 X, and two trained variants, on a CSBM, under the
  final-epoch and the code's label-informed best-epoch protocols;
* ``ragc_late_degradation``: the released optimiser (gradients accumulated) vs gradients
  zeroed every epoch, same graph and initialisation: best - final gap and alpha;
* ``ragc_structural_noise``: ACC drop of RAGC and HSAN-like with random edges added;
* ``ragc_cora``: RAGC and HSAN-like on real Cora (Cora configuration), both protocols.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import torch

from methods.common.clustering import cluster_scores, kmeans_cluster_scores
from methods.common.infonce import nt_xent
from methods.common.params import is_int, is_real, require
from methods.common.seeding import child_seed, numpy_rng
from methods.common.threads import single_cpu_thread
from methods.graphs.data import Graph, validate_graph
from methods.graphs.evaluation import training_free
from methods.graphs.experiments import check_common, dataset
from repro.registry import experiment

from .model import (
    VARIANTS,
    RagcConfig,
    augmented_features,
    csada_loss,
    csada_loss_reference,
    train_ragc,
)

METRICS = ("acc", "nmi", "ari", "f1")


def _cfg(variant: str, **kw) -> RagcConfig:
    require(variant in VARIANTS, "variant", f"must be one of {VARIANTS}", variant)
    require(is_int(kw["epochs"]) and kw["epochs"] >= 1, "epochs", "must be an int >= 1",
            kw["epochs"])
    require(kw["act"] in ("identity", "sigmoid"), "act", "must be identity or sigmoid",
            kw["act"])
    require(is_real(kw["tau"]) and 0 < kw["tau"] <= 1, "tau", "must be in (0, 1]", kw["tau"])
    return RagcConfig(variant=variant, **kw)


def _scores(labels: np.ndarray):
    def evaluate(pred: np.ndarray) -> dict:
        return {k: 100.0 * v for k, v in cluster_scores(labels, pred).items()}
    return evaluate


def run_protocols(g: Graph, cfg: RagcConfig, seed: int, x_aug: torch.Tensor,
                  pre: dict, tag: str) -> dict:
    """Train one variant; return ``{tag}_final_*`` (last epoch), ``{tag}_best_*`` (the
    code's selection, train.py:109-110: the pre-training k-means on X_aug, replaced by any
    cadence epoch whose ACC is at least as high; the code never evaluates the final model,
    so neither does this selection), ``{tag}_gap_acc`` (best - final, can be < 0 only by
    what the last few epochs after the last cadence epoch gained), the untrained encoder's
    scores, the loss at the first and last epoch, alpha and diagnostics."""
    res = train_ragc(g, cfg, seed, evaluate=_scores(g.labels), x_aug=x_aug)
    final = res.final
    best, best_ep = pre, 0
    for ep, sc in res.evals:
        if sc["acc"] >= best["acc"]:
            best, best_ep = sc, ep
    out = {f"{tag}_final_{k}": final[k] for k in METRICS}
    out.update({f"{tag}_best_{k}": best[k] for k in METRICS})
    out.update({f"{tag}_untrained_{k}": res.untrained[k] for k in METRICS})
    out[f"{tag}_peak_nmi"] = max(sc["nmi"] for _, sc in res.evals)
    out[f"{tag}_gap_acc"] = best["acc"] - final["acc"]
    out[f"{tag}_best_epoch"] = float(best_ep)
    out[f"{tag}_loss_first"] = res.losses[0]
    out[f"{tag}_loss_final"] = res.losses[-1]
    out[f"{tag}_loss_finite"] = float(np.all(np.isfinite(res.losses)))
    out[f"{tag}_sec_per_epoch"] = res.sec_per_epoch
    out[f"{tag}_alpha_final"] = res.alpha[-1]
    out[f"{tag}_alpha_max"] = max(res.alpha)
    out[f"{tag}_edge_mass"] = res.edge_mass
    out[f"{tag}_curve_acc"] = [sc["acc"] for _, sc in res.evals]
    out[f"{tag}_curve_epoch"] = [float(ep) for ep, _ in res.evals]
    return out


def _train_kw(epochs, hidden, t_l, t_m, lr, act, tau, beta, gamma, pca_dims, kmeans_init,
              update_every=5, accumulate_grads=True):
    require(isinstance(accumulate_grads, bool), "accumulate_grads", "must be true or false",
            accumulate_grads)
    return dict(epochs=epochs, hidden=hidden, t_l=t_l, t_m=t_m, lr=lr, act=act, tau=tau,
                beta=beta, gamma=gamma, pca_dims=pca_dims, kmeans_init=kmeans_init,
                update_every=update_every, accumulate_grads=accumulate_grads)


def add_random_edges(g: Graph, frac: float, seed: int) -> Graph:
    """Add ``round(frac * |E|)`` uniformly random new undirected edges (structural noise)."""
    if frac <= 0:
        return g
    rng = numpy_rng(seed, "noise_edges")
    n, want = g.n, int(round(frac * g.edges))
    adj = g.adj.tolil(copy=True)
    added = 0
    while added < want:
        i, j = rng.integers(0, n, 2)
        if i != j and adj[i, j] == 0:
            adj[i, j] = adj[j, i] = 1.0
            added += 1
    return validate_graph(sp.csr_matrix(adj), g.features, g.labels, source="noisy")


@experiment("ragc_mechanics")
def ragc_mechanics(*, seed: int, device: str = "cpu", nodes: int = 100, classes: int = 4,
                   features: int = 50, epochs: int = 10, hidden: int = 32) -> dict:
    """Invariants of code-faithful RAGC on a small CSBM (update every 5 epochs)."""
    check_common(seed, device)
    with single_cpu_thread(device):
        g = dataset("csbm_gaussian", seed, nodes=nodes, classes=classes, features=features,
                    avg_degree=6.0, homophily=0.7, signal=2.0)
        cfg = _cfg("ragc", **_train_kw(epochs, hidden, 2, 2, 1e-2, "identity", 0.85, 0.9,
                                       2.0, 0, 3))
        x = augmented_features(g, cfg, seed)
        r1 = train_ragc(g, cfg, seed, evaluate=_scores(g.labels), x_aug=x)
        shuffled = numpy_rng(seed, "shuffle").permutation(g.labels)
        r2 = train_ragc(g, cfg, seed, evaluate=_scores(shuffled), x_aug=x)
    return {
        "w_update_min": r1.w_min, "w_update_max": r1.w_max,
        "a_min": r1.a_min, "a_excess": r1.a_excess, "edge_mass": r1.edge_mass,
        "loss_finite": float(np.all(np.isfinite(r1.losses))),
        "label_shuffle_diff": float(np.abs(r1.z - r2.z).max()
                                    + np.abs(np.subtract(r1.losses, r2.losses)).max()),
        "a_negative": max(0.0, -r1.a_min), "a_above": max(0.0, r1.a_excess),
        "alpha_first": r1.alpha[0], "alpha_final": r1.alpha[-1],
        "alpha_change": abs(r1.alpha[-1] - r1.alpha[0]),
        "alpha_moved": float(abs(r1.alpha[-1] - r1.alpha[0]) > 1e-6),
    }


@experiment("ragc_loss_identity")
def ragc_loss_identity(*, seed: int, device: str = "cpu", nodes: int = 50, dim: int = 8
                       ) -> dict:
    """float64: the CSADA loss on S = Z Z^T with all weights 1 vs InfoNCE at temperature 1
    with the 2N - 2 other views as negatives (``nt_xent``, dot similarity); and the stable
    form vs the code's literal arithmetic under random weights in [2, 1 + e]."""
    check_common(seed, device)
    rng = numpy_rng(seed, "z")
    z = torch.nn.functional.normalize(torch.from_numpy(rng.standard_normal((2 * nodes, dim))),
                                      dim=1)
    s = z @ z.T
    ones_m, ones_v = torch.ones_like(s), torch.ones(2 * nodes, dtype=s.dtype)
    ours = csada_loss(s, ones_m, ones_v)
    ref = nt_xent(z[:nodes], z[nodes:], temperature=1.0, similarity="dot")
    w = torch.from_numpy(2 + (np.e - 1) * rng.random((2 * nodes, 2 * nodes)))
    w = (w + w.T) / 2
    partner = torch.cat([torch.arange(nodes) + nodes, torch.arange(nodes)])
    wp = w[torch.arange(2 * nodes), partner]
    return {"infonce_abs_diff": float((ours - ref).abs()),
            "code_form_abs_diff": float((csada_loss(s, w, wp)
                                         - csada_loss_reference(s, w, wp)).abs()),
            "loss_value": float(ours)}


def _compare(g: Graph, seed: int, variants: tuple[str, ...], kw: dict) -> dict:
    x = augmented_features(g, RagcConfig(**kw), seed)
    pre = kmeans_cluster_scores(x.numpy(), g.labels, n_clusters=g.classes,
                                seed=child_seed(seed, "kmeans"), n_init=10)
    pre = {k: 100.0 * v for k, v in pre.items()}
    out = {f"kmeans_xaug_{k}": pre[k] for k in METRICS}
    for v in variants:
        out.update(run_protocols(g, _cfg(v, **kw), seed, x, pre, v))
    return out


@experiment("ragc_compare")
def ragc_compare(*, seed: int, device: str = "cpu", dataset_name: str = "csbm_gaussian",
                 nodes: int = 700, classes: int = 5, features: int = 100,
                 avg_degree: float = 6.0, homophily: float = 0.7, signal: float = 1.0,
                 variants: str = "ragc,hsan", epochs: int = 400, hidden: int = 256,
                 t_l: int = 2, t_m: int = 2, lr: float = 1e-3, act: str = "identity",
                 tau: float = 0.85, beta: float = 0.9, gamma: float = 2.0, pca_dims: int = 0,
                 kmeans_init: int = 10, update_every: int = 5,
                 accumulate_grads: bool = True) -> dict:
    """Variants (comma-separated) on one graph, both protocols; plus k-means on X_aug and
    the training-free k-means on Â^2 X (raw and L2-normalised rows). Clustering metrics
    x 100."""
    check_common(seed, device)
    vs = tuple(v.strip() for v in variants.split(","))
    for v in vs:
        require(v in VARIANTS, "variants", f"entries must be in {VARIANTS}", variants)
    with single_cpu_thread(device):
        g = dataset(dataset_name, seed, nodes=nodes, classes=classes, features=features,
                    avg_degree=avg_degree, homophily=homophily, signal=signal)
        kw = _train_kw(epochs, hidden, t_l, t_m, lr, act, tau, beta, gamma, pca_dims,
                       kmeans_init, update_every, accumulate_grads)
        out = _compare(g, seed, vs, kw)
        out.update(training_free(g, seed=seed, probe=False))
    if "ragc" in vs and "hsan" in vs:
        out["ragc_minus_hsan_final_acc"] = out["ragc_final_acc"] - out["hsan_final_acc"]
        out["ragc_minus_hsan_best_acc"] = out["ragc_best_acc"] - out["hsan_best_acc"]
    if "plain" in vs and "plain_csada" in vs:
        out["csada_gain_final_acc"] = out["plain_csada_final_acc"] - out["plain_final_acc"]
        out["csada_gain_best_acc"] = out["plain_csada_best_acc"] - out["plain_best_acc"]
    return out


@experiment("ragc_late_degradation")
def ragc_late_degradation(*, seed: int, device: str = "cpu", nodes: int = 500,
                          classes: int = 5, features: int = 100, avg_degree: float = 6.0,
                          homophily: float = 0.7, signal: float = 1.0,
                          variants: str = "ragc,hsan", epochs: int = 400, hidden: int = 256,
                          lr: float = 1e-3, kmeans_init: int = 10, update_every: int = 5
                          ) -> dict:
    """Each variant trained twice on the same graph, X_aug and initialisation: with the
    released optimiser (gradients accumulated across epochs, ``acc_`` prefix) and with
    gradients zeroed every epoch (``zero_`` prefix); both protocols, the best - final gap,
    alpha at the end and its maximum."""
    check_common(seed, device)
    vs = tuple(v.strip() for v in variants.split(","))
    for v in vs:
        require(v in VARIANTS, "variants", f"entries must be in {VARIANTS}", variants)
    out: dict = {}
    with single_cpu_thread(device):
        g = dataset("csbm_gaussian", seed, nodes=nodes, classes=classes, features=features,
                    avg_degree=avg_degree, homophily=homophily, signal=signal)
        for tag, accumulate in (("acc", True), ("zero", False)):
            kw = _train_kw(epochs, hidden, 2, 2, lr, "identity", 0.85, 0.9, 2.0, 0,
                           kmeans_init, update_every, accumulate)
            r = _compare(g, seed, vs, kw)
            out.update({f"{tag}_{k}": v for k, v in r.items()})
    for v in vs:
        out[f"{v}_gap_zero_minus_acc"] = out[f"zero_{v}_gap_acc"] - out[f"acc_{v}_gap_acc"]
        out[f"{v}_final_acc_minus_zero"] = (out[f"acc_{v}_final_acc"]
                                            - out[f"zero_{v}_final_acc"])
    return out


@experiment("ragc_structural_noise")
def ragc_structural_noise(*, seed: int, device: str = "cpu", nodes: int = 700,
                          classes: int = 5, features: int = 100, avg_degree: float = 6.0,
                          homophily: float = 0.7, signal: float = 1.0,
                          levels: str = "0,0.2,0.5", epochs: int = 400, hidden: int = 256,
                          lr: float = 1e-3, kmeans_init: int = 10,
                          accumulate_grads: bool = True) -> dict:
    """Final-epoch and label-selected best-epoch ACC of RAGC and HSAN-like with
    round(level * |E|) random edges added (the same clean graph per seed);
    drop = ACC(0) - ACC(max level) under each protocol."""
    check_common(seed, device)
    lv = [float(v) for v in levels.split(",")]
    require(lv[0] == 0 and all(b > a for a, b in zip(lv, lv[1:])), "levels",
            "must start at 0 and increase", levels)
    out: dict = {}
    with single_cpu_thread(device):
        g0 = dataset("csbm_gaussian", seed, nodes=nodes, classes=classes, features=features,
                     avg_degree=avg_degree, homophily=homophily, signal=signal)
        kw = _train_kw(epochs, hidden, 2, 2, lr, "identity", 0.85, 0.9, 2.0, 0, kmeans_init,
                       accumulate_grads=accumulate_grads)
        for level in lv:
            g = add_random_edges(g0, level, seed)
            x = augmented_features(g, RagcConfig(**kw), seed)
            pre = kmeans_cluster_scores(x.numpy(), g.labels, n_clusters=g.classes,
                                        seed=child_seed(seed, "kmeans"), n_init=10)
            pre = {k: 100.0 * v for k, v in pre.items()}
            lvl = int(round(100 * level))
            for v in ("ragc", "hsan"):
                r = run_protocols(g, _cfg(v, **kw), seed, x, pre, v)
                out[f"{v}_acc_noise{lvl}"] = r[f"{v}_final_acc"]
                out[f"{v}_best_acc_noise{lvl}"] = r[f"{v}_best_acc"]
                for k in ("final_nmi", "peak_nmi", "untrained_nmi", "loss_first",
                          "loss_final", "loss_finite"):
                    out[f"{v}_{k}_noise{lvl}"] = r[f"{v}_{k}"]
    hi = int(round(100 * lv[-1]))
    for v in ("ragc", "hsan"):
        out[f"{v}_drop"] = out[f"{v}_acc_noise0"] - out[f"{v}_acc_noise{hi}"]
        out[f"{v}_best_drop"] = out[f"{v}_best_acc_noise0"] - out[f"{v}_best_acc_noise{hi}"]
    out["drop_excess"] = out["ragc_drop"] - out["hsan_drop"]
    out["best_drop_excess"] = out["ragc_best_drop"] - out["hsan_best_drop"]
    return out


@experiment("ragc_cora")
def ragc_cora(*, seed: int, device: str = "cpu", train: bool = True, epochs: int = 200,
              hidden: int = 256, variants: str = "ragc,hsan", kmeans_init: int = 10,
              update_every: int = 5, accumulate_grads: bool = True) -> dict:
    """RAGC's Cora configuration (PCA 500, t_l = t_m = 2, lr 1e-3, identity, tau 0.85,
    beta 0.9, gamma 2) on real Cora, both protocols, plus k-means on X_aug and on Â^2 X.
    ``train = False`` only loads Cora and builds X_aug without PCA (the smoke check)."""
    check_common(seed, device)
    with single_cpu_thread(device):
        g = dataset("cora", seed, nodes=0, classes=0, features=0, avg_degree=0, homophily=0,
                    signal=0)
        kw = _train_kw(epochs, hidden, 2, 2, 1e-3, "identity", 0.85, 0.9, 2.0, 500,
                       kmeans_init, update_every, accumulate_grads)
        if not train:  # smoke: no PCA (seconds on a loaded CPU), raw X propagated
            x = augmented_features(g, RagcConfig(**{**kw, "pca_dims": 0}), seed)
            return {"nodes": float(g.n), "classes": float(g.classes),
                    "xaug_rows": float(x.shape[0]), "xaug_cols": float(x.shape[1]),
                    "xaug_finite": float(torch.isfinite(x).all())}
        vs = tuple(v.strip() for v in variants.split(","))
        out = _compare(g, seed, vs, kw)
        out.update(training_free(g, seed=seed, probe=False))
    if "ragc" in vs and "hsan" in vs:
        out["ragc_minus_hsan_final_acc"] = out["ragc_final_acc"] - out["hsan_final_acc"]
        out["ragc_minus_hsan_best_acc"] = out["ragc_best_acc"] - out["hsan_best_acc"]
    return out
