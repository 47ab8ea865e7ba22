"""Rules of ``workflow/rules/model.smk``: train the CAE, encode every image, draw the training.

``train`` and ``encode`` run Keras: they select the backend from the rule's ``device`` params
before importing it (:func:`caelatent.backend.use_device`).
"""

from __future__ import annotations

from pathlib import Path

from .. import io
from ..plots import save_figure
from ..backend import use_device
from ..plots import train as plots


def train(
    *,
    images,
    encoder,
    decoder,
    history,
    reconstructions,
    model: dict,
    loss: str,
    learning_rate: float,
    batch_size: int,
    epochs: int,
    max_batches_per_epoch: int | None,
    seed: int,
    fit: dict,
    checkpoint,
    device: dict | None = None,
    threads: int | None = None,
    tensorboard: str | None = None,
) -> dict:
    """Train (resuming from ``checkpoint``), write the float32 networks and ``history``, and the
    first holdout images with their reconstructions for rule train_plots; with ``tensorboard`` (a
    folder), TensorBoard logs there too."""
    use_device(device, threads)
    import importlib.util

    import keras

    if tensorboard and importlib.util.find_spec("tensorboard") is None:
        raise RuntimeError(
            "train.tensorboard: true needs the tensorboard package: "
            "pip install -e '.[tensorboard]' (not in envs/model.yaml)"
        )

    from ..encode import load_model, reconstruct_holdout
    from ..model import ModelSpec
    from ..train import FitOptions, train_autoencoder

    out_dir = Path(encoder).parent
    names = ("encoder.keras", "decoder.keras", "history.tsv")  # what train_autoencoder writes
    if [Path(p) for p in (encoder, decoder, history)] != [out_dir / n for n in names]:
        raise ValueError(f"rule train: outputs must be {', '.join(names)} in {out_dir}")
    hist = train_autoencoder(
        images,
        out_dir,
        ModelSpec(**model),
        loss=loss,
        learning_rate=learning_rate,
        batch_size=batch_size,
        epochs=epochs,
        seed=seed,
        checkpoint_dir=checkpoint,
        max_batches_per_epoch=max_batches_per_epoch,
        options=FitOptions(**fit),
        callbacks=[keras.callbacks.TensorBoard(tensorboard)] if tensorboard else None,
    )
    batch = device["predict_batch_size"] if device else 256
    recs = reconstruct_holdout(images, load_model(encoder), load_model(decoder), batch_size=batch)
    io.write_npz(reconstructions, **recs)
    return hist


def encode(
    *, images, encoder, latents, z_dim: int, device: dict | None = None, threads=None
) -> int:
    """Every image's latent vector, with its id, split and attributes (``latents.zarr``)."""
    use_device(device, threads)
    from ..encode import encode_images

    batch = device["predict_batch_size"] if device else 256
    return encode_images(images, encoder, latents, z_dim=z_dim, batch_size=batch)


def train_plots(*, history, reconstructions, fig_loss_curve, fig_reconstructions, loss: str):
    """The loss curves of ``history.tsv``, and holdout images above their reconstructions."""
    save_figure(plots.loss_curve(io.read_tsv(history), loss), fig_loss_curve, dpi=110)
    r = io.read_npz(reconstructions)
    figure = plots.reconstruction_grid(r["originals"], r["reconstructions"], ids=r["ids"])
    save_figure(figure, fig_reconstructions)
