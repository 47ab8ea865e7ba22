"""Prepare a dataset: images -> ``images.zarr`` (+ ``attributes.tsv``, ``manifest.json``).

Work is split into batches aligned with the Zarr chunks along N. Each worker process decodes,
crops and resizes one batch and writes its chunk itself, so the parent only lists inputs and
assembles metadata. Inputs that cannot be used are skipped with a reason, logged and counted;
the manifest accounts for every input. Outputs are written under temporary names and renamed
at the end, so a failed run leaves nothing half-written behind.
"""

from __future__ import annotations

import logging
import multiprocessing as mp
import os
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import zarr

from . import celeba, synthetic
from ..logs import Eta
from .celeba import SkipImage
from .images import (
    DEFAULT_CROP_BOX,
    DEFAULT_MAX_PIXELS,
    DEFAULT_MIN_SIDE,
    check_box,
    decode_crop_resize,
)
from ..files.store import (
    Outputs,
    atomic_path,
    compact_images,
    create_images_array,
    rename_array,
    seal,
)
from ..files.records import SPLIT_NAMES, write_json, write_tsv
from ..files.store import HOLDOUT, TRAIN, write_metadata

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Split:
    """Train/holdout split. ``train_size``: a fraction in (0, 1) or a count >= 1 (as scikit-learn),
    drawn at random (seeded) or the lowest ids. With ``partition`` ({image id: partition}, as in
    CelebA's ``list_eval_partition.txt``) the split is that file's instead: images of
    ``train_parts`` train, those of ``holdout_parts`` are held out."""

    train_size: float = 0.9
    shuffle: bool = True
    seed: int = 0
    partition: dict | None = field(default=None, repr=False)
    train_parts: tuple = (0,)
    holdout_parts: tuple = (1, 2)

    def __post_init__(self):
        both = set(self.train_parts) & set(self.holdout_parts)
        if self.partition is not None and both:
            raise ValueError(f"data.split.partitions: {sorted(both)} both train and holdout")

    def outside(self, iid: int) -> tuple[str, str] | None:
        """Why image ``iid`` takes no part in a partition split (a skip reason and its detail)."""
        if self.partition is None:
            return None
        part = self.partition.get(int(iid))
        if part is None:
            return "no_partition_row", "no row in the partition file"
        if part not in self.train_parts + self.holdout_parts:
            return "outside_split", (
                f"partition {part} is in neither data.split.partitions.train nor .holdout"
            )
        return None

    def assign(self, n: int, ids: np.ndarray | None = None) -> np.ndarray:
        """Split flags for ``n`` images (with ``ids``, for a partition split): TRAIN or HOLDOUT."""
        if self.partition is not None:
            if ids is None or len(ids) != n:
                raise ValueError("a partition split needs the ids of the images")
            parts = np.array([self.partition.get(int(i), -1) for i in ids])
            flags = np.where(np.isin(parts, self.train_parts), TRAIN, HOLDOUT).astype(np.uint8)
            if not 1 <= int((flags == TRAIN).sum()) < n:
                raise ValueError(
                    f"data.split.partitions: partitions {list(self.train_parts)} give "
                    f"{int((flags == TRAIN).sum())} training images of {n}: both the train and the "
                    "holdout part need at least one image"
                )
            return flags
        t = self.train_size
        n_train = int(round(t * n)) if 0 < t < 1 else int(t)
        if t <= 0 or (t >= 1 and t != int(t)):
            raise ValueError(f"split.train_size={t}: give a fraction in (0, 1) or a whole count")
        if not 1 <= n_train < n:
            raise ValueError(
                f"split.train_size={t} gives {n_train} training images of {n}: "
                "both the train and the holdout part need at least one image"
            )
        flags = np.full(n, HOLDOUT, dtype=np.uint8)
        order = np.random.default_rng(self.seed).permutation(n) if self.shuffle else np.arange(n)
        flags[order[:n_train]] = TRAIN
        return flags


# --- worker side ------------------------------------------------------------------------------

_container: celeba.ImageContainer | None = None
_array: zarr.Array | None = None


