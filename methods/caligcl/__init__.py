"""CaliGCL (Lin et al., NeurIPS 2025): calibrated graph contrastive learning via an
exponential partitioned similarity and a semantics-consistency discriminator.
Brief: papers/caligcl.md. Importing the package registers its experiments.
"""

from . import experiments  # noqa: F401  (registration happens on import)
