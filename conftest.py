"""Test-wide settings: real data for tests comes from ``../shared/data`` unless
``REPRO_DATA_DIR`` already says where it is (CI sets it explicitly)."""

import os
from pathlib import Path

_shared = Path(__file__).resolve().parent.parent / "shared" / "data"
if "REPRO_DATA_DIR" not in os.environ and _shared.is_dir():
    os.environ["REPRO_DATA_DIR"] = str(_shared)
