"""What made a result: package version, git commit, and hashes of the library code a rule runs.

:func:`code_hash` follows a stage runner (``"stats.mnd_plots"``) through the names its body uses
to the modules they come from, and those modules' own imports inside the package, so that with
``library_rerun: true`` an edit of :mod:`caelatent.plots.stats` changes the hash of the plot rules
only, and an edit of :mod:`caelatent.latent.describe` that of every rule using it. Reads source files; imports
nothing heavy.
"""

from __future__ import annotations

import ast
import functools
import hashlib
import importlib.metadata
import importlib.util
import os
import platform
import subprocess
from pathlib import Path

PACKAGE = "caelatent"


def package_dir() -> Path:
    """The directory of the ``caelatent`` package that would be imported."""
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ImportError(f"{PACKAGE} is not importable")
    return Path(list(spec.submodule_search_locations)[0])


def module_path(module: str) -> Path:
    """Source file of ``caelatent.<module>`` (``"plots.stats"``; a package's ``__init__.py``)."""
    base = package_dir().joinpath(*module.split("."))
    path = base / "__init__.py" if base.is_dir() else base.with_suffix(".py")
    if not path.exists():
        raise FileNotFoundError(f"{PACKAGE}.{module}: no source at {path}")
    return path


def _resolve(current: str, node: ast.ImportFrom) -> list[tuple[str | None, str]]:
    """``(alias, module)`` pairs of an import inside the package; ``module`` relative to it."""
    parts = current.split(".")
    is_package = module_path(current).name == "__init__.py"
    if node.level:
        base = parts if is_package else parts[:-1]
        base = base[: len(base) - (node.level - 1)] if node.level > 1 else base
    elif node.module and (node.module == PACKAGE or node.module.startswith(PACKAGE + ".")):
        base = []
        node = ast.ImportFrom(
            module=node.module[len(PACKAGE) + 1 :] or None, names=node.names, level=0
        )
    else:
        return []
    prefix = ".".join(base + ([node.module] if node.module else []))
    out = []
    for a in node.names:
        candidate = f"{prefix}.{a.name}" if prefix else a.name
        try:  # `from . import describe` names a module; `from .records import read_tsv` a name in one
            module_path(candidate)
            out.append((a.asname or a.name, candidate))
        except FileNotFoundError:
            if prefix:
                out.append((a.asname or a.name, prefix))
    return out


@functools.lru_cache(maxsize=None)
def _parsed(module: str) -> tuple[ast.Module, dict[str, str]]:
    """The module's syntax tree and its package imports as {local name: module}."""
    tree = ast.parse(module_path(module).read_text())
    names: dict[str, str] = {}
    for node in ast.walk(tree):  # imports inside functions count too
        if isinstance(node, ast.ImportFrom):
            names.update(_resolve(module, node))
        elif isinstance(node, ast.Import):
            for a in node.names:
                if a.name.startswith(PACKAGE + "."):
                    names[a.asname or a.name] = a.name[len(PACKAGE) + 1 :]
    return tree, names


@functools.lru_cache(maxsize=None)
def module_closure(module: str) -> frozenset[str]:
    """The module and every package module it imports, directly or not."""
    seen, todo = set(), [module]
    while todo:
        m = todo.pop()
        if m in seen:
            continue
        seen.add(m)
        parts = m.split(".")
        todo += [".".join(parts[:k]) for k in range(1, len(parts))]  # its packages' __init__.py
        todo += list(_parsed(m)[1].values())
    return frozenset(seen)


def runner_modules(runner: str) -> tuple[str, frozenset[str]]:
    """Source of the runner ``"<stage module>.<function>"`` and the modules its body reaches.

    Module-level helpers of the stage module that it calls are followed too; what neither uses (the
    other runners of the same module) does not count.
    """
    module, function = f"stages.{runner}".rsplit(".", 1)
    tree, imported = _parsed(module)
    defs = {n.name: n for n in tree.body if isinstance(n, (ast.FunctionDef, ast.ClassDef))}
    if function not in defs:
        raise KeyError(f"{PACKAGE}.{module} has no function {function!r}")
    used, todo, sources = set(), [function], []
    while todo:
        name = todo.pop()
        if name in used:
            continue
        used.add(name)
        sources.append(ast.unparse(defs[name]))
        for node in ast.walk(defs[name]):
            if isinstance(node, ast.Name) and node.id in defs:
                todo.append(node.id)
    names = {n.id for d in used for n in ast.walk(defs[d]) if isinstance(n, ast.Name)}
    modules = frozenset().union(*(module_closure(imported[n]) for n in names if n in imported))
    return "\n".join(sorted(sources)), modules


@functools.lru_cache(maxsize=None)
def code_hash(target: str) -> str:
    """SHA-256 (16 hex digits) of the library code behind a rule.

    ``target`` is a stage runner (``"stats.mnd"``: its own source, the helpers it calls and the
    modules it uses) or a module (``"generate"``: the module and what it imports).
    """
    if "." in target and target.split(".")[0] in _stage_modules():
        own, modules = runner_modules(target)
    else:
        own, modules = "", module_closure(target)
    h = hashlib.sha256(own.encode())
    for m in sorted(modules):
        h.update(m.encode() + b"\0" + module_path(m).read_bytes() + b"\0")
    return h.hexdigest()[:16]


def _stage_modules() -> set[str]:
    return {p.stem for p in (package_dir() / "stages").glob("*.py") if p.stem != "__init__"}


def library_hash(root: str | Path | None = None) -> str:
    """SHA-256 (16 hex digits) of every source file of the package (at ``root``: another copy)."""
    h = hashlib.sha256()
    root = Path(root) if root else package_dir()
    for p in sorted(root.rglob("*.py")):
        h.update(p.relative_to(root).as_posix().encode() + b"\0" + p.read_bytes() + b"\0")
    return h.hexdigest()[:16]


def git_commit(cwd: str | Path = ".") -> dict:
    """The commit checked out in ``cwd`` and whether tracked files differ from it (None outside git)."""
    try:
        run = dict(cwd=cwd, capture_output=True, text=True, timeout=20)
        head = subprocess.run(["git", "rev-parse", "HEAD"], **run)
        if head.returncode != 0:
            return {"commit": None, "dirty": None}
        status = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], **run)
        return {"commit": head.stdout.strip(), "dirty": bool(status.stdout.strip())}
    except (OSError, subprocess.SubprocessError):
        return {"commit": None, "dirty": None}


def record(cwd: str | Path = ".") -> dict:
    """Provenance of a results folder: versions, commit and library hash."""
    try:
        version = importlib.metadata.version(PACKAGE)
    except importlib.metadata.PackageNotFoundError:
        version = None
    return {
        "package": PACKAGE,
        "version": version,
        "git": git_commit(cwd),
        "library_sha256_16": library_hash(),
        "library_path": str(package_dir()),
        "python": platform.python_version(),
        "host": {
            "platform": platform.platform(),
            "machine": platform.machine(),
            "cpus": os.cpu_count(),
            "gpus_visible": os.environ.get("CUDA_VISIBLE_DEVICES"),
        },
        "snakemake": _version("snakemake"),
        "keras": _version("keras"),
        "numpy": _version("numpy"),
    }


def _version(dist: str) -> str | None:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None
