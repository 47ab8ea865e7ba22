"""Shared fixtures: the real CelebA sample beside the project, and workflow copies to run in."""

from __future__ import annotations

import copy
import io
import os
import shutil
import subprocess
import sys
import tarfile
import urllib.request
from pathlib import Path

import numpy as np
import pytest
import yaml
from snakemake.utils import validate

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("CAELATENT_SAMPLE", ROOT.parent / "shared" / "data" / "celeba_sample"))
ORIGINALS_TAR = SHARED / "img_align_celeba_000001-000558.tar"
HALFRES_TAR = SHARED / "img_align_celeba_89x109_000001-010000.tar"
ATTR_FILE = SHARED / "list_attr_celeba_000001-020000.txt"
IDENTITY_FILE = SHARED / "identity_CelebA.txt"


SCHEMA = str(ROOT / "config" / "schema.yaml")


def load(name: str) -> dict:
    """A config file of config/."""
    return yaml.safe_load((ROOT / "config" / name).read_text())


def demo_or_default(demo: dict, *keys: str) -> dict:
    """A config block as the workflow sees it: the demo's keys over the schema's defaults."""
    cfg = copy.deepcopy(demo)
    validate(cfg, SCHEMA)
    for k in keys:
        cfg = cfg[k]
    return cfg


@pytest.fixture(scope="session")
def demo(tmp_path_factory) -> Path:
    """A workflow copy, with its own library, in which the demo DAG has run (once per session).
    Tests only read it; one that edits files or runs Snakemake there takes :func:`demo_copy`."""
    wf = workflow_copy(tmp_path_factory.mktemp("demo"), library=True)
    snakemake(wf, "--cores", "2", "--configfile", "config/demo.yaml")
    return wf


@pytest.fixture
def demo_copy(demo, tmp_path) -> Path:
    """This test's own copy of the demo run, hard-linked (files keep their times, so Snakemake sees
    the same state). Edit a file by replacing it (:func:`replace_file`), never in place: in place
    would write through the link into the shared run."""
    dest = tmp_path / "demo"
    subprocess.run(["cp", "-al", str(demo), str(dest)], check=True)
    return dest


def replace_file(path: Path, text: str) -> None:
    """Write ``text`` to a new file at ``path`` (a hard link there is cut, not written through)."""
    path.unlink(missing_ok=True)
    path.write_text(text)


@pytest.fixture(scope="module")
def wf(tmp_path_factory) -> Path:
    """A workflow copy (no results) for dry runs, one per test module."""
    return workflow_copy(tmp_path_factory.mktemp("wf"))


@pytest.fixture(scope="session")
def sample() -> Path:
    if not ORIGINALS_TAR.exists():
        pytest.skip(f"the CelebA sample is not at {SHARED} (set CAELATENT_SAMPLE)")
    return SHARED


def read_jpegs(tar_path: Path, n: int) -> dict[str, bytes]:
    """The first ``n`` JPEGs of a tar as {basename: bytes}."""
    out = {}
    with tarfile.open(tar_path) as t:
        for m in t:
            if m.isfile() and m.name.endswith(".jpg"):
                out[os.path.basename(m.name)] = t.extractfile(m).read()
                if len(out) == n:
                    break
    return out


def make_tar(path: Path, members: dict[str, bytes]) -> Path:
    with tarfile.open(path, "w") as t:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            t.addfile(info, io.BytesIO(data))
    return path


def workflow_copy(dest: Path, library: bool = False) -> Path:
    """A copy of the workflow (not results) to run Snakemake in, so tests never touch the checkout.

    With ``library``, the package's source too: :func:`snakemake` then runs on that copy
    (PYTHONPATH), so a test may edit the library without touching the checkout.
    """
    dest.mkdir(parents=True, exist_ok=True)
    for item in ("Snakefile", "workflow", "config", "envs", "profiles") + (
        ("src",) if library else ()
    ):
        src = ROOT / item
        ignore = shutil.ignore_patterns("__pycache__", "*.egg-info")
        (
            shutil.copytree(src, dest / item, ignore=ignore)
            if src.is_dir()
            else shutil.copy(src, dest / item)
        )
    return dest


def snakemake(workdir: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    env = dict(
        os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    )
    if (workdir / "src").is_dir():  # the workflow copy's own library (workflow_copy(library=True))
        env["PYTHONPATH"] = os.pathsep.join([str(workdir / "src"), env.get("PYTHONPATH", "")])
    proc = subprocess.run(
        [sys.executable, "-m", "snakemake", *args],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
    )
    if check and proc.returncode != 0:
        raise AssertionError(
            f"snakemake {' '.join(args)} failed:\n{proc.stdout[-4000:]}\n{proc.stderr[-6000:]}"
        )
    return proc


def images_equal(a: np.ndarray, b: np.ndarray) -> bool:
    return a.shape == b.shape and bool((a == b).all())


def pypi_reachable() -> bool:
    try:
        urllib.request.urlopen("https://pypi.org/simple/uv/", timeout=10)
        return True
    except OSError:
        return False


@pytest.fixture(scope="session")
def uv() -> str:
    exe = shutil.which("uv", path=str(Path(sys.executable).parent)) or shutil.which("uv")
    if exe is None:
        pytest.fail("uv is not installed (it is in the test extra: pip install -e '.[test]')")
    if not pypi_reachable():
        if os.environ.get("CI"):
            pytest.fail("PyPI cannot be reached from CI: the resolution test must run there")
        pytest.skip("PyPI cannot be reached (the resolution test needs the package index)")
    return exe


def script_module(path: str):
    """A script of the repository (``benchmarks/normality.py``) imported as a module."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(Path(path).stem + "_script", ROOT / path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def train_into(images, out, spec, *, checkpoint_dir=None, **settings) -> dict:
    """Train as rule train does (:func:`caelatent.stages.model.fit_and_save`), into
    ``out``/encoder.keras, decoder.keras and history.tsv, checkpointing into ``checkpoint_dir``
    (``out``/checkpoint by default); the history."""
    from caelatent.stages.model import fit_and_save

    out = Path(out)
    return fit_and_save(
        images,
        encoder=out / "encoder.keras",
        decoder=out / "decoder.keras",
        history=out / "history.tsv",
        checkpoint=checkpoint_dir or out / "checkpoint",
        spec=spec,
        **settings,
    ).history


def read_history(path) -> dict[str, list]:
    """history.tsv as columns (what rule train writes through caelatent.files.records.write_tsv)."""
    lines = Path(path).read_text().splitlines()
    header = lines[0].split("\t")
    cols: dict[str, list] = {h: [] for h in header}
    for line in lines[1:]:
        for h, v in zip(header, line.split("\t")):
            cols[h].append(int(v) if h == "epoch" else float(v))
    return cols
