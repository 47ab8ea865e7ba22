"""Training with the splits on the device (Keras's jax backend): no batch crosses from the host.

``model.fit`` on jax gathers every batch on the host, copies it to the device and calls the
compiled step from Python, at least once per ``steps_per_execution`` steps. Here instead:

- the train and holdout splits are copied once to the device as uint8 (chunk by chunk into one
  buffer, so that even on a CPU, where "device" is host memory, the split is held once);
- an epoch's batches are the feed's batches (:meth:`caelatent.model.feed.Feed.batch_rows`: same seed,
  same order, resumable per epoch), sent as a matrix of positions, a few kB per call;
- one compiled call runs ``steps`` training steps: a ``lax.scan`` over rows of that matrix, each
  gathering its batch on the device and applying Keras's own ``train_step``, so the loss and the
  update are exactly ``fit``'s. ``unroll`` steps are unrolled per loop iteration (XLA's CPU
  backend runs a rolled loop's body about 1.7x slower than the same steps unrolled);
- with several devices (``train.gpus`` > 1) the state and the images are replicated and each
  batch's positions are split across the devices along the batch axis: XLA partitions the step
  (data parallelism at the same global batch, gradients all-reduced).

Callbacks (checkpoints, progress, NaN checks, TensorBoard) are called as ``fit`` calls them: per
epoch, and per compiled call for batch-level hooks.

Measured on an H200 (docs/benchmarks.md): at the seed network's batch 64 this is 5 % faster than
``fit``, whose feed and dispatch were already hidden behind the step; the step's own kernels bound
the speed there.
"""

from __future__ import annotations

import logging
from typing import Callable

import jax
import jax.numpy as jnp
import keras
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

log = logging.getLogger(__name__)

LOAD_BLOCK = 2048  # images copied to the device per transfer while loading a split


def devices_for(n: int) -> list:
    """The ``n`` devices that train (``train.gpus``; 0 counts as 1) on jax's default platform.

    With fewer than ``n`` GPUs visible, an error names the setting; on a machine without a GPU
    (jax's platform is the CPU) ``n`` > 1 trains on the one CPU device, saying so. Several CPU
    devices (``XLA_FLAGS=--xla_force_host_platform_device_count=N``) are used like GPUs.
    """
    n = max(1, n)
    found = jax.devices()
    if len(found) >= n:
        return found[:n]
    if found[0].platform == "cpu" and len(found) == 1:
        log.warning("train.gpus=%d but jax sees no GPU: training on the CPU", n)
        return found[:1]
    raise RuntimeError(
        f"train.gpus={n} but jax sees {len(found)} {found[0].platform} device(s): lower "
        "train.gpus or ask the cluster for more GPUs"
    )


