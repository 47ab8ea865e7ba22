"""Thin adapter: rule correlation_plots -> caelatent.analyses.plot_correlations."""

from caelatent.logs import start_job

start_job(snakemake)

from caelatent.analyses import plot_correlations  # noqa: E402

p, o = snakemake.params.p, snakemake.output
plot_correlations(
    snakemake.input.latents,
    snakemake.input.moments,
    o.fig_matrix,
    o.fig_pairs,
    top_pairs=p["top_pairs"],
    chosen_image=p["chosen_image"],
    max_points=p["max_points_drawn"],
    uniform_b=p["uniform_b"],
    seed=snakemake.params.seed,
)
