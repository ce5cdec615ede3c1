"""Shared graph pieces: Cora reader (tiny files written here, and the real file when
present), CSBM, sparse GCN pieces, GRACE loss, probe protocol, clustering metrics."""

from __future__ import annotations

import hashlib
import io
import itertools
import os
import pickle
import zipfile
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from methods.common.clustering import cluster_scores, clustering_accuracy
from methods.common.probes import logistic_probe_cv
from methods.graphs.csbm import csbm
from methods.graphs.data import load_cora, read_npy_zip, read_planetoid, validate_graph
from methods.graphs.gcn import (
    GCN,
    as_torch_features,
    drop_edges,
    mask_features,
    normalized_adjacency,
    undirected_edges,
)
from methods.graphs.grace import grace_loss
from repro.registry import Unavailable, data_dir

REAL = data_dir()  # REPRO_DATA_DIR (tests and CI point it at ../shared/data)


def _tiny(n=6):
    a = np.zeros((n, n), dtype=np.int32)
    for i in range(n - 1):
        a[i, i + 1] = a[i + 1, i] = 1
    x = np.eye(n, 4, dtype=np.float32)
    y = np.arange(n) % 3
    return a, x, y


def _write_zip(path: Path, a, x, y):
    with zipfile.ZipFile(path, "w") as zf:
        for name, arr in (("cora_adj.npy", a), ("cora_feat.npy", x), ("cora_label.npy", y)):
            buf = io.BytesIO()
            np.save(buf, arr)
            zf.writestr(name, buf.getvalue())


def test_zip_reader_roundtrip(tmp_path):
    a, x, y = _tiny()
    _write_zip(tmp_path / "g.zip", a, x, y)
    g = read_npy_zip(tmp_path / "g.zip")
    assert g.n == 6 and g.edges == 5 and g.classes == 3
    assert (g.adj != g.adj.T).nnz == 0
    np.testing.assert_array_equal(g.labels, y)


@pytest.mark.parametrize("bad", ["asym", "labels_gap", "feat_rows", "negative_label"])
def test_validation_rejects(bad):
    a, x, y = _tiny()
    if bad == "asym":
        a[0, 3] = 1
    if bad == "labels_gap":
        y = np.where(y == 1, 2, y)
    if bad == "feat_rows":
        x = x[:-1]
    if bad == "negative_label":
        y = y - 1
    with pytest.raises(ValueError):
        validate_graph(a, x, y)


def test_self_loops_removed():
    a, x, y = _tiny()
    a[2, 2] = 1
    g = validate_graph(a, x, y)
    assert g.adj.diagonal().sum() == 0


def test_missing_cora_names_file(tmp_path):
    with pytest.raises(Unavailable) as e:
        load_cora(tmp_path)
    assert "cora.zip" in str(e.value) and str(tmp_path) in str(e.value)


def test_checksum_mismatch(tmp_path):
    (tmp_path / "graphs").mkdir()
    a, x, y = _tiny()
    _write_zip(tmp_path / "graphs" / "cora.zip", a, x, y)
    (tmp_path / "graphs" / "SHA256SUMS").write_text("0" * 64 + "  cora.zip\n")
    with pytest.raises(ValueError, match="SHA-256"):
        load_cora(tmp_path)


def test_wrong_size_cora_rejected(tmp_path):
    (tmp_path / "graphs").mkdir()
    a, x, y = _tiny()
    _write_zip(tmp_path / "graphs" / "cora.zip", a, x, y)
    digest = hashlib.sha256((tmp_path / "graphs" / "cora.zip").read_bytes()).hexdigest()
    (tmp_path / "graphs" / "SHA256SUMS").write_text(f"{digest}  cora.zip\n")
    with pytest.raises(ValueError, match="2708"):
        load_cora(tmp_path)


def test_planetoid_reader(tmp_path):
    n_all, n_test, f, c = 4, 2, 3, 2
    allx = sp.csr_matrix(np.arange(n_all * f, dtype=float).reshape(n_all, f))
    tx = sp.csr_matrix(100 + np.arange(n_test * f, dtype=float).reshape(n_test, f))
    ally = np.eye(c)[[0, 1, 0, 1]]
    ty = np.eye(c)[[1, 0]]
    graph = {0: [1], 1: [0, 2], 2: [1, 5], 3: [4], 4: [3], 5: [2]}
    parts = {"x": allx, "tx": tx, "allx": allx, "y": ally, "ty": ty, "ally": ally,
             "graph": graph}
    for k, v in parts.items():
        with open(tmp_path / f"ind.cora.{k}", "wb") as fh:
            pickle.dump(v, fh)
    (tmp_path / "ind.cora.test.index").write_text("5\n4\n")  # reversed order
    g = read_planetoid(tmp_path)
    assert g.n == 6 and g.edges == 4
    # test row 0 (tx[0], label 1) belongs to node 5, row 1 to node 4
    np.testing.assert_allclose(g.features[5], tx.toarray()[0])
    assert g.labels[5] == 1 and g.labels[4] == 0


