"""Rules of ``workflow/rules/report.smk`` and ``provenance.smk``: the summary tables as pages of the
HTML report, and what made each results folder."""

from __future__ import annotations

from pathlib import Path

from ..files import records
from ..files.store import atomic_path


def tables(*, html, title: str, **tsvs) -> list[str]:
    """Each named TSV input as ``html/<name>.html`` (titled ``title: <name>``)."""
    with atomic_path(html) as tmp:
        tmp.mkdir(parents=True)
        for name, tsv in tsvs.items():
            records.write_html_table(Path(tmp) / f"{name}.html", tsv, f"{title}: {name}")
    return sorted(tsvs)


def provenance(*, outputs, record, config: dict, experiment: str) -> dict:
    """What made an experiment's results (``record``): package version, git commit, library hash,
    the experiment's config and the outputs it covers."""
    from ..files import provenance as pv

    out = {
        **pv.record(pv.package_dir()),
        "experiment": experiment,
        "config": config,
        "outputs": sorted(map(str, outputs)),
    }
    records.write_json(record, out)
    return out
