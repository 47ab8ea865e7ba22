"""Rules of ``workflow/rules/model.smk``: train the CAE, encode every image, draw the training.

``train`` and ``encode`` run Keras: they select the backend from the rule's ``device`` params
before importing it (:func:`caelatent.model.backend.use_device`).
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from ..files import records
from ..files.networks import load_model, save_model
from ..files.store import atomic_path, checked_compressor, copy_row_metadata, open_splits
from ..files.store import open_zarr, seal
from ..files.figures import save_figure
from ..model.backend import predict_batch, use_device
from ..plots import train as plots

if TYPE_CHECKING:  # imports Keras
    from ..model.train import Trained


def train(
    *,
    images,
    encoder,
    decoder,
    history,
    reconstructions,
    checkpoint,
    model: dict,
    fit: dict,
    device: dict | None = None,
    threads: int | None = None,
    tensorboard: str | None = None,
    **settings,
) -> dict:
    """Train (resuming from ``checkpoint``; ``settings``: loss, learning_rate, batch_size, epochs,
    max_batches_per_epoch, seed), write the float32 networks and ``history``, and the first holdout
    images with their reconstructions for rule train_plots; with ``tensorboard`` (a folder),
    TensorBoard logs there too."""
    use_device(device, threads)
    from ..files.checkpoint import Checkpoint
    from ..model.codec import reconstruct_holdout
    from ..model.networks import ModelSpec
    from ..model.train import FitOptions

    trained = fit_and_save(
        images,
        encoder=encoder,
        decoder=decoder,
        history=history,
        checkpoint=checkpoint,
        spec=ModelSpec(**model),
        options=FitOptions(**fit),
        callbacks=_tensorboard(tensorboard),
        keep_checkpoint=True,
        **settings,
    )
    g, nets = open_zarr(images), (trained.encoder, trained.decoder)
    recs = reconstruct_holdout(
        g["images"], g["split"][:], g["ids"][:], *nets, batch_size=predict_batch(device)
    )
    records.write_npz(reconstructions, **recs)
    # last: a job killed before here (a time limit while it wrote) resumes at the finished epoch
    Checkpoint(checkpoint).remove()
    return trained.history


def _tensorboard(folder: str | None) -> list:
    """Keras's TensorBoard callback writing to ``folder`` (train.tensorboard), or none."""
    import importlib.util

    if not folder:
        return []
    if importlib.util.find_spec("tensorboard") is None:
        raise RuntimeError(
            "train.tensorboard: true needs the tensorboard package: "
            "pip install -e '.[tensorboard]' (not in envs/model.yaml)"
        )
    import keras

    return [keras.callbacks.TensorBoard(folder)]


def fit_and_save(
    images, *, encoder, decoder, history, checkpoint, spec, keep_checkpoint=False, **settings
) -> Trained:
    """Train on the prepared store ``images`` (:func:`caelatent.model.train.train_autoencoder`'s
    ``settings``), resuming from the ``checkpoint`` folder; write the float32 networks to
    ``encoder`` and ``decoder`` and the history to ``history``, each whole or not at all, then
    remove the checkpoint (``keep_checkpoint``: the caller does, once its other outputs are
    written). Returns the :class:`caelatent.model.train.Trained` networks and history."""
    from ..files.checkpoint import Checkpoint  # a Keras callback: Keras is imported
    from ..model.train import train_autoencoder

    arr, train_idx, hold_idx = open_splits(images)
    if arr.shape[1] != spec.image_size:
        raise ValueError(
            f"{images}: images are {arr.shape[1]}x{arr.shape[2]}, the model expects {spec.image_size}"
        )
    ckpt = Checkpoint(checkpoint)
    trained = train_autoencoder(
        arr, train_idx, hold_idx, spec, checkpoint=ckpt, source=os.path.abspath(images), **settings
    )
    save_model(trained.encoder, encoder)
    save_model(trained.decoder, decoder)
    records.write_tsv(history, trained.history, digits=None)  # every digit: resume is exact
    if not keep_checkpoint:
        ckpt.remove()
    return trained


def encode(*, images, encoder, latents, device: dict | None = None, threads=None) -> int:
    """Every image's latent vector (train and holdout), with its id, split, attributes and
    identity (``latents.zarr``, written atomically and sealed); z_dim is the encoder's."""
    use_device(device, threads)
    import zarr

    from ..model.codec import encode_into, latent_size

    net, g = load_model(encoder), open_zarr(images)
    z_dim, arr = latent_size(net), g["images"]
    n, chunk = arr.shape[0], 4096
    with atomic_path(latents) as tmp:
        lg = zarr.open_group(tmp, mode="w")
        z = lg.create_array(
            "z",
            shape=(n, z_dim),
            chunks=(min(chunk, n), z_dim),
            dtype="float32",
            compressors=checked_compressor(),
        )
        step = arr.chunks[0] * max(1, chunk // arr.chunks[0])
        try:
            encode_into(net, arr, z, batch_size=predict_batch(device), step=step)
        except ValueError as e:
            raise ValueError(f"{encoder} and {images}: {e}") from None
        copy_row_metadata(g, lg)
        lg.attrs.update({"z_dim": z_dim, "encoder": str(encoder), "images": str(images)})
        seal(tmp)
    return n


def train_plots(*, history, reconstructions, fig_loss_curve, fig_reconstructions, loss: str):
    """The loss curves of ``history.tsv``, and holdout images above their reconstructions."""
    save_figure(plots.loss_curve(records.read_tsv(history), loss), fig_loss_curve, dpi=110)
    r = records.read_npz(reconstructions)
    figure = plots.reconstruction_grid(r["originals"], r["reconstructions"], ids=r["ids"])
    save_figure(figure, fig_reconstructions)
