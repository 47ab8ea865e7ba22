"""Thin adapter: rule components -> caelatent.analyses.run_components."""

from caelatent.logs import start_job

start_job(snakemake)

from caelatent.analyses import run_components  # noqa: E402

p, o = snakemake.params.p, snakemake.output
run_components(
    snakemake.input.latents,
    snakemake.input.moments,
    o.table,
    o.dominant,
    o.histograms,
    bins=p["bins"],
    mean_factor=p["dominant_mean_factor"],
    sigma_factor=p["dominant_sigma_factor"],
)
