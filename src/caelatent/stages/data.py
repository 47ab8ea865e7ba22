"""Rules of ``workflow/rules/data.smk``: fetch CelebA's files, prepare ``images.zarr``."""

from __future__ import annotations

from pathlib import Path

from ..data.celeba import read_partition
from ..data.download import download_celeba_file
from ..data.prepare import Split, prepare_celeba, prepare_folder, prepare_synthetic
from ..files.store import Outputs


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
    size: int,
    seed: int,
    crop_box: list[float],
    max_images: int | None,
    min_side: int,
    max_pixels: int,
    chunk_size: int,
    on_missing_attributes: str,
    split: dict,
    n_images: int,
    folder_crop_box: list[float] | None,
    threads: int = 1,
) -> dict:
    """A dataset's ``images`` (images.zarr), ``attributes`` (a row per image), ``list_attr`` (CelebA's
    format) and ``manifest``: from CelebA's files (``celeba_images``: a folder, zip or tar; the
    attribute, identity and partition files, or empty), a folder of one's own (``folder_images``,
    ``folder_attributes``) or ``n_images`` synthetic faces. Returns the manifest.
    """
    out_dir = Path(manifest).parent
    if Outputs(*map(Path, (images, attributes, manifest, list_attr))) != Outputs.in_dir(out_dir):
        raise ValueError(f"rule prepare: outputs must be {Outputs.in_dir(out_dir)}")
    official = split["by"] == "partition" and dataset == "celeba"
    if official and not celeba_partition:
        raise ValueError("data.split.by is partition: data.celeba.partition must name the file")
    how = Split(
        train_size=split["train_size"],
        shuffle=split["shuffle"],
        seed=seed,
        partition=read_partition(celeba_partition) if official else None,
        train_parts=tuple(split["partitions"]["train"]),
        holdout_parts=tuple(split["partitions"]["holdout"]),
    )
    common = dict(size=int(size), split=how, workers=threads, chunk=chunk_size)
    if dataset == "synthetic":
        return prepare_synthetic(out_dir, n_images=n_images, seed=seed, **common)
    if dataset == "folder":
        return prepare_folder(
            folder_images,
            out_dir,
            crop_box=folder_crop_box,
            attributes=folder_attributes or None,
            min_side=min_side,
            max_pixels=max_pixels,
            **common,
        )
    return prepare_celeba(
        celeba_images,
        out_dir,
        crop_box=crop_box,
        attributes=celeba_attributes or None,
        identities=celeba_identities or None,
        on_missing_attributes=on_missing_attributes,
        max_images=max_images,
        min_side=min_side,
        max_pixels=max_pixels,
        **common,
    )
