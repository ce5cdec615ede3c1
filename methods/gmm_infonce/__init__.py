"""Contrastive learning on Gaussian mixtures (Bansal, Kavis, Sanghavi; arXiv 2411.03517).

Importing the package registers its experiments (``gmm_infonce``, ``gmm_posterior_fisher``).
"""

from . import experiments  # noqa: F401  (registration happens on import)
