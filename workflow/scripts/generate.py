"""Thin adapter: rule generate -> caelatent.generate.run_generate."""

from caelatent.logs import start_job

start_job(snakemake)

from caelatent import backend  # noqa: E402

dev = snakemake.params.device
backend.use(dev["backend"], snakemake.threads, dev["gpu_memory_fraction"])

from caelatent.generate import run_generate  # noqa: E402

p, i, o = snakemake.params.p, snakemake.input, snakemake.output
run_generate(
    i.images,
    i.latents,
    i.decoder,
    i.dominant,
    o.samples,
    spec=p["samplers"],
    n=p["n_samples"],
    seed=snakemake.params.seed,
    n_reference=p["n_reference"],
    batch_size=dev["predict_batch_size"],
)