@pytest.mark.skipif(not (REAL / "graphs" / "cora.zip").is_file(), reason="Cora not present")
def test_real_cora(monkeypatch):
    monkeypatch.setenv("REPRO_DATA_DIR", str(REAL))
    g = load_cora(REAL)
    assert (g.n, g.features.shape[1], g.classes, g.edges) == (2708, 1433, 7, 5278)
    assert np.bincount(g.labels).tolist() == [351, 217, 418, 818, 426, 298, 180]
    assert 0.75 < g.edge_homophily() < 0.85


@pytest.mark.parametrize("kind", ["gaussian", "bow"])
def test_csbm_degree_homophily(kind):
    g = csbm(600, 4, 50, avg_degree=6.0, homophily=0.7, rng=np.random.default_rng(0),
             feature_kind=kind)
    assert 2 * g.edges / g.n == pytest.approx(6.0)
    assert abs(g.edge_homophily() - 0.7) < 0.04
    if kind == "bow":
        assert set(np.unique(g.features)) <= {0.0, 1.0}


def test_normalized_adjacency_dense_reference():
    g = csbm(40, 2, 5, avg_degree=4.0, homophily=0.5, rng=np.random.default_rng(1))
    a = g.adj.toarray() + np.eye(g.n)
    d = a.sum(1) ** -0.5
    ref = d[:, None] * a * d[None, :]
    got = normalized_adjacency(undirected_edges(g.adj), g.n, dtype=torch.float64).to_dense()
    np.testing.assert_allclose(got.numpy(), ref, atol=1e-12)


def test_drop_edges_keeps_symmetry_and_rate():
    g = csbm(400, 2, 5, avg_degree=10.0, homophily=0.5, rng=np.random.default_rng(2))
    e = undirected_edges(g.adj)
    kept = drop_edges(e, 0.3, torch.Generator().manual_seed(0))
    a = normalized_adjacency(kept, g.n).to_dense()
    assert torch.allclose(a, a.T)
    assert abs(kept.shape[1] / e.shape[1] - 0.7) < 0.03


@pytest.mark.parametrize("mode", ["column", "element"])
def test_sparse_feature_mask_matches_dense(mode):
    x = (np.random.default_rng(0).random((30, 20)) < 0.05).astype(np.float32)
    xs = as_torch_features(x)
    assert xs.is_sparse
    dense = mask_features(torch.from_numpy(x), 0.4, torch.Generator().manual_seed(3), mode)
    sparse = mask_features(xs, 0.4, torch.Generator().manual_seed(3), mode)
    if mode == "column":  # same column draws: identical results
        assert torch.equal(sparse.to_dense(), dense)
    else:  # masks only stored entries: a subset of x, never a new non-zero
        assert torch.all(sparse.to_dense() <= torch.from_numpy(x))


def test_gcn_sparse_equals_dense_input():
    torch.manual_seed(0)
    g = csbm(50, 2, 30, avg_degree=4.0, homophily=0.8, rng=np.random.default_rng(4),
             feature_kind="bow")
    a = normalized_adjacency(undirected_edges(g.adj), g.n)
    net = GCN(30, 8)
    dense = net(torch.from_numpy(g.features), a)
    sparse = net(as_torch_features(g.features, max_density=1.0), a)
    assert torch.allclose(dense, sparse, atol=1e-5)


def _grace_loop(z1, z2, tau):
    h1 = torch.nn.functional.normalize(z1, dim=1)
    h2 = torch.nn.functional.normalize(z2, dim=1)
    n, tot = len(h1), 0.0
    for a, b in ((h1, h2), (h2, h1)):
        for i in range(n):
            num = torch.exp(a[i] @ b[i] / tau)
            den = sum(torch.exp(a[i] @ b[j] / tau) for j in range(n))
            den = den + sum(torch.exp(a[i] @ a[j] / tau) for j in range(n) if j != i)
            tot = tot - torch.log(num / den)
    return tot / (2 * n)


def test_grace_loss_matches_loop():
    g = torch.Generator().manual_seed(0)
    z1 = torch.randn(7, 5, generator=g, dtype=torch.float64)
    z2 = torch.randn(7, 5, generator=g, dtype=torch.float64)
    assert float(grace_loss(z1, z2, 0.5)) == pytest.approx(float(_grace_loop(z1, z2, 0.5)),
                                                          abs=1e-12)


@settings(max_examples=30, deadline=None)
@given(st.lists(st.integers(0, 3), min_size=6, max_size=12), st.permutations(range(4)))
def test_clustering_accuracy_brute_force(labels, perm):
    y = np.array(labels)
    pred = np.array([perm[v] for v in labels])
    assert clustering_accuracy(y, pred) == 1.0  # relabelling is free
    rng = np.random.default_rng(len(labels))
    pred = rng.integers(0, 4, len(y))
    best = max(np.mean(np.array(p)[pred] == y) for p in itertools.permutations(range(4)))
    assert clustering_accuracy(y, pred) == pytest.approx(best)


