"""Time-series datasets: the UCR/UEA archive layout under the data directory and the sets
that ship inside aeon, read with aeon's own readers, validated, as (n, channels, length)
arrays with integer labels 0..K-1.

Layout read from ``<data_dir>/ucr`` (``$REPRO_DATA_DIR/ucr``)::

    <Name>/<Name>_TRAIN.tsv, <Name>/<Name>_TEST.tsv   (UCR 2018: label, then the series)
    <Name>/<Name>_TRAIN.ts,  <Name>/<Name>_TEST.ts    (UEA/sktime .ts format)
    SHA256SUMS                                         (optional: "<sha256>  <Name>/<file>")

When ``SHA256SUMS`` is present every file it lists that is read is verified; a mismatch is a
``ValueError``. A missing file raises ``repro.registry.Unavailable`` naming the file and the
archive's address. The sets in ``AEON_SHIPPED`` need no data directory.
"""

from __future__ import annotations

import functools
import hashlib
from pathlib import Path

import numpy as np
import torch

from repro.registry import Unavailable, data_dir

UCR_URL = "https://www.cs.ucr.edu/~eamonn/time_series_data_2018"
UEA_URL = "https://www.timeseriesclassification.com"
REDOWNLOAD = f"download it again from {UCR_URL} (univariate) or {UEA_URL} (multivariate)"

#: name -> the aeon loader's function name (aeon.datasets); these ship inside the aeon wheel
AEON_SHIPPED = {
    "BasicMotions": "load_basic_motions",
    "GunPoint": "load_gunpoint",
    "ArrowHead": "load_arrow_head",
    "ItalyPowerDemand": "load_italy_power_demand",
    "OSULeaf": "load_osuleaf",
    "JapaneseVowels": "load_japanese_vowels",
}

SPLITS = ("train", "test")


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def read_sums(path: Path) -> dict[str, str]:
    """``SHA256SUMS`` as {relative path: digest} (``sha256sum`` format; ``*`` binary marker
    allowed)."""
    sums = {}
    for line in path.read_text().splitlines():
        if line.strip():
            digest, name = line.split(maxsplit=1)
            sums[name.strip().lstrip("*")] = digest.lower()
    return sums


def verify_file(path: Path, root: Path) -> None:
    """Check ``path`` against ``root/SHA256SUMS`` when that file lists it; ValueError on a
    mismatch. Files not listed (or no SHA256SUMS) are accepted unchecked."""
    sums_file = root / "SHA256SUMS"
    if not sums_file.is_file():
        return
    rel = path.relative_to(root).as_posix()
    sums = read_sums(sums_file)
    if rel in sums:
        digest = _sha256(path)
        if digest != sums[rel]:
            raise ValueError(f"{path}: SHA-256 {digest} does not match {sums_file} "
                             f"({sums[rel]}); {REDOWNLOAD}")


def encode_labels(*ys: np.ndarray) -> tuple[list[np.ndarray], np.ndarray]:
    """Map labels of every split jointly to 0..K-1 (sorted unique values; numeric strings
    sorted as numbers). Returns the encoded arrays and the class values."""
    allv = np.concatenate([np.asarray(y).ravel() for y in ys])
    try:
        classes = np.unique(allv.astype(np.float64))
        enc = [np.searchsorted(classes, np.asarray(y).astype(np.float64)) for y in ys]
    except ValueError:
        classes = np.unique(allv.astype(str))
        enc = [np.searchsorted(classes, np.asarray(y).astype(str)) for y in ys]
    return [e.astype(np.int64) for e in enc], classes


def validate(x: np.ndarray, y: np.ndarray, where: str) -> None:
    """(n, c, L) finite float array and n integer labels >= 0; ValueError naming ``where``."""
    if x.ndim != 3:
        raise ValueError(f"{where}: expected (n, channels, length) values, got shape {x.shape}")
    if len(x) != len(y):
        raise ValueError(f"{where}: {len(x)} series but {len(y)} labels")
    if len(x) == 0 or x.shape[1] < 1 or x.shape[2] < 2:
        raise ValueError(f"{where}: empty or too short, shape {x.shape}")
    if not np.all(np.isfinite(x)):
        raise ValueError(f"{where}: non-finite values (missing values are not supported; a "
                         f"truncated file reads this way too: {REDOWNLOAD})")
    if y.dtype.kind not in "iu" or y.min() < 0:
        raise ValueError(f"{where}: labels must be integers >= 0")


def pad_edge(series: list[np.ndarray], length: int | None = None) -> np.ndarray:
    """Unequal-length (c, L_i) series to (n, c, length) by repeating each one's last value."""
    length = length or max(s.shape[-1] for s in series)
    return np.stack([np.pad(s, ((0, 0), (0, length - s.shape[-1])), mode="edge")
                     for s in series])


def _ucr_files(name: str, root: Path) -> tuple[Path, Path, str]:
    folder = root / name
    for ext in ("tsv", "ts"):
        files = (folder / f"{name}_TRAIN.{ext}", folder / f"{name}_TEST.{ext}")
        if all(f.is_file() for f in files):
            return files[0], files[1], ext
    missing = folder / f"{name}_TRAIN.tsv"
    raise Unavailable(
        f"time-series set {name!r} not found: {missing} (or {name}_TRAIN.ts / _TEST.ts) is "
        f"missing under {root}. Download the UCR 2018 archive from {UCR_URL} (univariate) or "
        f"the UEA archive from {UEA_URL} (multivariate .ts) and unpack <Name>/ folders into "
        "$REPRO_DATA_DIR/ucr")


