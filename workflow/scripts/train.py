"""Thin adapter: rule train -> caelatent.train."""

from pathlib import Path

from caelatent.logs import start_job

start_job(snakemake)

from caelatent import backend  # noqa: E402

t, dev = snakemake.params.train, snakemake.params.device
backend.use(dev["backend"], snakemake.threads, dev["gpu_memory_fraction"])

from caelatent.model import ModelSpec  # noqa: E402
from caelatent.train import FitOptions, train_autoencoder, write_reconstructions  # noqa: E402

out = snakemake.output
train_autoencoder(
    snakemake.input.images,
    Path(out.encoder).parent,
    ModelSpec(**snakemake.params.model),
    loss=t["loss"],
    learning_rate=t["learning_rate"],
    batch_size=t["batch_size"],
    epochs=t["epochs"],
    seed=t["seed"],
    checkpoint_dir=snakemake.params.checkpoint,
    max_batches_per_epoch=t["max_batches_per_epoch"],
    options=FitOptions(**snakemake.params.fit),
)
write_reconstructions(
    snakemake.input.images,
    out.encoder,
    out.decoder,
    out.reconstructions,
    batch_size=dev["predict_batch_size"],
)
