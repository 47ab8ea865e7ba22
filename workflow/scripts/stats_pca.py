"""Thin adapter: rule pca -> caelatent.analyses.run_pca."""

from caelatent.logs import start_job

start_job(snakemake)

from caelatent.analyses import run_pca  # noqa: E402

run_pca(snakemake.input.moments, snakemake.output.table, snakemake.output.summary)
