"""A Statistical Theory of Contrastive Learning via Approximate Sufficient Statistics
(Lin & Mei, NeurIPS 2025; arXiv 2503.17538; brief papers/sufficient_stats.md).

Two testbeds with exact references: a Gaussian linear-regression model with closed-form
KL and chi-square sufficiency (``gaussian``), and a topic model with exact posteriors and
Bayes accuracies (``topics``). Importing the package registers their experiments.
"""

from . import gaussian_experiments, topic_experiments  # noqa: F401  (registration)
