"""Thin adapter: rule moments -> caelatent.analyses.run_moments."""

from caelatent.logs import log_to

log_to(snakemake.log[0])

from caelatent.analyses import run_moments  # noqa: E402

run_moments(snakemake.input.latents, snakemake.output.moments)
