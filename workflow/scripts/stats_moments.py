"""Thin adapter: rule moments -> caelatent.analyses.run_moments."""

from caelatent.logs import start_job

start_job(snakemake)

from caelatent.analyses import run_moments  # noqa: E402

run_moments(snakemake.input.latents, snakemake.output.moments)
