"""Thin adapter: rule pca_plots -> caelatent.analyses.plot_pca."""

from caelatent.logs import log_to

log_to(snakemake.log[0])

from caelatent.analyses import plot_pca  # noqa: E402

o = snakemake.output
plot_pca(snakemake.input.latents, snakemake.input.moments, o.fig_spectrum, o.fig_planes,
         planes=snakemake.params.p["planes"])
