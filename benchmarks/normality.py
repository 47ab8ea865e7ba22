"""Size of the calibrated normality tests: how often each rejects normal clouds, and the spread of its z.

Usage: python benchmarks/normality.py [--dims 8 64 256] [--n 2000 2000 1500] [--runs 300] [--clouds 60]
                                      [--per-cloud-null]

For each dimension p: --clouds normal clouds with a random correlated covariance and an off-centre
mean, each fitted and tested against a null of --runs N(0, I) clouds put through the same core fit
and statistics. By default one null serves every cloud (built with the directions of the clouds'
true covariance); with --per-cloud-null each cloud gets its own null with its own directions,
exactly as rule mnd does (runs x clouds fits: use fewer runs). A
calibrated test rejects about 5 % of them at 5 %, and its z has mean about 0 and spread about 1.
Prints a table; writes benchmarks/results/normality.json.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

import numpy as np  # noqa: E402

from caelatent import normality as N  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dims", type=int, nargs="+", default=[8, 64, 256])
    ap.add_argument("--n", type=int, nargs="+", default=[2000, 2000, 1500])
    ap.add_argument("--runs", type=int, default=300)
    ap.add_argument("--clouds", type=int, default=60)
    ap.add_argument("--per-cloud-null", action="store_true")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "normality.json"))
    args = ap.parse_args()
    rows = []
    print(f"{'p':>4} {'n':>6} {'test':<26} {'rejected at 5 %':>15} {'z mean':>7} {'z sd':>6} {'seconds':>8}")
    for p, n in zip(args.dims, args.n):
        t0 = time.perf_counter()
        rng = np.random.default_rng([3, p])
        a = rng.normal(size=(p, p)) / np.sqrt(p) + np.diag(np.linspace(0.5, 2, p))
        truth = N.CoreFit(np.zeros(p), a @ a.T, N.shell_threshold(p, 3.0)[0], 3.0, n, n, 0, True)
        shared = None if args.per_cloud_null else N.null_calibration(n, p, runs=args.runs, seed=1,
                                                                           dirs=N.directions(truth))
        zs, rejected = [], []
        for c in range(args.clouds):
            x = rng.standard_normal((n, p)) @ a.T + 3.0
            fit = N.fit_core(x)
            dirs = N.directions(fit)
            null = shared or N.null_calibration(n, p, runs=args.runs, seed=100 + c, dirs=dirs)
            tests = N.calibrated_tests(N.core_statistics(x, fit, dirs)[0], null)
            zs.append([t["z"] for t in tests])
            rejected.append([t["p_value"] < 0.05 for t in tests])
        zs, rejected = np.array(zs), np.array(rejected)
        secs = time.perf_counter() - t0
        for k, name in enumerate(N.TESTS):
            row = {"p": p, "n": n, "test": name, "rejected": float(rejected[:, k].mean()),
                   "z_mean": float(zs[:, k].mean()), "z_sd": float(zs[:, k].std()), "null_runs": args.runs,
                   "per_cloud_null": args.per_cloud_null,
                   "clouds": args.clouds, "seconds": round(secs, 1)}
            rows.append(row)
            print(f"{p:>4} {n:>6} {name:<26} {row['rejected']:>15.3f} {row['z_mean']:>7.2f} {row['z_sd']:>6.2f} "
                  f"{secs:>8.1f}")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(rows, indent=2) + "\n")


if __name__ == "__main__":
    main()
