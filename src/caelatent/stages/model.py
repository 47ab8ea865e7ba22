"""Rules of ``workflow/rules/model.smk``: train the CAE, encode every image, draw the training.

``train`` and ``encode`` run Keras: they select the backend from the rule's ``device`` params
before importing it (:func:`caelatent.model.backend.use_device`).
"""

from __future__ import annotations

from pathlib import Path

from ..files import records
from ..files.networks import load_model
from ..files.store import atomic_path, checked_compressor, open_zarr, seal
from ..files.figures import save_figure
from ..model.backend import predict_batch, use_device
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

    from ..model.codec import reconstruct_holdout
    from ..model.networks import ModelSpec
    from ..model.train import FitOptions, train_autoencoder

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
    g = open_zarr(images)
    nets = load_model(encoder), load_model(decoder)
    recs = reconstruct_holdout(
        g["images"], g["split"][:], g["ids"][:], *nets, batch_size=predict_batch(device)
    )
    records.write_npz(reconstructions, **recs)
    return hist


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
        for name in ("ids", "split", "attributes", "identity"):
            if name in g:
                a = lg.create_array(
                    name, data=g[name][:], chunks=g[name].chunks, compressors=checked_compressor()
                )
                a.attrs.update(dict(g[name].attrs))
        codes = dict(g.attrs.get("split_codes", {}))
        lg.attrs.update(
            {"z_dim": z_dim, "encoder": str(encoder), "images": str(images), "split_codes": codes}
        )
        seal(tmp)
    return n


def train_plots(*, history, reconstructions, fig_loss_curve, fig_reconstructions, loss: str):
    """The loss curves of ``history.tsv``, and holdout images above their reconstructions."""
    save_figure(plots.loss_curve(records.read_tsv(history), loss), fig_loss_curve, dpi=110)
    r = records.read_npz(reconstructions)
    figure = plots.reconstruction_grid(r["originals"], r["reconstructions"], ids=r["ids"])
    save_figure(figure, fig_reconstructions)
