"""Thin adapter: rule component_plots -> caelatent.analyses.plot_components."""

from caelatent.logs import start_job

start_job(snakemake)

from caelatent.analyses import plot_components  # noqa: E402

i, o = snakemake.input, snakemake.output
plot_components(
    i.table,
    i.dominant,
    i.histograms,
    o.grid,
    o.overlay,
    o.dominant_fig,
    grid=snakemake.params.p["grid"],
)
