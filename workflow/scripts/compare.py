"""Thin adapter: rule compare -> caelatent.analyses.run_compare."""

from caelatent.logs import start_job

start_job(snakemake)

from caelatent.analyses import run_compare  # noqa: E402

i, o = snakemake.input, snakemake.output
run_compare(
    snakemake.params.names, i.eigenvalues, i.mnd, i.dominant, i.summary, o.table, o.faces, o.fig
)
