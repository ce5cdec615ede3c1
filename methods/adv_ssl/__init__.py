"""Adv-SSL (Duan, Jiao, Lin, Ma, Yang; NeurIPS 2025; arXiv 2408.08533): the bias of
covariance-to-identity losses, the unbiased adversarial (linear-in-C) estimator, and an
audit of the released same-batch detached adversary. Brief: papers/adv_ssl.md.

Importing the package registers its experiments (``experiments.py``).
"""

from . import experiments  # noqa: F401  (registration happens on import)
