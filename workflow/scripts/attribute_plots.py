"""Thin adapter: rule attribute_plots -> caelatent.attributes.plot_attributes."""

from caelatent.logs import start_job

start_job(snakemake)

from caelatent.attributes import plot_attributes  # noqa: E402

i, o, p = snakemake.input, snakemake.output, snakemake.params.p
plot_attributes(
    i.latents,
    i.moments,
    i.table,
    i.directions,
    o.pcs,
    o.radius,
    o.hist,
    pcs=p["pcs"],
    histogram_pcs=p["histogram_pcs"],
    histogram_attributes=p["histogram_attributes"],
)
