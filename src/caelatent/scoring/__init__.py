"""Scores of decoded samples (face detection, realism, FID), their intervals, and the comparison of experiments and replicates (stages evaluate and compare)."""
