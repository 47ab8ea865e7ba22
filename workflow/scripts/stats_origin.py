"""Thin adapter: rule origin -> caelatent.analyses.run_origin."""

from caelatent.logs import start_job

start_job(snakemake)

from caelatent.analyses import run_origin  # noqa: E402

run_origin(
    snakemake.input.latents, snakemake.input.moments, snakemake.output.summary, snakemake.output.fig
)
