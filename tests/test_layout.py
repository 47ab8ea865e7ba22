"""The library's shape: subpackages that mirror the workflow's stages, no name that shadows the
standard library, no function longer than a screen and a half."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "caelatent"
#: the longest a function of the library may be, signature and docstring included
MAX_LINES = 80


def test_no_library_function_is_over_80_lines():
    long = []
    for path in sorted(SRC.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                lines = node.end_lineno - node.lineno + 1
                if lines > MAX_LINES:
                    long.append(f"{path.relative_to(SRC)}:{node.lineno} {node.name}: {lines}")
    assert not long, long


#: a subpackage per stage of the workflow (data, model, latent, sampling, scoring, comparison),
#: the I/O layer (files), the figures (plots) and the rules' runners (stages)
SUBPACKAGES = {
    "data", "model", "latent", "sampling", "scoring", "comparison", "files", "plots", "stages",
}  # fmt: skip


def test_the_package_top_level_shows_the_stages():
    packages = {p.name for p in SRC.iterdir() if (p / "__init__.py").exists()}
    assert packages == SUBPACKAGES
    top = {p.stem for p in SRC.glob("*.py")} - {"__init__"}
    assert len(top) <= 12, sorted(top)
    for name in SUBPACKAGES:  # each says what it holds
        assert ast.get_docstring(ast.parse((SRC / name / "__init__.py").read_text())), name


def test_no_module_shadows_the_standard_library():
    names = {p.stem for p in SRC.rglob("*.py")} | {p.name for p in SRC.rglob("*") if p.is_dir()}
    assert not names & set(sys.stdlib_module_names)


#: calls that open, write or remove a path
PATH_CALLS = {
    "open", "load", "save", "savez", "savez_compressed", "open_group", "open_zarr", "atomic_path",
    "write_text", "read_text", "write_bytes", "read_bytes", "mkdir", "rmtree", "load_model",
    "urlopen", "iterdir", "glob", "rglob", "loadtxt", "symlink", "is_file", "exists", "open_array",
    "unlink", "walk", "listdir", "stat",
}  # fmt: skip
def _opens_paths(path: Path) -> bool:
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Call):
            f = node.func
            name = f.attr if isinstance(f, ast.Attribute) else getattr(f, "id", None)
            first = node.args[0] if node.args else None
            in_memory = isinstance(first, ast.Call) and getattr(first.func, "attr", "") == "BytesIO"
            pillow_decode = name == "load" and not node.args + node.keywords
            if name in PATH_CALLS and not in_memory and not pillow_decode:
                return True
    return False


def test_only_the_io_layer_and_the_stage_runners_open_paths():
    found = {
        str(p.relative_to(SRC))
        for p in SRC.rglob("*.py")
        if p.relative_to(SRC).parts[0] not in ("files", "stages") and _opens_paths(p)
    }
    assert not found, f"library modules that open paths (only files/ and stages/ may): {found}"


#: the longest a stage runner's body may be (its signature and docstring aside): a runner reads,
#: calls the library and writes; the work is the library's
MAX_RUNNER_BODY = 35


def test_stage_runners_are_short():
    long = []
    for path in sorted((SRC / "stages").glob("*.py")):
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, ast.FunctionDef) and not node.name.startswith("_"):
                body = node.body[1:] if ast.get_docstring(node) else node.body
                lines = body[-1].end_lineno - body[0].lineno + 1
                if lines > MAX_RUNNER_BODY:
                    long.append(f"stages/{path.name} {node.name}: {lines}")
    assert not long, long
