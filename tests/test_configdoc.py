"""config/README.md is generated from config/schema.yaml and kept in sync with it."""

import importlib.util

import yaml

from conftest import ROOT

_spec = importlib.util.spec_from_file_location(
    "make_configdoc", ROOT / "docs" / "make_configdoc.py"
)
configdoc = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(configdoc)


def schema() -> dict:
    return yaml.safe_load((ROOT / "config" / "schema.yaml").read_text())


def test_config_readme_matches_the_schema():
    assert (ROOT / "config" / "README.md").read_text() == configdoc.render(
        schema()
    ), "config/README.md is out of date: run python docs/make_configdoc.py"


def test_every_key_is_described_and_every_value_key_has_a_default():
    rows = configdoc.rows(schema())
    assert len(rows) > 50
    for key, node, default in rows:
        assert node.get("description"), f"{key} has no description"
        if not (node.get("type") == "object" and "properties" in node):
            assert default is not configdoc.rows.NONE, f"{key} has no default"


def test_check_mode_reports_a_stale_file(tmp_path):
    out = tmp_path / "README.md"
    args = ["--schema", str(ROOT / "config" / "schema.yaml"), "--out", str(out)]
    assert configdoc.main(["--check", *args]) == 1  # missing
    assert configdoc.main(args) == 0 and configdoc.main(["--check", *args]) == 0
    out.write_text(out.read_text().replace("max_test_n", "max_null_n"))
    assert configdoc.main(["--check", *args]) == 1


def test_each_documented_default_is_what_a_config_without_the_key_gets():
    """Every value key left out of its block (the block given empty, as in `uniform_box: {}`)
    gets, after the workflow's validation, exactly the default config/README.md documents."""
    import copy

    from snakemake.utils import validate

    demo = yaml.safe_load((ROOT / "config" / "demo.yaml").read_text())
    checked = 0
    for key, node, default in configdoc.rows(schema()):
        parts = key.split(".")
        if node.get("type") == "object" or len(parts) < 2 or default is configdoc.rows.NONE:
            continue
        cfg = copy.deepcopy(demo)
        block = cfg
        for part in parts[:-2]:
            block = block.setdefault(part, {})
        block[parts[-2]] = {}
        validate(cfg, str(ROOT / "config" / "schema.yaml"))
        got = cfg
        for part in parts:
            got = got[part]
        assert got == default, (key, got, default)
        checked += 1
    assert checked > 50
