"""Prepare a dataset: images -> ``images.zarr`` (+ ``attributes.tsv``, ``manifest.json``).

Work is split into batches aligned with the Zarr chunks along N. Each worker process decodes,
crops and resizes one batch and writes its chunk itself, so the parent only lists inputs and
assembles metadata. Inputs that cannot be used are skipped with a reason, logged and counted;
the manifest accounts for every input. Outputs are written under temporary names and renamed
at the end, so a failed run leaves nothing half-written behind.
"""

from __future__ import annotations

import io
import json
import logging
import multiprocessing as mp
import os
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import zarr
from PIL import Image, UnidentifiedImageError

from . import celeba, synthetic
from .store import atomic_path, create_images_array

log = logging.getLogger(__name__)

#: CelebA's aligned frames are 178 x 218; crop boxes are given in that frame and scaled to others.
REFERENCE_FRAME = (178, 218)
#: the largest centred square of the reference frame
DEFAULT_CROP_BOX = (0, 20, 178, 198)


_IMAGE_SIGNATURES = (b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n")


class SkipImage(Exception):
    def __init__(self, reason: str, detail: str = ""):
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True)
class Split:
    """Train/holdout split. ``train_size``: a fraction in (0, 1) or a count >= 1 (as scikit-learn)."""

    train_size: float = 0.9
    shuffle: bool = True
    seed: int = 0

    def assign(self, n: int) -> np.ndarray:
        """Split flags for ``n`` images: 0 = train, 1 = holdout."""
        t = self.train_size
        n_train = int(round(t * n)) if 0 < t < 1 else int(t)
        if t <= 0 or (t >= 1 and t != int(t)):
            raise ValueError(f"split.train_size={t}: give a fraction in (0, 1) or a whole count")
        if not 1 <= n_train < n:
            raise ValueError(
                f"split.train_size={t} gives {n_train} training images of {n}: "
                "both the train and the holdout part need at least one image"
            )
        flags = np.ones(n, dtype=np.uint8)
        order = np.random.default_rng(self.seed).permutation(n) if self.shuffle else np.arange(n)
        flags[order[:n_train]] = 0
        return flags


def scaled_box(width: int, height: int, box: Sequence[float]) -> tuple[float, float, float, float]:
    """Scale a crop box given in the 178x218 reference frame to an image of another size."""
    sx, sy = width / REFERENCE_FRAME[0], height / REFERENCE_FRAME[1]
    return (box[0] * sx, box[1] * sy, box[2] * sx, box[3] * sy)


def decode_crop_resize(
    data: bytes, size: int, box: Sequence[float]
) -> tuple[np.ndarray, str | None]:
    """JPEG (or other image) bytes -> uint8 [size, size, 3] and the converted-from mode, if any.

    Raises :class:`SkipImage` with reason ``not_image`` or ``corrupt``.
    """
    try:
        im = Image.open(io.BytesIO(data))
        im.load()
    except UnidentifiedImageError:
        if data.startswith(_IMAGE_SIGNATURES):
            raise SkipImage(
                "corrupt", f"{len(data)} bytes with an image signature that do not decode"
            ) from None
        raise SkipImage(
            "not_image", f"{len(data)} bytes that are no image (start: {data[:12]!r})"
        ) from None
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as err:
        raise SkipImage("corrupt", str(err)) from None
    converted = None
    if im.mode != "RGB":
        converted = im.mode
        im = im.convert("RGB")
    out = im.resize(
        (size, size), Image.Resampling.BILINEAR, box=scaled_box(im.width, im.height, box)
    )
    return np.asarray(out, dtype=np.uint8), converted


# --- worker side ------------------------------------------------------------------------------

_container: celeba.ImageContainer | None = None
_array: zarr.Array | None = None


def _init_worker(container_path: str | None, array_path: str) -> None:
    global _container, _array
    _container = celeba.open_container(container_path) if container_path else None
    _array = zarr.open_array(array_path, mode="r+")