def _init_worker(container_path: str | None, array_path: str) -> None:
    global _container, _array
    _container = celeba.open_container(container_path) if container_path else None
    _array = zarr.open_array(array_path, mode="r+")


def _decode_batch(
    start: int, names: list[str], size: int, box: Sequence[float], limits: dict
) -> dict:
    assert _container is not None and _array is not None
    buf = np.zeros((len(names), size, size, 3), dtype=np.uint8)
    valid = np.zeros(len(names), dtype=bool)
    skipped, converted = [], Counter()
    for k, name in enumerate(names):
        try:
            buf[k], conv = decode_crop_resize(_container.read(name), size, box, **limits)
        except SkipImage as s:
            skipped.append((name, s.reason, s.detail))
            continue
        valid[k] = True
        if conv:
            converted[conv] += 1
    _array[start : start + len(names)] = buf
    return {"start": start, "valid": valid, "skipped": skipped, "converted": converted}


def _render_batch(start: int, count: int, size: int, seed: int) -> dict:
    assert _array is not None
    images, attrs = synthetic.render_faces(np.arange(start, start + count), size, seed)
    _array[start : start + count] = images
    return {
        "start": start,
        "valid": np.ones(count, bool),
        "skipped": [],
        "converted": Counter(),
        "attrs": attrs,
    }


