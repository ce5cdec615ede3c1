"""LWA, "Learning Without Augmenting: Unsupervised Time Series Representation Learning via
Frame Projections" (Demirel, Holz; NeurIPS 2025; arXiv 2510.22655). Brief:
papers/frame_projections.md.

Importing the package registers its experiments (``experiments.py``).
"""

from . import experiments  # noqa: F401  (registration happens on import)
