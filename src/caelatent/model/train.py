"""Train the CAE from ``images.zarr``, resumably (applying it: :mod:`caelatent.model.codec`).

Import :mod:`caelatent.model.backend` and call ``use()`` before this module when the backend matters:
importing it imports Keras.
"""

from __future__ import annotations

import logging
import math
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import keras
import numpy as np

from .feed import Feed, open_source, split_mb
from ..logs import Eta
from .networks import ModelSpec, UInt8Autoencoder, build_decoder, build_heads
from .checkpoint import EpochCheckpoint, fingerprint, restore
from ..files.records import write_tsv
from ..files.store import HOLDOUT, TRAIN, open_zarr

log = logging.getLogger(__name__)


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
    """Log each epoch's end and, within an epoch, a line every ``every_s`` seconds, each with the
    share of the run's batches done, the time elapsed and the time left (:class:`logs.Eta`; a
    resumed run counts the epochs done before it, ``first_epoch``, as done)."""

    def __init__(self, every_s: float = 30.0, first_epoch: int = 0, clock=None):
        super().__init__()
        self.every_s, self.first, self.clock = every_s, first_epoch, clock or time.perf_counter

    def on_train_begin(self, logs=None):
        self.steps = self.params.get("steps") or 1
        total = self.params.get("epochs", 1) * self.steps
        self.eta = Eta(total, done_before=self.first * self.steps, clock=self.clock)

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch, self.t0, self.last = epoch, self.clock(), self.clock()

    def on_train_batch_end(self, batch, logs=None):
        if self.clock() - self.last > self.every_s:
            self.last = self.clock()
            log.info(
                "epoch %d: batch %d/%s, loss %.4f; %s",
                self.epoch + 1,
                batch + 1,
                self.params.get("steps"),
                (logs or {}).get("loss", float("nan")),
                self.eta.line(self.epoch * self.steps + batch + 1),
            )

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        log.info(
            "epoch %d/%d done in %.1f s: loss %.5f, val_loss %.5f; %s",
            epoch + 1,
            self.params.get("epochs"),
            self.clock() - self.t0,
            logs.get("loss", float("nan")),
            logs.get("val_loss", float("nan")),
            self.eta.line((epoch + 1) * self.steps),
        )


@dataclass(frozen=True)
class FitOptions:
    """How ``fit`` runs. Only ``window`` changes which images form a batch; the memory budget and
    readers only change where batches come from (the same batches either way).

    ``jit_compile``: XLA ("auto": Keras's choice per backend); ``steps_per_execution``: training
    steps per call into the compiled function; ``precision``: a Keras dtype policy (``float32``,
    ``mixed_bfloat16``, ``mixed_float16``); ``in_memory_mb``: hold the train split in RAM when it
    fits, else stream it from Zarr; ``readers``: threads reading Zarr chunks; ``window``: images
    shuffled together (:func:`caelatent.model.feed.epoch_order`); ``device_mb``: on the jax backend, hold
    the train and holdout splits on the device when they fit (:mod:`caelatent.model.devicefit`; 0:
    never), ``steps_per_execution`` steps per compiled call, ``unroll`` of them unrolled per loop
    iteration; ``devices``: devices training data-parallel at the global ``batch_size``
    (``train.gpus``; needs the device-resident splits).
    """

    jit_compile: bool | str = "auto"
    steps_per_execution: int = 1
    precision: str = "float32"
    in_memory_mb: float = 8000
    readers: int = 4
    window: int = 8192
    device_mb: float = 40000
    unroll: int = 8
    devices: int = 1

    def __post_init__(self):
        if self.precision not in PRECISIONS:
            raise ValueError(
                f"train.precision={self.precision!r}: expected one of {', '.join(PRECISIONS)}"
            )
        if self.jit_compile not in (True, False, "auto"):
            raise ValueError(
                f"train.jit_compile={self.jit_compile!r}: expected true, false or auto"
            )
        if self.steps_per_execution < 1:
            raise ValueError(f"train.steps_per_execution={self.steps_per_execution}: must be >= 1")
        if self.unroll < 1:
            raise ValueError(f"train.unroll={self.unroll}: must be >= 1")
        if self.device_mb < 0:
            raise ValueError(f"train.device_mb={self.device_mb}: must be >= 0")


PRECISIONS = ("float32", "mixed_bfloat16", "mixed_float16")


def execution_steps(wanted: int, n_batches: int) -> int:
    """The largest divisor of ``n_batches`` not above ``wanted``.

    Keras draws ``steps_per_execution`` batches per call, also for an epoch's last call, so a value
    that does not divide the epoch takes the next epoch's first batches (and, in the last epoch,
    runs out of data: Keras's jax trainer then fails). A divisor keeps every epoch exactly the
    feed's epoch, so that steps_per_execution changes speed and never which batches train.
    """
    return max(d for d in range(1, min(wanted, n_batches) + 1) if n_batches % d == 0)


