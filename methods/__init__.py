"""Paper method packages; each registers experiments with repro.registry."""
