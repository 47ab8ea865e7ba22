"""Atomic output paths, the Zarr layout of ``images.zarr``, and a prepared dataset's other files."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np
import zarr
from zarr.codecs import BloscCodec

from . import celeba


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


# --- a prepared dataset's files -------------------------------------------------------------


@dataclass
class Outputs:
    images: Path  # images.zarr
    attributes: Path  # attributes.tsv
    manifest: Path  # manifest.json
    list_attr: Path  # list_attr.txt, CelebA's own format

    @classmethod
    def in_dir(cls, d: str | os.PathLike) -> "Outputs":
        d = Path(d)
        return cls(
            d / "images.zarr", d / "attributes.tsv", d / "manifest.json", d / "list_attr.txt"
        )


def compact_images(
    tmp_array: zarr.Array, valid: np.ndarray, dest_group: zarr.Group, chunk: int
) -> zarr.Array:
    """Copy the valid rows of ``tmp_array`` into a new ``images`` array, chunk by chunk."""
    n = int(valid.sum())
    out = create_images_array(dest_group, n, tmp_array.shape[1], chunk)
    pos, pending = 0, []
    for s in range(0, tmp_array.shape[0], chunk):
        block = tmp_array[s : s + chunk][valid[s : s + chunk]]
        pending.append(block)
        have = sum(len(b) for b in pending)
        if have >= chunk or s + chunk >= tmp_array.shape[0]:
            cat = (
                np.concatenate(pending)
                if pending
                else np.zeros((0,) + tmp_array.shape[1:], np.uint8)
            )
            full = len(cat) if s + chunk >= tmp_array.shape[0] else (len(cat) // chunk) * chunk
            out[pos : pos + full] = cat[:full]
            pos += full
            pending = [cat[full:]]
    assert pos == n, (pos, n)
    return out


def rename_array(root: str | os.PathLike, old: str, new: str) -> zarr.Array:
    os.replace(Path(root) / old, Path(root) / new)
    return zarr.open_array(Path(root) / new, mode="r+")


def write_metadata(group, ids, flags, attr_names, attr_vals, identity, chunk) -> None:
    n = len(ids)
    group.create_array("ids", data=ids, chunks=(min(n, 65536),))
    group.create_array("split", data=flags, chunks=(min(n, 65536),))
    if attr_names:
        a = group.create_array(
            "attributes", data=attr_vals.astype(np.int8), chunks=(min(n, 65536), len(attr_names))
        )
        a.attrs["names"] = list(attr_names)
        a.attrs["missing_value"] = 0
    if identity is not None:
        group.create_array("identity", data=identity, chunks=(min(n, 65536),))
    group.attrs.update({"split_codes": {"train": 0, "holdout": 1}})


def write_tables(out: Outputs, ids, flags, names, vals, found, identity, manifest) -> None:
    """attributes.tsv (one row per written image) and manifest.json, each written atomically."""
    header = (
        ["index", "image_id", "split", "has_attributes"]
        + (["identity"] if identity is not None else [])
        + list(names)
    )
    split_names = np.array(["train", "holdout"])[flags]
    with atomic_path(out.attributes) as tmp:
        with open(tmp, "w") as f:
            f.write("\t".join(header) + "\n")
            for k in range(len(ids)):
                row = [str(k), f"{int(ids[k]):06d}", split_names[k], str(int(found[k]))]
                if identity is not None:
                    row.append(str(int(identity[k])))
                if names:
                    row.extend(str(int(v)) for v in vals[k])
                f.write("\t".join(row) + "\n")
    # the same attributes in CelebA's file format, for the images that have them (it has no
    # notation for a missing row, so those images are left out; its count line is exact)
    with atomic_path(out.list_attr) as tmp:
        keep = np.asarray(found, bool) if names else np.zeros(len(ids), bool)
        celeba.write_attributes(
            tmp,
            list(names),
            np.asarray(ids)[keep],
            vals[keep] if names else np.zeros((0, 0), np.int8),
        )
    with atomic_path(out.manifest) as tmp:
        Path(tmp).write_text(json.dumps(manifest, indent=2) + "\n")
