"""Thin adapter: rule encode -> caelatent.train.encode_images."""

from caelatent.logs import log_to

log_to(snakemake.log[0])

from caelatent import backend  # noqa: E402

backend.use(snakemake.params.backend, snakemake.threads)

from caelatent.train import encode_images  # noqa: E402

encode_images(snakemake.input.images, snakemake.input.encoder, snakemake.output.latents,
              z_dim=snakemake.params.z_dim)
