"""Images/s of `prepare` on the shared CelebA JPEGs: one process vs all cores.

Usage: python benchmarks/prepare.py [--sample DIR] [--copies 8] [--repeats 3] [--size 96]

The 558 original 178x218 JPEGs are repeated under new ids (``--copies``) so each run lasts a few
seconds. Each configuration runs ``--repeats`` times; the median is reported. Prints a table and
writes benchmarks/results/prepare.json.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import statistics
import sys
import tarfile
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from caelatent.data.prepare import Split  # noqa: E402
from caelatent.stages.data import prepare_celeba  # noqa: E402


def build_tar(sample: Path, copies: int, dest: Path) -> int:
    src = sample / "img_align_celeba_000001-000558.tar"
    n = 0
    with tarfile.open(src) as t, tarfile.open(dest, "w") as out:
        members = [
            (m, t.extractfile(m).read()) for m in t if m.isfile() and m.name.endswith(".jpg")
        ]
        for _ in range(copies):
            for _member, data in members:
                n += 1
                info = tarfile.TarInfo(f"img_align_celeba/{n:06d}.jpg")
                info.size = len(data)
                out.addfile(info, io.BytesIO(data))
    return n


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--sample", type=Path, default=ROOT.parent / "shared" / "data" / "celeba_sample"
    )
    ap.add_argument("--copies", type=int, default=8)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--size", type=int, default=96)
    args = ap.parse_args()
    cores = os.cpu_count() or 1
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tar = Path(tmp) / "bench.tar"
        n = build_tar(args.sample, args.copies, tar)
        for workers in sorted({1, cores}):
            times = []
            for _ in range(args.repeats):
                t0 = time.perf_counter()
                prepare_celeba(
                    tar,
                    Path(tmp) / f"out{workers}",
                    size=args.size,
                    split=Split(0.9),
                    workers=workers,
                )
                times.append(time.perf_counter() - t0)
            med = statistics.median(times)
            rows.append(
                {
                    "workers": workers,
                    "images": n,
                    "size": args.size,
                    "median_s": round(med, 3),
                    "min_s": round(min(times), 3),
                    "max_s": round(max(times), 3),
                    "images_per_s": round(n / med, 1),
                }
            )
    base = rows[0]["images_per_s"]
    for r in rows:
        r["speedup"] = round(r["images_per_s"] / base, 2)
    print(
        f"prepare: {n} CelebA JPEGs (178x218) -> {args.size}x{args.size}, {cores} cores, median of {args.repeats}"
    )
    print(f"{'workers':>7} {'median s':>9} {'images/s':>9} {'speedup':>8}")
    for r in rows:
        print(
            f"{r['workers']:>7} {r['median_s']:>9.2f} {r['images_per_s']:>9.0f} {r['speedup']:>8.2f}"
        )
    print(f"target: >= 1.8x on 2 cores -> {'met' if rows[-1]['speedup'] >= 1.8 else 'NOT met'}")
    out = ROOT / "benchmarks" / "results" / "prepare.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"rows": rows, "cores": cores}, indent=2) + "\n")


if __name__ == "__main__":
    main()
