"""CANDY: contrastive aligned neural dynamics across sessions (Jiang, Sheng et al., NeurIPS 2025;
brief papers/candy.md).

Importing the package registers its experiments (``candy_*``).
"""

from . import experiments  # noqa: F401  (registration happens on import)
