"""Atomic output paths, the Zarr layout of ``images.zarr``, and a prepared dataset's other files."""

from __future__ import annotations

import contextlib
import errno
import itertools
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np
import zarr
from zarr.codecs import BloscCodec, Crc32cCodec


def images_compressor() -> tuple:
    # LZ4 in Blosc: cheap enough that writing never limits the decoding workers; a CRC-32C per
    # chunk so that a damaged chunk is an error (DamagedChunk), never silently other pixels
    return (BloscCodec(cname="lz4", clevel=5, shuffle="shuffle"), Crc32cCodec())


def checked_compressor() -> tuple:
    """Zarr's default Zstandard, with a CRC-32C per chunk (see images_compressor)."""
    return (zarr.codecs.ZstdCodec(level=0), Crc32cCodec())


# --- reading Zarr stores: a damaged chunk is named ------------------------------------------


class DamagedChunk(RuntimeError):
    """A chunk of a Zarr store that cannot be decoded (truncated, overwritten, bit flips), or one
    that the store's chunk manifest lists and that is missing or of another size."""


#: the group attribute of a store written by the workflow that lists every chunk file it holds
#: the ``split`` array's codes in images.zarr and latents.zarr (also stored as its ``split_codes``)
TRAIN, HOLDOUT = 0, 1
SPLIT_CODES = {"train": TRAIN, "holdout": HOLDOUT}
MANIFEST = "chunk_manifest"


def _chunk_files(array_dir: Path) -> dict[str, list[int]]:
    """``{key: [size, crc32c]}`` of every chunk file under an array's directory (keys relative to
    it, such as ``c/3/0/0/0``)."""
    import google_crc32c  # Zarr's own CRC-32C (its Crc32cCodec)

    files = {}
    for f in sorted((array_dir / "c").rglob("*")) if (array_dir / "c").is_dir() else []:
        if f.is_file():
            files[f.relative_to(array_dir).as_posix()] = [
                f.stat().st_size,
                int(google_crc32c.value(f.read_bytes())),
            ]
    return files


def seal(path: str | os.PathLike) -> None:
    """Record which chunk files a finished store holds (size and CRC-32C each) in its
    :data:`MANIFEST` attribute, written last, so that a reader can tell a deleted chunk (which
    Zarr would read back as its fill value, zeros) from one never written (all fill value)."""
    path = Path(path)
    group = zarr.open_group(path, mode="r+")
    arrays = {name: _chunk_files(path / name) for name, _ in group.arrays()}
    group.attrs[MANIFEST] = arrays


def check_chunks(
    path: str | os.PathLike, array: str, full: bool = False, manifest: dict | None = None
) -> None:
    """Raise :class:`DamagedChunk` naming the first chunk file of ``array`` that the store's
    manifest (:func:`seal`; read from the store unless given) lists and that is missing; with
    ``full``, also one whose size or CRC-32C changed (reads find those anyway, through each chunk's
    own CRC-32C codec). A store without a manifest (not written by the workflow) is not checked."""
    path = Path(path)
    if manifest is None:
        manifest = zarr.open_group(path, mode="r").attrs.get(MANIFEST, {})
    listed = manifest.get(array)
    if listed is None:
        return
    on_disk = _chunk_files(path / array) if full else {}
    for key, written in listed.items():
        f = path / array / key
        problem = None
        if not f.is_file():
            problem = "is missing (a reader would have got zeros in its place)"
        elif full and on_disk.get(key) != written:
            problem = (
                f"changed since it was written (size, CRC-32C {on_disk.get(key)} != {written})"
            )
        if problem:
            coords = tuple(int(c) for c in key.split("/")[1:])
            raise DamagedChunk(
                f"{path}: array {array!r}, chunk {coords} (file {f}) {problem}. The store is "
                "damaged: delete it and rerun the rule that wrote it"
            )


