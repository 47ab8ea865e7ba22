"""Download CelebA's files from their published locations or configured mirrors.

Downloads go to ``<dest>.part`` and resume from its size with an HTTP Range request; a server
that ignores the range restarts the file. The finished file must match its MD5 before it is
renamed into place. When no source can be reached, :class:`DownloadError` explains how to
fetch the files by hand.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlencode

log = logging.getLogger(__name__)

CELEBA_HOME = "https://mmlab.ie.cuhk.edu.hk/projects/CelebA.html"
GDRIVE_DOWNLOAD = "https://drive.usercontent.google.com/download"


@dataclass(frozen=True)
class RemoteFile:
    filename: str
    md5: str | None
    gdrive_id: str | None = None


#: CelebA's files as published (Google Drive ids and MD5 sums of the official release)
CELEBA_FILES = {
    f.filename: f
    for f in (
        RemoteFile(
            "img_align_celeba.zip",
            "00d2c5bc6d35e252742224ab0c1e8fcb",
            "0B7EVK8r0v71pZjFTYXZWM3FlRnM",
        ),
        RemoteFile(
            "list_attr_celeba.txt",
            "75e246fa4810816ffd6ee81facbd244c",
            "0B7EVK8r0v71pblRyaVFSWGxPY0U",
        ),
        RemoteFile(
            "identity_CelebA.txt",
            "32bd1bd63d3c78cd57e08160ec5ed1e2",
            "1_ee_0u7vcNLOfNLegJRHmolfH5ICW-XS",
        ),
        RemoteFile(
            "list_eval_partition.txt",
            "d32c9cbf5e040fd4025c592c306e6668",
            "0B7EVK8r0v71pY0NSMzRuSXJEVkk",
        ),
    )
}


class DownloadError(RuntimeError):
    pass


class ChecksumError(DownloadError):
    pass


def md5sum(path: str | os.PathLike, block: int = 1 << 20) -> str:
    h = hashlib.md5()
    with open(path, "rb") as f:
        while chunk := f.read(block):
            h.update(chunk)
    return h.hexdigest()


def candidate_urls(remote: RemoteFile, mirrors: list[str], use_published: bool = True) -> list[str]:
    """Mirrors first (``{mirror}/{filename}``, or a template containing ``{filename}``), then Google Drive."""
    urls = []
    for m in mirrors:
        urls.append(
            m.format(filename=remote.filename)
            if "{filename}" in m
            else f"{m.rstrip('/')}/{remote.filename}"
        )
    if use_published and remote.gdrive_id:
        urls.append(
            f"{GDRIVE_DOWNLOAD}?{urlencode({'id': remote.gdrive_id, 'export': 'download', 'confirm': 't'})}"
        )
    return urls


class _DriveForm(HTMLParser):
    """Google Drive answers large files with a 'cannot scan for viruses' page holding a form."""

    def __init__(self):
        super().__init__()
        self.action, self.fields, self._in = None, {}, False

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form" and a.get("id") == "download-form":
            self.action, self._in = a.get("action"), True
        elif tag == "input" and self._in and a.get("name"):
            self.fields[a["name"]] = a.get("value", "")

    def handle_endtag(self, tag):
        if tag == "form":
            self._in = False


def _open(url: str, start: int, timeout: float):
    req = urllib.request.Request(url, headers={"User-Agent": "caelatent-download/1"})
    if start:
        req.add_header("Range", f"bytes={start}-")
    resp = urllib.request.urlopen(req, timeout=timeout)
    ctype = resp.headers.get("Content-Type", "")
    if ctype.startswith("text/html") and "drive" in url:
        form = _DriveForm()
        form.feed(resp.read(1 << 20).decode("utf-8", "replace"))
        resp.close()
        if not form.action:
            raise DownloadError(
                f"{url}: Google Drive returned a page without a download form (quota exceeded?)"
            )
        return _open(f"{form.action}?{urlencode(form.fields)}", start, timeout)
    return resp


def fetch(
    url: str,
    dest: str | os.PathLike,
    md5: str | None = None,
    *,
    timeout: float = 60,
    chunk: int = 1 << 20,
    progress_every: float = 10.0,
) -> Path:
    """Download ``url`` to ``dest``, resuming ``dest.part`` if present, then check ``md5``."""
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    start = part.stat().st_size if part.exists() else 0
    resp = _open(url, start, timeout)
    with resp:
        status = getattr(resp, "status", 200)
        if start and status != 206:
            log.info("%s ignored the range request; restarting %s", url, dest.name)
            start = 0
        elif start:
            log.info("resuming %s at byte %d", dest.name, start)
        m = re.match(r"bytes (\d+)-", resp.headers.get("Content-Range", ""))
        if start and m and int(m.group(1)) != start:
            raise DownloadError(
                f"{url}: asked for bytes from {start}, got {resp.headers['Content-Range']}"
            )
        length = resp.headers.get("Content-Length")
        total = start + int(length) if length else None
        done, last = start, time.monotonic()
        with open(part, "ab" if start else "wb") as f:
            while block := resp.read(chunk):
                f.write(block)
                done += len(block)
                if time.monotonic() - last > progress_every:
                    last = time.monotonic()
                    log.info(
                        "%s: %.1f MB%s",
                        dest.name,
                        done / 1e6,
                        f" of {total / 1e6:.1f} MB" if total else "",
                    )
    if total is not None and done != total:
        raise DownloadError(
            f"{url}: connection closed at byte {done} of {total}; run again to resume"
        )
    if md5:
        got = md5sum(part)
        if got != md5:
            part.unlink()
            raise ChecksumError(
                f"{dest.name} from {url}: MD5 {got} does not match the expected {md5}; removed it"
            )
    os.replace(part, dest)
    log.info("downloaded %s (%d bytes)", dest, dest.stat().st_size)
    return dest


def download_celeba_file(
    filename: str,
    dest: str | os.PathLike,
    *,
    mirrors: list[str] = (),
    md5: str | None = "published",
    use_published: bool = True,
    timeout: float = 60,
    attempts: int = 3,
) -> Path:
    """Fetch one of CelebA's files, trying each source in turn; resumes across attempts.

    ``md5="published"`` checks the official checksum; ``None`` skips the check (for mirrors that
    serve other bytes, e.g. a subset); any other string is the expected MD5.
    """
    remote = CELEBA_FILES.get(filename, RemoteFile(filename, None))
    expected = remote.md5 if md5 == "published" else md5
    dest = Path(dest)
    if dest.exists() and (expected is None or md5sum(dest) == expected):
        log.info("%s is already here and verified", dest)
        return dest
    errors = []
    for url in candidate_urls(remote, list(mirrors), use_published):
        for attempt in range(1, attempts + 1):
            try:
                return fetch(url, dest, expected, timeout=timeout)
            except ChecksumError:
                raise
            except urllib.error.HTTPError as err:
                errors.append(f"{url}: HTTP {err.code} {err.reason}")
                break  # a definite answer: try the next source
            except (urllib.error.URLError, OSError, DownloadError) as err:
                reason = getattr(err, "reason", err)
                errors.append(f"{url} (attempt {attempt}): {reason}")
                log.warning("%s: %s", url, reason)
    raise DownloadError(
        f"could not download {filename}:\n  "
        + "\n  ".join(errors or ["no source configured"])
        + f"\n\nTo get it by hand: download {filename} from the CelebA page ({CELEBA_HOME}, 'Align&Cropped "
        f"Images' and 'Anno' folders) and put it at {dest}, or point data.celeba in the config at your "
        "local copy (a folder of JPEGs, the zip or a tar)."
    )
