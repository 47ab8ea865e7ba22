"""Thin adapter: rule correlations -> caelatent.analyses.run_correlations."""

from caelatent.logs import start_job

start_job(snakemake)

from caelatent.analyses import run_correlations  # noqa: E402

p, o = snakemake.params.p, snakemake.output
run_correlations(
    snakemake.input.latents,
    snakemake.input.moments,
    o.matrix,
    o.counts,
    o.pairs,
    thresholds=p["count_thresholds"],
    list_threshold=p["list_threshold"],
)
