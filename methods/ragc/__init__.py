"""RAGC (Zhao et al., NeurIPS 2025; arXiv 2510.02731): hybrid-collaborative augmentation
and contrastive sample adaptive-differential awareness for attributed graph clustering,
ported from the official code. Brief: papers/ragc.md. Importing registers the experiments.
"""

from . import experiments  # noqa: F401  (registration happens on import)
