"""Every config key given a value of the wrong type or out of its range, generated from
config/schema.yaml: the error names the key (as the workflow reports it, and once through
Snakemake)."""

from __future__ import annotations

import copy

import jsonschema
import pytest
import yaml

from caelatent.configcheck import MOVED, config_errors, key_name
from conftest import ROOT, snakemake, workflow_copy

SCHEMA_PATH = ROOT / "config" / "schema.yaml"
SCHEMA = yaml.safe_load(SCHEMA_PATH.read_text())
DEMO = yaml.safe_load((ROOT / "config" / "demo.yaml").read_text())


def leaves(node: dict, path: tuple = ()):
    """(path, schema) of every key that holds a value rather than more keys."""
    for key, sub in node.get("properties", {}).items():
        if "properties" in sub:
            yield from leaves(sub, path + (key,))
        else:
            yield path + (key,), sub


def invalid(value, schema) -> bool:
    return not jsonschema.Draft202012Validator(schema).is_valid(value)


def bad_values(schema: dict) -> list[tuple[str, object, tuple]]:
    """(what, value, where the error points below the key) for a key's schema: one value of a
    wrong type, and each bound, enum, length and item type broken."""
    out = []
    for wrong in ("not-a-value", 1.5, [], {}, True, None):
        if invalid(wrong, schema):
            out.append(("type", wrong, ()))
            break
    if "minimum" in schema:
        out.append(("minimum", schema["minimum"] - 1, ()))
    if "exclusiveMinimum" in schema:
        out.append(("exclusiveMinimum", schema["exclusiveMinimum"], ()))
    if "maximum" in schema:
        out.append(("maximum", schema["maximum"] + 1, ()))
    if "exclusiveMaximum" in schema:
        out.append(("exclusiveMaximum", schema["exclusiveMaximum"], ()))
    if "enum" in schema:
        types = {type(v) for v in schema["enum"] if v is not None}
        outside = [v for v in ("no-such-choice", 7777, 0.123) if type(v) in types]
        out.append(("enum", outside[0] if outside else "no-such-choice", ()))
    if "minItems" in schema:
        out.append(("minItems", [], ()))
    if "maxItems" in schema:
        default = schema.get("default") or [0]
        out.append(("maxItems", list(default) * (schema["maxItems"] + 1), ()))
    items = schema.get("items")
    if isinstance(items, dict) and "type" in items:
        good = list(schema.get("default") or [])
        if good:
            good[-1] = "not-an-item" if invalid("not-an-item", items) else []
            out.append(("items", good, (len(good) - 1,)))
    for key in ("minimum", "exclusiveMinimum", "maximum", "exclusiveMaximum"):
        if isinstance(items, dict) and key in items and schema.get("default"):
            good = list(schema["default"])
            bound = items[key]
            good[0] = bound - 1 if key == "minimum" else bound + (1 if key == "maximum" else 0)
            out.append((f"items {key}", good, (0,)))
    return out


CASES = [
    pytest.param(path, what, value, below, id=f"{'.'.join(path)}:{what}")
    for path, sub in leaves(SCHEMA)
    for what, value, below in bad_values(sub)
]


def with_value(path: tuple, value) -> dict:
    cfg = copy.deepcopy(DEMO)
    node = cfg
    for key in path[:-1]:
        node = node.setdefault(key, {})
    node[path[-1]] = value
    return cfg


def test_every_key_of_the_schema_has_a_case():
    keys = {path for path, _ in leaves(SCHEMA)}
    covered = {p.values[0] for p in CASES}
    assert keys == covered and len(keys) > 60, keys - covered
    # every key with a range (bounds, choices, lengths) has a case outside it, not only a type case
    bounded = {
        path
        for path, sub in leaves(SCHEMA)
        if {"minimum", "maximum", "exclusiveMinimum", "enum", "minItems"} & set(sub)
    }
    ranged = {p.values[0] for p in CASES if p.values[1] != "type"}
    assert len(bounded) > 30 and bounded <= ranged, bounded - ranged


@pytest.mark.parametrize("path, what, value, below", CASES)
def test_a_bad_value_is_an_error_naming_its_key(path, what, value, below):
    errors = config_errors(with_value(path, value), SCHEMA)
    name = key_name(list(path) + list(below))
    assert errors and any(e.startswith(f"{name}: ") for e in errors), (name, value, errors)
    assert config_errors(DEMO, SCHEMA) == []


def test_unknown_keys_are_named_one_by_one():
    cfg = with_value(("train", "lr"), 0.1)
    cfg["data"]["sizee"] = 64
    assert config_errors(cfg, SCHEMA) == [
        "data.sizee: unknown key ('sizee' was unexpected)",
        "train.lr: unknown key ('lr' was unexpected)",
    ]


@pytest.mark.parametrize("old, new", sorted(MOVED.items()))
def test_a_moved_block_says_where_its_settings_went(old, new):
    cfg = copy.deepcopy(DEMO)
    section, block = old.split(".")
    cfg.setdefault(section, {})[block] = {"pcs": 3}
    assert config_errors(cfg, SCHEMA) == [
        f"{old}: moved: its settings are now under {new} (the table rule computes what the "
        "figures draw)"
    ]
    # where it went is a block of the schema
    assert new.split(".")[1] in SCHEMA["properties"][section]["properties"]


def test_the_workflow_names_every_bad_key_and_the_experiment(tmp_path):
    wf = workflow_copy(tmp_path / "wf")
    bad = {
        "train": {"epochs": "x"},
        "data": {"crop_box": [0, 1, 2, "a"]},
        "experiments": {"demo": {"evaluate": {"min_confidence": 3}}},
    }
    (wf / "bad.yaml").write_text(yaml.safe_dump(bad))
    proc = snakemake(wf, "-n", "--configfile", "config/demo.yaml", "bad.yaml", check=False)
    said = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert "train.epochs: 'x' is not of type 'integer'" in said, said[-2000:]
    assert "data.crop_box[3]: 'a' is not of type 'number'" in said
    (wf / "bad.yaml").write_text(yaml.safe_dump({"experiments": bad["experiments"]}))
    proc = snakemake(wf, "-n", "--configfile", "config/demo.yaml", "bad.yaml", check=False)
    said = proc.stdout + proc.stderr
    assert (
        proc.returncode != 0 and "experiments.demo.evaluate.min_confidence: 3 is greater" in said
    ), said
