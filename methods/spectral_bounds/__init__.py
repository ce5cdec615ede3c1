"""Spectral bounds on InfoNCE gradient norms (Ochieng, NeurIPS 2025; arXiv 2510.05767).

Importing the package registers its experiments (see ``experiments.py``). Brief:
papers/spectral_bounds.md. The per-anchor gradient, band, effective rank and whitening
live in ``methods.common.infonce_grad``.
"""

from . import experiments  # noqa: F401  (registration happens on import)
