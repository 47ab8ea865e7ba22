"""Every rule's peak memory and time at CelebA's scale: the whole DAG of the seed config on generated
faces, training capped at a few batches, each rule's ``benchmark:`` file (Snakemake's max_rss and
seconds) collected into one table beside the memory the rule declares (``mem_mb``).

Usage: python benchmarks/memory.py [--images 202599] [--size 96] [--max-batches 3] [--cores 2]
                                   [--workdir /tmp/caelatent-memory] [--keep]
                                   [--out benchmarks/results/memory.json] [--doc docs/memory.md]

Runs in a copy of the workflow under --workdir (nothing in the checkout is touched but --out and
--doc). At 202,599 images of 96x96 it takes about 15 minutes on 2 CPU cores and needs about 12 GB of
disk. Prints the table; writes JSON (--out) and the Markdown table (--doc).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
COPY = ("Snakefile", "workflow", "config", "envs", "profiles", "src")


def config(images: int, size: int, max_batches: int) -> dict:
    """The seed config at ``images`` generated faces of ``size``, training capped."""
    return {
        "data": {"source": "synthetic", "size": size, "synthetic": {"n_images": images}},
        "train": {"max_batches_per_epoch": max_batches, "epochs": 1, "gpus": 0},
        "run": ["seed"],
    }


def declared(workdir: Path, env: dict) -> dict[str, int]:
    """Each rule's ``mem_mb`` as Snakemake plans it (a dry run of the same DAG)."""
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "snakemake",
            "-n",
            "--forceall",
            "--cores",
            "2",
            "--configfile",
            "config/config.yaml",
            "memory.yaml",
        ],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    mem = {}
    for rule, res in re.findall(r"rule (\w+):\n(?:.*\n)*?\s+resources: (.*)", out):
        m = re.search(r"\bmem_mb=(\d+)", res)
        if m:
            mem[rule] = max(mem.get(rule, 0), int(m.group(1)))
    return mem


def measured(workdir: Path) -> dict[str, dict]:
    """Per rule: its jobs' largest max_rss (MB) and seconds, from the benchmark files."""
    rows: dict[str, dict] = {}
    for f in sorted((workdir / "benchmarks" / "results").rglob("*.tsv")):
        rule = f.parent.name if f.parent.name in ("prepare", "download_celeba") else f.stem
        with open(f) as fh:
            rec = next(csv.DictReader(fh, delimiter="\t"))
        rss = float(rec["max_rss"]) if rec["max_rss"] not in ("", "NA", "-") else float("nan")
        r = rows.setdefault(rule, {"jobs": 0, "max_rss_mb": 0.0, "seconds": 0.0})
        r["jobs"] += 1
        r["max_rss_mb"] = max(r["max_rss_mb"], rss)
        r["seconds"] = max(r["seconds"], float(rec["s"]))
    return rows


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=int, default=202_599)
    ap.add_argument("--size", type=int, default=96)
    ap.add_argument("--max-batches", type=int, default=3)
    ap.add_argument("--cores", type=int, default=2)
    ap.add_argument("--workdir", default="/tmp/caelatent-memory")
    ap.add_argument("--keep", action="store_true", help="keep the workdir (its results)")
    ap.add_argument(
        "--resume",
        action="store_true",
        help="continue the run in --workdir (Snakemake keeps the jobs that finished)",
    )
    ap.add_argument(
        "--collect-only",
        action="store_true",
        help="tabulate the benchmark files already in --workdir, running nothing",
    )
    ap.add_argument("--note", default="", help="a paragraph on the conditions, for --doc")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "memory.json"))
    ap.add_argument("--doc", default=str(ROOT / "docs" / "memory.md"))
    args = ap.parse_args(argv)

    wd = Path(args.workdir)
    if not (args.resume or args.collect_only):
        shutil.rmtree(wd, ignore_errors=True)
        wd.mkdir(parents=True)
        (wd / "memory.yaml").write_text(
            yaml.safe_dump(config(args.images, args.size, args.max_batches))
        )
    for item in COPY:  # the workflow as checked out now (its declared memory included)
        src, ignore = ROOT / item, shutil.ignore_patterns("__pycache__", "*.egg-info")
        shutil.rmtree(wd / item, ignore_errors=True)
        shutil.copytree(src, wd / item, ignore=ignore) if src.is_dir() else shutil.copy(src, wd)
    env = dict(os.environ, PYTHONPATH=str(wd / "src"))
    t0 = time.perf_counter()
    finished = True
    if not args.collect_only:
        finished = (
            subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "snakemake",
                    "--cores",
                    str(args.cores),
                    "--configfile",
                    "config/config.yaml",
                    "memory.yaml",
                ],
                cwd=wd,
                env=env,
            ).returncode
            == 0
        )
    wall = time.perf_counter() - t0
    rows, mem = measured(wd), declared(wd, env)
    for rule, r in rows.items():
        r["mem_mb"] = mem.get(rule)
    not_measured = sorted(set(mem) - set(rows) - {"all"})
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
    ).stdout.strip()
    result = {
        "images": args.images,
        "size": args.size,
        "max_batches_per_epoch": args.max_batches,
        "cores": args.cores,
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs",
        "commit": commit,
        "wall_s": None if args.collect_only else round(wall, 1),
        "finished": finished and not not_measured,
        "rules": rows,
        "not_measured": {rule: mem[rule] for rule in not_measured},
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")

    lines = [
        f"Peak memory and time of every rule: the seed config on {args.images:,} generated faces "
        f"of {args.size}x{args.size}, training capped at {args.max_batches} batches, "
        f"`snakemake --cores {args.cores}` on {result['machine']} (commit {commit}). Measured with "
        f"`python benchmarks/memory.py --images {args.images} --size {args.size}`; peak RSS and "
        "seconds are the largest over a rule's jobs (Snakemake's `benchmark:` files); mem_mb is "
        "what the rule declares.",
        "",
        "| rule | jobs | seconds | peak RSS (MB) | mem_mb declared |",
        "|---|---:|---:|---:|---:|",
    ]
    for rule, r in sorted(rows.items(), key=lambda kv: -kv[1]["max_rss_mb"]):
        lines.append(
            f"| {rule} | {r['jobs']} | {r['seconds']:.0f} | {r['max_rss_mb']:.0f} | "
            f"{r['mem_mb'] if r['mem_mb'] is not None else '-'} |"
        )
    for rule in not_measured:
        lines.append(f"| {rule} | - | not measured | not measured | {mem[rule]} |")
    if not_measured:
        lines += [
            "",
            f"Not measured: {', '.join(not_measured)} (the run did not reach them; "
            "`python benchmarks/memory.py --resume` continues it).",
        ]
    table = "\n".join(lines) + "\n"
    Path(args.doc).parent.mkdir(parents=True, exist_ok=True)
    note = f"\n{args.note}\n" if args.note else ""
    Path(args.doc).write_text("# Memory and time per rule\n\n" + table + note)
    print(table)
    if not args.keep:
        shutil.rmtree(wd, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
