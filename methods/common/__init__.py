"""Pieces several papers share: the InfoNCE losses, clustering scores and seed derivation."""