class CheckedArray:
    """A Zarr array read through ``[...]`` or ``get_orthogonal_selection``; a read that fails on a
    damaged chunk raises :class:`DamagedChunk` naming the store, the array and the chunk's file,
    not the codec's bare error. Everything else is the array's own."""

    def __init__(self, array: zarr.Array, store: Path):
        self._array, self._store = array, store

    def __getitem__(self, selection):
        return self._read(lambda: self._array[selection])

    def get_orthogonal_selection(self, selection):
        return self._read(lambda: self._array.get_orthogonal_selection(selection))

    def __len__(self) -> int:
        return len(self._array)

    def __getattr__(self, name):
        return getattr(self._array, name)

    def _read(self, read):
        try:
            return read()
        except Exception as err:
            bad = self._first_damaged_chunk()
            if bad is None:  # not a damaged chunk: the error is the caller's
                raise
            coords, cause = bad
            key = self._array.metadata.encode_chunk_key(coords)
            raise DamagedChunk(
                f"{self._store}: array {self._array.path!r}, chunk {coords} (file "
                f"{self._store / self._array.path / key}) cannot be decoded ({cause}). The store "
                "is damaged: delete it and rerun the rule that wrote it"
            ) from err

    def _first_damaged_chunk(self):
        a = self._array
        grid = [range(-(-n // c)) for n, c in zip(a.shape, a.chunks)]
        for coords in itertools.product(*grid):
            sel = tuple(
                slice(i * c, min((i + 1) * c, n)) for i, c, n in zip(coords, a.chunks, a.shape)
            )
            try:
                a[sel]
            except Exception as cause:
                return coords, f"{type(cause).__name__}: {cause}"
        return None


class CheckedGroup:
    """A Zarr group whose arrays are :class:`CheckedArray`; ``manifest`` is the store's chunk
    manifest, read once when the store is opened."""

    def __init__(self, group: zarr.Group, store: Path, manifest: dict):
        self._group, self._store, self._manifest = group, store, manifest

    def __getitem__(self, name: str):
        node = self._group[name]
        if isinstance(node, zarr.Group):
            return CheckedGroup(node, self._store, self._manifest)
        check_chunks(self._store, node.path, manifest=self._manifest)
        return CheckedArray(node, self._store)

    def __contains__(self, name: str) -> bool:
        return name in self._group

    def __getattr__(self, name):
        return getattr(self._group, name)


def open_zarr(path: str | os.PathLike) -> CheckedGroup:
    """A Zarr store opened read-only; reads of a damaged chunk raise :class:`DamagedChunk`, and so
    does taking an array whose chunk files are not all those its manifest lists (:func:`seal`)."""
    group = zarr.open_group(path, mode="r")
    return CheckedGroup(group, Path(path), dict(group.attrs.get(MANIFEST, {})))


def open_splits(path: str | os.PathLike):
    """(the images array, train rows, holdout rows) of a prepared ``images.zarr``; a store without
    holdout images is an error naming it (training validates on them)."""
    g = open_zarr(path)
    split = g["split"][:]
    train_idx, hold_idx = np.flatnonzero(split == TRAIN), np.flatnonzero(split == HOLDOUT)
    if len(hold_idx) == 0:
        raise ValueError(f"{path}: no holdout images for validation (data.split.train_size)")
    return g["images"], train_idx, hold_idx


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
    except BaseException as err:
        full = _disk_full(err, final.parent)  # before the partial output frees its space
        _remove(tmp)
        if full:
            raise DiskFull(
                errno.ENOSPC,
                f"{final}: no space left on the device while writing it ({_free(final.parent)} "
                "free there); nothing was written. Free some space (or point the results "
                "elsewhere) and run again",
                str(final),
            ) from err
        raise
    _remove(final)
    os.replace(tmp, final)


class DiskFull(OSError):
    """An output could not be written for lack of space; names the output."""


def _disk_full(err: BaseException, where: Path) -> bool:
    """The disk filled up: ENOSPC or a quota, also wrapped by a worker pool or Zarr's IO, or a
    short write that reports no errno (NumPy's ``tofile``) on a device with no room left."""
    seen = set()
    while err is not None and id(err) not in seen:
        seen.add(id(err))
        if isinstance(err, OSError) and err.errno in (errno.ENOSPC, errno.EDQUOT):
            return True
        if "No space left on device" in str(err):
            return True
        if isinstance(err, OSError) and err.errno is None and _free_bytes(where) < 1 << 20:
            return True
        err = err.__cause__ or err.__context__
    return False


def _free_bytes(path: Path) -> int:
    try:
        st = os.statvfs(path)
    except OSError:
        return 1 << 62
    return st.f_bavail * st.f_frsize


def _free(path: Path) -> str:
    free = _free_bytes(path)
    return "unknown" if free >= 1 << 62 else f"{free / 1e6:.1f} MB"


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


def rename_array(group: zarr.Group, old: str, new: str) -> zarr.Array:
    """Rename the array ``old`` of ``group`` (a local store) to ``new``, without copying."""
    root = Path(group.store.root) / group.path
    os.replace(root / old, root / new)
    return zarr.open_array(root / new, mode="r+")


@contextlib.contextmanager
def creating_store(path: str | os.PathLike) -> Iterator[zarr.Group]:
    """A new Zarr group to fill, written under a temporary name and, when the block ends without
    an error, sealed (:func:`seal`) and renamed to ``path``; on an error nothing is left."""
    with atomic_path(path) as tmp:
        group = zarr.open_group(tmp, mode="w")
        yield group
        seal(tmp)


def copy_row_metadata(src, dst: zarr.Group) -> None:
    """A prepared store's per-image arrays (ids, split, attributes, identity: those it has, with
    their attributes) and its split codes, copied into ``dst`` (a latents store)."""
    for name in ("ids", "split", "attributes", "identity"):
        if name in src:
            a = dst.create_array(
                name, data=src[name][:], chunks=src[name].chunks, compressors=checked_compressor()
            )
            a.attrs.update(dict(src[name].attrs))
    dst.attrs["split_codes"] = dict(src.attrs.get("split_codes", {}))


def write_metadata(group, ids, flags, attr_names, attr_vals, identity, chunk) -> None:
    n = len(ids)
    checked = {"compressors": checked_compressor()}
    group.create_array("ids", data=ids, chunks=(min(n, 65536),), **checked)
    group.create_array("split", data=flags, chunks=(min(n, 65536),), **checked)
    if attr_names:
        a = group.create_array(
            "attributes",
            data=attr_vals.astype(np.int8),
            chunks=(min(n, 65536), len(attr_names)),
            **checked,
        )
        a.attrs["names"] = list(attr_names)
        a.attrs["missing_value"] = 0
    if identity is not None:
        group.create_array("identity", data=identity, chunks=(min(n, 65536),), **checked)
    group.attrs.update({"split_codes": SPLIT_CODES})
