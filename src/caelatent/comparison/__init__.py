"""The experiments side by side (stage compare): each run's rows, the tables over replicates with their intervals, the differences between experiments and each experiment's best cloud sampler."""
