"""Prepare a dataset: the images of a container (or synthetic faces) into a new Zarr group, with
the tables and the manifest (:class:`Prepared`). The files are the stage's
(:mod:`caelatent.stages.data`: the store written under a temporary name, sealed and renamed at
the end, so a failed run leaves nothing half-written; the tables through the I/O layer).

Work is split into batches aligned with the Zarr chunks along N. Each worker process decodes,
crops and resizes one batch and writes its chunk itself, so the parent only lists inputs and
assembles metadata. Inputs that cannot be used are skipped with a reason, logged and counted;
the manifest accounts for every input.
"""

from __future__ import annotations

import logging
import multiprocessing as mp
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np
import zarr

from . import synthetic
from ..files import celeba
from ..files.celeba import ImageContainer, SkipImage
from ..logs import Eta
from .images import decode_crop_resize
from ..files.store import (
    HOLDOUT,
    TRAIN,
    compact_images,
    create_images_array,
    rename_array,
    write_metadata,
)

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

_container: ImageContainer | None = None
_array: zarr.Array | None = None


def _init_worker(container: ImageContainer | None, array: zarr.Array) -> None:
    """A worker's container (reopened: archives are not shared between processes) and the array
    its batches are written to (inherited through the fork)."""
    global _container, _array
    _container = container.reopen() if container is not None else None
    _array = array


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


@dataclass
class Prepared:
    """A prepared dataset: a row per written image (its id, split flag, attribute values, whether
    it has an attribute row, identity) and the manifest, which accounts for every input."""

    ids: np.ndarray
    flags: np.ndarray
    names: list[str]
    vals: np.ndarray | None
    found: np.ndarray
    identity: np.ndarray | None
    manifest: dict


def choose_celeba(members, attr_table, on_missing: str, max_images: int | None, split: Split):
    """Which of a CelebA container's ``members`` to decode (:func:`caelatent.files.celeba.select_images`,
    then, with a partition split, those inside it): (names, ids, skip records, how many were left
    beyond ``max_images``)."""
    if on_missing not in ("keep", "skip", "error"):
        raise ValueError(f"on_missing_attributes={on_missing!r}: expected keep, skip or error")
    names, ids, skipped, beyond = celeba.select_images(members, attr_table, on_missing, max_images)
    if split.partition is not None:  # the official split: images outside it are skipped
        keep = []
        for k, (name, iid) in enumerate(zip(names, ids)):
            why = split.outside(iid)
            if why:
                skipped.append((name, *why))
            else:
                keep.append(k)
        names, ids = [names[k] for k in keep], ids[keep]
    return names, ids, skipped, beyond


def check_fraction_box(crop_box) -> None:
    """A folder's crop box: [left, top, right, bottom] in fractions of the image, or None."""
    if crop_box is not None and not (
        len(crop_box) == 4
        and 0 <= crop_box[0] < crop_box[2] <= 1
        and 0 <= crop_box[1] < crop_box[3] <= 1
    ):
        raise ValueError(
            f"data.folder.crop_box={list(crop_box)}: expected [left, top, right, bottom] as "
            "fractions of the image (0 <= left < right <= 1, 0 <= top < bottom <= 1)"
        )


def decode_members(
    container: ImageContainer,
    group: zarr.Group,
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
) -> Prepared:
    """Decode, crop and resize the chosen members ``names`` (with their ``ids``) of ``container``
    into ``group`` (a new store) with the attributes, identities and split; the tables and the
    manifest (``extra`` keys added to it; with ``record_paths``, ``id_to_path`` too). Every member
    is written or skipped with a reason."""
    where = container.path
    if not names:
        raise ValueError(f"{where}: no usable images among {n_members} entries")
    split.assign(len(names), ids)  # fail before decoding if the split cannot fit
    log.info("%s: %d entries, %d to decode at %dx%d", where, n_members, len(names), size, size)
    arr, valid, converted = _decode_into(
        container, group, names, size, box, limits, workers, chunk, skipped
    )
    written_names = [n for n, ok in zip(names, valid) if ok]
    ids = ids[valid]
    if len(ids) < 2:
        raise ValueError(
            f"{where}: only {len(ids)} image(s) could be decoded; see the skipped list"
        )
    attr_vals, found = attr_table.lookup(ids) if attr_table else (None, np.zeros(len(ids), bool))
    identity = np.array([ident.get(int(i), -1) for i in ids], np.int64) if ident else None
    flags = split.assign(len(ids), ids)
    attr_names = attr_table.names if attr_table else []
    write_metadata(group, ids, flags, attr_names, attr_vals, identity, chunk)
    crop = list(box[1]) if box[1] is not None else None
    arr.attrs.update({"size": size, "crop_box": crop, "dataset": dataset})
    counts = _counts(n_members, len(names), len(ids), skipped, beyond, converted, attr_table, found)
    manifest = _manifest(dataset, source, size, box, limits, counts, attr_table, split, flags)
    manifest["skipped_items"] = [{"name": n, "reason": r, "detail": d} for n, r, d in skipped]
    manifest.update(extra or {})
    if record_paths:
        manifest["id_to_path"] = {str(int(i)): n for i, n in zip(ids, written_names)}
    _check_accounting(counts)
    for name, reason, detail in skipped:
        log.warning("skipped %s (%s): %s", name, reason, detail)
    return Prepared(ids, flags, list(attr_names), attr_vals, found, identity, manifest)


def _decode_into(container, group, names, size, box, limits, workers, chunk, skipped):
    """Decode, crop and resize the members ``names`` of ``container`` into ``group`` (batches in
    ``workers`` processes), dropping those that fail (their reasons appended to ``skipped``):
    (the images array, which members were written, the counts of RGB conversions)."""
    raw = create_images_array(group, len(names), size, chunk, name="images_unfiltered")
    jobs = [(s, names[s : s + c], size, box, limits) for s, c in _batches(len(names), chunk)]
    results = _run_batches(_decode_batch, jobs, workers, (container, raw), "prepare")
    valid = np.concatenate([r["valid"] for r in results])
    for r in results:
        skipped.extend(r["skipped"])
    converted = sum((r["converted"] for r in results), Counter())
    if valid.all():
        arr = rename_array(group, "images_unfiltered", "images")
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


def render_synthetic(
    group: zarr.Group,
    *,
    n_images: int,
    size: int = 96,
    seed: int = 0,
    split: Split = Split(),
    workers: int = 1,
    chunk: int = 256,
    dataset: str = "synthetic",
) -> Prepared:
    """Render ``n_images`` procedural faces (see :mod:`caelatent.data.synthetic`) into ``group``
    (a new store); the tables and the manifest."""
    if n_images < 2:
        raise ValueError(f"data.synthetic.n_images={n_images}: need at least 2 images")
    images = create_images_array(group, n_images, size, chunk)
    jobs = [(s, c, size, seed) for s, c in _batches(n_images, chunk)]
    results = _run_batches(_render_batch, jobs, workers, (None, images), "render")
    attrs = np.concatenate([r["attrs"] for r in results])
    ids = np.arange(1, n_images + 1, dtype=np.int64)
    flags = split.assign(n_images)
    names = list(synthetic.ATTRIBUTES)
    write_metadata(group, ids, flags, names, attrs, None, chunk)
    images.attrs.update({"size": size, "crop_box": None, "dataset": dataset})
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
    log.info("rendered %d synthetic faces (generator %s)", n_images, synthetic.VERSION)
    return Prepared(ids, flags, names, attrs, np.ones(n_images, bool), None, manifest)


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