def _decode_batch(start: int, names: list[str], size: int, box: Sequence[float]) -> dict:
    assert _container is not None and _array is not None
    buf = np.zeros((len(names), size, size, 3), dtype=np.uint8)
    valid = np.zeros(len(names), dtype=bool)
    skipped, converted = [], Counter()
    for k, name in enumerate(names):
        try:
            buf[k], conv = decode_crop_resize(_container.read(name), size, box)
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
    results, t0 = [], time.perf_counter()
    total = len(jobs)
    step = max(1, total // 10)

    def report(k: int) -> None:
        if k % step == 0 or k == total:
            log.info("%s: %d/%d batches (%.1f s)", progress, k, total, time.perf_counter() - t0)

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


def _list_celeba_inputs(members: list[str], attributes, on_missing: str, max_images: int | None):
    """Select which members to decode; returns (names, ids, skip records, counts)."""
    skipped: list[tuple[str, str, str]] = []
    by_id: dict[int, str] = {}
    for name in sorted(members):
        iid = celeba.image_id(name)
        if iid is None:
            skipped.append((name, "not_image", "not a CelebA image name (NNNNNN.jpg)"))
        elif iid in by_id:
            skipped.append((name, "duplicate_id", f"id {iid} already read from {by_id[iid]}"))
        else:
            by_id[iid] = name
    ids = np.array(sorted(by_id), dtype=np.int64)
    if attributes is not None and on_missing != "keep":
        _, found = attributes.lookup(ids)
        if on_missing == "error" and not found.all():
            missing = ids[~found]
            raise ValueError(
                f"{len(missing)} image(s) have no row in {attributes.source} "
                f"(first: {int(missing[0]):06d}.jpg); set data.on_missing_attributes to keep or skip"
            )
        for iid in ids[~found]:
            skipped.append((by_id[int(iid)], "no_attribute_row", f"no row in {attributes.source}"))
        ids = ids[found]
    beyond = 0
    if max_images is not None and len(ids) > max_images:
        beyond = len(ids) - max_images
        ids = ids[:max_images]
    return [by_id[int(i)] for i in ids], ids, skipped, beyond


def _batches(n: int, chunk: int):
    return [(s, min(chunk, n - s)) for s in range(0, n, chunk)]


def _compact(
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
    split: Split = Split(),
    workers: int = 1,
    chunk: int = 256,
    dataset: str = "celeba",
) -> dict:
    """Prepare CelebA images from a folder, zip or tar. Returns the manifest (also written)."""
    if on_missing_attributes not in ("keep", "skip", "error"):
        raise ValueError(
            f"on_missing_attributes={on_missing_attributes!r}: expected keep, skip or error"
        )
    _check_box(crop_box)
    attr_table = celeba.read_attributes(attributes) if attributes else None
    ident = celeba.read_identities(identities) if identities else None
    container = celeba.open_container(images)
    members = container.members()
    container.close()
    names, ids, skipped, beyond = _list_celeba_inputs(
        members, attr_table, on_missing_attributes, max_images
    )
    if not names:
        raise ValueError(f"{images}: no usable CelebA images among {len(members)} entries")
    split.assign(len(names))  # fail before decoding if the split cannot fit
    log.info("%s: %d entries, %d to decode at %dx%d", images, len(members), len(names), size, size)

    out = Outputs.in_dir(out_dir)
    with atomic_path(out.images) as tmp_zarr:
        group = zarr.open_group(tmp_zarr, mode="w")
        raw = create_images_array(group, len(names), size, chunk, name="images_unfiltered")
        jobs = [
            (s, names[s : s + c], size, tuple(crop_box)) for s, c in _batches(len(names), chunk)
        ]
        init = (str(images), str(Path(tmp_zarr) / "images_unfiltered"))
        results = _run_batches(_decode_batch, jobs, workers, init, "prepare")
        valid = np.concatenate([r["valid"] for r in results])
        for r in results:
            skipped.extend(r["skipped"])
        converted = sum((r["converted"] for r in results), Counter())
        if valid.all():
            arr = _rename_array(tmp_zarr, "images_unfiltered", "images")
        else:
            arr = _compact(raw, valid, group, chunk)
            del group["images_unfiltered"]
        ids = ids[valid]
        if len(ids) < 2:
            raise ValueError(
                f"{images}: only {len(ids)} image(s) could be decoded; see the skipped list"
            )
        attr_vals, found = (
            attr_table.lookup(ids) if attr_table else (None, np.zeros(len(ids), bool))
        )
        identity = np.array([ident.get(int(i), -1) for i in ids], np.int64) if ident else None
        flags = split.assign(len(ids))
        _write_metadata(
            group, ids, flags, attr_table.names if attr_table else [], attr_vals, identity, chunk
        )
        arr.attrs.update({"size": size, "crop_box": list(crop_box), "dataset": dataset})
        counts = {
            "inputs": len(members),
            "read": len(names),
            "written": int(len(ids)),
            "skipped": dict(Counter(s[1] for s in skipped)),
            "beyond_max_images": beyond,
            "converted_to_rgb": dict(converted),
            "missing_attributes": int((~found).sum()) if attr_table else None,
        }
        manifest = {
            "dataset": dataset,
            "source": {
                "kind": "celeba",
                "images": str(images),
                "attributes": str(attributes) if attributes else None,
                "identities": str(identities) if identities else None,
            },
            "size": size,
            "crop_box": list(crop_box),
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
            "skipped_items": [{"name": n, "reason": r, "detail": d} for n, r, d in skipped],
        }
        _check_accounting(counts)
    for name, reason, detail in skipped:
        log.warning("skipped %s (%s): %s", name, reason, detail)
    _write_tables(
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
    """Render ``n_images`` procedural faces (see :mod:`caelatent.synthetic`) into a dataset."""
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
        _write_metadata(group, ids, flags, names, attrs, None, chunk)
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
    _write_tables(out, ids, flags, names, attrs, np.ones(n_images, bool), None, manifest)
    log.info("rendered %d synthetic faces to %s", n_images, out.images)
    return manifest


# --- helpers ----------------------------------------------------------------------------------


def _check_box(box: Sequence[float]) -> None:
    if len(box) != 4 or not (
        0 <= box[0] < box[2] <= REFERENCE_FRAME[0] and 0 <= box[1] < box[3] <= REFERENCE_FRAME[1]
    ):
        raise ValueError(
            f"data.crop_box={list(box)}: expected [left, top, right, bottom] inside the 178x218 frame"
        )


def _rename_array(root: str | os.PathLike, old: str, new: str) -> zarr.Array:
    os.replace(Path(root) / old, Path(root) / new)
    return zarr.open_array(Path(root) / new, mode="r+")


def _write_metadata(group, ids, flags, attr_names, attr_vals, identity, chunk) -> None:
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


def _split_info(split: Split, flags: np.ndarray) -> dict:
    return {
        "train": int((flags == 0).sum()),
        "holdout": int((flags == 1).sum()),
        "train_size": split.train_size,
        "shuffle": split.shuffle,
        "seed": split.seed,
    }


def _check_accounting(counts: dict) -> None:
    accounted = counts["written"] + sum(counts["skipped"].values()) + counts["beyond_max_images"]
    if accounted != counts["inputs"]:  # a bug, never a data problem
        raise AssertionError(f"manifest does not account for every input: {counts}")


def _write_tables(out: Outputs, ids, flags, names, vals, found, identity, manifest) -> None:
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
