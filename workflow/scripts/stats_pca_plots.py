"""Thin adapter: rule pca_plots -> caelatent.analyses.plot_pca."""

from caelatent.logs import start_job

start_job(snakemake)

from caelatent.analyses import plot_pca  # noqa: E402

o = snakemake.output
plot_pca(
    snakemake.input.latents,
    snakemake.input.moments,
    o.fig_spectrum,
    o.fig_planes,
    planes=snakemake.params.p["planes"],
)
