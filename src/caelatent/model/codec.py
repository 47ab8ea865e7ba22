"""Apply trained networks: encode images into latent vectors, decode latent vectors, reconstruct
holdout images (arrays in, arrays out; the stage runners open the stores and the model files).

Import :mod:`caelatent.model.backend` and call ``use()`` before this module when the backend matters:
importing it imports Keras.
"""

from __future__ import annotations

import logging

import keras
import numpy as np

from ..files.store import HOLDOUT
from ..logs import Eta
from .networks import scaled_input

log = logging.getLogger(__name__)


def encode_into(encoder: keras.Model, images, z, *, batch_size: int = 256, step: int = 4096) -> int:
    """Encode every row of ``images`` (uint8 [N, H, W, 3], an array or a Zarr array) into the
    array ``z`` [N, z_dim], ``step`` rows at a time. Images go to the device as uint8,
    ``batch_size`` at a time, and are scaled there."""
    n = images.shape[0]
    if tuple(encoder.input_shape[1:3]) != tuple(images.shape[1:3]):
        raise ValueError(
            f"the encoder expects {encoder.input_shape[1:3]} images, not {images.shape[1:3]}"
        )
    eta = Eta(n)  # its clock also gives the rate
    on_uint8 = scaled_input(encoder)
    for s in range(0, n, step):
        x = images[s : s + step]
        z[s : s + len(x)] = np.asarray(
            on_uint8.predict(x, batch_size=batch_size, verbose=0), dtype=np.float32
        )
        done = s + len(x)
        log.info(
            "encoded %d/%d images (%.0f images/s); %s",
            done,
            n,
            done / eta.elapsed(),
            eta.line(done),
        )
    return n


def latent_size(encoder: keras.Model) -> int:
    """The encoder's latent dimension, the one source of z_dim after training."""
    return int(encoder.output_shape[-1])


def reconstruct_holdout(
    images,
    split,
    ids,
    encoder: keras.Model,
    decoder: keras.Model,
    n: int = 16,
    batch_size: int = 256,
) -> dict[str, np.ndarray]:
    """The first ``n`` holdout rows of ``images`` (``split`` codes, ``ids``): the ``originals``,
    their ``reconstructions`` and ``ids``."""
    hold = np.flatnonzero(np.asarray(split) == HOLDOUT)[:n]
    x = images.get_orthogonal_selection((hold, slice(None), slice(None), slice(None)))
    z = encoder.predict(x.astype(np.float32) / 255, batch_size=batch_size, verbose=0)
    rec = np.asarray(decoder.predict(z, batch_size=batch_size, verbose=0), np.float32)
    return {"originals": x, "reconstructions": rec, "ids": np.asarray(ids)[hold]}


def decode(decoder: keras.Model, z: np.ndarray, batch_size: int = 256) -> np.ndarray:
    """Latent vectors -> uint8 images."""
    x = np.asarray(decoder.predict(np.asarray(z, np.float32), batch_size=batch_size, verbose=0))
    return np.clip(np.rint(x * 255), 0, 255).astype(np.uint8)
