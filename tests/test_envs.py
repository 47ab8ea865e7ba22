"""envs/*.yaml (for users with conda): the versions of pyproject.toml, exactly the packages their rules
import, and each builds and runs its rules."""

import ast
import os
import re
import subprocess
import sys
import tomllib

import pytest
import yaml

from conftest import ROOT


def pins() -> dict[str, str]:
    """{distribution: version} of every pin of pyproject.toml, its extras' included."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    deps = project["dependencies"] + sum(project["optional-dependencies"].values(), [])
    pairs = (re.match(r"([A-Za-z0-9_.-]+)(?:\[[\w,]+\])?==([^;\s]+)", d).groups() for d in deps)
    return dict(pairs)


def test_every_dependency_is_pinned_exactly():
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    assert deps and all("==" in d for d in deps)


def test_conda_envs_match_pyproject():
    """Every pin of envs/*.yaml is pyproject.toml's; the envs take matplotlib-base (no GUI)."""
    expected = {k.lower(): v for k, v in pins().items()}
    envs = sorted((ROOT / "envs").glob("*.yaml"))
    assert envs
    for env in envs:
        checked = 0
        for dep in yaml.safe_load(env.read_text())["dependencies"]:
            entries = dep["pip"] if isinstance(dep, dict) else [dep]
            for entry in entries:
                if entry.startswith(("-e", "python=", "pip")) or "=" not in entry:
                    continue
                name, version = entry.split("==", 1) if "==" in entry else entry.split("=", 1)
                name = CONDA_NAMES.get(name.lower(), re.sub(r"\[[\w,]+\]$", "", name))
                assert (
                    name.lower() in expected
                ), f"{env.name}: {name} is not pinned in pyproject.toml"
                assert (
                    version == expected[name.lower()]
                ), f"{env.name}: {name}={version}, pyproject has {expected[name.lower()]}"
                checked += 1
        assert checked >= 3, f"{env.name}: no pinned packages found"
        plain = [d for d in yaml.safe_load(env.read_text())["dependencies"] if isinstance(d, str)]
        assert not [d for d in plain if d.startswith("matplotlib=")], f"{env.name}: matplotlib-base"


# --- what each env must hold: the imports of the rules that use it ---------------------------------

#: distribution of each third-party import name the library uses
DISTRIBUTION = {
    "numpy": "numpy",
    "scipy": "scipy",
    "PIL": "pillow",
    "zarr": "zarr",
    "google_crc32c": "google-crc32c",
    "matplotlib": "matplotlib",
    "sklearn": "scikit-learn",
    "threadpoolctl": "threadpoolctl",
    "keras": "keras",
    "tensorflow": "tensorflow-cpu",
    "mtcnn": "mtcnn",
}
#: other Keras backends, which an env may leave out (train.backend names one; tensorflow is there),
#: and the standard FID's pytorch-fid (the fid extra: evaluate names it where weights are set)
OPTIONAL = {"jax", "torch", "yaml", "jsonschema", "snakemake", "pytorch_fid"}


#: conda-forge packages whose PyPI distribution has another name: matplotlib-base is matplotlib
#: without the GUI toolkits, what headless jobs want
CONDA_NAMES = {"matplotlib-base": "matplotlib"}


def env_packages(env) -> dict[str, str]:
    """{distribution (PyPI's name): version} an env file lists (python and pip left out)."""
    out = {}
    for dep in yaml.safe_load(env.read_text())["dependencies"]:
        for entry in dep["pip"] if isinstance(dep, dict) else [dep]:
            assert not entry.startswith("-"), f"{env.name}: {entry!r} (a path or option in an env)"
            name, _, version = entry.replace("==", "=").partition("=")
            name = re.sub(r"\[[\w,]+\]$", "", name).lower()  # jax[cuda12]: the jax distribution
            if name not in ("python", "pip"):
                out[CONDA_NAMES.get(name, name)] = version
    return out


def rules_by_env() -> dict[str, list[tuple[str, str]]]:
    """{env file name: [(rule, stage runner)]} read from workflow/rules and workflow/scripts."""
    out: dict[str, list] = {}
    for smk in sorted((ROOT / "workflow/rules").glob("*.smk")):
        for block in re.split(r"^rule ", smk.read_text(), flags=re.M)[1:]:
            rule = block.split(":", 1)[0]
            env = re.search(r'conda:\s*"\.\./\.\./envs/([\w.]+)"', block) or re.search(
                r"conda:\s*(MODEL_ENV)", block
            )
            script = re.search(r'script:\s*"\.\./scripts/([\w.]+)"', block)
            if not (env and script):
                continue
            source = (ROOT / "workflow/scripts" / script.group(1)).read_text()
            runner = re.search(r'run_rule\(snakemake, "([\w.]+)"\)', source)
            assert runner, f"workflow/scripts/{script.group(1)}: no run_rule(snakemake, ...)"
            name = "model.yaml" if env.group(1) == "MODEL_ENV" else env.group(1)
            out.setdefault(name, []).append((rule, runner.group(1)))
    return out


def third_party(modules, top_level_only: bool) -> set[str]:
    """Third-party packages the library modules import (at module level only, or anywhere)."""
    from caelatent.files.provenance import module_path

    names = set()
    for m in modules:
        tree = ast.parse(module_path(m).read_text())
        nodes = tree.body if top_level_only else list(ast.walk(tree))
        for node in nodes:
            if isinstance(node, ast.Import):
                names |= {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module.split(".")[0])
    return {n for n in names if n not in sys.stdlib_module_names and n != "caelatent"}


def imports_of(runner: str) -> tuple[set[str], set[str]]:
    """(what a rule's job must import: module-level imports of every library module it loads and
    the imports of its runner's body; everything any of those modules could import)."""
    from caelatent.files import provenance as pv

    stage = f"stages.{runner.rsplit('.', 1)[0]}"
    loaded, todo = set(), [stage, "logs"]
    while todo:  # modules imported at module level, transitively (what `import` runs)
        m = todo.pop()
        if m in loaded:
            continue
        loaded.add(m)
        parts = m.split(".")
        todo += [".".join(parts[:k]) for k in range(1, len(parts))]
        tree = pv._parsed(m)[0]
        for node in tree.body:
            if isinstance(node, ast.ImportFrom):
                todo += [mod for _, mod in pv._resolve(m, node)]
    _, body = pv.runner_modules(runner)
    # what loading the modules runs, and what the runner's code and the job's start (logs: the
    # thread cap) import inside functions; the other Keras backends are optional
    needed = third_party(loaded, top_level_only=True)
    needed |= third_party(body | {"logs"}, top_level_only=False) - OPTIONAL
    possible = third_party(pv.module_closure(stage) | pv.module_closure("logs"), False)
    return needed, possible


#: envs that are another env plus packages (not built by the tests: JAX's CUDA wheels are GBs)
VARIANTS = {"model-gpu.yaml": ("model.yaml", {"jax"})}


def test_the_gpu_model_env_is_the_model_env_plus_jax_with_cuda():
    """model-gpu.yaml (model_env: model-gpu) lists model.yaml's packages and JAX with its CUDA
    12 wheels at pyproject's gpu extra's pin, nothing else; the model rules take their env from
    model_env."""
    for variant, (base, added) in VARIANTS.items():
        got, want = env_packages(ROOT / "envs" / variant), env_packages(ROOT / "envs" / base)
        assert set(got) - set(want) == added and all(got[k] == v for k, v in want.items()), got
    assert "jax[cuda12]==" + pins()["jax"] in (ROOT / "envs/model-gpu.yaml").read_text()
    for smk in (ROOT / "workflow/rules").glob("*.smk"):
        assert '"../../envs/model.yaml"' not in smk.read_text(), smk  # MODEL_ENV instead


def test_each_env_lists_what_its_rules_import_and_nothing_else():
    by_env = rules_by_env()
    assert set(by_env) == {p.name for p in (ROOT / "envs").glob("*.yaml")} - set(VARIANTS), by_env
    for env, rules in by_env.items():
        listed = set(env_packages(ROOT / "envs" / env))
        needed, possible = set(), set()
        for _, runner in rules:
            n, p = imports_of(runner)
            needed |= n
            possible |= p
        unknown = (needed | possible) - set(DISTRIBUTION) - OPTIONAL
        assert not unknown, f"imports with no entry in DISTRIBUTION: {unknown}"
        missing = {DISTRIBUTION[n] for n in needed} - listed
        assert not missing, f"envs/{env}: its rules import {missing}, which it does not list"
        extra = listed - {DISTRIBUTION[n] for n in possible if n in DISTRIBUTION}
        assert not extra, f"envs/{env}: lists {extra}, which none of its rules imports"


# --- each env builds from its own file, and its rules run in it ------------------------------------

# Conda's channels cannot be reached from the machines this is tested on; a venv from each env
# file's pins (PyPI names) is the next best thing. The library comes from src/ on PYTHONPATH, as the
# Snakefile sets it for every job, never from the env.
JOBS = {
    "data.yaml": """
from caelatent.logs import cap_threads
from caelatent.stages.data import prepare
cap_threads(1)
d = OUT / "data"
m = prepare(celeba_images=[], celeba_attributes=[], celeba_identities=[], celeba_partition=[],
            folder_images=[], folder_attributes=[], folder_crop_box=None,
            images=d / "images.zarr", attributes=d / "attributes.tsv", manifest=d / "manifest.json",
            list_attr=d / "list_attr.txt", dataset="synthetic", size=64, seed=0, crop_box=[0, 20, 178, 198],
            max_images=None, min_side=32, max_pixels=40_000_000, chunk_size=32, on_missing_attributes="keep",
            split={"train_size": 0.75, "shuffle": True, "by": "train_size",
                   "partitions": {"train": [0], "holdout": [1, 2]}}, n_images=64, threads=1)
assert m["counts"]["written"] == 64, m
""",
    "model.yaml": """
import numpy as np
from caelatent.logs import cap_threads
from caelatent.stages.model import encode, train
cap_threads(1)
d, device = OUT / "data", {"backend": "tensorflow", "gpu_memory_fraction": None, "predict_batch_size": 32}
m = OUT / "model"
h = train(images=d / "images.zarr", encoder=m / "encoder.keras", decoder=m / "decoder.keras",
          history=m / "history.tsv", reconstructions=m / "rec.npz",
          model={"image_size": 64, "filters": [8, 8, 8, 8], "z_dim": 8}, loss="bce",
          learning_rate=1e-3, batch_size=16, epochs=1, max_batches_per_epoch=2, seed=0, fit={},
          checkpoint=OUT / "ckpt", device=device, threads=1)
assert len(h["loss"]) == 1 and np.isfinite(h["loss"]).all(), h
assert encode(images=d / "images.zarr", encoder=m / "encoder.keras", latents=OUT / "latents.zarr",
              device=device, threads=1) == 64
from caelatent.scoring.detect import FaceDetector  # MTCNN and its weights
assert FaceDetector(0.9).face_rate(np.full((2, 64, 64, 3), 128, np.uint8))[0] == 0.0
""",
    "stats.yaml": """
from caelatent.logs import cap_threads
from caelatent.stages import report, stats
cap_threads(1)
s = OUT / "stats"
stats.moments(latents=OUT / "latents.zarr", moments=s / "moments.npz")
stats.radius(latents=OUT / "latents.zarr", moments=s / "moments.npz", table=s / "radius.tsv",
             summary=s / "radius.json", radii=s / "radii.npz", uniform_b=[1.0], uniform_samples=100, seed=0)
stats.radius_plots(summary=s / "radius.json", radii=s / "radii.npz", fig=s / "radius.png")
report.tables(html=s / "tables", title="env check", radius=s / "radius.tsv")
assert (s / "radius.png").stat().st_size > 10_000 and (s / "tables" / "radius.html").exists()
""",
}
# what an env must not hold: the proof that a job ran in it and not in the project's own venv
ABSENT = {
    "data.yaml": ("matplotlib", "keras"),
    "stats.yaml": ("keras", "tensorflow"),
    "model.yaml": ("jax",),
}


@pytest.mark.slow
@pytest.mark.network
def test_each_env_builds_from_its_file_and_runs_its_rules(uv, tmp_path):
    """data prepares synthetic faces, model trains and encodes them (and loads MTCNN), stats
    computes moments, radii, a figure and a report table from those latents: each in a fresh venv
    with its env file's packages only."""
    assert set(JOBS) == {p.name for p in (ROOT / "envs").glob("*.yaml")} - set(VARIANTS)
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "KERAS_BACKEND": "tensorflow"}
    env.pop("VIRTUAL_ENV", None)
    for name, job in JOBS.items():
        venv = tmp_path / name.removesuffix(".yaml")
        python = venv / "bin" / "python"
        pins = [f"{k}=={v}" for k, v in env_packages(ROOT / "envs" / name).items()]
        for cmd in (
            [uv, "venv", "--no-config", "-q", "-p", sys.executable, str(venv)],
            [uv, "pip", "install", "--no-config", "-q", "--python", str(python), *pins],
        ):
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=900, env=env)
            assert proc.returncode == 0, f"envs/{name}: {' '.join(cmd[:3])}:\n{proc.stderr[-3000:]}"
        absent = "; ".join(
            f"assert importlib.util.find_spec({m!r}) is None, {m!r}" for m in ABSENT[name]
        )
        script = (
            f"import importlib.util, pathlib\n{absent}\nOUT = pathlib.Path({str(tmp_path)!r})\n"
        )
        proc = subprocess.run(
            [str(python), "-c", script + job], capture_output=True, text=True, timeout=900, env=env
        )
        assert proc.returncode == 0, f"envs/{name}: its rules fail in it:\n{proc.stderr[-4000:]}"
