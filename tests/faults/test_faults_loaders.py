"""Data loaders given a missing, truncated or wrong-shape file fail with the file's name
and how to get the data -- never a bare traceback from deep inside a parser, never a
silently wrong array."""

from __future__ import annotations

import gzip
import shutil
import struct
from pathlib import Path

import numpy as np
import pytest

from repro.registry import Unavailable


def _idx(shape: tuple[int, ...], fill: int = 0) -> bytes:
    head = b"\x00\x00\x08" + bytes([len(shape)]) + b"".join(struct.pack(">I", s) for s in shape)
    return head + bytes([fill]) * int(np.prod(shape))


def _fashion_dir(tmp: Path, images: bytes, labels: bytes) -> Path:
    d = tmp / "fashion-mnist"
    d.mkdir()
    for img, lab in [("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
                     ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")]:
        (d / img).write_bytes(gzip.compress(images))
        (d / lab).write_bytes(gzip.compress(labels))
    return d


class TestFashionMNIST:
    how = "dataset-fashion-mnist"

    def load(self, root):
        from methods.adv_ssl.data import fashion_mnist

        return fashion_mnist("train", root=root)

    def test_missing(self, tmp_path):
        with pytest.raises(Unavailable, match=f"train-images-idx3-ubyte.gz.*{self.how}"):
            self.load(tmp_path)

    def test_truncated(self, tmp_path):
        d = _fashion_dir(tmp_path, _idx((10, 28, 28)), _idx((10,)))
        f = d / "train-images-idx3-ubyte.gz"
        f.write_bytes(f.read_bytes()[:30])  # a cut-off download
        with pytest.raises(ValueError, match=f"train-images-idx3-ubyte.gz.*{self.how}"):
            self.load(d)

    def test_wrong_shape(self, tmp_path):
        d = _fashion_dir(tmp_path, _idx((10, 8, 8)), _idx((10,)))
        with pytest.raises(ValueError, match=f"train-images-idx3-ubyte.gz.*28, 28.*{self.how}"):
            self.load(d)

    def test_checksum_mismatch(self, tmp_path):
        from repro.settings import data_dir

        real = data_dir() / "fashion-mnist"
        if not (real / "SHA256SUMS").exists():
            pytest.skip("no shared Fashion-MNIST here")
        d = _fashion_dir(tmp_path, _idx((10, 28, 28)), _idx((10,)))
        shutil.copy(real / "SHA256SUMS", d / "SHA256SUMS")
        with pytest.raises(ValueError, match=f"SHA256SUMS.*{self.how}"):
            self.load(d)


class TestCandySessions:
    """Users' own recordings (one .npz per session: spikes or rates x time, behaviour x time)."""

    def load(self, path):
        from methods.candy.data import load_sessions

        return load_sessions(path, trial_len=10, min_trials=2)

    def _good(self, path, t=40):
        rng = np.random.default_rng(0)
        np.savez(path, spikes=rng.poisson(1.0, (5, t)), behavior=rng.standard_normal((2, t)))

    def test_missing(self, tmp_path):
        from methods.candy.data import SessionFileError

        with pytest.raises(SessionFileError, match="nothere.npz"):
            self.load(tmp_path / "nothere.npz")

    def test_truncated(self, tmp_path):
        from methods.candy.data import SessionFileError

        f = tmp_path / "s1.npz"
        self._good(f)
        f.write_bytes(f.read_bytes()[:100])
        with pytest.raises(SessionFileError, match=r"s1\.npz.*not a readable \.npz"):
            self.load(tmp_path)

    def test_wrong_shape(self, tmp_path):
        from methods.candy.data import SessionFileError

        f = tmp_path / "s2.npz"
        np.savez(f, spikes=np.ones((5, 40)), behavior=np.ones((2, 39)))
        with pytest.raises(SessionFileError, match=r"s2\.npz.*40 time bins.*39"):
            self.load(f)


class TestCora:
    how = "TianxiangZhao0474/RAGC"

    def load(self, root):
        from methods.graphs.data import _read_cora, load_cora

        _read_cora.cache_clear()
        return load_cora(root)

    def _zip(self, root, adj, feat, lab):
        import io
        import zipfile

        (root / "graphs").mkdir(parents=True, exist_ok=True)
        z = root / "graphs" / "cora.zip"
        with zipfile.ZipFile(z, "w") as zf:
            for name, arr in (("cora_adj.npy", adj), ("cora_feat.npy", feat),
                              ("cora_label.npy", lab)):
                buf = io.BytesIO()
                np.save(buf, arr)
                zf.writestr(name, buf.getvalue())
        return z

    def test_missing(self, tmp_path):
        with pytest.raises(Unavailable, match=f"cora.zip.*{self.how}"):
            self.load(tmp_path)

    def test_truncated(self, tmp_path):
        z = self._zip(tmp_path, np.zeros((4, 4), np.int32), np.zeros((4, 3), np.float32),
                      np.arange(4))
        z.write_bytes(z.read_bytes()[:200])
        with pytest.raises(ValueError, match=f"cora.zip.*damaged.*{self.how}"):
            self.load(tmp_path)

    def test_wrong_shape(self, tmp_path):
        self._zip(tmp_path, np.zeros((4, 4), np.int32), np.zeros((5, 3), np.float32),
                  np.arange(4))
        with pytest.raises(ValueError, match=r"cora.zip.*features must be \(4, F\)"):
            self.load(tmp_path)


class TestUCR:
    how = "cs.ucr.edu"

    def load(self, root, name="Toy"):
        from methods.common.timeseries import _read_archive, load_dataset

        _read_archive.cache_clear()
        return load_dataset(name, root=root)

    def _write(self, root, train_len=8, test_len=8, rows=6):
        d = root / "Toy"
        d.mkdir(parents=True, exist_ok=True)
        rng = np.random.default_rng(0)
        for split, length in (("TRAIN", train_len), ("TEST", test_len)):
            lines = [f"{i % 2}\t" + "\t".join(f"{v:.4f}" for v in rng.standard_normal(length))
                     for i in range(rows)]
            (d / f"Toy_{split}.tsv").write_text("\n".join(lines) + "\n")
        return d

    def test_missing(self, tmp_path):
        with pytest.raises(Unavailable, match=f"Toy_TRAIN.tsv.*{self.how}"):
            self.load(tmp_path)

    def test_truncated(self, tmp_path):
        d = self._write(tmp_path)
        f = d / "Toy_TEST.tsv"
        f.write_text(f.read_text()[:-25])  # the last row cut mid-series
        with pytest.raises(ValueError, match=f"Toy_TEST.tsv.*{self.how}"):
            self.load(tmp_path)

    def test_wrong_shape(self, tmp_path):
        self._write(tmp_path, test_len=9)
        with pytest.raises(ValueError, match=rf"Toy_TEST.tsv.*\(1, 9\).*{self.how}"):
            self.load(tmp_path)

    def test_valid_toy_set_loads(self, tmp_path):
        self._write(tmp_path)
        xtr, ytr, xte, yte = self.load(tmp_path)
        assert xtr.shape == (6, 1, 8) and set(ytr) == {0, 1}
