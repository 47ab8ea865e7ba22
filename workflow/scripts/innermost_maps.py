"""Thin adapter: rule innermost_maps -> caelatent.maps.run_innermost_maps."""

from caelatent.logs import start_job

start_job(snakemake)

from caelatent import backend  # noqa: E402

dev = snakemake.params.device
backend.use(dev["backend"], snakemake.threads, dev["gpu_memory_fraction"])

from caelatent.maps import run_innermost_maps  # noqa: E402

i, o = snakemake.input, snakemake.output
run_innermost_maps(i.encoder, o.table, o.images, **snakemake.params.p, seed=snakemake.params.seed)
