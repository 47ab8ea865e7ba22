"""Apply trained networks: load them, encode ``images.zarr`` into ``latents.zarr``, decode latent
vectors, reconstruct holdout images.

Import :mod:`caelatent.backend` and call ``use()`` before this module when the backend matters:
importing it imports Keras.
"""

from __future__ import annotations

import logging
import os

import keras
import numpy as np
import zarr

from .logs import Eta
from .model import scaled_input
from .store import HOLDOUT, atomic_path, checked_compressor, open_zarr, seal

log = logging.getLogger(__name__)


def load_model(path: str | os.PathLike) -> keras.Model:
    return keras.saving.load_model(path, compile=False)


def encode_images(
    images: str | os.PathLike,
    encoder_path: str | os.PathLike,
    out: str | os.PathLike,
    *,
    z_dim: int,
    batch_size: int = 256,
    chunk: int = 4096,
) -> int:
    """Encode every image (train and holdout) into ``out`` (latents.zarr): z, ids, split, attributes.

    Images go to the device as uint8, ``batch_size`` at a time, and are scaled there.
    """
    encoder = load_model(encoder_path)
    got = int(encoder.output_shape[-1])
    if got != z_dim:
        raise ValueError(
            f"{encoder_path} has latent size {got}, but the config says model.z_dim={z_dim}; "
            "retrain (delete the model) or fix the config"
        )
    g = open_zarr(images)
    arr = g["images"]
    if tuple(encoder.input_shape[1:3]) != arr.shape[1:3]:
        raise ValueError(
            f"{encoder_path} expects {encoder.input_shape[1:3]} images, {images} holds {arr.shape[1:3]}"
        )
    n = arr.shape[0]
    eta = Eta(n)  # its clock also gives the rate
    with atomic_path(out) as tmp:
        lg = zarr.open_group(tmp, mode="w")
        z = lg.create_array(
            "z",
            shape=(n, z_dim),
            chunks=(min(chunk, n), z_dim),
            dtype="float32",
            compressors=checked_compressor(),
        )
        step = arr.chunks[0] * max(1, chunk // arr.chunks[0])
        on_uint8 = scaled_input(encoder)
        for s in range(0, n, step):
            x = arr[s : s + step]
            z[s : s + len(x)] = np.asarray(
                on_uint8.predict(x, batch_size=batch_size, verbose=0), dtype=np.float32
            )
            log.info(
                "encoded %d/%d images (%.0f images/s); %s",
                s + len(x),
                n,
                (s + len(x)) / eta.elapsed(),
                eta.line(s + len(x)),
            )
        for name in ("ids", "split", "attributes", "identity"):
            if name in g:
                a = lg.create_array(
                    name, data=g[name][:], chunks=g[name].chunks, compressors=checked_compressor()
                )
                a.attrs.update(dict(g[name].attrs))
        lg.attrs.update(
            {
                "z_dim": z_dim,
                "encoder": str(encoder_path),
                "images": str(images),
                "split_codes": dict(g.attrs.get("split_codes", {})),
            }
        )
        seal(tmp)
    return n


def reconstruct_holdout(
    images, encoder: keras.Model, decoder: keras.Model, n: int = 16, batch_size: int = 256
) -> dict[str, np.ndarray]:
    """The first ``n`` holdout images (``originals``), their ``reconstructions`` and ``ids``."""
    g = open_zarr(images)
    hold = np.flatnonzero(g["split"][:] == HOLDOUT)[:n]
    x = g["images"].get_orthogonal_selection((hold, slice(None), slice(None), slice(None)))
    z = encoder.predict(x.astype(np.float32) / 255, batch_size=batch_size, verbose=0)
    rec = np.asarray(decoder.predict(z, batch_size=batch_size, verbose=0), np.float32)
    return {"originals": x, "reconstructions": rec, "ids": g["ids"][:][hold]}


def decode(decoder: keras.Model, z: np.ndarray, batch_size: int = 256) -> np.ndarray:
    """Latent vectors -> uint8 images."""
    x = np.asarray(decoder.predict(np.asarray(z, np.float32), batch_size=batch_size, verbose=0))
    return np.clip(np.rint(x * 255), 0, 255).astype(np.uint8)
