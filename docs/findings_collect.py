"""Copy a finished sweep's comparison into docs/findings/: its tables (experiments.tsv aggregated
over replicates, one row per experiment with its replicate count; samplers, face rates, replicates,
Welch differences), its figures, every run's provenance.json (commit, config, device, seeds) and
the normality and tail summary of each run; and write docs/findings/SOURCE.md saying where they
came from.

    .venv/bin/python docs/findings_collect.py RESULTS_DIR --config config/celeba_sample.yaml \\
        --device "2 CPU cores" --command "snakemake --cores 2 ..."
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from datetime import date
from pathlib import Path

HERE = Path(__file__).parent / "findings"
TABLES = ("experiments", "samplers", "face_rates", "replicates", "differences")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("results", type=Path, help="the sweep's results/ folder")
    ap.add_argument("--config", required=True)
    ap.add_argument("--device", required=True, help="where it ran, in words")
    ap.add_argument("--command", required=True, help="the command that ran it")
    ap.add_argument("--out", type=Path, default=HERE)
    args = ap.parse_args(argv)

    comparison = args.results / "comparison"
    missing = [t for t in TABLES if not (comparison / f"{t}.tsv").exists()]
    if missing:
        print(f"{comparison}: no {', '.join(t + '.tsv' for t in missing)}", file=sys.stderr)
        return 1
    out = args.out
    for old in out.glob("*"):  # the new sweep replaces the previous one's files
        if old.is_file():
            old.unlink()
    (out / "provenance").mkdir(parents=True, exist_ok=True)
    for old in (out / "provenance").glob("*.json"):
        old.unlink()
    for t in TABLES:
        shutil.copy(comparison / f"{t}.tsv", out / f"{t}.tsv")
    for fig in sorted(comparison.glob("*.png")):
        shutil.copy(fig, out / fig.name)

    runs, commits, devices = [], set(), set()
    for record in sorted(args.results.glob("*/provenance.json")):
        run = record.parent.name
        shutil.copy(record, out / "provenance" / f"{run}.json")
        prov = json.loads(record.read_text())
        runs.append(run)
        commits.add(json.dumps(prov.get("git", prov.get("commit")), sort_keys=True))
        devices.add(json.dumps(prov.get("host"), sort_keys=True))
        fit = record.parent / "stats" / "mnd_fit.json"
        if fit.exists():
            shutil.copy(fit, out / "provenance" / f"{run}.mnd_fit.json")

    lines = [
        "# Where these tables come from",
        "",
        f"Collected on {date.today().isoformat()} by `python docs/findings_collect.py` from a run of",
        f"`{args.config}` ({len(runs)} runs: {', '.join(runs)}).",
        "",
        f"- Command: `{args.command}`",
        f"- Device: {args.device}",
        f"- Commit(s) recorded by the runs: {', '.join(sorted(commits))}",
        f"- Platform(s) recorded: {', '.join(sorted(devices))}",
        "- Each run's full record (config, seeds, package versions, library hash) is in",
        "  `provenance/<run>.json`; its multivariate-t fit (nu with its interval) in",
        "  `provenance/<run>.mnd_fit.json`.",
        "",
        "Tables: "
        + ", ".join(f"`{t}.tsv`" for t in TABLES)
        + "; figures: "
        + ", ".join(f"`{f.name}`" for f in sorted(comparison.glob("*.png")))
        + ".",
    ]
    (out / "SOURCE.md").write_text("\n".join(lines) + "\n")
    print(f"wrote {out}: {len(TABLES)} tables, {len(runs)} provenance records")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
