"""How many samples the realism metrics need: spread of each metric and stability of the sampler
ranking against the number of images per sampler.

Usage: python benchmarks/realism.py results/<exp>/samples [--sizes 50 100 200 400] [--repeats 8]

Reads a finished experiment's ``samples/`` folder (the generate rule's output: every sampler's
decoded images and the real reference set), draws ``--repeats`` random subsets of each size from
every sampler, and scores them against the full reference set as the evaluate rule does. Prints,
per size and metric, the median coefficient of variation over samplers and how often the subset
ranks the samplers as the full set does (Spearman correlation); writes
benchmarks/results/realism_<exp>.json. A size is large enough when the ranking agrees (rho near 1). Sizes not below the number of
images per set are skipped (a subset would be the full set).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from caelatent.model import backend  # noqa: E402

backend.use("tensorflow")

import numpy as np  # noqa: E402
from scipy.stats import spearmanr  # noqa: E402

from caelatent.scoring import realism  # noqa: E402
from caelatent.sampling.generate import REFERENCE_SET  # noqa: E402

METRICS = (
    "fd_onet",
    "precision_onet",
    "recall_onet",
    "fd_pixels",
    "precision_pixels",
    "recall_pixels",
    "diversity",
)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("samples", type=Path)
    ap.add_argument("--sizes", type=int, nargs="+", default=[50, 100, 200, 400])
    ap.add_argument("--repeats", type=int, default=8)
    ap.add_argument("--k", type=int, default=3)
    args = ap.parse_args()
    index = json.loads((args.samples / "index.json").read_text())
    names = index["references"] + index["samplers"]
    reference = np.load(args.samples / REFERENCE_SET / "images.npy")
    spaces = {"onet": realism.OnetFeatures(), "pixels": realism.PixelPCA(64).fit(reference)}
    ref = {s: f(reference) for s, f in spaces.items()}
    spread = realism.mean_pairwise_distance(reference)
    feats, images = {}, {}
    for name in names:
        images[name] = np.load(args.samples / name / "images.npy")
        feats[name] = {s: f(images[name]) for s, f in spaces.items()}

    def score(name, idx):
        out = realism.realism_scores(ref, {s: v[idx] for s, v in feats[name].items()}, args.k)
        out["diversity"] = realism.mean_pairwise_distance(images[name][idx]) / spread
        return out

    full = {n: score(n, np.arange(len(images[n]))) for n in names}
    rng = np.random.default_rng(0)
    table = []
    for size in args.sizes:
        if size >= min(len(v) for v in images.values()):
            print(
                f"size {size}: not below the {min(len(v) for v in images.values())} images per set; skipped"
            )
            continue
        runs = [
            {n: score(n, rng.choice(len(images[n]), size, replace=False)) for n in names}
            for _ in range(args.repeats)
        ]
        for m in METRICS:
            vals = np.array([[r[n][m] for n in names] for r in runs])  # [repeats, samplers]
            truth = [full[n][m] for n in names]
            cv = np.median(vals.std(axis=0) / np.maximum(np.abs(vals.mean(axis=0)), 1e-12))
            rho = np.median([spearmanr(v, truth).statistic for v in vals])
            table.append(
                {"size": size, "metric": m, "median_cv": float(cv), "median_spearman": float(rho)}
            )
    print(
        f"{len(names)} sample sets, {len(reference)} reference images, {args.repeats} repeats per size"
    )
    print(f"{'size':>5} {'metric':<18} {'median CV':>10} {'rank rho':>9}")
    for row in table:
        print(
            f"{row['size']:>5} {row['metric']:<18} {row['median_cv']:>10.3f} {row['median_spearman']:>9.3f}"
        )
    out = ROOT / "benchmarks" / "results" / f"realism_{args.samples.parent.name}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(
        json.dumps(
            {
                "samples": str(args.samples),
                "reference_images": len(reference),
                "repeats": args.repeats,
                "rows": table,
            },
            indent=2,
        )
        + "\n"
    )
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
