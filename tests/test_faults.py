"""Faults during a run, injected: a full disk, damaged Zarr chunks, a second Snakemake on the same
folder. Each test checks what the user sees (an error naming the path, key or chunk) and that
nothing is left that Snakemake or a later rule would take as complete. docs/faults.md's table "fault or
bad input -> what happens" lists these cases; the kills of running jobs are in
tests/test_interrupts.py."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import zarr

from caelatent.files import records
from caelatent.stages.inputs import read_labelled
from caelatent.data.prepare import Split
from caelatent.stages.data import prepare_synthetic
from caelatent.files.store import (
    DamagedChunk,
    DiskFull,
    check_chunks,
    checked_compressor,
    open_zarr,
    seal,
)
from conftest import snakemake, workflow_copy

# --- a small disk: tmpfs (CI runs as root) --------------------------------------------------


def can_mount() -> bool:
    if os.geteuid() != 0 or shutil.which("mount") is None:
        return False
    probe = Path("/tmp/caelatent-mount-probe")
    probe.mkdir(exist_ok=True)
    ok = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(probe)]).returncode
    if ok == 0:
        subprocess.run(["umount", str(probe)])
    return ok == 0


needs_mount = pytest.mark.skipif(
    not can_mount(), reason="mounting a small tmpfs needs root (CI runs as root)"
)


@contextlib.contextmanager
def small_disk(path: Path, size_kb: int):
    """``path`` is a tmpfs of ``size_kb`` KB while the block runs (``resize`` changes it)."""
    path.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size_kb}k", "tmpfs", str(path)], check=True
    )
    try:
        yield lambda kb: subprocess.run(
            ["mount", "-o", f"remount,size={kb}k", str(path)], check=True
        )
    finally:
        subprocess.run(["umount", "-l", str(path)], check=True)


def used_kb(path: Path) -> int:
    st = os.statvfs(path)
    return (st.f_blocks - st.f_bfree) * st.f_frsize // 1024


def leftovers(d: Path) -> list[str]:
    return sorted(str(p.relative_to(d)) for p in d.rglob("*")) if d.exists() else []


@needs_mount
def test_a_full_disk_while_preparing_names_the_output_and_leaves_nothing(tmp_path):
    out = tmp_path / "disk" / "synthetic_64"
    with small_disk(tmp_path / "disk", 256):
        with pytest.raises(DiskFull) as err:
            prepare_synthetic(out, n_images=600, size=64, split=Split(0.8), chunk=64)
        said = str(err.value)
        assert str(out / "images.zarr") in said and "no space left" in said, said
        assert leftovers(out) == [], leftovers(out)


@pytest.mark.slow
@needs_mount
def test_a_full_disk_under_snakemake_fails_the_rule_and_a_rerun_completes(tmp_path):
    """The whole results folder on a disk too small for prepare's images: the rule fails with the
    path in its log, Snakemake keeps none of its outputs, and with room the same command runs."""
    wf = workflow_copy(tmp_path / "wf")
    target = "results/data/synthetic_64/manifest.json"
    with small_disk(wf / "results", 300) as resize:
        proc = snakemake(
            wf, "--cores", "2", target, "--configfile", "config/demo.yaml", check=False
        )
        log = (wf / "logs/prepare/synthetic_64.log").read_text()
        assert proc.returncode != 0
        assert "results/data/synthetic_64/images.zarr: no space left" in log, log[-3000:]
        assert leftovers(wf / "results/data/synthetic_64") == []
        resize(64 * 1024)
        snakemake(wf, "--cores", "2", target, "--configfile", "config/demo.yaml")
        assert open_zarr(wf / "results/data/synthetic_64/images.zarr")["images"].shape[0] == 4000


# --- damaged chunks ---------------------------------------------------------------------------


DAMAGE = {
    "truncated": lambda b: b[: len(b) // 2],
    "one bit flipped": lambda b: b[: len(b) // 2]
    + bytes([b[len(b) // 2] ^ 0x04])
    + b[len(b) // 2 + 1 :],
    "overwritten": lambda b: b"\0" * len(b),
}


def damage_chunk(store: Path, array: str, key: str, how: str) -> Path:
    chunk = store / array / key
    chunk.write_bytes(DAMAGE[how](chunk.read_bytes()))
    return chunk


@pytest.fixture(scope="module")
def faces(tmp_path_factory):
    d = tmp_path_factory.mktemp("faces")
    prepare_synthetic(d, n_images=96, size=64, seed=0, split=Split(0.75), chunk=16)
    return d / "images.zarr"


@pytest.mark.parametrize("how", list(DAMAGE))
def test_a_damaged_images_chunk_is_an_error_naming_array_and_chunk(faces, tmp_path, how):
    store = tmp_path / "images.zarr"
    shutil.copytree(faces, store)
    chunk = damage_chunk(store, "images", "c/2/0/0/0", how)
    images = open_zarr(store)["images"]
    assert images[:32].shape == (32, 64, 64, 3)  # the chunks before it read as ever
    with pytest.raises(DamagedChunk) as err:
        images[:]
    said = str(err.value)
    assert f"{store}: array 'images', chunk (2, 0, 0, 0)" in said and str(chunk) in said, said
    with pytest.raises(DamagedChunk, match=r"chunk \(2, 0, 0, 0\)"):
        images.get_orthogonal_selection((np.array([3, 40]), slice(None), slice(None), slice(None)))


def latents_store(path: Path, n: int = 200, z_dim: int = 8) -> Path:
    """A latents.zarr as encode writes it (z, ids, split, attributes), CRC-checked chunks."""
    rng = np.random.default_rng(0)
    g = zarr.open_group(path, mode="w")
    kw = {"compressors": checked_compressor()}
    g.create_array(
        "z", data=rng.normal(size=(n, z_dim)).astype("float32"), chunks=(50, z_dim), **kw
    )
    g.create_array("ids", data=np.arange(1, n + 1), chunks=(n,), **kw)
    g.create_array("split", data=np.zeros(n, np.int8), chunks=(n,), **kw)
    a = g.create_array("attributes", data=np.ones((n, 2), np.int8), chunks=(50, 2), **kw)
    a.attrs.update({"names": ["Smiling", "Male"], "missing_value": 0})
    seal(path)
    return path


@pytest.mark.parametrize("how", list(DAMAGE))
def test_a_damaged_latents_chunk_is_named_by_the_readers_of_latents(tmp_path, how):
    store = latents_store(tmp_path / "latents.zarr")
    damage_chunk(store, "z", "c/3/0", how)
    with pytest.raises(DamagedChunk, match=r"latents.zarr: array 'z', chunk \(3, 0\)"):
        records.load_z(store)
    damage_chunk(store, "attributes", "c/1/0", how)
    with pytest.raises(DamagedChunk, match=r"array 'attributes', chunk \(1, 0\)"):
        read_labelled(store)


def test_a_deleted_chunk_is_an_error_naming_it_not_zeros(faces, tmp_path):
    """Zarr reads a chunk file that is not there as its fill value (zeros): the chunk manifest
    that prepare and encode write last makes it an error naming the file, in images.zarr (through
    train's and encode's reader) and in latents.zarr (through every reader of latents)."""
    store = tmp_path / "images.zarr"
    shutil.copytree(faces, store)
    (store / "images" / "c/2/0/0/0").unlink()
    with pytest.raises(DamagedChunk) as err:
        open_zarr(store)["images"]
    said = str(err.value)
    assert "array 'images', chunk (2, 0, 0, 0)" in said and "is missing" in said, said
    assert str(store / "images" / "c/2/0/0/0") in said
    assert open_zarr(store)["split"][:].shape == (96,)  # the other arrays read as ever

    latents = latents_store(tmp_path / "latents.zarr")
    (latents / "z" / "c/1/0").unlink()
    with pytest.raises(DamagedChunk, match=r"latents.zarr: array 'z', chunk \(1, 0\) .* missing"):
        records.load_z(latents)
    (latents / "attributes" / "c/3/0").unlink()
    with pytest.raises(DamagedChunk, match=r"array 'attributes', chunk \(3, 0\)"):
        read_labelled(latents)


def test_chunks_never_written_are_not_missing_and_a_full_check_finds_changed_ones(tmp_path):
    """Zarr does not write a chunk that is all fill value: the manifest lists only what was
    written, so such a chunk reads as zeros without complaint; ``full`` compares sizes and CRCs."""
    g = zarr.open_group(tmp_path / "s.zarr", mode="w")
    a = g.create_array("z", shape=(40, 4), chunks=(10, 4), dtype="float32", fill_value=0)
    a[:10], a[30:] = 1.0, 2.0  # chunks 1 and 2 stay unwritten
    seal(tmp_path / "s.zarr")
    assert sorted(os.listdir(tmp_path / "s.zarr" / "z" / "c")) == ["0", "3"]
    z = open_zarr(tmp_path / "s.zarr")["z"][:]
    assert (z[10:30] == 0).all() and (z[:10] == 1).all()
    check_chunks(tmp_path / "s.zarr", "z", full=True)  # as written
    chunk = tmp_path / "s.zarr" / "z" / "c" / "3" / "0"
    chunk.write_bytes((tmp_path / "s.zarr" / "z" / "c" / "0" / "0").read_bytes())  # same size
    with pytest.raises(DamagedChunk, match=r"chunk \(3, 0\) .* changed since it was written"):
        check_chunks(tmp_path / "s.zarr", "z", full=True)


def test_errors_that_are_no_damage_pass_through(faces):
    """A wrong selection is the caller's bug, reported as NumPy/Zarr report it."""
    with pytest.raises(IndexError):
        open_zarr(faces)["images"][500]


