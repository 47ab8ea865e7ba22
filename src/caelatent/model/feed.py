"""The training feed: uint8 image batches in a seeded order that does not depend on where they come from.

One pure function, :func:`epoch_order`, decides which images form each batch of an epoch: the Zarr
chunks holding the rows are visited in a random order, the rows are cut into windows of
``window`` images (a multiple of the batch size) and shuffled inside each window, and batches are
consecutive slices. Epoch ``e`` of seed ``s`` is the same whatever epoch training started from, so a
resumed run sees the order an uninterrupted run would have seen.

Two sources deliver those batches:

- :class:`InMemory`: the rows held as one uint8 array in RAM (when they fit ``train.in_memory_mb``);
- :class:`ZarrWindows`: each window read from ``images.zarr`` by parallel reader threads, the next
  window read while the current one is consumed.

Both give identical batches for a seed. Batches stay uint8 until the model scales them on the device.
:meth:`Feed.keras_input` hands them to ``model.fit`` in the form the active Keras backend consumes
fastest: a ``tf.data`` pipeline over stacks of batches gathered in NumPy for TensorFlow (the split
is never copied into a tensor), a plain generator for jax and torch.
"""

from __future__ import annotations

import logging
import math
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

log = logging.getLogger(__name__)


def epoch_order(
    rows: np.ndarray,
    chunk: int,
    batch_size: int,
    *,
    seed: int,
    epoch: int,
    shuffle: bool = True,
    window: int = 8192,
) -> list[np.ndarray]:
    """The rows of one epoch as a list of windows, each window's rows in batch order.

    ``rows`` are indices into the Zarr array (chunked by ``chunk`` along N). Without ``shuffle`` the
    rows come in ascending order. ``window`` is rounded down to a multiple of ``batch_size``, so no
    batch spans two windows; only the epoch's last batch may be smaller.
    """
    rows = np.sort(np.asarray(rows, dtype=np.int64))
    if batch_size < 1 or chunk < 1:
        raise ValueError(f"batch_size={batch_size} and chunk={chunk} must be positive")
    w = max(batch_size, window // batch_size * batch_size)
    if shuffle:
        rng = np.random.default_rng([seed, epoch])
        chunks = rows // chunk
        visit = rng.permutation(np.unique(chunks))
        rank = np.empty(int(chunks.max()) + 1 if len(rows) else 0, dtype=np.int64)
        rank[visit] = np.arange(len(visit))
        rows = rows[np.argsort(rank[chunks], kind="stable")]
        return [rng.permutation(rows[s : s + w]) for s in range(0, len(rows), w)]
    return [rows[s : s + w] for s in range(0, len(rows), w)]


def batches_of(windows: list[np.ndarray], batch_size: int) -> list[np.ndarray]:
    """Consecutive batches of an epoch's windows."""
    return [win[s : s + batch_size] for win in windows for s in range(0, len(win), batch_size)]


class InMemory:
    """The rows of a uint8 Zarr array held in RAM, read chunk by chunk with ``readers`` threads."""

    kind = "memory"

    def __init__(self, array, rows: np.ndarray, readers: int = 4):
        self.rows = np.sort(np.asarray(rows, dtype=np.int64))
        self.images = np.empty((len(self.rows), *array.shape[1:]), dtype=array.dtype)
        chunk = array.chunks[0]
        starts = np.unique(self.rows // chunk) * chunk

        def load(start: int) -> None:
            sel = (self.rows >= start) & (self.rows < start + chunk)
            block = array[start : min(start + chunk, array.shape[0])]
            self.images[sel] = block[self.rows[sel] - start]

        with ThreadPoolExecutor(max(1, readers)) as pool:
            list(pool.map(load, starts))

    def positions(self, rows: np.ndarray) -> np.ndarray:
        """Where ``rows`` (Zarr indices) sit in :attr:`images`."""
        return np.searchsorted(self.rows, rows)

    def window(self, rows: np.ndarray) -> np.ndarray:
        return self.images[self.positions(rows)]


class ZarrWindows:
    """Windows of rows read from a Zarr array, each chunk read by one of ``readers`` threads.

    Windows are assembled in two buffers used in turn (one being read while the other is used), so
    a long run does not allocate, and fault in, a fresh window of memory each time.
    """

    kind = "zarr"

    def __init__(self, array, readers: int = 4):
        self.array, self.chunk = array, array.chunks[0]
        self.pool = ThreadPoolExecutor(max(1, readers))
        self._buffers: list[np.ndarray] = []

    def _chunk(self, c: int) -> np.ndarray:
        return self.array[c * self.chunk : min((c + 1) * self.chunk, self.array.shape[0])]

    def _buffer(self, slot: int, n: int) -> np.ndarray:
        while len(self._buffers) <= slot:
            self._buffers.append(np.empty((0, *self.array.shape[1:]), dtype=self.array.dtype))
        if len(self._buffers[slot]) < n:
            self._buffers[slot] = np.empty((n, *self.array.shape[1:]), dtype=self.array.dtype)
        return self._buffers[slot][:n]

    def sorted_window(self, rows: np.ndarray, slot: int | None = None) -> np.ndarray:
        """The images of ``np.sort(rows)`` (ascending: one copy per chunk), in a fresh array or
        (``slot`` 0 or 1) in that reused buffer."""
        rows = np.sort(rows)
        out = (
            np.empty((len(rows), *self.array.shape[1:]), dtype=self.array.dtype)
            if slot is None
            else self._buffer(slot, len(rows))
        )
        chunk_of = rows // self.chunk
        chunks, starts = np.unique(chunk_of, return_index=True)
        ends = np.append(starts[1:], len(rows))
        for c, a, b, block in zip(
            chunks, starts, ends, self.pool.map(self._chunk, chunks.tolist())
        ):
            np.take(block, rows[a:b] - c * self.chunk, axis=0, out=out[a:b])
        return out

    def window(self, rows: np.ndarray) -> np.ndarray:
        """The images of ``rows``, in that order."""
        return self.sorted_window(rows)[np.argsort(np.argsort(rows))]

    def prefetched(self, windows: list[np.ndarray]):
        """Yield ``(rows, pixels)`` per window, ``pixels`` holding ``np.sort(rows)``'s images; the next
        window is read while this one is used.

        ``pixels`` is a reused buffer, overwritten two windows later: copy what you keep.
        """
        reader = ThreadPoolExecutor(1)
        try:
            nxt = reader.submit(self.sorted_window, windows[0], 0) if windows else None
            for i, rows in enumerate(windows):
                pixels = nxt.result()
                if i + 1 < len(windows):
                    nxt = reader.submit(self.sorted_window, windows[i + 1], (i + 1) % 2)
                yield rows, pixels
        finally:
            reader.shutdown(wait=True, cancel_futures=True)


@dataclass
class Feed:
    """Batches of ``rows`` of a uint8 images array for epochs ``first_epoch .. epochs - 1``.

    ``source`` is an :class:`InMemory` or a :class:`ZarrWindows`. Iterating the feed yields one
    uint8 array per batch, epoch after epoch (``batches_per_epoch`` each), which is what ``fit``
    with ``steps_per_epoch`` expects.
    """

    source: InMemory | ZarrWindows
    rows: np.ndarray
    chunk: int
    batch_size: int
    seed: int = 0
    shuffle: bool = True
    window: int = 8192
    first_epoch: int = 0
    epochs: int = 1
    max_batches: int | None = None

    def __post_init__(self):
        self.rows = np.sort(np.asarray(self.rows, dtype=np.int64))
        n = math.ceil(len(self.rows) / self.batch_size)
        self.batches_per_epoch = min(n, self.max_batches) if self.max_batches else n

    def windows(self, epoch: int) -> list[np.ndarray]:
        """Epoch ``epoch``'s windows, cut to ``max_batches`` batches."""
        wins = epoch_order(
            self.rows,
            self.chunk,
            self.batch_size,
            seed=self.seed,
            epoch=epoch,
            shuffle=self.shuffle,
            window=self.window,
        )
        if not self.max_batches:
            return wins
        keep, left = [], self.max_batches * self.batch_size
        for w in wins:
            if left <= 0:
                break
            keep.append(w[:left])
            left -= len(keep[-1])
        return keep

    def batch_rows(self, epoch: int) -> list[np.ndarray]:
        """The Zarr rows of every batch of ``epoch`` (what both sources deliver, in order)."""
        return batches_of(self.windows(epoch), self.batch_size)

    def _windows_with_pixels(self, epoch: int):
        wins = self.windows(epoch)
        if isinstance(self.source, ZarrWindows):
            yield from self.source.prefetched(wins)
        else:
            for rows in wins:
                yield rows, None

    def __iter__(self):
        for epoch in range(self.first_epoch, self.epochs):
            for _, pixels, mats in self._index_windows(epoch):
                images = self.source.images if pixels is None else pixels
                for m in mats:
                    for pos in m:
                        yield images[pos]  # a gather: a fresh array each batch

    def keras_input(self):
        """What ``model.fit`` gets: a ``tf.data.Dataset`` on TensorFlow, a generator otherwise."""
        import keras

        if keras.backend.backend() == "tensorflow":
            return self._tf_dataset()
        return ((x,) for x in self)

    def keras_validation(self):
        """One pass of the feed that Keras can run again every epoch (tf.data, or a PyDataset)."""
        import keras

        if keras.backend.backend() == "tensorflow":
            return self._tf_dataset()
        rows, source = self.batch_rows(self.first_epoch), self.source

        class Batches(keras.utils.PyDataset):
            def __len__(self) -> int:
                return len(rows)

            def __getitem__(self, i: int):
                return (source.window(rows[i]),)

        return Batches()

    def _index_windows(self, epoch: int):
        """``(rows, pixels or None, batch matrices)`` per window: positions of each batch's rows in
        the window's pixels (or in the in-memory images), full batches first, then a partial one."""
        b = self.batch_size
        for rows, pixels in self._windows_with_pixels(epoch):
            pos = (
                np.argsort(np.argsort(rows)) if pixels is not None else self.source.positions(rows)
            )
            full = len(rows) // b * b
            mats = ([pos[:full].reshape(-1, b)] if full else []) + (
                [pos[full:][None, :]] if full < len(rows) else []
            )
            yield rows, pixels, mats

    def _tf_dataset(self):
        """The batches as a tf.data pipeline over a Python generator of stacks of batches gathered
        in NumPy, from RAM or from the window just read.

        Nothing captures the split as a tensor: a ``tf.constant`` of the in-memory images (what a
        ``map(tf.gather)`` needs) is a second copy of the whole split, which at CelebA's scale is
        gigabytes. Each stack stays under glibc's 32 MB mmap threshold so that its memory is
        recycled rather than faulted in afresh.
        """
        import tensorflow as tf

        epochs = range(self.first_epoch, self.epochs)
        # the number of batches, so that Keras knows when a pass ends (validation) without running dry
        known = tf.data.experimental.assert_cardinality(self.batches_per_epoch * len(epochs))
        shape = self.source_shape()
        stack = max(1, (30 << 20) // (self.batch_size * int(np.prod(shape))))

        def stacks():
            for epoch in epochs:
                for _, pixels, mats in self._index_windows(epoch):
                    images = self.source.images if pixels is None else pixels
                    for m in mats:
                        for k in range(0, len(m), stack):
                            yield images[m[k : k + stack]]

        spec = tf.TensorSpec((None, None, *shape), tf.uint8)
        ds = tf.data.Dataset.from_generator(stacks, output_signature=spec)
        return ds.flat_map(tf.data.Dataset.from_tensor_slices).prefetch(2).apply(known)

    def source_shape(self) -> tuple[int, ...]:
        """The shape of one image of the source."""
        src = self.source
        return tuple((src.images if isinstance(src, InMemory) else src.array).shape[1:])


def split_mb(n_images: int, image_shape: tuple[int, ...], itemsize: int = 1) -> float:
    """Megabytes (MiB) of ``n_images`` images of ``image_shape`` (uint8 by default)."""
    return n_images * int(np.prod(image_shape)) * itemsize / 2**20


def open_source(
    array, rows: np.ndarray, *, in_memory_mb: float, readers: int = 4
) -> InMemory | ZarrWindows:
    """:class:`InMemory` when ``rows`` fit ``in_memory_mb`` megabytes, else :class:`ZarrWindows`."""
    need = split_mb(len(rows), array.shape[1:], np.dtype(array.dtype).itemsize)
    if need <= in_memory_mb:
        log.info(
            "holding %d images (%.0f MB) in RAM (train.in_memory_mb=%s)",
            len(rows),
            need,
            in_memory_mb,
        )
        return InMemory(array, rows, readers)
    log.info(
        "streaming %d images (%.0f MB > train.in_memory_mb=%s) from Zarr with %d readers",
        len(rows),
        need,
        in_memory_mb,
        readers,
    )
    return ZarrWindows(array, readers)
