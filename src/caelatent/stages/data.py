"""Rules of ``workflow/rules/data.smk``: fetch CelebA's files, prepare ``images.zarr``.

``prepare_celeba``, ``prepare_folder`` and ``prepare_synthetic`` are the data stage's file edge:
they read the raw files, open the new store, let :mod:`caelatent.data.prepare` fill it and write
the tables (tests and benchmarks prepare data through them too)."""

from __future__ import annotations

import logging
import os
from functools import partial
from pathlib import Path
from typing import Sequence

from ..data.images import DEFAULT_CROP_BOX, DEFAULT_MAX_PIXELS, DEFAULT_MIN_SIDE, check_box
from ..data.prepare import (
    Split,
    check_fraction_box,
    choose_celeba,
    decode_members,
    render_synthetic,
)
from ..files import celeba, folder, records
from ..files.celeba import read_partition
from ..files.download import download_celeba_file
from ..files.store import Outputs, creating_store

log = logging.getLogger(__name__)


def download_celeba(
    *, file: str, path, mirrors: list[str], published: bool, verify: str, timeout: float
) -> Path:
    """One of CelebA's files (``file``: its name) into ``path``, from the mirrors or Google Drive."""
    md5 = "published" if verify == "published" else None
    return download_celeba_file(
        file, path, mirrors=mirrors, md5=md5, use_published=published, timeout=timeout
    )


def prepare(
    *,
    celeba_images,
    celeba_attributes,
    celeba_identities,
    celeba_partition,
    folder_images,
    folder_attributes,
    images,
    attributes,
    manifest,
    list_attr,
    dataset: str,
    seed: int,
    split: dict,
    n_images: int,
    folder_crop_box: list[float] | None,
    crop_box: list[float],
    max_images: int | None,
    on_missing_attributes: str,
    min_side: int,
    max_pixels: int,
    size: int,
    chunk_size: int,
    threads: int = 1,
) -> dict:
    """A dataset's ``images`` (images.zarr), ``attributes`` (a row per image), ``list_attr`` (CelebA's
    format) and ``manifest``: from CelebA's files (``celeba_images``: a folder, zip or tar; the
    attribute, identity and partition files, or empty), a folder of one's own (``folder_images``,
    ``folder_attributes``) or ``n_images`` synthetic faces. Returns the manifest.
    """
    out = Outputs(*map(Path, (images, attributes, manifest, list_attr)))
    how = _split(split, seed, dataset == "celeba" and split["by"] == "partition", celeba_partition)
    common = dict(size=int(size), split=how, workers=threads, chunk=chunk_size)
    limits = dict(min_side=min_side, max_pixels=max_pixels)
    if dataset == "synthetic":
        return prepare_synthetic(out, n_images=n_images, seed=seed, **common)
    if dataset == "folder":
        box, attrs = folder_crop_box, folder_attributes or None
        return prepare_folder(
            folder_images, out, crop_box=box, attributes=attrs, **limits, **common
        )
    return prepare_celeba(
        celeba_images,
        out,
        crop_box=crop_box,
        attributes=celeba_attributes or None,
        identities=celeba_identities or None,
        on_missing_attributes=on_missing_attributes,
        max_images=max_images,
        **limits,
        **common,
    )


def _split(split: dict, seed: int, official: bool, partition) -> Split:
    """The config's ``data.split``; ``official``: CelebA's own, from its file ``partition``."""
    if official and not partition:
        raise ValueError("data.split.by is partition: data.celeba.partition must name the file")
    return Split(
        train_size=split["train_size"],
        shuffle=split["shuffle"],
        seed=seed,
        partition=read_partition(partition) if official else None,
        train_parts=tuple(split["partitions"]["train"]),
        holdout_parts=tuple(split["partitions"]["holdout"]),
    )


def _outputs(out) -> Outputs:
    """``out`` itself, or a folder's default names (images.zarr, attributes.tsv, ...)."""
    return out if isinstance(out, Outputs) else Outputs.in_dir(out)


def _write(out: Outputs, fill) -> dict:
    """Fill a new images.zarr at ``out.images`` (``fill(group)`` gives the :class:`Prepared`),
    then write the tables beside it; the manifest."""
    with creating_store(out.images) as group:
        prepared = fill(group)
    records.write_prepared(out, prepared)
    skipped = prepared.manifest["counts"]["skipped"] or "none"
    log.info("wrote %d images to %s (skipped %s)", len(prepared.ids), out.images, skipped)
    return prepared.manifest


