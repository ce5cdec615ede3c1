"""Where things live: data, unit cache and results directories (env-overridable)."""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs


def data_dir() -> Path:
    """Real datasets: ``$REPRO_DATA_DIR``, else the user cache dir's ``data``."""
    env = os.environ.get("REPRO_DATA_DIR")
    return Path(env).expanduser() if env else Path(platformdirs.user_cache_dir("repro")) / "data"


def cache_dir() -> Path:
    """Unit-result cache: ``$REPRO_CACHE_DIR``, else the user cache dir's ``units``."""
    env = os.environ.get("REPRO_CACHE_DIR")
    return Path(env).expanduser() if env else Path(platformdirs.user_cache_dir("repro")) / "units"


def results_dir() -> Path:
    """Committed results: ``$REPRO_RESULTS_DIR``, else ``./results``."""
    env = os.environ.get("REPRO_RESULTS_DIR")
    return Path(env).expanduser() if env else Path.cwd() / "results"
