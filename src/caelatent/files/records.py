"""Files of the workflow: TSV tables, JSON, NPZ, PNG figures and latents, each written atomically.

Nothing here computes or draws; stage runners (:mod:`caelatent.stages`) read and write through it.
"""

from __future__ import annotations

import html
import json
import logging
import os
from pathlib import Path

import numpy as np

from . import celeba
from .store import SPLIT_CODES, CheckedArray, atomic_path, open_zarr

SPLIT_NAMES = {code: name for name, code in SPLIT_CODES.items()}

log = logging.getLogger(__name__)

# analyses that pass over the latents many times read them into memory up to this size (CelebA's
# 202,599 x 256 float32 latents are 207 MB)
IN_MEMORY_BYTES = 512 << 20

PathLike = str | os.PathLike


def open_z(latents: PathLike) -> CheckedArray:
    """The latent vectors ``z`` [N, z_dim] of a ``latents.zarr``, opened lazily."""
    return open_zarr(latents)["z"]


def load_z(latents: PathLike, max_bytes: int = IN_MEMORY_BYTES):
    """``z`` as a NumPy array when it fits ``max_bytes``, else the lazy Zarr array."""
    z = open_z(latents)
    return z[:] if z.nbytes <= max_bytes else z


def write_tsv(path: PathLike, columns: dict, digits: int | None = 6) -> None:
    """Columns of equal length as a tab-separated table with a header row, floats to ``digits``
    significant digits (None: every digit, as Python prints them)."""
    keys = list(columns)
    n = len(columns[keys[0]])
    for k in keys:
        if len(columns[k]) != n:
            raise ValueError(f"{path}: column {k!r} has {len(columns[k])} rows, {keys[0]!r} {n}")
    with atomic_path(path) as tmp, open(tmp, "w") as f:
        f.write("\t".join(keys) + "\n")
        for i in range(n):
            f.write("\t".join(_fmt(columns[k][i], digits) for k in keys) + "\n")


def read_tsv(path: PathLike) -> dict[str, np.ndarray]:
    """A TSV written by :func:`write_tsv`, as {column: float array} (string array for text columns)."""
    lines = Path(path).read_text().splitlines()
    if not lines:
        raise ValueError(f"{path}: empty table (no header row)")
    header = lines[0].split("\t")
    rows = [line.split("\t") for line in lines[1:]]
    for k, r in enumerate(rows):
        if len(r) != len(header):
            raise ValueError(f"{path}: row {k + 2} has {len(r)} fields, the header {len(header)}")
    return {h: _column([r[k] for r in rows]) for k, h in enumerate(header)}


def write_json(path: PathLike, obj) -> None:
    with atomic_path(path) as tmp:
        Path(tmp).write_text(json.dumps(obj, indent=2, default=_jsonable) + "\n")


def read_json(path: PathLike):
    return json.loads(Path(path).read_text())


def write_npz(path: PathLike, **arrays) -> None:
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        np.savez(f, **arrays)


def read_npz(path: PathLike) -> dict[str, np.ndarray]:
    with np.load(path) as f:
        return {k: f[k] for k in f.files}


def write_html_table(path: PathLike, tsv: PathLike, title: str) -> None:
    """A TSV table as a stand-alone HTML page (the report shows HTML; it only offers a TSV for
    download). Cells are shown as the TSV holds them."""
    lines = Path(tsv).read_text().splitlines()
    if not lines:
        raise ValueError(f"{tsv}: empty table (no header row)")
    head, *rows = [line.split("\t") for line in lines]

    def row(cells, tag):
        return "<tr>" + "".join(f"<{tag}>{html.escape(c)}</{tag}>" for c in cells) + "</tr>"

    style = (
        "body{font-family:sans-serif;font-size:13px}table{border-collapse:collapse}"
        "th,td{border:1px solid #ccc;padding:2px 6px;text-align:right}"
        "th{background:#eee;position:sticky;top:0}td:first-child,th:first-child{text-align:left}"
    )
    page = (
        f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
        f"<style>{style}</style></head><body><h3>{html.escape(title)}</h3>"
        f"<p>{len(rows)} rows; source: {html.escape(Path(tsv).name)}</p><table><thead>"
        f"{row(head, 'th')}</thead><tbody>{''.join(row(r, 'td') for r in rows)}</tbody></table>"
        "</body></html>\n"
    )
    with atomic_path(path) as tmp:
        Path(tmp).write_text(page)


def _fmt(v, digits: int | None = 6) -> str:
    if isinstance(v, (bool, np.bool_)):
        return str(int(v))
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    if isinstance(v, (float, np.floating)):
        return f"{float(v):.{digits}g}" if digits else str(float(v))
    return str(v)


def _column(values: list[str]) -> np.ndarray:
    try:
        return np.array([float(v) for v in values])
    except ValueError:
        return np.array(values)


def _jsonable(o):
    if isinstance(o, np.integer):
        return int(o)
    if isinstance(o, np.floating):
        return float(o)
    if isinstance(o, np.bool_):
        return bool(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    raise TypeError(type(o))


def write_prepared(out, prepared) -> None:
    """A prepared dataset's tables (``prepared``: a :class:`caelatent.data.prepare.Prepared`):
    attributes.tsv (one row per written image), list_attr.txt (CelebA's format, the images with
    attributes) and manifest.json, at the paths of ``out`` (a :class:`~.store.Outputs`), each
    written atomically."""
    p = prepared
    ids, flags, names, vals, found, identity = p.ids, p.flags, p.names, p.vals, p.found, p.identity
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
    write_json(out.manifest, p.manifest)
