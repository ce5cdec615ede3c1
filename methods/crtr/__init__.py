"""CRTR: Contrastive Representations for Temporal Reasoning (Ziarko, Bortkiewicz, Zawalski,
Eysenbach, Milos; NeurIPS 2025; arXiv 2508.13113). Vectorised cubes (3x3x3, 2x2x2 with an
exact BFS table), the context maze, CRL vs CRTR batches, the shared InfoNCE, best-first
search. Brief: papers/crtr.md.

Importing the package registers its experiments (``experiments.py``).
"""

from . import experiments  # noqa: F401  (registration happens on import)
