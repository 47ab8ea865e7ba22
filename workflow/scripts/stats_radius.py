"""Thin adapter: rule radius -> caelatent.analyses.run_radius."""

from caelatent.logs import start_job

start_job(snakemake)

from caelatent.analyses import run_radius  # noqa: E402

p, o = snakemake.params.p, snakemake.output
run_radius(
    snakemake.input.latents,
    snakemake.input.moments,
    o.table,
    o.summary,
    o.fig,
    b_values=p["uniform_b"],
    samples=p["uniform_samples"],
    seed=snakemake.params.seed,
)