def feed_steps(wanted: int, n_train: int, batch_size: int, max_batches: int | None) -> int:
    """``steps_per_execution`` for ``fit``'s host feed: a divisor of the epoch's batches
    (:func:`execution_steps`), 1 on torch (whose trainer runs one step per call), saying why."""
    n_batches = math.ceil(n_train / batch_size)
    n_batches = min(n_batches, max_batches) if max_batches else n_batches
    if wanted > 1 and keras.backend.backend() == "torch":
        log.warning(
            "train.steps_per_execution=%d: Keras's torch backend runs one step per call; using 1",
            wanted,
        )
        return 1
    spe = execution_steps(wanted, n_batches)
    if spe != wanted:
        log.warning(
            "train.steps_per_execution=%d does not divide an epoch's %d batches; using %d",
            wanted,
            n_batches,
            spe,
        )
    return spe


def train_autoencoder(
    images: str | os.PathLike,
    out_dir: str | os.PathLike,
    spec: ModelSpec,
    *,
    loss: str = "bce",
    learning_rate: float = 5e-4,
    batch_size: int = 64,
    epochs: int = 24,
    seed: int = 0,
    checkpoint_dir: str | os.PathLike | None = None,
    max_batches_per_epoch: int | None = None,
    options: FitOptions = FitOptions(),
    callbacks: list | None = None,
    verbose: int = 2,
) -> dict:
    """Train on the train split of ``images`` (a prepared ``images.zarr``), validate on the holdout.

    Checkpoints after every epoch into ``checkpoint_dir`` (default ``out_dir/checkpoint``); a rerun
    with the same settings resumes after the last finished epoch, with the batches an uninterrupted
    run would have had. Writes ``encoder.keras``, ``decoder.keras`` (float32, whatever
    ``options.precision``) and ``history.tsv`` into ``out_dir``; returns the history.
    """
    out_dir = Path(out_dir)
    ckpt = Path(checkpoint_dir) if checkpoint_dir else out_dir / "checkpoint"
    arr, train_idx, hold_idx = _open_splits(images, spec.image_size)
    settings = {
        "loss": loss,
        "learning_rate": learning_rate,
        "batch_size": batch_size,
        "epochs": epochs,
        "seed": seed,
        "max_batches_per_epoch": max_batches_per_epoch,
        "precision": options.precision,
        "window": options.window,
    }
    _claim_checkpoint(ckpt, fingerprint(spec, settings, str(images)))
    encoder, decoder, ae = _build(spec, loss, seed, options.precision)
    need_mb = split_mb(len(train_idx) + len(hold_idx), arr.shape[1:])
    on_device, spe = _compile(
        ae, options, need_mb, len(train_idx), batch_size, max_batches_per_epoch, learning_rate
    )
    restored = restore(ckpt, ae)
    first, history = restored or (0, {"epoch": [], "loss": [], "val_loss": []})
    if restored:
        log.info("resuming from the checkpoint in %s after epoch %d", ckpt, first)
    plan = dict(seed=seed, window=options.window, first_epoch=first, epochs=epochs)
    callbacks = [
        EpochCheckpoint(ckpt, history),
        RaiseOnNaN(),
        Progress(first_epoch=first),
        *(callbacks or []),
    ]
    train_feed, val_feed, fitter, kind = _feeds(
        arr, train_idx, hold_idx, batch_size, plan, max_batches_per_epoch, options, ae, on_device
    )
    if on_device:
        kind = f"device ({need_mb:.0f} MB on {kind})"
        spe = options.steps_per_execution
    log.info(
        "training %s on %d images (%d holdout), epochs %d..%d of %d batches, %s, jit_compile=%s, "
        "steps_per_execution=%d, %s feed",
        spec.to_dict(),
        len(train_idx),
        len(hold_idx),
        first + 1,
        epochs,
        train_feed.batches_per_epoch,
        options.precision,
        options.jit_compile,
        spe,
        kind,
    )
    if first < epochs:
        _fit(ae, fitter, train_feed, val_feed, first, epochs, callbacks, verbose)
    if history["epoch"] != list(range(epochs)):
        raise RuntimeError(f"{ckpt}: expected epochs 0..{epochs - 1}, found {history['epoch']}")
    _save(out_dir, encoder, decoder, history)
    shutil.rmtree(ckpt)
    return history


def _open_splits(images, image_size: int):
    """(the images array, train rows, holdout rows) of a prepared ``images.zarr``, checked."""
    g = open_zarr(images)
    arr, split = g["images"], g["split"][:]
    if arr.shape[1] != image_size:
        raise ValueError(
            f"{images}: images are {arr.shape[1]}x{arr.shape[2]}, the model expects {image_size}"
        )
    train_idx, hold_idx = np.flatnonzero(split == TRAIN), np.flatnonzero(split == HOLDOUT)
    if len(hold_idx) == 0:
        raise ValueError(f"{images}: no holdout images for validation (data.split.train_size)")
    return arr, train_idx, hold_idx


