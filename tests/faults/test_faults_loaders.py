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
