"""Thin adapter: rule arithmetic -> caelatent.attributes.run_arithmetic."""

from caelatent.logs import start_job

start_job(snakemake)

from caelatent import backend  # noqa: E402

dev = snakemake.params.device
backend.use(dev["backend"], snakemake.threads, dev["gpu_memory_fraction"])

from caelatent.attributes import run_arithmetic  # noqa: E402

i, o, p = snakemake.input, snakemake.output, snakemake.params.p
run_arithmetic(
    i.latents,
    i.moments,
    i.decoder,
    i.directions,
    o.table,
    o.summary,
    o.images,
    **p,
    min_confidence=snakemake.params.min_confidence,
    seed=snakemake.params.seed,
    batch_size=dev["predict_batch_size"],
)
