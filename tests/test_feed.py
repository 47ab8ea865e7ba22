"""The training feed: the seeded epoch order, and identical batches from RAM and from Zarr."""

from __future__ import annotations

import numpy as np
import pytest
import zarr

from caelatent.model import backend

backend.use("tensorflow")

from caelatent.model.feed import (
    Feed,
    InMemory,
    ZarrWindows,
    batches_of,
    epoch_order,
    open_source,
)  # noqa: E402


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    """A uint8 array of 1,000 tiny images whose pixels spell their own row number, chunked by 64."""
    n = 1000
    data = np.zeros((n, 4, 4, 3), dtype=np.uint8)
    data[:, 0, 0, 0], data[:, 0, 0, 1] = np.arange(n) % 256, np.arange(n) // 256
    data[:, 1:] = np.random.default_rng(0).integers(0, 255, (n, 3, 4, 3), dtype=np.uint8)
    g = zarr.open_group(tmp_path_factory.mktemp("feed") / "x.zarr", mode="w")
    arr = g.create_array("images", data=data, chunks=(64, 4, 4, 3))
    rows = np.sort(np.random.default_rng(1).choice(n, 700, replace=False))  # a train split
    return arr, data, rows


def row_ids(batch: np.ndarray) -> np.ndarray:
    batch = np.asarray(batch)
    return batch[:, 0, 0, 0].astype(np.int64) + 256 * batch[:, 0, 0, 1].astype(np.int64)


def test_every_row_once_per_epoch_in_batch_aligned_windows(images):
    _, _, rows = images
    for epoch in range(3):
        wins = epoch_order(rows, 64, 32, seed=5, epoch=epoch, window=200)
        assert all(len(w) == 192 for w in wins[:-1]), [
            len(w) for w in wins
        ]  # 200 rounded down to 6 batches
        assert sorted(np.concatenate(wins).tolist()) == rows.tolist()
    a, b = (np.concatenate(epoch_order(rows, 64, 32, seed=5, epoch=e)) for e in (0, 1))
    assert not (a == b).all()  # a new order each epoch
    again = np.concatenate(epoch_order(rows, 64, 32, seed=5, epoch=1))
    assert (again == b).all()  # a pure function of (seed, epoch)
    assert (np.concatenate(epoch_order(rows, 64, 32, seed=5, epoch=0, shuffle=False)) == rows).all()


def test_shuffle_mixes_chunks_inside_a_window(images):
    _, _, rows = images
    first = batches_of(epoch_order(rows, 64, 32, seed=0, epoch=0, window=256), 32)[0]
    assert len(np.unique(first // 64)) >= 3  # one batch draws on several chunks
    # and over many seeds every row is about equally likely to come first (no position bias)
    firsts = [epoch_order(rows, 64, 32, seed=s, epoch=0, window=256)[0][0] for s in range(300)]
    assert len(set(firsts)) > 150


@pytest.mark.parametrize("max_batches", [None, 5])
def test_ram_and_zarr_give_identical_batches(images, max_batches):
    arr, data, rows = images
    fed = {}
    for name, source in (
        ("ram", InMemory(arr, rows, readers=3)),
        ("zarr", ZarrWindows(arr, readers=3)),
    ):
        feed = Feed(source, rows, 64, 32, seed=3, window=160, epochs=3, max_batches=max_batches)
        fed[name] = list(feed)
        assert len(fed[name]) == 3 * feed.batches_per_epoch
        expected = [r for e in range(3) for r in feed.batch_rows(e)]
        assert all(
            (row_ids(b) == r).all() and (b == data[r]).all() for b, r in zip(fed[name], expected)
        )
    assert all((a == b).all() for a, b in zip(fed["ram"], fed["zarr"]))
    if max_batches is None:
        assert (
            sorted(np.concatenate([row_ids(b) for b in fed["ram"][: len(fed["ram"]) // 3]]))
            == rows.tolist()
        )


def test_tf_dataset_gives_the_same_batches_as_the_generator(images):
    arr, _, rows = images
    for source in (InMemory(arr, rows), ZarrWindows(arr)):
        feed = Feed(source, rows, 64, 48, seed=9, window=200, epochs=2)
        via_tf = [b.numpy() for b in feed.keras_input()]  # tensorflow backend: a tf.data pipeline
        assert len(via_tf) == len(list(feed)) == 2 * feed.batches_per_epoch
        assert all(b.dtype == np.uint8 and (a == b).all() for a, b in zip(via_tf, feed))
        assert via_tf[-1].shape[0] == len(rows) % 48  # the epoch's last, partial batch


def test_a_resumed_feed_continues_with_the_order_it_would_have_had(images):
    arr, _, rows = images
    source = InMemory(arr, rows)
    whole = list(Feed(source, rows, 64, 32, seed=4, epochs=4))
    resumed = list(Feed(source, rows, 64, 32, seed=4, first_epoch=2, epochs=4))
    assert len(resumed) == len(whole) // 2
    assert all((a == b).all() for a, b in zip(whole[len(whole) // 2 :], resumed))


def test_source_follows_the_memory_budget(images):
    arr, _, rows = images
    need_mb = len(rows) * 48 / 2**20
    assert isinstance(open_source(arr, rows, in_memory_mb=need_mb * 1.01), InMemory)
    assert isinstance(open_source(arr, rows, in_memory_mb=need_mb * 0.99), ZarrWindows)
