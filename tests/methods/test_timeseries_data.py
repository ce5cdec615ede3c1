"""Tests of methods.common.timeseries: the UCR/UEA reader on synthetic archives written to a
temporary directory (TSV and .ts, checksums, missing files, label encoding), the aeon-shipped
sets, and the helpers. The real /work/shared/data/ucr sets are read by one test that skips
when they are absent."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from methods.common import timeseries as ts
from repro.registry import Unavailable

SHARED = Path(os.environ.get("REPRO_DATA_DIR", "/work/shared/data")) / "ucr"
SHARED_SETS = {  # name: (train n, test n, length, classes)
    "ECG200": (100, 100, 96, 2), "ECG5000": (500, 4500, 140, 5),
    "FordA": (3601, 1320, 500, 2), "UWaveGestureLibraryAll": (896, 3582, 945, 8),
}


def _write_tsv(path: Path, x: np.ndarray, y) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = ["\t".join([str(lab)] + [f"{v:.6f}" for v in row]) for lab, row in zip(y, x)]
    path.write_text("\n".join(lines) + "\n")


def _archive(tmp_path: Path, name="Toy", sums=True, labels=(-1, 1)) -> tuple[Path, np.ndarray]:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((10, 24))
    y_tr = np.array([labels[i % 2] for i in range(6)])
    y_te = np.array([labels[(i + 1) % 2] for i in range(4)])
    _write_tsv(tmp_path / name / f"{name}_TRAIN.tsv", x[:6], y_tr)
    _write_tsv(tmp_path / name / f"{name}_TEST.tsv", x[6:], y_te)
    if sums:
        lines = [f"{hashlib.sha256((tmp_path / name / f).read_bytes()).hexdigest()}  {name}/{f}"
                 for f in (f"{name}_TRAIN.tsv", f"{name}_TEST.tsv")]
        (tmp_path / "SHA256SUMS").write_text("\n".join(lines) + "\n")
    return tmp_path, x


def test_tsv_archive_roundtrip_and_label_encoding(tmp_path):
    root, x = _archive(tmp_path)
    xtr, ytr, xte, yte = ts.load_dataset("Toy", root)
    assert xtr.shape == (6, 1, 24) and xte.shape == (4, 1, 24)
    assert xtr.dtype == np.float64 and ytr.dtype == np.int64
    np.testing.assert_allclose(xtr[:, 0], x[:6], atol=1e-6)
    np.testing.assert_array_equal(ytr, [0, 1, 0, 1, 0, 1])  # -1 -> 0, 1 -> 1
    np.testing.assert_array_equal(yte, [1, 0, 1, 0])


def test_checksum_mismatch_is_an_error(tmp_path):
    root, _ = _archive(tmp_path)
    f = root / "Toy" / "Toy_TEST.tsv"
    f.write_text(f.read_text().replace("\t", "\t1", 1))  # edit one value, keep the format
    with pytest.raises(ValueError, match="SHA-256"):
        ts.load_dataset("Toy", root)


def test_missing_set_names_file_and_archive(tmp_path):
    with pytest.raises(Unavailable) as err:
        ts.load_dataset("Nope", tmp_path)
    msg = str(err.value)
    assert "Nope_TRAIN.tsv" in msg and "time_series_data_2018" in msg


def test_ts_format_multivariate(tmp_path):
    d = tmp_path / "Multi"
    d.mkdir()
    header = ("@problemName Multi\n@timeStamps false\n@missing false\n@univariate false\n"
              "@dimensions 2\n@equalLength true\n@seriesLength 5\n@classLabel true a b\n@data\n")
    rows = ["1,2,3,4,5:5,4,3,2,1:a", "0,0,1,0,0:1,1,1,1,1:b", "2,2,2,2,2:0,1,0,1,0:a"]
    for split in ("TRAIN", "TEST"):
        (d / f"Multi_{split}.ts").write_text(header + "\n".join(rows) + "\n")
    xtr, ytr, xte, yte = ts.load_dataset("Multi", tmp_path)
    assert xtr.shape == (3, 2, 5)
    np.testing.assert_array_equal(xtr[0, 1], [5, 4, 3, 2, 1])
    np.testing.assert_array_equal(ytr, [0, 1, 0])


def test_validate_rejects_bad_input():
    with pytest.raises(ValueError, match="labels"):
        ts.validate(np.zeros((3, 1, 5)), np.zeros(2, dtype=np.int64), "w")
    with pytest.raises(ValueError, match="non-finite"):
        ts.validate(np.full((2, 1, 5), np.nan), np.zeros(2, dtype=np.int64), "w")
    with pytest.raises(ValueError, match="channels"):
        ts.validate(np.zeros((2, 5)), np.zeros(2, dtype=np.int64), "w")


@pytest.mark.parametrize("name,shape,classes", [("BasicMotions", (40, 6, 100), 4),
                                                 ("GunPoint", (50, 1, 150), 2)])
def test_aeon_shipped_sets(name, shape, classes):
    xtr, ytr, xte, yte = ts.load_dataset(name)
    assert xtr.shape == shape and len(yte) == len(xte)
    assert set(np.unique(np.concatenate([ytr, yte]))) == set(range(classes))


def test_unequal_length_padded_by_edge():
    out = ts.pad_edge([np.array([[1.0, 2.0]]), np.array([[3.0, 4.0, 5.0]])])
    np.testing.assert_array_equal(out[0, 0], [1, 2, 2])


@settings(max_examples=20, deadline=None)
@given(n=st.integers(1, 5), c=st.integers(1, 3), length=st.integers(2, 40),
       seed=st.integers(0, 2**31 - 1))
def test_znormalise_moments_and_torch_agrees(n, c, length, seed):
    x = np.random.default_rng(seed).normal(3.0, 2.0, (n, c, length))
    z = ts.znormalise(x)
    np.testing.assert_allclose(z.mean(-1), 0, atol=1e-10)
    np.testing.assert_allclose(z.std(-1), 1, atol=1e-6)
    np.testing.assert_allclose(ts.znormalise(torch.as_tensor(x)).numpy(), z, atol=1e-10)


def test_stratified_subset_and_downsample():
    y = np.repeat([0, 1, 2], [50, 30, 20])
    idx = ts.stratified_subset(y, 10)
    assert len(idx) == 10 and set(y[idx]) == {0, 1, 2}
    np.testing.assert_array_equal(idx, ts.stratified_subset(y, 10))  # fixed
    x = np.arange(2 * 945, dtype=float).reshape(2, 1, 945)
    xd, f = ts.downsample(x, 256)
    assert f == 4 and xd.shape == (2, 1, 236)
    assert xd[0, 0, 0] == pytest.approx(np.mean([0, 1, 2, 3]))


@pytest.mark.skipif(not (SHARED / "SHA256SUMS").is_file(), reason="shared UCR data absent")
@pytest.mark.parametrize("name", ["ECG200", "ECG5000"])
def test_shared_ucr_sets(name):
    """Reads the real archive files (checksums verified on read)."""
    xtr, ytr, xte, yte = ts.load_dataset(name, SHARED)
    n_tr, n_te, length, classes = SHARED_SETS[name]
    assert xtr.shape == (n_tr, 1, length) and xte.shape == (n_te, 1, length)
    assert ytr.max() + 1 == classes or yte.max() + 1 == classes
