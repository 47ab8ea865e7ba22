"""Scores of decoded samples (face detection, realism, FID), their intervals and the sampler summary's columns (stage evaluate)."""
