"""The pinned dependencies resolve, without installing, on every platform the project supports.

`requires-python` says 3.11 to 3.13; each (Python, platform) below must find a wheel (or a pure-Python
sdist) for every pinned package and its dependencies, so a pin that drops a platform fails here.
uv resolves for a target other than this machine (markers and wheel tags of the target); pip cannot
while Snakemake depends on sdist-only packages.
"""

from __future__ import annotations

import subprocess
import tomllib

import pytest

from conftest import ROOT

pytestmark = [pytest.mark.network, pytest.mark.slow]

TARGETS = [
    ("3.11", "x86_64-manylinux_2_28", "test"),
    ("3.12", "x86_64-manylinux_2_28", "test"),
    ("3.13", "x86_64-manylinux_2_28", "test"),
    ("3.12", "aarch64-apple-darwin", "test"),
    ("3.13", "aarch64-apple-darwin", "test"),
    ("3.12", "x86_64-manylinux_2_28", "gpu"),
    ("3.13", "x86_64-manylinux_2_28", "gpu"),
    ("3.12", "x86_64-manylinux_2_28", "fid"),
]


def test_requires_python_covers_the_tested_versions():
    spec = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["requires-python"]
    assert spec == ">=3.11,<3.14", spec
    assert {t[0] for t in TARGETS} == {"3.11", "3.12", "3.13"}


@pytest.mark.parametrize(
    "python,platform,extra", TARGETS, ids=[f"{p}-{pl}-{e}" for p, pl, e in TARGETS]
)
def test_pinned_dependencies_resolve(uv, tmp_path, python, platform, extra):
    proc = subprocess.run(
        [
            uv,
            "pip",
            "install",
            "--dry-run",
            "--no-config",
            "--python-version",
            python,
            "--python-platform",
            platform,
            "--target",
            str(tmp_path / "t"),
            "-r",
            str(ROOT / "pyproject.toml"),
            "--extra",
            extra,
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, f"Python {python} on {platform} [{extra}]:\n{proc.stderr[-3000:]}"
    names = {
        line.split()[1].split("==")[0]
        for line in proc.stderr.splitlines()
        if line.startswith(" + ")
    }
    tf = "tensorflow" if "darwin" in platform else "tensorflow-cpu"
    assert {"keras", "snakemake", "zarr", tf} <= names, sorted(names)
    if extra == "gpu":
        assert {"jax", "jaxlib", "jax-cuda12-plugin"} <= names, sorted(names)
    if extra == "fid":
        assert {"pytorch-fid", "torch", "torchvision"} <= names, sorted(names)


def test_a_platform_without_wheels_is_reported(uv, tmp_path):
    """The check can fail: tensorflow-cpu has no macOS wheel."""
    req = tmp_path / "req.txt"
    req.write_text("tensorflow-cpu==2.21.0\n")
    proc = subprocess.run(
        [
            uv,
            "pip",
            "install",
            "--dry-run",
            "--no-config",
            "--python-version",
            "3.12",
            "--python-platform",
            "aarch64-apple-darwin",
            "--target",
            str(tmp_path / "t"),
            "-r",
            str(req),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    said = " ".join(proc.stderr.split())
    assert (
        proc.returncode != 0
        and "tensorflow-cpu==2.21.0 has no wheels with a matching platform tag" in said
    ), said
