"""Samplers of latent vectors and the generation of decoded samples (stage generate)."""
