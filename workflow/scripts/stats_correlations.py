"""Thin adapter: rule correlations -> caelatent.analyses.run_correlations."""

from caelatent.logs import log_to

log_to(snakemake.log[0])

from caelatent.analyses import run_correlations  # noqa: E402

p, o = snakemake.params.p, snakemake.output
run_correlations(snakemake.input.latents, snakemake.input.moments, o.matrix, o.counts, o.pairs, o.fig_matrix,
                 o.fig_pairs, thresholds=p["count_thresholds"], list_threshold=p["list_threshold"],
                 top_pairs=p["top_pairs"], chosen_image=p["chosen_image"], max_points=p["max_points_drawn"],
                 uniform_b=p["uniform_b"], seed=snakemake.params.seed)
