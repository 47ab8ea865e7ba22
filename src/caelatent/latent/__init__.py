"""The latent cloud: its moments and statistics, the normality tests, the tails, and the attribute directions (stages stats and attributes)."""
