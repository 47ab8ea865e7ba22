"""The real download code against a local HTTP server on 127.0.0.1 serving the real sample."""

from __future__ import annotations

import hashlib
import http.server
import json
import threading
import zipfile
from pathlib import Path

import pytest
import zarr

from caelatent.files import download
from conftest import ATTR_FILE, IDENTITY_FILE, ORIGINALS_TAR, read_jpegs, snakemake, workflow_copy


class Handler(http.server.BaseHTTPRequestHandler):
    """Serves files from ``root`` with Range support; can cut the first response short."""

    root: Path
    log: list
    cut_after: int | None = None
    honour_range = True

    def do_GET(self):  # noqa: N802
        path = self.root / self.path.lstrip("/").split("?")[0]
        rng = self.headers.get("Range")
        self.log.append((self.path, rng))
        if not path.is_file():
            self.send_error(404)
            return
        data = path.read_bytes()
        start = int(rng.split("=")[1].split("-")[0]) if rng and self.honour_range else 0
        body = data[start:]
        self.send_response(206 if start else 200)
        if start:
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Content-Type", "application/octet-stream")
        self.end_headers()
        if type(self).cut_after is not None:
            self.wfile.write(body[: type(self).cut_after])
            type(self).cut_after = None  # only the first response is cut
            self.wfile.flush()
            self.connection.close()
            return
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def server(sample, tmp_path):
    root = tmp_path / "mirror"
    root.mkdir()
    with zipfile.ZipFile(root / "img_align_celeba.zip", "w") as z:
        for name, data in read_jpegs(ORIGINALS_TAR, 120).items():
            z.writestr(f"img_align_celeba/{name}", data)
    (root / "list_attr_celeba.txt").write_bytes(ATTR_FILE.read_bytes())
    (root / "identity_CelebA.txt").write_bytes(IDENTITY_FILE.read_bytes())
    handler = type(
        "H", (Handler,), {"root": root, "log": [], "cut_after": None, "honour_range": True}
    )
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", root, handler
    httpd.shutdown()
    httpd.server_close()


def md5(p: Path) -> str:
    return hashlib.md5(p.read_bytes()).hexdigest()


def test_download_verifies_checksum(server, tmp_path):
    url, root, handler = server
    dest = tmp_path / "dl" / "img_align_celeba.zip"
    got = download.download_celeba_file(
        "img_align_celeba.zip",
        dest,
        mirrors=[url],
        md5=md5(root / "img_align_celeba.zip"),
        use_published=False,
    )
    assert got == dest and dest.read_bytes() == (root / "img_align_celeba.zip").read_bytes()
    # already there and verified: no second request
    n = len(handler.log)
    download.download_celeba_file(
        "img_align_celeba.zip", dest, mirrors=[url], md5=md5(dest), use_published=False
    )
    assert len(handler.log) == n


def test_wrong_checksum_is_an_error_and_leaves_nothing(server, tmp_path):
    url, root, _ = server
    dest = tmp_path / "list_attr_celeba.txt"
    # the published checksum belongs to the full 202,599-row file, not to the served sample
    with pytest.raises(
        download.ChecksumError, match="does not match the expected 75e246fa4810816ffd6ee81facbd244c"
    ):
        download.download_celeba_file(
            "list_attr_celeba.txt", dest, mirrors=[url], use_published=False
        )
    assert not dest.exists() and not dest.with_name(dest.name + ".part").exists()


def test_interrupted_download_resumes_with_a_range_request(server, tmp_path):
    url, root, handler = server
    size = (root / "img_align_celeba.zip").stat().st_size
    handler.cut_after = size // 3
    dest = tmp_path / "img_align_celeba.zip"
    with pytest.raises(download.DownloadError, match="connection closed at byte"):
        download.fetch(f"{url}/img_align_celeba.zip", dest, md5(root / "img_align_celeba.zip"))
    part = dest.with_name(dest.name + ".part")
    assert part.stat().st_size == size // 3 and not dest.exists()
    download.fetch(f"{url}/img_align_celeba.zip", dest, md5(root / "img_align_celeba.zip"))
    assert handler.log[-1] == ("/img_align_celeba.zip", f"bytes={size // 3}-")
    assert md5(dest) == md5(root / "img_align_celeba.zip") and not part.exists()


def test_server_ignoring_range_restarts_the_file(server, tmp_path):
    url, root, handler = server
    handler.honour_range = False
    dest = tmp_path / "identity_CelebA.txt"
    dest.with_name(dest.name + ".part").write_bytes(b"stale bytes from another file")
    download.fetch(f"{url}/identity_CelebA.txt", dest, md5(root / "identity_CelebA.txt"))
    assert dest.read_bytes() == (root / "identity_CelebA.txt").read_bytes()


def test_unreachable_network_gives_manual_instructions(tmp_path):
    dest = tmp_path / "img_align_celeba.zip"
    with pytest.raises(download.DownloadError) as err:
        download.download_celeba_file(
            "img_align_celeba.zip",
            dest,
            mirrors=["http://127.0.0.1:9"],
            use_published=False,
            timeout=2,
            attempts=1,
        )
    msg = str(err.value)
    assert "http://127.0.0.1:9/img_align_celeba.zip" in msg
    assert "To get it by hand" in msg and str(dest) in msg and download.CELEBA_HOME in msg


def test_published_locations_are_google_drive_with_checksums():
    urls = download.candidate_urls(
        download.CELEBA_FILES["img_align_celeba.zip"], ["https://m.example/celeba"]
    )
    assert urls[0] == "https://m.example/celeba/img_align_celeba.zip"
    assert "id=0B7EVK8r0v71pZjFTYXZWM3FlRnM" in urls[1] and "confirm=t" in urls[1]
    assert all(len(f.md5) == 32 for f in download.CELEBA_FILES.values())


def test_workflow_downloads_then_prepares(server, tmp_path):
    url, _, handler = server
    wf = workflow_copy(tmp_path / "wf")
    (wf / "test.yaml").write_text(
        json.dumps(
            {
                "data": {
                    "source": "celeba",
                    "size": 64,
                    "split": {"train_size": 100},
                    "celeba": {
                        "download": {"mirrors": [url], "published": False, "verify": "none"}
                    },
                },
            }
        )
    )
    snakemake(
        wf, "results/data/celeba_64/manifest.json", "--cores", "2", "--configfile", "test.yaml"
    )
    for f in ("img_align_celeba.zip", "list_attr_celeba.txt", "identity_CelebA.txt"):
        assert (wf / "resources" / "celeba" / f).exists() and (f"/{f}", None) in handler.log
    m = json.loads((wf / "results/data/celeba_64/manifest.json").read_text())
    assert m["counts"]["written"] == 120 and m["split"] == {
        **m["split"],
        "train": 100,
        "holdout": 20,
    }
    assert zarr.open_group(wf / "results/data/celeba_64/images.zarr")["ids"][-1] == 120
