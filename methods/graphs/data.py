"""Graph data: a validated container, the Cora reader (``$REPRO_DATA_DIR/graphs``).

Two on-disk layouts are read:

* ``graphs/cora.zip``: the dense NumPy triple distributed with the RAGC code
  (``cora_adj.npy`` int 2708x2708 symmetric 0/1, ``cora_feat.npy`` 2708x1433,
  ``cora_label.npy`` 2708), checked against ``graphs/SHA256SUMS`` when that file exists;
* the Planetoid raw format (``ind.cora.{x,tx,allx,y,ty,ally,graph,test.index}``) under
  ``graphs/cora/raw/`` or ``graphs/Cora/raw/`` (the layout torch_geometric downloads).

Any other graph ``<name>`` is read from ``graphs/<name>.zip`` in the Cora zip layout
(``<name>_adj.npy``, ``<name>_feat.npy``, ``<name>_label.npy``; e.g. CiteSeer and BAT in
the shared data folder) by :func:`load_graph`, checked against ``graphs/SHA256SUMS`` when
it lists the file.

Everything is validated (shapes, symmetry, no self-loops, label range) before use.
"""

from __future__ import annotations

import functools
import hashlib
import io
import pickle
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from repro.registry import Unavailable, data_dir

CORA_MEMBERS = ("cora_adj.npy", "cora_feat.npy", "cora_label.npy")
PLANETOID_PARTS = ("x", "tx", "allx", "y", "ty", "ally", "graph", "test.index")
CORA_SHAPE = (2708, 1433, 7)


