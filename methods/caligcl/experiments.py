"""Registered experiments for CaliGCL (brief papers/caligcl.md).

* ``caligcl_spart_bound``: Jensen bound S_part >= exp(h.h'/tau) and its equality cases,
  float64 random pairs;
* ``caligcl_negative_partition_prob``: Monte Carlo frequency of a negative partition
  product vs the CLT formula;
* ``caligcl_negative_partitions_trained``: share of negatively aligned partitions of
  trained positive pairs (GRACE on a CSBM), K = 1..5;
* ``caligcl_ablation``: GRACE vs GRACE + S_part vs CaliGCL (+ the training-free Â^2 X
  probe) on a CSBM;
* ``caligcl_discriminator_precision``: same-class precision of predicted-consistent pairs;
* ``caligcl_cora``: CaliGCL and GRACE on real Cora, linear probe 10 %/90 %;
* ``caligcl_cora_select``: validation accuracy (inside the training 10 %) for choosing tau;
* ``caligcl_table1``: the other Table 1 datasets (raise ``Unavailable``).
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from scipy.stats import norm

from methods.common.params import is_int, is_real, require
from methods.common.probes import logistic_probe_cv
from methods.common.seeding import child_seed, numpy_rng, torch_generator
from methods.common.threads import single_cpu_thread
from methods.graphs.data import Graph
from methods.graphs.evaluation import linear_probe, random_splits, training_free
from methods.graphs.experiments import check_common, dataset
from methods.graphs.grace import ContrastConfig, GraphTensors, embed, make_view, train_contrastive
from repro.registry import Unavailable, experiment

from .losses import log_spart_pairs, partition_products
from .model import CaliConfig, train_caligcl

TABLE1 = {  # CaliGCL row of Table 1 (mean, std), from the paper's screenshot
    "cora": (85.87, 0.62), "citeseer": (74.13, 0.54), "pubmed": (87.16, 0.19),
    "dblp": (85.32, 0.13), "photo": (93.72, 0.24), "computers": (90.79, 0.28),
}


def _unit(x: np.ndarray) -> np.ndarray:
    return x / np.linalg.norm(x, axis=1, keepdims=True)


@experiment("caligcl_spart_bound")
def caligcl_spart_bound(*, seed: int, device: str = "cpu", dim: int = 16, pairs: int = 10000
                        ) -> dict:
    """For K in {1,2,4,8} (those <= dim) and tau in {0.2, 0.5, 1}: relative gap
    S_part / exp(h.h'/tau) - 1 over random unit pairs (half independent, half correlated),
    its minimum, and the relative error in the equality cases (K = 1; equal partition
    products, built from repeated blocks)."""
    check_common(seed, device)
    require(is_int(dim) and dim >= 1, "dim", "must be an int >= 1", dim)
    require(is_int(pairs) and pairs >= 2, "pairs", "must be an int >= 2", pairs)
    rng = numpy_rng(seed, "pairs")
    h = _unit(rng.standard_normal((pairs, dim)))
    g = h.copy()
    half = pairs // 2
    g[:half] = _unit(h[:half] + 0.5 * rng.standard_normal((half, dim)))
    g[half:] = _unit(rng.standard_normal((pairs - half, dim)))
    ht, gt = torch.from_numpy(h), torch.from_numpy(g)
    dots = (ht * gt).sum(1)
    min_gap, eq_k1, eq_equal, max_gap = math.inf, 0.0, 0.0, 0.0
    for k in (1, 2, 4, 8):
        if k > dim:
            continue
        for tau in (0.2, 0.5, 1.0):
            gap = torch.expm1(log_spart_pairs(ht, gt, k, tau) - dots / tau)
            min_gap = min(min_gap, float(gap.min()))
            max_gap = max(max_gap, float(gap.max()))
            if k == 1:
                eq_k1 = max(eq_k1, float(gap.abs().max()))
            elif dim % k == 0:
                u = _unit(rng.standard_normal((pairs, dim // k)))
                w = _unit(rng.standard_normal((pairs, dim // k)))
                hu = torch.from_numpy(np.tile(u, k) / math.sqrt(k))
                hw = torch.from_numpy(np.tile(w, k) / math.sqrt(k))
                e = torch.expm1(log_spart_pairs(hu, hw, k, tau) - (hu * hw).sum(1) / tau)
                eq_equal = max(eq_equal, float(e.abs().max()))
    return {"min_rel_gap": min_gap, "max_rel_gap": max_gap, "eq_err_k1": eq_k1,
            "eq_err_equal_parts": eq_equal}


@experiment("caligcl_negative_partition_prob")
def caligcl_negative_partition_prob(*, seed: int, device: str = "cpu", m: int = 4,
                                    samples: int = 200000, mu: float = 0.5,
                                    sigma: float = 1.0) -> dict:
    """P(sum_{l<=m} x_l y_l < 0) for x, y iid N(mu, sigma^2): Monte Carlo vs the CLT value
    Phi(-sqrt(m) mu^2 / sqrt(sigma^4 + 2 mu^2 sigma^2))."""
    check_common(seed, device)
    require(is_int(m) and m >= 1, "m", "must be an int >= 1", m)
    require(is_int(samples) and samples >= 100, "samples", "must be an int >= 100", samples)
    require(is_real(sigma) and sigma > 0, "sigma", "must be > 0", sigma)
    rng = numpy_rng(seed, "mc")
    neg = 0
    for start in range(0, samples, 20000):
        b = min(20000, samples - start)
        x = mu + sigma * rng.standard_normal((b, m))
        y = mu + sigma * rng.standard_normal((b, m))
        neg += int(np.sum((x * y).sum(1) < 0))
    freq = neg / samples
    formula = float(norm.cdf(-math.sqrt(m) * mu ** 2 / math.sqrt(sigma ** 4
                                                                + 2 * mu ** 2 * sigma ** 2)))
    return {"freq": freq, "formula": formula, "abs_err": abs(freq - formula),
            "freq_se": math.sqrt(freq * (1 - freq) / samples)}


def _cfg(epochs, tau, pe, pf, lr, out_dim=128, feature_mask="column", pe2=None, pf2=None):
    require(is_int(epochs) and epochs >= 1, "epochs", "must be an int >= 1", epochs)
    require(is_real(tau) and tau > 0, "tau", "must be > 0", tau)
    for name, v in (("pe", pe), ("pf", pf)):
        require(is_real(v) and 0 <= v < 1, name, "must be in [0, 1)", v)
    return ContrastConfig(out_dim=out_dim, proj_dim=out_dim, tau=tau, pe1=pe,
                          pe2=pe if pe2 is None else pe2, pf1=pf,
                          pf2=pf if pf2 is None else pf2, feature_mask=feature_mask,
                          lr=lr, epochs=epochs)


@experiment("caligcl_negative_partitions_trained")
def caligcl_negative_partitions_trained(*, seed: int, device: str = "cpu",
                                        dataset_name: str = "csbm_gaussian", nodes: int = 1000,
                                        classes: int = 5, features: int = 200,
                                        avg_degree: float = 8.0, homophily: float = 0.8,
                                        signal: float = 1.0, epochs: int = 200,
                                        tau: float = 0.5, pe: float = 0.3, pf: float = 0.3,
                                        lr: float = 1e-3) -> dict:
    """GRACE on a CSBM; for each node's two augmented views (projection output, the space
    the loss sees, and encoder output), the share (%) of the K partitions whose inner
    product is negative, K = 1..5 (``torch.tensor_split`` of the 128 dims)."""
    check_common(seed, device)
    with single_cpu_thread(device):
        g = dataset(dataset_name, seed, nodes=nodes, classes=classes, features=features,
                    avg_degree=avg_degree, homophily=homophily, signal=signal)
        cfg = _cfg(epochs, tau, pe, pf, lr)
        t = GraphTensors(g)
        model, _ = train_contrastive(t, cfg, seed)
        model.eval()
        gen = torch_generator(seed, "eval_views")
        with torch.no_grad():
            x1, a1 = make_view(t, cfg.pe1, cfg.pf1, cfg.feature_mask, gen)
            x2, a2 = make_view(t, cfg.pe2, cfg.pf2, cfg.feature_mask, gen)
            h1, h2 = model.encoder(x1, a1), model.encoder(x2, a2)
            z1, z2 = model.project(h1), model.project(h2)
        out: dict = {}
        for tag, (a, b) in (("z", (z1, z2)), ("h", (h1, h2))):
            a, b = F.normalize(a, dim=1), F.normalize(b, dim=1)
            curve = [100.0 * float((partition_products(a, b, k) < 0).float().mean())
                     for k in range(1, 6)]
            for k, v in enumerate(curve, 1):
                out[f"neg_share_{tag}_k{k}"] = v
            out[f"curve_{tag}"] = curve
        out["curve_k"] = [1.0, 2.0, 3.0, 4.0, 5.0]
        out["probe_acc"] = linear_probe(embed(model, t), g.labels, seed=seed, splits=5)["acc"]
    return out


def _probe(model, t: GraphTensors, g: Graph, seed: int, splits: int) -> float:
    return linear_probe(embed(model, t), g.labels, seed=seed, splits=splits)["acc"]


def _cali_cfg(partitions, eta, spectral_dims, knn, calibrate=True) -> CaliConfig:
    require(is_int(partitions) and partitions >= 1, "partitions", "must be an int >= 1",
            partitions)
    require(is_real(eta) and 0 < eta < 1, "eta", "must be in (0, 1)", eta)
    return CaliConfig(partitions=partitions, eta=eta, spectral_dims=spectral_dims, knn=knn,
                      calibrate=calibrate)


@experiment("caligcl_ablation")
def caligcl_ablation(*, seed: int, device: str = "cpu", dataset_name: str = "csbm_gaussian",
                     nodes: int = 1000, classes: int = 5, features: int = 200,
                     avg_degree: float = 8.0, homophily: float = 0.8, signal: float = 1.0,
                     epochs: int = 200, tau: float = 0.5, pe: float = 0.3, pf: float = 0.3,
                     lr: float = 1e-3, partitions: int = 4, eta: float = 0.6,
                     spectral_dims: int = 32, knn: int = 10, splits: int = 10) -> dict:
    """(a) GRACE, (b) GRACE + S_part, (c) CaliGCL, and the training-free Â^2 X probe, on the
    same graph and the same probe splits; accuracies in %."""
    check_common(seed, device)
    with single_cpu_thread(device):
        g = dataset(dataset_name, seed, nodes=nodes, classes=classes, features=features,
                    avg_degree=avg_degree, homophily=homophily, signal=signal)
        t = GraphTensors(g)
        cfg = _cfg(epochs, tau, pe, pf, lr)
        m_a, _ = train_contrastive(t, cfg, seed)
        m_b, _, _ = train_caligcl(g, cfg, _cali_cfg(partitions, eta, spectral_dims, knn, False),
                                  seed, t)
        m_c, _, st = train_caligcl(g, cfg, _cali_cfg(partitions, eta, spectral_dims, knn),
                                   seed, t)
        out = {"acc_grace": _probe(m_a, t, g, seed, splits),
               "acc_part": _probe(m_b, t, g, seed, splits),
               "acc_cali": _probe(m_c, t, g, seed, splits)}
        out["gain_cali"] = out["acc_cali"] - out["acc_grace"]
        out["gain_part"] = out["acc_part"] - out["acc_grace"]
        out["acc_sx"] = training_free(g, seed=seed, splits=splits, kmeans=False)["sx_probe_acc"]
        out.update(st.precision(m_c))
    return out


@experiment("caligcl_discriminator_precision")
def caligcl_discriminator_precision(*, seed: int, device: str = "cpu",
                                    dataset_name: str = "csbm_gaussian", nodes: int = 1000,
                                    classes: int = 5, features: int = 200,
                                    avg_degree: float = 8.0, homophily: float = 0.8,
                                    signal: float = 1.0, epochs: int = 200, tau: float = 0.5,
                                    pe: float = 0.5, pf: float = 0.5, lr: float = 1e-3,
                                    partitions: int = 4, eta: float = 0.6,
                                    spectral_dims: int = 32, knn: int = 10) -> dict:
    """CaliGCL under strong augmentation; same-class precision (%) of the pairs the
    discriminator predicts consistent among each node's top-k clean neighbours, against
    the precision of those top-k candidates themselves, and chance 1/C and 2/C."""
    check_common(seed, device)
    with single_cpu_thread(device):
        g = dataset(dataset_name, seed, nodes=nodes, classes=classes, features=features,
                    avg_degree=avg_degree, homophily=homophily, signal=signal)
        cfg = _cfg(epochs, tau, pe, pf, lr)
        model, _, st = train_caligcl(g, cfg, _cali_cfg(partitions, eta, spectral_dims, knn),
                                     seed)
        p = st.precision(model)
    return {"prec_disc": 100 * p["prec_disc"], "prec_knn": 100 * p["prec_knn"],
            "two_over_c": 200.0 / g.classes,
            "predicted_frac": 100 * p["disc_predicted_frac"],
            "disc_train_pos": p["disc_train_pos"]}


def _grace_cora_cfg(epochs: int, lr: float, tau: float) -> ContrastConfig:
    """GRACE's published Cora augmentation (p_e 0.2/0.4, p_f 0.3/0.4, 128 dims)."""
    return _cfg(epochs, tau, 0.2, 0.3, lr, pe2=0.4, pf2=0.4)


