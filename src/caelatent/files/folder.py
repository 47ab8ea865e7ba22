"""A folder (or zip, or tar) of one's own images: which files are images, their ids, and the
optional attribute CSV. Decoding and writing are prepare's, as for CelebA."""

from __future__ import annotations

import csv
import os
from pathlib import Path

import numpy as np

from .celeba import AnnotationError, AttributeTable

#: the image formats a folder may hold (by suffix, any case); Pillow decodes each
FOLDER_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".bmp")


def select_files(members: list[str]) -> tuple[list[str], np.ndarray, list[tuple[str, str, str]]]:
    """Every member named like an image, in sorted order of its path, with ids 1..N in that
    order (so the same folder always gives the same ids); the others as skip records."""
    names, skipped = [], []
    for name in sorted(members):
        if os.path.splitext(name.rstrip("/"))[1].lower() in FOLDER_SUFFIXES:
            names.append(name)
        else:
            skipped.append(
                (name, "not_image", f"not an image file name ({', '.join(FOLDER_SUFFIXES)})")
            )
    return names, np.arange(1, len(names) + 1, dtype=np.int64), skipped


def _value(text: str, where: str) -> int:
    v = text.strip()
    if v in ("1", "1.0", "+1", "true", "True"):
        return 1
    if v in ("0", "0.0", "-1", "-1.0", "false", "False"):
        return -1
    raise AnnotationError(f"{where}: expected 0/1 or -1/1, found {text!r}")


def read_attribute_csv(path: str | os.PathLike, ids_by_file: dict[str, int]) -> AttributeTable:
    """A CSV with a ``file`` column (paths relative to the folder) and one column per attribute,
    0/1 or -1/1, as an :class:`AttributeTable` over the folder's ids (+1/-1; images without a row
    get 0 from its lookup). Rows naming no image of the folder are left out and counted in
    ``declared_count`` minus the table's length."""
    path = Path(path)
    with open(path, newline="") as f:
        reader = csv.reader(f)
        header = next(reader, None)
        if not header or header[0].strip() != "file" or len(header) < 2:
            raise AnnotationError(
                f"{path}: the first row must be 'file' then the attribute names, found {header}"
            )
        names = [h.strip() for h in header[1:]]
        ids, values, rows = [], [], 0
        for lineno, row in enumerate(reader, start=2):
            if not row:
                continue
            rows += 1
            if len(row) != len(header):
                raise AnnotationError(
                    f"{path}, line {lineno}: {len(row)} fields, expected {len(header)}"
                )
            iid = ids_by_file.get(os.path.normpath(row[0].strip()))
            if iid is None:
                continue
            ids.append(iid)
            values.append([_value(v, f"{path}, line {lineno}") for v in row[1:]])
    return AttributeTable(
        names=names,
        ids=np.array(ids, np.int64),
        values=np.array(values, np.int8).reshape(len(ids), len(names)),
        declared_count=rows,
        source=str(path),
    )
