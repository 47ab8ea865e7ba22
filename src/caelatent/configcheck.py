"""A config checked against config/schema.yaml, every problem named by its dotted key.

Snakemake's ``validate`` reports the first problem in the schema's terms
(``On instance['train']['epochs']``); :func:`config_errors` lists all of them as
``train.epochs: 'x' is not of type 'integer'``, which the workflow raises before validating.
"""

from __future__ import annotations

import jsonschema

#: blocks whose settings moved to another block, old -> new: the plot rules only draw, and the
#: settings that choose what they draw belong to the table rule that computes it
MOVED = {
    "stats.correlation_plots": "stats.correlation_scatter",
    "stats.pca_plots": "stats.pca_planes",
    "stats.mnd_plots": "stats.mnd_planes",
    "attributes.plots": "attributes.projections",
}


def _unknown(name: str, key) -> str:
    for old, new in MOVED.items():
        if name == old or name.endswith("." + old):
            return f"moved: its settings are now under {new} (the table rule computes what the figures draw)"
    return f"unknown key ({key!r} was unexpected)"


_LAST: list = [None, None]  # the last schema checked and its validator


def _validator(schema: dict) -> jsonschema.protocols.Validator:
    """The schema's validator, the schema checked first; kept for the same schema object (the
    workflow checks each experiment's config against the one it loaded)."""
    if _LAST[0] is not schema:
        cls = jsonschema.validators.validator_for(schema)
        cls.check_schema(schema)
        _LAST[:] = [schema, cls(schema)]
    return _LAST[1]


def key_name(path) -> str:
    """A config key as a user writes it: ``train.epochs``, ``data.crop_box[2]``."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(the config's top level)"


def config_errors(config: dict, schema: dict) -> list[str]:
    """Every way ``config`` breaks ``schema`` (config/schema.yaml, loaded), one line each, led by
    the key's dotted name (an unknown key by its own name)."""
    out = []
    for e in _validator(schema).iter_errors(config):
        path = list(e.absolute_path)
        if e.validator == "additionalProperties" and isinstance(e.instance, dict):
            known = set(e.schema.get("properties", {}))
            for key in sorted(set(e.instance) - known, key=str):
                out.append((path + [key], _unknown(key_name(path + [key]), key)))
        else:
            out.append((path, e.message))
    return [f"{key_name(p)}: {m}" for p, m in sorted(out, key=lambda x: [str(k) for k in x[0]])]
