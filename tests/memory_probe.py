"""Run in its own process by tests/test_train.py: train on a generated store of N images of SIZE
for a few batches and print, as JSON, the RSS just before train loads its splits, the process's
peak RSS and the splits' uint8 bytes.

Usage: python tests/memory_probe.py STORE N SIZE [BACKEND]

BACKEND (default tensorflow): jax trains on the device-resident path (the CPU is the device), whose
splits are loaded by caelatent.model.devicefit instead of the host feed.
"""

from __future__ import annotations

import json
import sys

import numpy as np
import zarr

from caelatent.model import backend
from caelatent.files import store

backend.use(sys.argv[4] if len(sys.argv) > 4 else "tensorflow", 2)

from caelatent.model import train as train_module  # noqa: E402
from caelatent.model.networks import ModelSpec  # noqa: E402


def rss(key: str) -> int:
    """A memory figure of this process from /proc (VmRSS: now, VmHWM: the peak), in bytes."""
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) * 1024 for line in f if line.startswith(key))


def main(path: str, n: int, size: int) -> None:
    group = zarr.open_group(path, mode="w")
    images = store.create_images_array(group, n, size, 1024)  # trained on directly: no files out
    block = (np.arange(1024 * size * size * 3) % 251).astype(np.uint8)
    block = block.reshape(1024, size, size, 3)
    for start in range(0, n, 1024):
        images[start : start + 1024] = block[: min(1024, n - start)]
    split = (np.arange(n) >= int(n * 0.85)).astype(np.uint8)  # 15 % holdout
    group.create_array("split", data=split, chunks=(65536,))

    before = {}

    def noting_rss(load):  # the RSS just before the first split is loaded, by either path
        def wrapped(*args, **kwargs):
            before.setdefault("rss", rss("VmRSS:"))
            return load(*args, **kwargs)

        return wrapped

    train_module.open_source = noting_rss(train_module.open_source)
    if __import__("keras").backend.backend() == "jax":
        from caelatent.model import devicefit

        devicefit.DeviceFit._load = noting_rss(devicefit.DeviceFit._load)
    spec = ModelSpec(image_size=size, filters=(8, 8, 8, 8), z_dim=16)
    train_module.train_autoencoder(
        images,
        np.flatnonzero(split == 0),
        np.flatnonzero(split == 1),
        spec,
        epochs=1,
        batch_size=64,
        max_batches_per_epoch=4,
        verbose=0,
    )
    print(json.dumps({"before": before["rss"], "peak": rss("VmHWM:"), "splits": images.nbytes}))


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]))