def prepare_celeba(
    images,
    out,
    *,
    size: int = 96,
    crop_box: Sequence[float] = DEFAULT_CROP_BOX,
    attributes=None,
    identities=None,
    on_missing_attributes: str = "keep",
    max_images: int | None = None,
    min_side: int = DEFAULT_MIN_SIDE,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    split: Split = Split(),
    workers: int = 1,
    chunk: int = 256,
    dataset: str = "celeba",
) -> dict:
    """Prepare CelebA images from a folder, zip or tar into ``out`` (:class:`Outputs`, or a folder
    for the default names). Returns the manifest (also written).

    Every entry of ``images`` is written or skipped with a reason (not_image, duplicate_id,
    no_attribute_row, corrupt, unreadable, not_a_file, too_small: a side under ``min_side``,
    too_large: more than ``max_pixels`` pixels; with a partition split, no_partition_row and
    outside_split), or counted beyond ``max_images``."""
    check_box(crop_box)
    attr_table = celeba.read_attributes(attributes) if attributes else None
    ident = celeba.read_identities(identities) if identities else None
    container, members = _listed(images)
    names, ids, skipped, beyond = choose_celeba(
        members, attr_table, on_missing_attributes, max_images, split
    )
    source = {"kind": "celeba", "images": str(images)}
    source.update(attributes=_named(attributes), identities=_named(identities))
    chosen = dict(names=names, ids=ids, skipped=skipped, beyond=beyond, source=source)
    chosen.update(attr_table=attr_table, ident=ident, box=("celeba", tuple(crop_box)))
    run = dict(size=size, min_side=min_side, max_pixels=max_pixels, split=split, workers=workers)
    return _decode(container, members, out, **chosen, **run, chunk=chunk, dataset=dataset)


def prepare_folder(
    images,
    out,
    *,
    size: int = 96,
    crop_box: Sequence[float] | None = None,
    attributes=None,
    min_side: int = DEFAULT_MIN_SIDE,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    split: Split = Split(),
    workers: int = 1,
    chunk: int = 256,
    dataset: str = "folder",
) -> dict:
    """Prepare one's own images from a folder (searched recursively), zip or tar into ``out``:
    JPEG, PNG, WebP or BMP of any name and size, cropped to ``crop_box`` (fractions of width and
    height; None: the largest centred square) and resized to ``size``. Ids are 1..N in sorted
    order of the paths, and the manifest's ``id_to_path`` maps each written id to its file.
    ``attributes``: a CSV with a ``file`` column (relative to the folder) and one column per
    attribute (0/1 or -1/1); images without a row are kept and counted. Skip reasons as for
    CelebA (not_image, corrupt, unreadable, not_a_file, too_small, too_large). Returns the
    manifest (also written)."""
    check_fraction_box(crop_box)
    container, members = _listed(images)
    names, ids, skipped = folder.select_files(members)
    by_file = {os.path.normpath(n): int(i) for n, i in zip(names, ids)}
    attr_table = folder.read_attribute_csv(attributes, by_file) if attributes else None
    unmatched = attr_table.declared_count - len(attr_table) if attr_table else None
    source = {"kind": "folder", "images": str(images), "attributes": _named(attributes)}
    chosen = dict(names=names, ids=ids, skipped=skipped, beyond=0, source=source)
    chosen.update(attr_table=attr_table, ident=None, record_paths=True)
    chosen.update(extra={"attribute_rows_without_image": unmatched})
    chosen.update(box=("fraction", tuple(crop_box) if crop_box is not None else None))
    run = dict(size=size, min_side=min_side, max_pixels=max_pixels, split=split, workers=workers)
    return _decode(container, members, out, **chosen, **run, chunk=chunk, dataset=dataset)


def _listed(images):
    """(the container ``images`` opened, closed again once listed; its members)."""
    container = celeba.open_container(images)
    members = container.members()
    container.close()  # the workers reopen it
    return container, members


def _decode(container, members, out, *, min_side: int, max_pixels: int, **chosen) -> dict:
    """:func:`caelatent.data.prepare.decode_members` of the ``chosen`` members into ``out``."""
    limits = {"min_side": int(min_side), "max_pixels": int(max_pixels)}
    fill = partial(decode_members, container, n_members=len(members), limits=limits, **chosen)
    return _write(_outputs(out), fill)


def prepare_synthetic(out, **settings) -> dict:
    """``n_images`` procedural faces into ``out`` (:func:`caelatent.data.prepare.render_synthetic`'s
    ``settings``). Returns the manifest (also written)."""
    return _write(_outputs(out), partial(render_synthetic, **settings))


def _named(path) -> str | None:
    return str(path) if path else None
