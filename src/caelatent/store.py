"""Zarr layout helpers and atomic output paths."""

from __future__ import annotations

import contextlib
import os
import shutil
from pathlib import Path
from typing import Iterator

import zarr
from zarr.codecs import BloscCodec


def images_compressor() -> BloscCodec:
    # LZ4 in Blosc: cheap enough that writing never limits the decoding workers
    return BloscCodec(cname="lz4", clevel=5, shuffle="shuffle")


def create_images_array(
    group: zarr.Group, n: int, size: int, chunk: int, name: str = "images"
) -> zarr.Array:
    """uint8 [n, size, size, 3], chunked along N only."""
    return group.create_array(
        name,
        shape=(n, size, size, 3),
        chunks=(min(chunk, max(n, 1)), size, size, 3),
        dtype="uint8",
        compressors=images_compressor(),
        fill_value=0,
    )


@contextlib.contextmanager
def atomic_path(final: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary sibling path; on success it replaces ``final``, on error it is removed.

    Works for files and directories (a Zarr store is a directory).
    """
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = final.with_name(final.name + ".partial")
    _remove(tmp)
    try:
        yield tmp
    except BaseException:
        _remove(tmp)
        raise
    _remove(final)
    os.replace(tmp, final)


def _remove(p: Path) -> None:
    if p.is_dir() and not p.is_symlink():
        shutil.rmtree(p)
    elif p.exists() or p.is_symlink():
        p.unlink()