@dataclass(frozen=True)
class Graph:
    """An undirected attributed graph: ``adj`` symmetric 0/1 CSR without self-loops,
    ``features`` (N, F) float32, ``labels`` (N,) int64 in [0, classes)."""

    adj: sp.csr_matrix
    features: np.ndarray
    labels: np.ndarray

    @property
    def n(self) -> int:
        return int(self.adj.shape[0])

    @property
    def classes(self) -> int:
        return int(self.labels.max()) + 1

    @property
    def edges(self) -> int:
        """Number of undirected edges."""
        return int(self.adj.nnz // 2)

    def edge_homophily(self) -> float:
        """Fraction of edges joining nodes of the same class."""
        coo = self.adj.tocoo()
        return float(np.mean(self.labels[coo.row] == self.labels[coo.col])) if coo.nnz else 0.0


def validate_graph(adj, features, labels, *, source: str = "graph") -> Graph:
    """Check and canonicalise a graph; raise ``ValueError`` naming ``source`` on any problem.

    Checks: square adjacency, features with one row per node, 1-D integer labels with one
    per node, labels in [0, C) with every class present, a symmetric adjacency with
    non-negative entries. Self-loops are removed (the GCN adds its own) and weights are
    binarised.
    """
    adj = sp.csr_matrix(adj)
    features = np.asarray(features)
    labels = np.asarray(labels)
    if adj.ndim != 2 or adj.shape[0] != adj.shape[1]:
        raise ValueError(f"{source}: adjacency must be square, got shape {adj.shape}")
    n = adj.shape[0]
    if features.ndim != 2 or features.shape[0] != n:
        raise ValueError(f"{source}: features must be ({n}, F), got shape {features.shape}")
    if labels.ndim == 2:  # one-hot (Planetoid)
        labels = labels.argmax(axis=1)
    if labels.shape != (n,):
        raise ValueError(f"{source}: labels must have shape ({n},), got {labels.shape}")
    if not np.issubdtype(labels.dtype, np.integer):
        if not np.all(labels == np.round(labels)):
            raise ValueError(f"{source}: labels must be integers")
        labels = labels.astype(np.int64)
    if labels.min() < 0:
        raise ValueError(f"{source}: labels must be >= 0, found {labels.min()}")
    c = int(labels.max()) + 1
    missing = sorted(set(range(c)) - set(np.unique(labels).tolist()))
    if missing:
        raise ValueError(f"{source}: labels must cover 0..{c - 1}; classes {missing} are empty")
    if adj.nnz and adj.data.min() < 0:
        raise ValueError(f"{source}: adjacency has negative entries")
    if (adj != adj.T).nnz:
        raise ValueError(f"{source}: adjacency is not symmetric")
    if not np.all(np.isfinite(features)):
        raise ValueError(f"{source}: features contain non-finite values")
    adj = adj.tolil()
    adj.setdiag(0)
    adj = adj.tocsr()
    adj.eliminate_zeros()
    adj.data[:] = 1.0
    adj = adj.astype(np.float32)
    return Graph(adj=adj, features=features.astype(np.float32),
                 labels=labels.astype(np.int64))


def _check_sha(path: Path) -> None:
    sums_file = path.parent / "SHA256SUMS"
    if not sums_file.is_file():
        return
    sums = dict(reversed(line.split()[:2]) for line in sums_file.read_text().splitlines()
                if line.strip())
    if path.name in sums:
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        if sums[path.name] != digest:
            raise ValueError(f"{path}: SHA-256 {digest} does not match {sums_file}")


def read_npy_zip(path: Path, prefix: str = "cora") -> Graph:
    """Read ``<prefix>_{adj,feat,label}.npy`` from a zip (no extraction)."""
    path = Path(path)
    with zipfile.ZipFile(path) as zf:
        names = set(zf.namelist())
        want = [f"{prefix}_{s}.npy" for s in ("adj", "feat", "label")]
        lost = [m for m in want if m not in names]
        if lost:
            raise ValueError(f"{path}: missing member(s) {', '.join(lost)} "
                             f"(found {', '.join(sorted(names))})")
        adj, feat, lab = (np.load(io.BytesIO(zf.read(m)), allow_pickle=False) for m in want)
    return validate_graph(adj, feat, lab, source=str(path))


def read_planetoid(raw: Path, name: str = "cora") -> Graph:
    """The Planetoid raw files (Yang et al. 2016) as torch_geometric stores them.

    Test nodes are reordered by ``ind.<name>.test.index``; as in the reference loader,
    missing test indices (Citeseer) are filled with zero rows.
    """
    raw = Path(raw)
    objs = {}
    for part in PLANETOID_PARTS[:-1]:
        with open(raw / f"ind.{name}.{part}", "rb") as fh:
            objs[part] = pickle.load(fh, encoding="latin1")
    test_idx = np.loadtxt(raw / f"ind.{name}.test.index", dtype=np.int64).reshape(-1)
    def dense(m):
        return (m.toarray() if sp.issparse(m) else np.asarray(m))
    allx, tx = dense(objs["allx"]), dense(objs["tx"])
    ally, ty = np.asarray(objs["ally"]), np.asarray(objs["ty"])
    lo, hi = int(test_idx.min()), int(test_idx.max())
    n_test = hi - lo + 1
    tx_full = np.zeros((n_test, tx.shape[1]), dtype=tx.dtype)
    ty_full = np.zeros((n_test, ty.shape[1]), dtype=ty.dtype)
    tx_full[test_idx - lo], ty_full[test_idx - lo] = tx, ty
    feat = np.vstack([allx, tx_full])
    lab = np.vstack([ally, ty_full])
    n = feat.shape[0]
    rows, cols = [], []
    for src, nbrs in objs["graph"].items():
        for dst in nbrs:
            if src < n and dst < n:
                rows.append(src)
                cols.append(dst)
    a = sp.coo_matrix((np.ones(len(rows)), (rows, cols)), shape=(n, n)).tocsr()
    a = ((a + a.T) > 0).astype(np.float32)
    return validate_graph(a, feat, lab, source=str(raw))


def _where(root: Path) -> tuple[str, Path] | None:
    z = root / "graphs" / "cora.zip"
    if z.is_file():
        return "zip", z
    for sub in ("cora", "Cora"):
        raw = root / "graphs" / sub / "raw"
        if all((raw / f"ind.cora.{p}").is_file() for p in PLANETOID_PARTS):
            return "planetoid", raw
    return None


def load_cora(root: Path | None = None) -> Graph:
    """Cora (2 708 nodes, 1 433 features, 7 classes) from ``root`` (default: the data dir).

    Raises ``Unavailable`` naming what is missing and where it goes, and ``ValueError`` when
    a file is there but wrong (checksum, shapes, symmetry, labels).
    """
    root = Path(root) if root is not None else data_dir()
    found = _where(root)
    if found is None:
        raise Unavailable(
            f"Cora not found: expected {root / 'graphs' / 'cora.zip'} (members "
            f"{', '.join(CORA_MEMBERS)}; from github.com/TianxiangZhao0474/RAGC) or the "
            f"Planetoid raw files ind.cora.{{{','.join(PLANETOID_PARTS)}}} under "
            f"{root / 'graphs' / 'cora' / 'raw'} (github.com/kimiyoung/planetoid); "
            "set REPRO_DATA_DIR to the folder holding graphs/")
    kind, path = found
    files = [path] if kind == "zip" else [path / f"ind.cora.{p}" for p in PLANETOID_PARTS]
    if kind == "zip" and (path.parent / "SHA256SUMS").is_file():
        files.append(path.parent / "SHA256SUMS")
    stamp = tuple((str(f), f.stat().st_mtime_ns, f.stat().st_size) for f in files)
    return _read_cora(kind, str(path), stamp)


CORA_HOW = ("get cora.zip from github.com/TianxiangZhao0474/RAGC (or the Planetoid raw files "
            "from github.com/kimiyoung/planetoid) and put it under $REPRO_DATA_DIR/graphs")


@functools.lru_cache(maxsize=2)  # one unit per seed would re-read and re-hash the same files
def _read_cora(kind: str, path_s: str, stamp: tuple) -> Graph:
    path = Path(path_s)
    try:
        if kind == "zip":
            _check_sha(path)
            g = read_npy_zip(path)
        else:
            g = read_planetoid(path)
    except (OSError, EOFError, ValueError, KeyError, zipfile.BadZipFile,
            pickle.UnpicklingError) as e:  # a damaged or truncated file: name it, say the fix
        msg = str(e).removeprefix(f"{path}: ")
        raise ValueError(f"{path}: unreadable or damaged ({type(e).__name__}: {msg}); "
                         f"{CORA_HOW}") from None
    n, f, c = CORA_SHAPE
    if (g.n, g.features.shape[1], g.classes) != (n, f, c):
        raise ValueError(f"{path}: expected Cora's {n} nodes, {f} features and {c} classes, "
                         f"got {g.n}, {g.features.shape[1]} and {g.classes}")
    return g


GRAPH_NAME = re.compile(r"^[a-z0-9_]+$")


def load_graph(name: str, root: Path | None = None) -> Graph:
    """The graph ``name``: Cora through :func:`load_cora` (zip or Planetoid files), any
    other name from ``<root>/graphs/<name>.zip`` in the same layout as ``cora.zip``.

    Raises ``Unavailable`` naming the file and its members when it is absent (a claim on
    it is then `skipped` with that message), and ``ValueError`` naming the file when it is
    there but damaged or invalid (checksum, members, shapes, symmetry, labels).
    """
    if not isinstance(name, str) or not GRAPH_NAME.match(name):
        raise ValueError(f"graph name must match {GRAPH_NAME.pattern}, got {name!r}")
    if name == "cora":
        return load_cora(root)
    root = Path(root) if root is not None else data_dir()
    path = root / "graphs" / f"{name}.zip"
    if not path.is_file():
        raise Unavailable(
            f"graph {name!r} not found: expected {path} holding {name}_adj.npy, "
            f"{name}_feat.npy and {name}_label.npy (the layout of cora.zip); set "
            "REPRO_DATA_DIR to the folder holding graphs/")
    files = [path] + ([path.parent / "SHA256SUMS"] if (path.parent / "SHA256SUMS").is_file()
                      else [])
    stamp = tuple((str(f), f.stat().st_mtime_ns, f.stat().st_size) for f in files)
    return _read_named(name, str(path), stamp)


@functools.lru_cache(maxsize=4)
def _read_named(name: str, path_s: str, stamp: tuple) -> Graph:
    path = Path(path_s)
    try:
        _check_sha(path)
        return read_npy_zip(path, prefix=name)
    except (OSError, EOFError, KeyError, zipfile.BadZipFile) as e:
        raise ValueError(f"{path}: unreadable or damaged ({type(e).__name__}: {e})") from None