class DeviceFit:
    """Train ``model`` (compiled, jax backend) on images held on ``devices``.

    ``train_rows`` and ``hold_rows`` index the uint8 Zarr ``array``; :meth:`fit` takes, per epoch,
    the Zarr rows of each batch (the feed's plan) and runs ``steps`` training steps per compiled
    call.
    """

    def __init__(
        self,
        model: keras.Model,
        array,
        train_rows: np.ndarray,
        hold_rows: np.ndarray,
        *,
        steps: int,
        unroll: int = 1,
        devices: list | None = None,
    ):
        self.model, self.steps, self.unroll = model, max(1, steps), max(1, unroll)
        self.devices = devices or jax.devices()[:1]
        self.mesh = Mesh(np.array(self.devices), ("batch",))
        self.replicated = NamedSharding(self.mesh, PartitionSpec())
        self.by_batch = NamedSharding(self.mesh, PartitionSpec(None, "batch"))
        self.train_rows = np.sort(np.asarray(train_rows, dtype=np.int64))
        self.hold_rows = np.sort(np.asarray(hold_rows, dtype=np.int64))
        self.train_images = self._load(array, self.train_rows)
        self.hold_images = self._load(array, self.hold_rows)
        self._train = self._scan(model.train_step, self.unroll)
        self._test = self._scan(model.test_step, 1)

    # ---- loading -------------------------------------------------------------------------
    def _load(self, array, rows: np.ndarray) -> jax.Array:
        """``array[rows]`` on the devices (replicated), copied in blocks into one buffer."""
        from .feed import ZarrWindows

        reader = ZarrWindows(array)
        shape = (len(rows), *array.shape[1:])
        buf = jax.jit(
            lambda: jnp.zeros(shape, jnp.uint8), out_shardings=self.replicated
        )()  # allocated on the devices, never on the host

        def update(buf, block, start):
            return jax.lax.dynamic_update_slice(buf, block, (start,) + (0,) * (buf.ndim - 1))

        put = jax.jit(update, donate_argnums=0)  # in place: the split is held once
        for s in range(0, len(rows), LOAD_BLOCK):
            block = reader.sorted_window(rows[s : s + LOAD_BLOCK])
            if len(block) < LOAD_BLOCK and len(rows) > LOAD_BLOCK:  # one compiled shape
                s, block = len(rows) - LOAD_BLOCK, reader.sorted_window(rows[-LOAD_BLOCK:])
            buf = put(buf, jax.device_put(block, self.replicated), np.int32(s))
        reader.pool.shutdown()
        return buf

    # ---- compiled steps ------------------------------------------------------------------
    @staticmethod
    def _scan(step, unroll: int):
        """``(state, images, positions) -> (state, losses)``, compiled: Keras's stateless ``step``
        (``train_step`` or ``test_step``) on each row of ``positions``, its batch gathered from
        ``images`` on the device, ``unroll`` steps per loop iteration."""

        def run(state, images, positions):
            def body(state, pos):
                logs, state = step(state, (jnp.take(images, pos, axis=0),))
                return state, logs["loss"]

            return jax.lax.scan(body, state, positions, unroll=min(unroll, len(positions)))

        return jax.jit(run)

    def _positions(self, rows_of_batches: list[np.ndarray], held: np.ndarray):
        """Position matrices (calls of at most ``steps`` full batches, then the partial batch)."""
        b = max(len(r) for r in rows_of_batches)
        pos = [np.searchsorted(held, r).astype(np.int32) for r in rows_of_batches]
        full = [p for p in pos if len(p) == b]
        mats = [np.stack(full[s : s + self.steps]) for s in range(0, len(full), self.steps)]
        mats += [p[None, :] for p in pos if len(p) != b]
        n = len(self.devices)
        return [
            jax.device_put(m, self.by_batch if m.shape[1] % n == 0 else self.replicated)
            for m in mats
        ]

    # ---- state ---------------------------------------------------------------------------
    def _variables(self, optimizer: bool = True):
        m = self.model
        groups = [m.trainable_variables, m.non_trainable_variables]
        return groups + ([m.optimizer.variables] if optimizer else []) + [m.metrics_variables]

    def _state(self, optimizer: bool = True):
        return tuple(
            [jax.device_put(v.value, self.replicated) for v in g]
            for g in self._variables(optimizer)
        )

    def _sync(self, state, optimizer: bool = True) -> None:
        for group, values in zip(self._variables(optimizer), state):
            for v, x in zip(group, values):
                v.assign(x)

    # ---- the loop ------------------------------------------------------------------------
    def fit(
        self,
        batch_rows: Callable[[int], list[np.ndarray]],
        val_batch_rows: list[np.ndarray],
        *,
        steps_per_epoch: int,
        initial_epoch: int,
        epochs: int,
        callbacks: list,
        verbose: int = 0,
    ) -> None:
        """Epochs ``initial_epoch .. epochs - 1`` of the batches ``batch_rows(epoch)`` gives,
        validating on ``val_batch_rows`` after each, calling ``callbacks`` as ``fit`` does."""
        m = self.model
        if not m.optimizer.built:  # fit's _symbolic_build does this
            m.optimizer.build(m.trainable_variables)
        cbs = keras.callbacks.CallbackList(
            callbacks,
            add_history=False,
            add_progbar=verbose != 0,
            verbose=verbose,
            epochs=epochs,
            steps=steps_per_epoch,
            model=m,
        )
        val_positions = self._positions(val_batch_rows, self.hold_rows)
        m.stop_training = False
        cbs.on_train_begin()
        logs: dict = {}
        for epoch in range(initial_epoch, epochs):
            m.reset_metrics()
            cbs.on_epoch_begin(epoch)
            state, step = self._state(), 0
            for positions in self._positions(batch_rows(epoch), self.train_rows):
                cbs.on_train_batch_begin(step)
                state, losses = self._train(state, self.train_images, positions)
                step += len(positions)
                cbs.on_train_batch_end(step - 1, {"loss": losses[-1]})
                if m.stop_training:
                    break
            self._sync(state)
            logs = dict(m.get_metrics_result())
            logs.update({f"val_{k}": v for k, v in self._validate(val_positions, cbs).items()})
            cbs.on_epoch_end(epoch, logs)
            if m.stop_training:
                break
        m.optimizer.finalize_variable_values(m.trainable_weights)
        cbs.on_train_end(logs)

    def _validate(self, positions: list, cbs) -> dict:
        """``evaluate``'s logs on the holdout: Keras's ``test_step`` over its batches."""
        m = self.model
        m.reset_metrics()
        cbs.on_test_begin()
        state = self._state(optimizer=False)
        for p in positions:
            state, _ = self._test(state, self.hold_images, p)
        self._sync(state, optimizer=False)
        logs = {k: float(v) for k, v in m.get_metrics_result().items()}
        cbs.on_test_end(logs)
        m.reset_metrics()
        return logs
