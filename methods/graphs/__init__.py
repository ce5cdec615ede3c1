"""Shared graph pieces for the graph-contrastive papers (CaliGCL, RAGC): a validated Cora
reader, a contextual SBM generator, a sparse 2-layer GCN with GRACE-style augmentations,
the GRACE baseline, the linear-probe protocol and training-free baselines.

Importing the package registers its experiments (``experiments.py``).
"""

from . import experiments  # noqa: F401  (registration happens on import)
