"""Thin adapter: rule attributes -> caelatent.attributes.run_attributes."""

from caelatent.logs import start_job

start_job(snakemake)

from caelatent.attributes import run_attributes  # noqa: E402

i, o, p = snakemake.input, snakemake.output, snakemake.params.p
run_attributes(
    i.latents, i.moments, o.table, o.directions, o.summary, min_count=p["min_count"], pcs=p["pcs"]
)