@experiment("caligcl_cora")
def caligcl_cora(*, seed: int, device: str = "cpu", epochs: int = 50, lr: float = 1e-3,
                 tau: float = 0.4, grace_tau: float = 0.4, partitions: int = 4,
                 eta: float = 0.6, spectral_dims: int = 32, knn: int = 10, splits: int = 10,
                 run_grace: bool = True, train: bool = True) -> dict:
    """CaliGCL and GRACE on real Cora, frozen encoder, logistic probe on random 10 %/90 %
    splits (C chosen by CV inside the training 10 %); the training-free Â^2 X probe on the
    same splits; seconds per epoch of both methods. Raises Unavailable without Cora.
    ``train = False`` only loads Cora and reports its shape (the smoke check)."""
    check_common(seed, device)
    with single_cpu_thread(device):
        g = dataset("cora", seed, nodes=0, classes=0, features=0, avg_degree=0,
                    homophily=0, signal=0)
        t = GraphTensors(g)
        out = {"nodes": float(g.n), "features": float(g.features.shape[1]),
               "classes": float(g.classes), "edges": float(g.edges)}
        if not train:
            return out
        m_c, info_c, st = train_caligcl(
            g, _grace_cora_cfg(epochs, lr, tau),
            _cali_cfg(partitions, eta, spectral_dims, knn), seed, t)
        r = linear_probe(embed(m_c, t), g.labels, seed=seed, splits=splits)
        out.update({"acc_cali": r["acc"], "acc_cali_split_sd": r["acc_sd"],
                    "sec_per_epoch_cali": info_c["sec_per_epoch"]})
        out.update({f"cali_{k}": v for k, v in st.precision(m_c).items()})
        if run_grace:
            m_g, info_g = train_contrastive(t, _grace_cora_cfg(epochs, lr, grace_tau), seed)
            r = linear_probe(embed(m_g, t), g.labels, seed=seed, splits=splits)
            out.update({"acc_grace": r["acc"], "acc_grace_split_sd": r["acc_sd"],
                        "sec_per_epoch_grace": info_g["sec_per_epoch"]})
        out["acc_sx"] = training_free(g, seed=seed, splits=splits, kmeans=False)["sx_probe_acc"]
    return out


