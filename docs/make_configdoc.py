"""config/README.md, written from config/schema.yaml: every key, its type, default, range and meaning.

    python docs/make_configdoc.py            # rewrite config/README.md
    python docs/make_configdoc.py --check    # exit 1 when config/README.md is out of date

tests/test_configdoc.py keeps the file in sync with the schema.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = ROOT / "config" / "schema.yaml"
OUT = ROOT / "config" / "README.md"

HEADER = """# Configuration keys

Generated from `config/schema.yaml` by `python docs/make_configdoc.py`; do not edit by hand (a test
checks that this file matches the schema). Every key has a default, so a config file names only what
it changes; unknown keys and values of the wrong type or range are rejected with the key's name.
`config/config.yaml` is the full CelebA run, `config/demo.yaml` the embedded demo.

| key | type | default | allowed | description |
|---|---|---|---|---|
"""


def _cell(value) -> str:
    return str(value).replace("|", "\\|").replace("\n", " ").strip()


def _type(node: dict) -> str:
    t = node.get("type", "")
    t = "/".join(t) if isinstance(t, list) else t
    if t == "array" and isinstance(node.get("items"), dict) and node["items"].get("type"):
        it = node["items"]["type"]
        t = f"array of {'/'.join(it) if isinstance(it, list) else it}"
    return t


def _allowed(node: dict) -> str:
    parts = []
    if "enum" in node:
        parts.append(", ".join(json.dumps(v) for v in node["enum"]))
    for key, sign in (
        ("minimum", ">="),
        ("exclusiveMinimum", ">"),
        ("maximum", "<="),
        ("exclusiveMaximum", "<"),
        ("minItems", "items >="),
        ("maxItems", "items <="),
    ):
        if key in node:
            parts.append(f"{sign} {node[key]}")
    if "pattern" in node:
        parts.append(f"matches `{node['pattern']}`")
    return "; ".join(parts)


_NONE = object()


def rows(node: dict, prefix: str = "", inherited=_NONE) -> list[tuple[str, dict, object]]:
    """(dotted key, schema node, default) for every key, depth first in the schema's order. A key
    without a default of its own takes it from the enclosing object's default (the samplers' settings
    are defaulted as one block); a key with none at all gets ``rows.NONE``."""
    out = []
    for name, child in (node.get("properties") or {}).items():
        key = f"{prefix}{name}"
        default = child.get(
            "default", inherited.get(name, _NONE) if isinstance(inherited, dict) else _NONE
        )
        out.append((key, child, default))
        if child.get("type") == "object" and "properties" in child:
            out += rows(child, key + ".", default)
    return out


rows.NONE = _NONE


def render(schema: dict) -> str:
    lines = [HEADER]
    for key, node, value in rows(schema):
        nested = node.get("type") == "object" and "properties" in node
        default = "" if nested or value is _NONE else f"`{json.dumps(value)}`"
        lines.append(
            f"| `{key}` | {_cell(_type(node))} | {_cell(default)} | {_cell(_allowed(node))} | "
            f"{_cell(node.get('description', ''))} |\n"
        )
    return "".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="exit 1 when the output is out of date")
    ap.add_argument("--schema", type=Path, default=SCHEMA)
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args(argv)
    text = render(yaml.safe_load(args.schema.read_text()))
    if args.check:
        if not args.out.exists() or args.out.read_text() != text:
            print(
                f"{args.out} is out of date with {args.schema}: run python docs/make_configdoc.py",
                file=sys.stderr,
            )
            return 1
        return 0
    args.out.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
