"""Thin adapter: rule pca -> caelatent.analyses.run_pca."""

from caelatent.logs import log_to

log_to(snakemake.log[0])

from caelatent.analyses import run_pca  # noqa: E402

o = snakemake.output
run_pca(snakemake.input.latents, snakemake.input.moments, o.table, o.summary, o.fig_spectrum, o.fig_planes,
        planes=snakemake.params.p["planes"])