def _run_batches(
    fn: Callable, jobs: list[tuple], workers: int, init_args: tuple, progress: str
) -> list[dict]:
    """Run ``fn(*job)`` for each job, in-process for one worker, else in a pool of processes."""
    results = []
    total = len(jobs)
    step = max(1, total // 10)
    eta = Eta(total)

    def report(k: int) -> None:
        if k % step == 0 or k == total:
            log.info("%s: %d/%d batches; %s", progress, k, total, eta.line(k))

    if workers <= 1:
        _init_worker(*init_args)
        for k, job in enumerate(jobs, 1):
            results.append(fn(*job))
            report(k)
        return results
    # fork (explicit; later Pythons default to forkserver): workers start at once and a
    # Snakemake script is not re-executed in them. Zarr resets its IO thread after a fork.
    ctx = mp.get_context("fork")
    with ProcessPoolExecutor(
        workers, mp_context=ctx, initializer=_init_worker, initargs=init_args
    ) as pool:
        futures = [pool.submit(fn, *job) for job in jobs]
        for k, fut in enumerate(futures, 1):
            results.append(fut.result())
            report(k)
    return results


# --- parent side ------------------------------------------------------------------------------


def _batches(n: int, chunk: int):
    return [(s, min(chunk, n - s)) for s in range(0, n, chunk)]


def prepare_celeba(
    images: str | os.PathLike,
    out_dir: str | os.PathLike,
    *,
    size: int = 96,
    crop_box: Sequence[float] = DEFAULT_CROP_BOX,
    attributes: str | os.PathLike | None = None,
    identities: str | os.PathLike | None = None,
    on_missing_attributes: str = "keep",
    max_images: int | None = None,
    min_side: int = DEFAULT_MIN_SIDE,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    split: Split = Split(),
    workers: int = 1,
    chunk: int = 256,
    dataset: str = "celeba",
) -> dict:
    """Prepare CelebA images from a folder, zip or tar. Returns the manifest (also written).

    Every entry of ``images`` is written or skipped with a reason (not_image, duplicate_id,
    no_attribute_row, corrupt, unreadable, not_a_file, too_small: a side under ``min_side``,
    too_large: more than ``max_pixels`` pixels; with a partition split, no_partition_row and
    outside_split), or counted beyond ``max_images``."""
    if on_missing_attributes not in ("keep", "skip", "error"):
        raise ValueError(
            f"on_missing_attributes={on_missing_attributes!r}: expected keep, skip or error"
        )
    check_box(crop_box)
    limits = {"min_side": int(min_side), "max_pixels": int(max_pixels)}
    attr_table = celeba.read_attributes(attributes) if attributes else None
    ident = celeba.read_identities(identities) if identities else None
    container = celeba.open_container(images)
    members = container.members()
    container.close()
    names, ids, skipped, beyond = celeba.select_images(
        members, attr_table, on_missing_attributes, max_images
    )
    if split.partition is not None:  # the official split: images outside it are skipped
        keep = []
        for k, (name, iid) in enumerate(zip(names, ids)):
            why = split.outside(iid)
            if why:
                skipped.append((name, *why))
            else:
                keep.append(k)
        names, ids = [names[k] for k in keep], ids[keep]
    source = {
        "kind": "celeba",
        "images": str(images),
        "attributes": str(attributes) if attributes else None,
        "identities": str(identities) if identities else None,
    }
    return _prepare_files(
        images,
        out_dir,
        n_members=len(members),
        names=names,
        ids=ids,
        skipped=skipped,
        beyond=beyond,
        attr_table=attr_table,
        ident=ident,
        box=("celeba", tuple(crop_box)),
        source=source,
        size=size,
        limits=limits,
        split=split,
        workers=workers,
        chunk=chunk,
        dataset=dataset,
    )


def prepare_folder(
    images: str | os.PathLike,
    out_dir: str | os.PathLike,
    *,
    size: int = 96,
    crop_box: Sequence[float] | None = None,
    attributes: str | os.PathLike | None = None,
    min_side: int = DEFAULT_MIN_SIDE,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    split: Split = Split(),
    workers: int = 1,
    chunk: int = 256,
    dataset: str = "folder",
) -> dict:
    """Prepare one's own images from a folder (searched recursively), zip or tar: JPEG, PNG, WebP
    or BMP of any name and size, cropped to ``crop_box`` (fractions of width and height; None: the
    largest centred square) and resized to ``size``. Ids are 1..N in sorted order of the paths, and
    the manifest's ``id_to_path`` maps each written id to its file. ``attributes``: a CSV with a
    ``file`` column (relative to the folder) and one column per attribute (0/1 or -1/1); images
    without a row are kept and counted. Skip reasons as for CelebA (not_image, corrupt,
    unreadable, not_a_file, too_small, too_large). Returns the manifest (also written)."""
    from . import folder

    if crop_box is not None and not (
        len(crop_box) == 4
        and 0 <= crop_box[0] < crop_box[2] <= 1
        and 0 <= crop_box[1] < crop_box[3] <= 1
    ):
        raise ValueError(
            f"data.folder.crop_box={list(crop_box)}: expected [left, top, right, bottom] as "
            "fractions of the image (0 <= left < right <= 1, 0 <= top < bottom <= 1)"
        )
    container = celeba.open_container(images)
    members = container.members()
    container.close()
    names, ids, skipped = folder.select_files(members)
    by_file = {os.path.normpath(n): int(i) for n, i in zip(names, ids)}
    attr_table = folder.read_attribute_csv(attributes, by_file) if attributes else None
    source = {
        "kind": "folder",
        "images": str(images),
        "attributes": str(attributes) if attributes else None,
    }
    return _prepare_files(
        images,
        out_dir,
        n_members=len(members),
        names=names,
        ids=ids,
        skipped=skipped,
        beyond=0,
        attr_table=attr_table,
        ident=None,
        box=("fraction", tuple(crop_box) if crop_box is not None else None),
        source=source,
        size=size,
        limits={"min_side": int(min_side), "max_pixels": int(max_pixels)},
        split=split,
        workers=workers,
        chunk=chunk,
        dataset=dataset,
        record_paths=True,
        extra={
            "attribute_rows_without_image": (
                attr_table.declared_count - len(attr_table) if attr_table else None
            ),
        },
    )


def _prepare_files(
    images,
    out_dir,
    *,
    n_members: int,
    names: list[str],
    ids: np.ndarray,
    skipped: list,
    beyond: int,
    attr_table,
    ident: dict | None,
    box: tuple,
    source: dict,
    size: int,
    limits: dict,
    split: Split,
    workers: int,
    chunk: int,
    dataset: str,
    extra: dict | None = None,
    record_paths: bool = False,
) -> dict:
    """Decode, crop and resize the chosen members ``names`` (with their ``ids``) of the container
    ``images`` into ``out_dir`` with the attributes, identities and split, and write the manifest
    (``extra`` keys added to it; with ``record_paths``, ``id_to_path`` too). Every member is
    written or skipped with a reason."""

    if not names:
        raise ValueError(f"{images}: no usable images among {n_members} entries")
    split.assign(len(names), ids)  # fail before decoding if the split cannot fit
    log.info("%s: %d entries, %d to decode at %dx%d", images, n_members, len(names), size, size)

    out = Outputs.in_dir(out_dir)
    with atomic_path(out.images) as tmp_zarr:
        group = zarr.open_group(tmp_zarr, mode="w")
        arr, valid, converted = _decode_into(
            group, tmp_zarr, images, names, size, box, limits, workers, chunk, skipped
        )
        written_names = [n for n, ok in zip(names, valid) if ok]
        ids = ids[valid]
        if len(ids) < 2:
            raise ValueError(
                f"{images}: only {len(ids)} image(s) could be decoded; see the skipped list"
            )
        attr_vals, found = (
            attr_table.lookup(ids) if attr_table else (None, np.zeros(len(ids), bool))
        )
        identity = np.array([ident.get(int(i), -1) for i in ids], np.int64) if ident else None
        flags = split.assign(len(ids), ids)
        write_metadata(
            group, ids, flags, attr_table.names if attr_table else [], attr_vals, identity, chunk
        )
        crop = list(box[1]) if box[1] is not None else None
        arr.attrs.update({"size": size, "crop_box": crop, "dataset": dataset})
        counts = _counts(
            n_members, len(names), len(ids), skipped, beyond, converted, attr_table, found
        )
        manifest = _manifest(dataset, source, size, box, limits, counts, attr_table, split, flags)
        manifest["skipped_items"] = [{"name": n, "reason": r, "detail": d} for n, r, d in skipped]
        manifest.update(extra or {})
        if record_paths:
            manifest["id_to_path"] = {str(int(i)): n for i, n in zip(ids, written_names)}
        _check_accounting(counts)
        seal(tmp_zarr)
    for name, reason, detail in skipped:
        log.warning("skipped %s (%s): %s", name, reason, detail)
    write_tables(
        out,
        ids,
        flags,
        attr_table.names if attr_table else [],
        attr_vals,
        found,
        identity,
        manifest,
    )
    log.info(
        "wrote %d images to %s (skipped %s)", len(ids), out.images, counts["skipped"] or "none"
    )
    return manifest


def _decode_into(group, tmp_zarr, images, names, size, box, limits, workers, chunk, skipped):
    """Decode, crop and resize the members ``names`` of ``images`` into ``group`` (batches in
    ``workers`` processes), dropping those that fail (their reasons appended to ``skipped``):
    (the images array, which members were written, the counts of RGB conversions)."""
    raw = create_images_array(group, len(names), size, chunk, name="images_unfiltered")
    jobs = [(s, names[s : s + c], size, box, limits) for s, c in _batches(len(names), chunk)]
    init = (str(images), str(Path(tmp_zarr) / "images_unfiltered"))
    results = _run_batches(_decode_batch, jobs, workers, init, "prepare")
    valid = np.concatenate([r["valid"] for r in results])
    for r in results:
        skipped.extend(r["skipped"])
    converted = sum((r["converted"] for r in results), Counter())
    if valid.all():
        arr = rename_array(tmp_zarr, "images_unfiltered", "images")
    else:
        arr = compact_images(raw, valid, group, chunk)
        del group["images_unfiltered"]
    return arr, valid, converted


def _counts(n_members, n_read, n_written, skipped, beyond, converted, attr_table, found) -> dict:
    """The manifest's accounting: every entry read is written or skipped with a reason."""
    return {
        "inputs": n_members,
        "read": n_read,
        "written": int(n_written),
        "skipped": dict(Counter(s[1] for s in skipped)),
        "beyond_max_images": beyond,
        "converted_to_rgb": dict(converted),
        "missing_attributes": int((~found).sum()) if attr_table else None,
    }


def _manifest(dataset, source, size, box, limits, counts, attr_table, split, flags) -> dict:
    """The manifest of a prepared dataset: where it came from, how it was cut, what was written and
    skipped (``counts``), its attribute file and split."""
    return {
        "dataset": dataset,
        "source": source,
        "size": size,
        "crop_box": list(box[1]) if box[1] is not None else None,
        "crop_frame": box[0],
        "limits": limits,
        "counts": counts,
        "attribute_file": (
            {
                "path": attr_table.source,
                "declared_count": attr_table.declared_count,
                "rows": len(attr_table),
            }
            if attr_table
            else None
        ),
        "split": _split_info(split, flags),
    }


def prepare_synthetic(
    out_dir: str | os.PathLike,
    *,
    n_images: int,
    size: int = 96,
    seed: int = 0,
    split: Split = Split(),
    workers: int = 1,
    chunk: int = 256,
    dataset: str = "synthetic",
) -> dict:
    """Render ``n_images`` procedural faces (see :mod:`caelatent.data.synthetic`) into a dataset."""
    if n_images < 2:
        raise ValueError(f"data.synthetic.n_images={n_images}: need at least 2 images")
    out = Outputs.in_dir(out_dir)
    with atomic_path(out.images) as tmp_zarr:
        group = zarr.open_group(tmp_zarr, mode="w")
        create_images_array(group, n_images, size, chunk)
        jobs = [(s, c, size, seed) for s, c in _batches(n_images, chunk)]
        results = _run_batches(
            _render_batch, jobs, workers, (None, str(Path(tmp_zarr) / "images")), "render"
        )
        attrs = np.concatenate([r["attrs"] for r in results])
        ids = np.arange(1, n_images + 1, dtype=np.int64)
        flags = split.assign(n_images)
        names = list(synthetic.ATTRIBUTES)
        write_metadata(group, ids, flags, names, attrs, None, chunk)
        group["images"].attrs.update({"size": size, "crop_box": None, "dataset": dataset})
        counts = {
            "inputs": n_images,
            "read": n_images,
            "written": n_images,
            "skipped": {},
            "beyond_max_images": 0,
            "converted_to_rgb": {},
            "missing_attributes": 0,
        }
        manifest = {
            "dataset": dataset,
            "source": {"kind": "synthetic", "seed": seed, "generator": synthetic.VERSION},
            "size": size,
            "crop_box": None,
            "counts": counts,
            "attribute_file": None,
            "split": _split_info(split, flags),
            "skipped_items": [],
        }
        seal(tmp_zarr)
    write_tables(out, ids, flags, names, attrs, np.ones(n_images, bool), None, manifest)
    log.info("rendered %d synthetic faces to %s", n_images, out.images)
    return manifest


# --- helpers ----------------------------------------------------------------------------------


def _split_info(split: Split, flags: np.ndarray) -> dict:
    return {
        "train": int((flags == TRAIN).sum()),
        "holdout": int((flags == HOLDOUT).sum()),
        "train_size": split.train_size,
        "shuffle": split.shuffle,
        "seed": split.seed,
        "partitions": (
            None
            if split.partition is None
            else {"train": list(split.train_parts), "holdout": list(split.holdout_parts)}
        ),
    }


def _check_accounting(counts: dict) -> None:
    accounted = counts["written"] + sum(counts["skipped"].values()) + counts["beyond_max_images"]
    if accounted != counts["inputs"]:  # a bug, never a data problem
        raise AssertionError(f"manifest does not account for every input: {counts}")


def write_tables(out, ids, flags, names, vals, found, identity, manifest) -> None:
    """prepare's tables: attributes.tsv (one row per written image), list_attr.txt (CelebA's
    format, the images with attributes) and manifest.json (``out``: a store.Outputs), each
    written atomically."""
    cols = {
        "index": list(range(len(ids))),
        "image_id": [f"{int(i):06d}" for i in ids],
        "split": [SPLIT_NAMES[int(f)] for f in flags],
        "has_attributes": [int(f) for f in found],
    }
    if identity is not None:
        cols["identity"] = [int(i) for i in identity]
    for j, name in enumerate(names):
        cols[name] = [int(v) for v in vals[:, j]]
    write_tsv(out.attributes, cols)
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
    write_json(out.manifest, manifest)
