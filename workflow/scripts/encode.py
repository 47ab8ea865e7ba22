"""Thin adapter: rule encode -> caelatent.train.encode_images."""

from caelatent.logs import start_job

start_job(snakemake)

from caelatent import backend  # noqa: E402

dev = snakemake.params.device
backend.use(dev["backend"], snakemake.threads, dev["gpu_memory_fraction"])

from caelatent.train import encode_images  # noqa: E402

encode_images(
    snakemake.input.images,
    snakemake.input.encoder,
    snakemake.output.latents,
    z_dim=snakemake.params.z_dim,
    batch_size=dev["predict_batch_size"],
)