@functools.lru_cache(maxsize=8)
def _read_archive(name: str, root_s: str, stamp: tuple) -> tuple[np.ndarray, ...]:
    from aeon.datasets import load_from_ts_file, load_from_tsv_file

    root = Path(root_s)
    train, test, ext = _ucr_files(name, root)
    out = []
    for f in (train, test):
        verify_file(f, root)
        try:
            x, y = (load_from_tsv_file(str(f)) if ext == "tsv" else load_from_ts_file(str(f)))
        except Exception as e:  # noqa: BLE001 - aeon's parser errors do not name the file
            raise ValueError(f"{f}: unreadable as a UCR/UEA .{ext} file ({type(e).__name__}: "
                             f"{e}); the file may be truncated: {REDOWNLOAD}") from None
        if isinstance(x, list):
            x = pad_edge([np.asarray(s, dtype=np.float64) for s in x])
        out += [np.asarray(x, dtype=np.float64), np.asarray(y)]
    return tuple(out)


def _read_aeon(name: str) -> tuple[np.ndarray, ...]:
    import aeon.datasets

    loader = getattr(aeon.datasets, AEON_SHIPPED[name])
    out = []
    for split in SPLITS:
        x, y = loader(split=split)
        out += [x, np.asarray(y)]
    if isinstance(out[0], list) or isinstance(out[2], list):  # unequal length (JapaneseVowels)
        length = max(s.shape[-1] for s in [*out[0], *out[2]])
        out[0] = pad_edge([np.asarray(s, dtype=np.float64) for s in out[0]], length)
        out[2] = pad_edge([np.asarray(s, dtype=np.float64) for s in out[2]], length)
    return tuple(np.asarray(v) if i % 2 else np.asarray(v, dtype=np.float64)
                 for i, v in enumerate(out))


def load_dataset(name: str, root: Path | str | None = None) -> tuple[np.ndarray, np.ndarray,
                                                                        np.ndarray, np.ndarray]:
    """(x_train, y_train, x_test, y_test): float64 (n, c, L) and int64 labels 0..K-1.

    ``name`` is an aeon-shipped set (``AEON_SHIPPED``, no files needed) or a folder of the
    UCR/UEA layout under ``root`` (default ``$REPRO_DATA_DIR/ucr``). Raises ``Unavailable``
    when the files are absent and ``ValueError`` on a checksum, shape or label problem.
    Returned arrays are copies; the series are as stored (not normalised).
    """
    if name in AEON_SHIPPED and root is None:
        xtr, ytr, xte, yte = _read_aeon(name)
    else:
        root = Path(root) if root is not None else data_dir() / "ucr"
        files = _ucr_files(name, root)[:2]
        stamp = tuple((str(f), f.stat().st_mtime_ns, f.stat().st_size)
                      for f in (*files, root / "SHA256SUMS") if f.is_file())
        xtr, ytr, xte, yte = _read_archive(name, str(root), stamp)
        where = (str(files[0]), str(files[1]))
    if name in AEON_SHIPPED and root is None:
        where = (f"{name} train", f"{name} test")
    (ytr, yte), _ = encode_labels(ytr, yte)
    validate(xtr, ytr, where[0])
    validate(xte, yte, where[1])
    if xtr.shape[1:] != xte.shape[1:]:
        raise ValueError(f"{where[1]}: series of shape {xte.shape[1:]} (channels, length), but "
                         f"{where[0]} has {xtr.shape[1:]}; {REDOWNLOAD}")
    return xtr.copy(), ytr, xte.copy(), yte


def znormalise(x: np.ndarray | torch.Tensor, eps: float = 1e-8):
    """Each series and channel to mean 0, sd 1 along time (constant series stay 0)."""
    mu = x.mean(-1, keepdims=True) if isinstance(x, np.ndarray) else x.mean(-1, keepdim=True)
    sd = x.std(-1, keepdims=True) if isinstance(x, np.ndarray) else x.std(-1, keepdim=True,
                                                                        unbiased=False)
    return (x - mu) / (sd + eps)


def stratified_subset(y: np.ndarray, size: int, seed: int = 0) -> np.ndarray:
    """Sorted indices of a class-stratified subset of ``size`` labels (all when size >= n);
    every class keeps at least one member. Fixed by ``seed`` (default: a fixed split)."""
    n = len(y)
    if size >= n:
        return np.arange(n)
    rng = np.random.default_rng(seed)
    classes, counts = np.unique(y, return_counts=True)
    quota = np.maximum(1, np.floor(counts * size / n).astype(int))
    while quota.sum() < size:  # distribute the rounding remainder to the largest classes
        room = counts - quota
        quota[np.argmax(room * (room > 0))] += 1
    idx = [rng.choice(np.flatnonzero(y == c), q, replace=False) for c, q in zip(classes, quota)]
    return np.sort(np.concatenate(idx))


def downsample(x: np.ndarray, max_length: int) -> tuple[np.ndarray, int]:
    """Average-pool time by the smallest integer factor that brings L to <= max_length
    (a trailing remainder is dropped); returns the series and the factor."""
    length = x.shape[-1]
    factor = -(-length // max_length)
    if factor <= 1:
        return x, 1
    keep = (length // factor) * factor
    return x[..., :keep].reshape(*x.shape[:-1], keep // factor, factor).mean(-1), factor


def to_torch(x: np.ndarray, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    return torch.as_tensor(np.ascontiguousarray(x), dtype=dtype)
