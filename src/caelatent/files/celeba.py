"""CelebA's annotation files and image containers (folder, zip or tar).

The attribute file (``list_attr_celeba.txt``) has a count line, a line of attribute names and
then one row per image: ``000001.jpg`` followed by +1/-1 values. The count line is not trusted:
rows are read to the end of the file and a mismatch is reported, not fatal. Line endings may be
CRLF and the last row may lack a newline.
"""

from __future__ import annotations

import logging
import os
import stat
import tarfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

#: names that read as an image file (a directory so named is an entry, not a folder to walk)
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")


class AnnotationError(ValueError):
    """A CelebA annotation file that cannot be read; the message names file and line."""


@dataclass
class AttributeTable:
    """Attributes of images keyed by integer id (``000123.jpg`` -> 123); values are +1/-1."""

    names: list[str]
    ids: np.ndarray  # int64 [R]
    values: np.ndarray  # int8 [R, A]
    declared_count: int | None = None
    source: str = ""
    _index: dict[int, int] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self._index = {int(i): k for k, i in enumerate(self.ids)}

    def __len__(self) -> int:
        return len(self.ids)

    def lookup(self, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Rows for ``ids``: (values int8 [N, A] with 0 where missing, found bool [N])."""
        rows = np.array([self._index.get(int(i), -1) for i in ids], dtype=np.int64)
        found = rows >= 0
        out = np.zeros((len(ids), len(self.names)), dtype=np.int8)
        out[found] = self.values[rows[found]]
        return out, found


def image_id(name: str) -> int | None:
    """CelebA's id of an image file name (``img_align_celeba/000042.jpg`` -> 42), else None."""
    stem, suffix = os.path.splitext(os.path.basename(name.rstrip("/")))
    if suffix.lower() not in IMAGE_SUFFIXES or not stem.isdigit():
        return None
    return int(stem)


def _lines(path: Path) -> list[str]:
    try:
        text = Path(path).read_bytes().decode("ascii")
    except UnicodeDecodeError as err:
        raise AnnotationError(f"{path}: not an ASCII CelebA annotation file ({err})") from None
    return text.splitlines()


def read_attributes(path: str | os.PathLike) -> AttributeTable:
    """Parse ``list_attr_celeba.txt`` (or a file in its format) reading rows to the end."""
    path = Path(path)
    lines = _lines(path)
    if len(lines) < 2:
        raise AnnotationError(
            f"{path}: expected a count line and a names line, found {len(lines)} line(s)"
        )
    try:
        declared = int(lines[0].strip())
    except ValueError:
        raise AnnotationError(
            f"{path}, line 1: expected the image count, found {lines[0][:40]!r}"
        ) from None
    names = lines[1].split()  # may be empty: a file listing images without attributes
    if len(set(names)) != len(names):
        raise AnnotationError(f"{path}, line 2: duplicate attribute names")
    ids, rows, seen = [], [], {}
    for lineno, line in enumerate(lines[2:], start=3):
        parts = line.split()
        if not parts:
            continue
        iid = image_id(parts[0])
        if iid is None:
            raise AnnotationError(f"{path}, line {lineno}: {parts[0]!r} is not a CelebA image name")
        if len(parts) != len(names) + 1:
            raise AnnotationError(
                f"{path}, line {lineno} ({parts[0]}): {len(parts) - 1} values for {len(names)} attributes"
            )
        try:
            vals = [int(v) for v in parts[1:]]
        except ValueError:
            raise AnnotationError(
                f"{path}, line {lineno} ({parts[0]}): non-integer attribute value"
            ) from None
        bad = [v for v in vals if v not in (-1, 1)]
        if bad:
            raise AnnotationError(
                f"{path}, line {lineno} ({parts[0]}): value {bad[0]} is not +1 or -1"
            )
        if iid in seen:
            raise AnnotationError(
                f"{path}, line {lineno}: duplicate row for {parts[0]} (first on line {seen[iid]})"
            )
        seen[iid] = lineno
        ids.append(iid)
        rows.append(vals)
    if declared != len(ids):
        log.warning(
            "%s: count line says %d images but the file holds %d rows; using the %d rows",
            path,
            declared,
            len(ids),
            len(ids),
        )
    values = np.asarray(rows, dtype=np.int8).reshape(len(rows), len(names))
    return AttributeTable(names, np.asarray(ids, dtype=np.int64), values, declared, str(path))


def _read_id_values(path: str | os.PathLike, what: str) -> dict[int, int]:
    """Parse a CelebA file of ``NNNNNN.jpg <integer>`` lines into {image id: integer}."""
    path = Path(path)
    out: dict[int, int] = {}
    for lineno, line in enumerate(_lines(path), start=1):
        parts = line.split()
        if not parts:
            continue
        iid = image_id(parts[0])
        if iid is None or len(parts) != 2 or not parts[1].lstrip("-").isdigit():
            raise AnnotationError(
                f"{path}, line {lineno}: expected '<NNNNNN>.jpg <{what}>', found {line[:60]!r}"
            )
        if iid in out:
            raise AnnotationError(f"{path}, line {lineno}: duplicate {what} row for {parts[0]}")
        out[iid] = int(parts[1])
    return out


def read_identities(path: str | os.PathLike) -> dict[int, int]:
    """Parse ``identity_CelebA.txt`` (``000001.jpg 2880`` per line) into {image id: identity}."""
    return _read_id_values(path, "identity")


def read_partition(path: str | os.PathLike) -> dict[int, int]:
    """Parse CelebA's official split, ``list_eval_partition.txt`` (``000001.jpg 0`` per line: 0
    train, 1 validation, 2 test), into {image id: partition}."""
    table = _read_id_values(path, "partition")
    bad = sorted({v for v in table.values() if v not in (0, 1, 2)})
    if bad:
        raise AnnotationError(f"{path}: partitions must be 0, 1 or 2, found {bad}")
    return table


def write_attributes(
    path: str | os.PathLike, names: list[str], ids: np.ndarray, values: np.ndarray
) -> None:
    """Write attributes in CelebA's own format (count line, names line, ``NNNNNN.jpg`` rows)."""
    with open(path, "w", newline="\r\n") as f:
        f.write(f"{len(ids)}\n")
        f.write(" ".join(names) + " \n")
        for iid, row in zip(ids, values):
            f.write(f"{int(iid):06d}.jpg " + " ".join(f"{int(v):2d}" for v in row) + "\n")


class SkipImage(Exception):
    """An input that is left out, with a reason (counted in the manifest) and a detail (logged)."""

    def __init__(self, reason: str, detail: str = ""):
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


# ---------------------------------------------------------------------------------------------
# Image containers. A container lists its members once (in the parent process) and is reopened
# in each worker process, which reads members by name: only names cross process boundaries.


class ImageContainer:
    """A folder, zip or tar of images. ``members()`` lists every entry (a directory only where its
    name reads as an image's); ``read(name)`` gives an entry's bytes or raises :class:`SkipImage`
    (``unreadable``, ``not_a_file``), so that every entry is written or skipped with a reason."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)

    def members(self) -> list[str]:  # pragma: no cover - abstract
        raise NotImplementedError

    def read(self, name: str) -> bytes:  # pragma: no cover - abstract
        raise NotImplementedError

    def close(self) -> None:
        pass

    def reopen(self) -> "ImageContainer":
        """The same container opened afresh (in a worker process: archives are not shared)."""
        return open_container(self.path)


def _unreadable(where, err: Exception) -> SkipImage:
    return SkipImage("unreadable", f"{where}: {getattr(err, 'strerror', None) or err}")


class FolderContainer(ImageContainer):
    def members(self) -> list[str]:
        out = []
        for root, dirs, files in os.walk(self.path):
            for d in list(dirs):  # not walked: links to folders, folders named like images
                if d.lower().endswith(IMAGE_SUFFIXES) or os.path.islink(os.path.join(root, d)):
                    dirs.remove(d)
                    files.append(d)
            out.extend(os.path.relpath(os.path.join(root, f), self.path) for f in files)
        return sorted(out)

    def read(self, name: str) -> bytes:
        path = self.path / name
        try:
            mode = path.stat().st_mode  # follows a link: a dangling one is unreadable
        except OSError as err:
            raise _unreadable(path, err) from None
        if not stat.S_ISREG(mode):
            kind = "directory" if stat.S_ISDIR(mode) else "special file"
            link = " (through a symbolic link, not followed)" if path.is_symlink() else ""
            raise SkipImage("not_a_file", f"{path} is a {kind}{link}")
        try:
            return path.read_bytes()
        except OSError as err:
            raise _unreadable(path, err) from None


class ZipContainer(ImageContainer):
    def __init__(self, path):
        super().__init__(path)
        self._zip = zipfile.ZipFile(self.path)
        self._infos = {
            i.filename: i for i in self._zip.infolist() if not i.is_dir() or _named_like_image(i)
        }

    def members(self) -> list[str]:
        return list(self._infos)

    def read(self, name: str) -> bytes:
        if self._infos[name].is_dir():
            raise SkipImage("not_a_file", f"{self.path}:{name} is a directory")
        try:
            return self._zip.read(name)
        except (OSError, zipfile.BadZipFile, EOFError) as err:
            raise _unreadable(f"{self.path}:{name}", err) from None

    def close(self) -> None:
        self._zip.close()


class TarContainer(ImageContainer):
    def __init__(self, path):
        super().__init__(path)
        self._tar = tarfile.open(self.path)
        self._infos = {
            m.name: m for m in self._tar.getmembers() if not m.isdir() or _named_like_image(m)
        }

    def members(self) -> list[str]:
        return list(self._infos)

    def read(self, name: str) -> bytes:
        info = self._infos[name]
        if not (info.isfile() or info.issym() or info.islnk()):
            raise SkipImage("not_a_file", f"{self.path}:{name} is a {_tar_kind(info)}")
        try:
            f = self._tar.extractfile(info)  # resolves links inside the archive
        except (KeyError, OSError, tarfile.TarError) as err:
            raise _unreadable(f"{self.path}:{name} (link to {info.linkname})", err) from None
        if f is None:
            raise SkipImage("not_a_file", f"{self.path}:{name} links to a non-file")
        try:
            return f.read()
        except (OSError, tarfile.TarError, EOFError) as err:
            raise _unreadable(f"{self.path}:{name}", err) from None

    def close(self) -> None:
        self._tar.close()


def _named_like_image(info) -> bool:
    """A zip or tar directory that is an entry, not structure: one named like an image."""
    name = info.filename if isinstance(info, zipfile.ZipInfo) else info.name
    return name.rstrip("/").lower().endswith(IMAGE_SUFFIXES)


def _tar_kind(info: tarfile.TarInfo) -> str:
    return "directory" if info.isdir() else "device or fifo"


def open_container(path: str | os.PathLike) -> ImageContainer:
    """Open a folder of images, a ``.zip`` or a tar (optionally compressed) by what ``path`` is."""
    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(
            f"CelebA images not found at {p}: give a folder of JPEGs, a .zip or a .tar"
        )
    if p.is_dir():
        return FolderContainer(p)
    if zipfile.is_zipfile(p):
        return ZipContainer(p)
    if tarfile.is_tarfile(p):
        return TarContainer(p)
    raise ValueError(f"{p}: neither a folder, a zip archive nor a tar archive")


def select_images(members: list[str], attributes, on_missing: str, max_images: int | None):
    """Which members to decode: CelebA image names, one per id, with an attribute row unless
    ``on_missing`` is keep, the first ``max_images``. Returns (names, ids, skip records (name,
    reason, detail), how many were left beyond ``max_images``)."""
    skipped: list[tuple[str, str, str]] = []
    by_id: dict[int, str] = {}
    for name in sorted(members):
        iid = image_id(name)
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
