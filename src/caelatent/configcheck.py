"""A config checked against config/schema.yaml, every problem named by its dotted key.

Snakemake's ``validate`` reports the first problem in the schema's terms
(``On instance['train']['epochs']``); :func:`config_errors` lists all of them as
``train.epochs: 'x' is not of type 'integer'``, which the workflow raises before validating.
"""

from __future__ import annotations

import os
from functools import lru_cache

import jsonschema
import yaml


@lru_cache(maxsize=4)
def _validator(schema_path: str) -> jsonschema.protocols.Validator:
    with open(schema_path) as f:
        schema = yaml.safe_load(f)
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


def key_name(path) -> str:
    """A config key as a user writes it: ``train.epochs``, ``data.crop_box[2]``."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(the config's top level)"


def config_errors(config: dict, schema_path: str | os.PathLike) -> list[str]:
    """Every way ``config`` breaks the schema, one line each, led by the key's dotted name (an
    unknown key by its own name)."""
    out = []
    for e in _validator(str(schema_path)).iter_errors(config):
        path = list(e.absolute_path)
        if e.validator == "additionalProperties" and isinstance(e.instance, dict):
            known = set(e.schema.get("properties", {}))
            for key in sorted(set(e.instance) - known, key=str):
                out.append((path + [key], f"unknown key ({key!r} was unexpected)"))
        else:
            out.append((path, e.message))
    return [f"{key_name(p)}: {m}" for p, m in sorted(out, key=lambda x: [str(k) for k in x[0]])]