# --- two runs on one folder -------------------------------------------------------------------


@pytest.mark.slow
def test_a_second_snakemake_on_the_same_folder_refuses_and_the_first_completes(tmp_path):
    wf = workflow_copy(tmp_path / "wf")
    (wf / "small.yaml").write_text("train:\n  epochs: 2\n")
    target = ["results/demo/model/history.tsv", "--configfile", "config/demo.yaml", "small.yaml"]
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    first = subprocess.Popen(
        [sys.executable, "-m", "snakemake", "--cores", "2", *target],
        cwd=wf,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    locks = wf / ".snakemake" / "locks"
    deadline = time.time() + 120
    while time.time() < deadline and not (locks.exists() and any(locks.iterdir())):
        time.sleep(0.1)
    second = snakemake(wf, "--cores", "1", *target, check=False)
    said = second.stdout + second.stderr
    assert second.returncode != 0 and "LockException" in said, said[-2000:]
    assert "Directory cannot be locked" in said
    out, _ = first.communicate(timeout=600)
    assert first.returncode == 0, out[-3000:]
    history = (wf / "results/demo/model/history.tsv").read_text().splitlines()
    assert len(history) == 3 and not list(wf.rglob("*.partial"))
    # the lock is gone with the first run: the next one has nothing to do
    again = snakemake(wf, "--cores", "1", *target)
    assert "Nothing to be done" in again.stdout + again.stderr
