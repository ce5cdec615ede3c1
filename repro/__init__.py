"""repro: claims-as-tests reproduction harness for contrastive-learning papers.

Public API: :func:`run_claim`, :func:`load_results`, and for method packages
:func:`experiment` and :class:`Unavailable`.
"""

from __future__ import annotations

__version__ = "0.1.0"

from .registry import Unavailable, experiment  # noqa: E402


def run_claim(path, scale: str = "default", **kwargs):
    """Run one claim file; see :func:`repro.runner.run_claim`."""
    from .runner import run_claim as _run

    return _run(path, scale=scale, **kwargs)


def load_results(results_dir=None):
    """All stored results as a pandas DataFrame (one row per claim, scale, check and group)."""
    from .results import load_results as _load

    return _load(results_dir)


__all__ = ["run_claim", "load_results", "experiment", "Unavailable", "__version__"]
