"""Train the CAE on arrays of images, resumably (applying it: :mod:`caelatent.model.codec`; the
files: :func:`caelatent.stages.model.fit_and_save`).

Import :mod:`caelatent.model.backend` and call ``use()`` before this module when the backend matters:
importing it imports Keras.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import time
from dataclasses import dataclass

import keras
import numpy as np

from .feed import Feed, open_source, split_mb
from ..logs import Eta
from .networks import ModelSpec, UInt8Autoencoder, build_decoder, build_heads

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


class RecordHistory(keras.callbacks.Callback):
    """Appends each finished epoch's losses to ``history`` (which a checkpoint then saves)."""

    def __init__(self, history: dict[str, list]):
        super().__init__()
        self.history = history

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        self.history["epoch"].append(epoch)
        for key in ("loss", "val_loss"):
            self.history[key].append(float(logs.get(key, float("nan"))))


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


@dataclass
class Trained:
    """A trained autoencoder's float32 networks and its history (epoch, loss, val_loss per epoch)."""

    encoder: keras.Model
    decoder: keras.Model
    history: dict[str, list]


def fingerprint(spec: ModelSpec, settings: dict, source: str) -> str:
    """The key of a training's checkpoint: the model, the settings that change which batches train
    and how, and ``source``, what names the images (the absolute path of their store)."""
    blob = json.dumps({"spec": spec.to_dict(), "train": settings, "images": source}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def train_autoencoder(
    images,
    train_idx: np.ndarray,
    hold_idx: np.ndarray,
    spec: ModelSpec,
    *,
    loss: str = "bce",
    learning_rate: float = 5e-4,
    batch_size: int = 64,
    epochs: int = 24,
    seed: int = 0,
    checkpoint=None,
    source: str = "",
    max_batches_per_epoch: int | None = None,
    options: FitOptions = FitOptions(),
    callbacks: list | None = None,
    verbose: int = 2,
) -> Trained:
    """Train on rows ``train_idx`` of ``images`` (a uint8 Zarr array, N x S x S x 3, chunked by rows),
    validate on rows ``hold_idx``; the float32 networks (whatever ``options.precision``) and the
    history.

    With ``checkpoint`` (:class:`caelatent.files.checkpoint.Checkpoint`), claimed with these
    settings' :func:`fingerprint` (``source`` names the images), training checkpoints after every
    epoch; a rerun with the same settings resumes after the last finished epoch, with the batches
    an uninterrupted run would have had.
    """
    if images.shape[1] != spec.image_size:
        raise ValueError(
            f"images are {images.shape[1]}x{images.shape[2]}, the model expects {spec.image_size}"
        )
    if checkpoint is not None:
        settings = dict(
            loss=loss, learning_rate=learning_rate, batch_size=batch_size, epochs=epochs
        )
        settings.update(seed=seed, max_batches_per_epoch=max_batches_per_epoch)
        settings.update(precision=options.precision, window=options.window)
        checkpoint.claim(fingerprint(spec, settings, source))
    encoder, decoder, ae = _build(spec, loss, seed, options.precision)
    need_mb = split_mb(len(train_idx) + len(hold_idx), images.shape[1:])
    on_device, spe = _compile(
        ae, options, need_mb, len(train_idx), batch_size, max_batches_per_epoch, learning_rate
    )
    restored = checkpoint.restore(ae) if checkpoint is not None else None
    first, history = restored or (0, {"epoch": [], "loss": [], "val_loss": []})
    if restored:
        log.info("resuming from the checkpoint in %s after epoch %d", checkpoint, first)
    plan = dict(seed=seed, window=options.window, first_epoch=first, epochs=epochs)
    callbacks = [
        RecordHistory(history),
        *([checkpoint.callback(history)] if checkpoint is not None else []),
        RaiseOnNaN(),
        Progress(first_epoch=first),
        *(callbacks or []),
    ]
    train_feed, val_feed, fitter, kind = _feeds(
        images, train_idx, hold_idx, batch_size, plan, max_batches_per_epoch, options, ae, on_device
    )
    if on_device:
        kind = f"device ({need_mb:.0f} MB on {kind})"
        spe = options.steps_per_execution
    _announce(spec, train_idx, hold_idx, (first, epochs), train_feed, options, spe, kind)
    if first < epochs:
        _fit(ae, fitter, train_feed, val_feed, first, epochs, callbacks, verbose)
    if history["epoch"] != list(range(epochs)):
        raise RuntimeError(
            f"checkpoint {checkpoint}: expected epochs 0..{epochs - 1}, found {history['epoch']}"
        )
    return Trained(as_float32(encoder), as_float32(decoder), history)


def _announce(spec, train_idx, hold_idx, epochs, train_feed, options, spe, kind) -> None:
    """Log what trains: the model, the splits, epochs ``epochs[0] + 1``..``epochs[1]``, the fit."""
    log.info(
        "training %s on %d images (%d holdout), epochs %d..%d of %d batches, %s, jit_compile=%s, "
        "steps_per_execution=%d, %s feed",
        spec.to_dict(),
        len(train_idx),
        len(hold_idx),
        epochs[0] + 1,
        epochs[1],
        train_feed.batches_per_epoch,
        options.precision,
        options.jit_compile,
        spe,
        kind,
    )


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
