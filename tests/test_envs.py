"""envs/*.yaml (for users with conda) pin the same versions as pyproject.toml."""

import re
import tomllib

import yaml

from conftest import ROOT


def pins() -> dict[str, str]:
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    return dict(re.match(r"([A-Za-z0-9_.-]+)==([^;\s]+)", d).groups() for d in deps)


def test_every_dependency_is_pinned_exactly():
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    assert deps and all("==" in d for d in deps)


def test_conda_envs_match_pyproject():
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
                assert (
                    name.lower() in expected
                ), f"{env.name}: {name} is not pinned in pyproject.toml"
                assert (
                    version == expected[name.lower()]
                ), f"{env.name}: {name}={version}, pyproject has {expected[name.lower()]}"
                checked += 1
        assert checked >= 3, f"{env.name}: no pinned packages found"