def test_cluster_scores_perfect_and_f1():
    y = np.array([0, 0, 1, 1, 2, 2])
    s = cluster_scores(y, np.array([2, 2, 0, 0, 1, 1]))
    assert s == {"acc": 1.0, "nmi": pytest.approx(1.0), "ari": pytest.approx(1.0), "f1": 1.0}
    s = cluster_scores(y, np.array([0, 0, 1, 1, 1, 1]))
    assert s["acc"] == pytest.approx(4 / 6)


def test_probe_c_ignores_test_labels():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((200, 5))
    y = (x[:, 0] > 0).astype(int)
    acc1, c1 = logistic_probe_cv(x[:60], y[:60], x[60:], y[60:], seed=0)
    acc2, c2 = logistic_probe_cv(x[:60], y[:60], x[60:], rng.permutation(y[60:]), seed=0)
    assert c1 == c2 and acc1 > 0.85


def test_env_data_dir_used(monkeypatch, tmp_path):
    monkeypatch.setenv("REPRO_DATA_DIR", str(tmp_path))
    with pytest.raises(Unavailable):
        load_cora()
    assert os.environ["REPRO_DATA_DIR"] == str(tmp_path)


def _write_named_zip(root: Path, name: str, a, x, y) -> Path:
    (root / "graphs").mkdir(parents=True, exist_ok=True)
    path = root / "graphs" / f"{name}.zip"
    with zipfile.ZipFile(path, "w") as zf:
        for part, arr in (("adj", a), ("feat", x), ("label", y)):
            buf = io.BytesIO()
            np.save(buf, arr)
            zf.writestr(f"{name}_{part}.npy", buf.getvalue())
    return path


def test_any_graph_in_the_cora_layout_is_a_dataset(tmp_path, monkeypatch):
    """Issue 15 part 6: a graph the test writes as graphs/<name>.zip is read by name through
    the experiments' ``dataset`` (validated: its self-loop is dropped), checked against
    SHA256SUMS when listed there, and a missing one raises Unavailable naming the file."""
    from methods.graphs.data import load_graph
    from methods.graphs.experiments import dataset

    a, x, y = _tiny()
    a[0, 0] = 1  # a self-loop, as BAT ships them
    path = _write_named_zip(tmp_path, "toygraph", a, x, y)
    monkeypatch.setenv("REPRO_DATA_DIR", str(tmp_path))
    g = dataset("toygraph", 0, nodes=0, classes=0, features=0, avg_degree=0, homophily=0,
                signal=0)
    assert (g.n, g.features.shape[1], g.classes) == (a.shape[0], x.shape[1], 3)
    assert g.adj.diagonal().sum() == 0 and g.edges == a.shape[0] - 1
    assert np.array_equal(g.labels, y)

    (tmp_path / "graphs" / "SHA256SUMS").write_text(f"{'0' * 64}  toygraph.zip\n")
    with pytest.raises(ValueError, match="SHA-256"):
        load_graph("toygraph", tmp_path)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    (tmp_path / "graphs" / "SHA256SUMS").write_text(f"{digest}  toygraph.zip\n")
    assert load_graph("toygraph", tmp_path).n == a.shape[0]

    with pytest.raises(Unavailable, match=r"absent\.zip.*absent_adj\.npy"):
        load_graph("absent", tmp_path)
    with pytest.raises(ValueError, match="graph name"):
        load_graph("../etc", tmp_path)
    with pytest.raises(ValueError, match="a CSBM must be one of"):
        dataset("csbm_typo", 0, nodes=0, classes=0, features=0, avg_degree=0, homophily=0,
                signal=0)


def test_wrong_members_name_the_file(tmp_path):
    from methods.graphs.data import load_graph

    a, x, y = _tiny()
    (tmp_path / "graphs").mkdir()
    _write_zip(tmp_path / "graphs" / "other.zip", a, x, y)  # cora_* members, wrong prefix
    with pytest.raises(ValueError, match=r"other\.zip: missing member"):
        load_graph("other", tmp_path)


@pytest.mark.parametrize("name, shape", [("citeseer", (3327, 3703, 6)), ("bat", (131, 81, 4))])
def test_shared_real_graphs_by_name(name, shape):
    """The shared data folder's CiteSeer and BAT through the same loader (skipped where
    REPRO_DATA_DIR does not hold them)."""
    from methods.graphs.data import load_graph

    try:
        g = load_graph(name)
    except Unavailable as e:
        pytest.skip(str(e))
    assert (g.n, g.features.shape[1], g.classes) == shape
    assert g.adj.diagonal().sum() == 0 and (g.adj != g.adj.T).nnz == 0