@experiment("caligcl_cora_select")
def caligcl_cora_select(*, seed: int, device: str = "cpu", method: str = "caligcl",
                        epochs: int = 50, lr: float = 1e-3, tau: float = 0.4,
                        partitions: int = 4, eta: float = 0.6, spectral_dims: int = 32,
                        knn: int = 10, splits: int = 5) -> dict:
    """Validation accuracy (%) for hyper-parameter choice on Cora: for each of ``splits``
    random 10 % training parts (the probe protocol's own splits), half of the training nodes
    fit the probe (C by CV inside that half) and the other half score it. Test nodes (the
    other 90 %) are never read."""
    check_common(seed, device)
    require(method in ("caligcl", "grace"), "method", "must be 'caligcl' or 'grace'", method)
    with single_cpu_thread(device):
        g = dataset("cora", seed, nodes=0, classes=0, features=0, avg_degree=0,
                    homophily=0, signal=0)
        t = GraphTensors(g)
        cfg = _grace_cora_cfg(epochs, lr, tau)
        if method == "caligcl":
            model, info, _ = train_caligcl(g, cfg, _cali_cfg(partitions, eta, spectral_dims,
                                                             knn), seed, t)
        else:
            model, info = train_contrastive(t, cfg, seed)
        emb = embed(model, t)
        accs = []
        for s, (tr, _test_unused) in enumerate(random_splits(g.n, splits, seed)):
            perm = numpy_rng(seed, f"val{s}").permutation(tr)
            fit, val = perm[: len(perm) // 2], perm[len(perm) // 2:]
            acc, _ = logistic_probe_cv(emb[fit], g.labels[fit], emb[val], g.labels[val],
                                       seed=child_seed(seed, f"valprobe{s}"))
            accs.append(100.0 * acc)
    return {"val_acc": float(np.mean(accs)), "sec_per_epoch": info["sec_per_epoch"]}


@experiment("caligcl_table1")
def caligcl_table1(*, seed: int, device: str = "cpu", dataset_name: str = "citeseer") -> dict:
    """Table 1 beyond Cora: the datasets are not available offline."""
    check_common(seed, device)
    require(dataset_name in TABLE1, "dataset_name", f"must be one of {tuple(TABLE1)}",
            dataset_name)
    mean, sd = TABLE1[dataset_name]
    raise Unavailable(
        f"{dataset_name} is not available offline (paper: CaliGCL {mean} +- {sd} %); "
        "the Planetoid (Citeseer, Pubmed), DBLP and Amazon (Photo, Computers) graphs are "
        "downloaded at run time by torch_geometric / DGL; no loader for them is implemented "
        "here (only Cora under $REPRO_DATA_DIR/graphs)")
