"""Train the CAE from ``images.zarr`` and encode every image into ``latents.zarr``.

Import :mod:`caelatent.backend` and call ``use()`` before this module when the backend matters:
importing it imports Keras.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import shutil
import time
from pathlib import Path

import keras
import numpy as np
import zarr

from .model import ModelSpec, build_autoencoder, compile_autoencoder
from .store import atomic_path

log = logging.getLogger(__name__)


class ZarrImages(keras.utils.PyDataset):
    """Batches of images in [0, 1] streamed from a Zarr array, never the whole set in RAM.

    Shuffling is by blocks: each epoch visits blocks of ``block`` consecutive Zarr chunks in a
    random order and shuffles the selected images inside each block, so every batch decompresses
    only the chunks of its block (cached while the block lasts).
    """

    def __init__(self, array: zarr.Array, indices: np.ndarray, batch_size: int, *, shuffle: bool,
                 seed: int = 0, block_chunks: int = 4, max_batches: int | None = None, **kwargs):
        super().__init__(**kwargs)
        self.array, self.batch_size, self.shuffle = array, batch_size, shuffle
        self.indices = np.sort(np.asarray(indices, dtype=np.int64))
        self.block = array.chunks[0] * block_chunks
        self.rng = np.random.default_rng(seed)
        self.max_batches = max_batches
        self._cache: tuple[int, np.ndarray] | None = None
        self.on_epoch_end()

    def on_epoch_end(self):
        blocks = [self.indices[(self.indices // self.block) == b] for b in np.unique(self.indices // self.block)]
        if self.shuffle:
            blocks = [blocks[k] for k in self.rng.permutation(len(blocks))]
            blocks = [self.rng.permutation(b) for b in blocks]
        self.order = np.concatenate(blocks) if blocks else self.indices

    def __len__(self) -> int:
        n = math.ceil(len(self.indices) / self.batch_size)
        return min(n, self.max_batches) if self.max_batches else n

    def _rows(self, idx: np.ndarray) -> np.ndarray:
        lo, hi = int(idx.min()), int(idx.max()) + 1
        b0 = lo // self.block * self.block
        if hi <= b0 + self.block:  # inside one block: read (and cache) the block once
            if self._cache is None or self._cache[0] != b0:
                self._cache = (b0, self.array[b0 : min(b0 + self.block, self.array.shape[0])])
            return self._cache[1][idx - b0]
        return self.array[lo:hi][idx - lo]

    def __getitem__(self, i: int):
        idx = self.order[i * self.batch_size : (i + 1) * self.batch_size]
        x = self._rows(idx).astype(np.float32) / 255.0
        return x, x


class RaiseOnNaN(keras.callbacks.Callback):
    def on_train_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(float(loss)):
            raise FloatingPointError(
                f"training loss became {loss} at epoch {self.epoch + 1}, batch {batch + 1}; "
                "lower train.learning_rate or check the input images"
            )

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch


class Progress(keras.callbacks.Callback):
    def __init__(self, every_s: float = 30.0):
        super().__init__()
        self.every_s = every_s

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch, self.t0, self.last = epoch, time.perf_counter(), time.perf_counter()

    def on_train_batch_end(self, batch, logs=None):
        if time.perf_counter() - self.last > self.every_s:
            self.last = time.perf_counter()
            log.info("epoch %d: batch %d/%s, loss %.4f", self.epoch + 1, batch + 1, self.params.get("steps"),
                     (logs or {}).get("loss", float("nan")))

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        log.info("epoch %d/%d done in %.1f s: loss %.5f, val_loss %.5f", epoch + 1, self.params.get("epochs"),
                 time.perf_counter() - self.t0, logs.get("loss", float("nan")), logs.get("val_loss", float("nan")))


def _fingerprint(spec: ModelSpec, settings: dict, images: str) -> str:
    blob = json.dumps({"spec": spec.to_dict(), "train": settings, "images": os.path.abspath(images)}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def train_autoencoder(images: str | os.PathLike, out_dir: str | os.PathLike, spec: ModelSpec, *,
                      loss: str = "bce", learning_rate: float = 5e-4, batch_size: int = 64, epochs: int = 24,
                      seed: int = 0, checkpoint_dir: str | os.PathLike | None = None,
                      max_batches_per_epoch: int | None = None, verbose: int = 2) -> dict:
    """Train on the train split of ``images`` (a prepared ``images.zarr``), validate on the holdout.

    Checkpoints after every epoch into ``checkpoint_dir`` (default ``out_dir/checkpoint``); a rerun
    with the same settings resumes after the last finished epoch. Writes ``encoder.keras``,
    ``decoder.keras`` and ``history.tsv`` into ``out_dir``; returns the history.
    """
    out_dir = Path(out_dir)
    ckpt = Path(checkpoint_dir) if checkpoint_dir else out_dir / "checkpoint"
    g = zarr.open_group(images, mode="r")
    arr, split = g["images"], g["split"][:]
    if arr.shape[1] != spec.image_size:
        raise ValueError(f"{images}: images are {arr.shape[1]}x{arr.shape[2]}, the model expects {spec.image_size}")
    train_idx, hold_idx = np.flatnonzero(split == 0), np.flatnonzero(split == 1)
    if len(hold_idx) == 0:
        raise ValueError(f"{images}: no holdout images for validation (data.split.train_size)")
    settings = {"loss": loss, "learning_rate": learning_rate, "batch_size": batch_size, "epochs": epochs,
                "seed": seed, "max_batches_per_epoch": max_batches_per_epoch}
    fp = _fingerprint(spec, settings, str(images))
    stamp = ckpt / "fingerprint.txt"
    if ckpt.exists() and (not stamp.exists() or stamp.read_text() != fp):
        log.warning("discarding checkpoint %s: it was made with other settings", ckpt)
        shutil.rmtree(ckpt)
    ckpt.mkdir(parents=True, exist_ok=True)
    stamp.write_text(fp)

    keras.utils.set_random_seed(seed)
    encoder, decoder, ae = build_autoencoder(spec)
    compile_autoencoder(ae, loss, learning_rate)
    train_ds = ZarrImages(arr, train_idx, batch_size, shuffle=True, seed=seed, max_batches=max_batches_per_epoch,
                          workers=1, use_multiprocessing=False, max_queue_size=8)
    val_ds = ZarrImages(arr, hold_idx, batch_size, shuffle=False, workers=1, use_multiprocessing=False)
    history_file = ckpt / "history.tsv"
    resumed = (ckpt / "backup").exists()
    if resumed:
        log.info("resuming from the checkpoint in %s", ckpt)
    elif history_file.exists():
        history_file.unlink()
    log.info("training %s on %d images (%d holdout), %d epochs of %d batches", spec.to_dict(), len(train_idx),
             len(hold_idx), epochs, len(train_ds))
    callbacks = [
        keras.callbacks.BackupAndRestore(str(ckpt / "backup"), save_freq="epoch", delete_checkpoint=False),
        keras.callbacks.CSVLogger(str(history_file), separator="\t", append=True),
        RaiseOnNaN(),
        Progress(),
    ]
    ae.fit(train_ds, validation_data=val_ds, epochs=epochs, callbacks=callbacks, verbose=verbose)
    history = read_history(history_file)
    if len(history["epoch"]) != epochs or history["epoch"] != list(range(epochs)):
        raise RuntimeError(f"{history_file}: expected epochs 0..{epochs - 1}, found {history['epoch']}")
    out_dir.mkdir(parents=True, exist_ok=True)
    for model, name in ((encoder, "encoder.keras"), (decoder, "decoder.keras")):
        tmp = out_dir / f"{name}.partial.keras"  # Keras insists on the .keras suffix
        model.save(tmp)
        os.replace(tmp, out_dir / name)
    with atomic_path(out_dir / "history.tsv") as tmp:
        shutil.copy(history_file, tmp)
    shutil.rmtree(ckpt)
    return history


def read_history(path: str | os.PathLike) -> dict[str, list]:
    lines = Path(path).read_text().splitlines()
    header = lines[0].split("\t")
    cols: dict[str, list] = {h: [] for h in header}
    for line in lines[1:]:
        for h, v in zip(header, line.split("\t")):
            cols[h].append(int(v) if h == "epoch" else float(v))
    return cols


def load_model(path: str | os.PathLike) -> keras.Model:
    return keras.saving.load_model(path, compile=False)


def encode_images(images: str | os.PathLike, encoder_path: str | os.PathLike, out: str | os.PathLike, *,
                  z_dim: int, batch_size: int = 256, chunk: int = 4096) -> int:
    """Encode every image (train and holdout) into ``out`` (latents.zarr): z, ids, split, attributes."""
    encoder = load_model(encoder_path)
    got = int(encoder.output_shape[-1])
    if got != z_dim:
        raise ValueError(
            f"{encoder_path} has latent size {got}, but the config says model.z_dim={z_dim}; "
            "retrain (delete the model) or fix the config"
        )
    g = zarr.open_group(images, mode="r")
    arr = g["images"]
    if tuple(encoder.input_shape[1:3]) != arr.shape[1:3]:
        raise ValueError(f"{encoder_path} expects {encoder.input_shape[1:3]} images, {images} holds {arr.shape[1:3]}")
    n = arr.shape[0]
    t0 = time.perf_counter()
    with atomic_path(out) as tmp:
        lg = zarr.open_group(tmp, mode="w")
        z = lg.create_array("z", shape=(n, z_dim), chunks=(min(chunk, n), z_dim), dtype="float32")
        step = arr.chunks[0] * max(1, chunk // arr.chunks[0])
        for s in range(0, n, step):
            x = arr[s : s + step].astype(np.float32) / 255.0
            z[s : s + len(x)] = np.asarray(encoder.predict(x, batch_size=batch_size, verbose=0), dtype=np.float32)
            log.info("encoded %d/%d images (%.0f images/s)", s + len(x), n, (s + len(x)) / (time.perf_counter() - t0))
        for name in ("ids", "split", "attributes", "identity"):
            if name in g:
                a = lg.create_array(name, data=g[name][:], chunks=g[name].chunks)
                a.attrs.update(dict(g[name].attrs))
        lg.attrs.update({"z_dim": z_dim, "encoder": str(encoder_path), "images": str(images),
                         "split_codes": dict(g.attrs.get("split_codes", {}))})
    return n


def write_training_figures(images, encoder_path, decoder_path, history: dict, loss: str,
                           loss_curve_png, reconstructions_png, n: int = 16) -> None:
    """The loss curve and a grid of the first ``n`` holdout images next to their reconstructions."""
    from .figures import loss_curve, reconstruction_grid

    loss_curve(history, loss_curve_png, loss)
    g = zarr.open_group(images, mode="r")
    hold = np.flatnonzero(g["split"][:] == 1)[:n]
    x = g["images"].get_orthogonal_selection((hold, slice(None), slice(None), slice(None))).astype(np.float32) / 255
    enc, dec = load_model(encoder_path), load_model(decoder_path)
    rec = np.asarray(dec.predict(enc.predict(x, verbose=0), verbose=0))
    reconstruction_grid(x, rec, reconstructions_png, ids=g["ids"][:][hold])