def _compile(ae, options, need_mb, n_train, batch_size, max_batches, learning_rate):
    """Compile ``ae`` with Adam; (whether the splits go on the device, steps per compiled call
    of Keras's fit: 1 on the device, whose scan runs ``options.steps_per_execution`` itself)."""
    on_device = keras.backend.backend() == "jax" and need_mb <= options.device_mb
    if options.devices > 1 and not on_device:
        raise ValueError(
            f"train.gpus={options.devices}: data-parallel training needs Keras's jax backend "
            f"(train.backend is {keras.backend.backend()}) and the splits on the devices "
            f"({need_mb:.0f} MB, train.device_mb={options.device_mb})"
        )
    spe = (
        1
        if on_device
        else feed_steps(options.steps_per_execution, n_train, batch_size, max_batches)
    )
    ae.compile(
        optimizer=keras.optimizers.Adam(learning_rate),
        jit_compile=options.jit_compile,
        steps_per_execution=spe,
    )
    return on_device, spe


def _fit(ae, fitter, train_feed, val_feed, first, epochs, callbacks, verbose) -> None:
    """Epochs ``first``..``epochs`` on the device (``fitter``) or through Keras's fit."""
    if fitter is not None:
        fitter.fit(
            train_feed.batch_rows,
            val_feed.batch_rows(0),
            steps_per_epoch=train_feed.batches_per_epoch,
            initial_epoch=first,
            epochs=epochs,
            callbacks=callbacks,
            verbose=verbose,
        )
        return
    ae.fit(
        train_feed.keras_input(),
        steps_per_epoch=train_feed.batches_per_epoch,
        validation_data=val_feed.keras_validation(),
        initial_epoch=first,
        epochs=epochs,
        shuffle=False,
        callbacks=callbacks,
        verbose=verbose,
    )


def _claim_checkpoint(ckpt: Path, fp: str) -> None:
    """Keep the checkpoint folder if it was made with these settings (fingerprint ``fp``), else
    start it afresh; either way stamp it with ``fp``."""
    stamp = ckpt / "fingerprint.txt"
    if ckpt.exists() and (not stamp.exists() or stamp.read_text() != fp):
        log.warning("discarding checkpoint %s: it was made with other settings", ckpt)
        shutil.rmtree(ckpt)
    ckpt.mkdir(parents=True, exist_ok=True)
    stamp.write_text(fp)


def _build(spec: ModelSpec, loss: str, seed: int, precision: str):
    """(encoder, decoder, the autoencoder) with Keras seeded, built under ``precision``."""
    keras.utils.set_random_seed(seed)
    keras.config.set_dtype_policy(precision)
    try:
        (encoder, heads), decoder = build_heads(spec), build_decoder(spec)
        ae = UInt8Autoencoder(encoder, decoder, spec, loss, heads=heads, seed=seed)
    finally:
        keras.config.set_dtype_policy("float32")
    return encoder, decoder, ae


def _feeds(arr, train_idx, hold_idx, batch_size, plan, max_batches, options, ae, on_device):
    """(train feed, holdout feed, the device fitter or None, what feeds them): the splits held on
    the device (:mod:`caelatent.model.devicefit`) or read from RAM or Zarr by the host feed."""
    if on_device:
        from .devicefit import DeviceFit, devices_for

        devices = devices_for(options.devices)
        train_feed = Feed(
            None, train_idx, arr.chunks[0], batch_size, **plan, max_batches=max_batches
        )
        val_feed = Feed(None, hold_idx, arr.chunks[0], batch_size, shuffle=False)
        fitter = DeviceFit(
            ae,
            arr,
            train_idx,
            hold_idx,
            steps=options.steps_per_execution,
            unroll=options.unroll,
            devices=devices,
        )
        return train_feed, val_feed, fitter, f"{len(devices)} {devices[0].platform} device(s)"
    source = open_source(arr, train_idx, in_memory_mb=options.in_memory_mb, readers=options.readers)
    train_feed = Feed(source, train_idx, arr.chunks[0], batch_size, **plan, max_batches=max_batches)
    val_source = open_source(
        arr, hold_idx, in_memory_mb=options.in_memory_mb, readers=options.readers
    )
    val_feed = Feed(
        val_source, hold_idx, arr.chunks[0], batch_size, shuffle=False, window=options.window
    )
    return train_feed, val_feed, None, source.kind


def _save(out_dir: Path, encoder, decoder, history: dict) -> None:
    """encoder.keras and decoder.keras (float32) and history.tsv, each written whole or not at all."""
    out_dir.mkdir(parents=True, exist_ok=True)
    for model, name in ((encoder, "encoder.keras"), (decoder, "decoder.keras")):
        tmp = out_dir / f"{name}.partial.keras"  # Keras insists on the .keras suffix
        as_float32(model).save(tmp)
        os.replace(tmp, out_dir / name)
    write_tsv(out_dir / "history.tsv", history, digits=None)  # every digit: resume is exact


def as_float32(model: keras.Model) -> keras.Model:
    """``model`` itself when it computes in float32, else a float32 copy with the same weights."""
    if model.dtype_policy.name == "float32":
        return model
    clone = keras.models.clone_model(
        model,
        clone_function=lambda layer: layer.__class__.from_config(
            {**layer.get_config(), "dtype": "float32"}
        ),
    )
    clone.set_weights(model.get_weights())
    return clone
