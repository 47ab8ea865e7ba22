"""The repository's own checks: formatted and lint-clean code and Snakefiles, the current rule graph, CI running README's test command."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest


from conftest import ROOT, snakemake


def test_snakefiles_are_formatted_and_lint_clean(wf):
    proc = subprocess.run(
        [sys.executable, "-m", "snakefmt", "--check", "Snakefile", "workflow/rules"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr
    lint = snakemake(wf, "--lint", "--configfile", "config/demo.yaml")
    assert "Congratulations, your workflow is in a good condition" in lint.stdout + lint.stderr


PYTHON_TREES = ["src", "tests", "workflow/scripts", "benchmarks", "docs"]


def test_python_is_black_formatted():
    """black (line length 100, pyproject.toml) next to snakefmt: ``black src tests workflow/scripts
    benchmarks docs`` fixes what this finds."""
    proc = subprocess.run(
        [sys.executable, "-m", "black", "--check", *PYTHON_TREES],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr


@pytest.mark.slow  # a Snakemake run for a picture's edge list
def test_readmes_rule_graph_is_current():
    """docs/rulegraph.png and its edge list are redrawn by docs/make_rulegraph.py; the list must
    match the workflow's rules."""
    proc = subprocess.run(
        [sys.executable, "docs/make_rulegraph.py", "--check"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr
    assert (ROOT / "docs" / "rulegraph.png").exists()
    assert "docs/rulegraph.png" in (ROOT / "README.md").read_text()
    # plot rules only draw: none reads the latents (encode) or the images (prepare)
    edges = [
        line.split(" -> ") for line in (ROOT / "docs" / "rulegraph.txt").read_text().splitlines()
    ]
    readers = {(a, b) for a, b in edges if b.endswith("_plots") and a in ("encode", "prepare")}
    assert not readers, readers
    assert {a for a, b in edges if b == "pca_plots"} == {"pca", "pca_planes"}


def test_ci_runs_exactly_readmes_test_command():
    readme = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```(?:bash|sh)\n(.*?)```", readme, re.S)
    test_cmd = blocks[0].strip().splitlines()[-1]
    assert "pytest" in test_cmd
    assert test_cmd in (ROOT / ".ci" / "run").read_text().splitlines()
