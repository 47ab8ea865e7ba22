"""Size of the calibrated normality tests: how often each rejects normal clouds, and the spread of its z.

Usage: python benchmarks/normality.py [--dims 8 64 256] [--n 2000 2000 1500] [--runs 300] [--clouds 300]
                                      [--seeds 0] [--per-cloud-null]
       python benchmarks/normality.py --n-dependence [--dims 256] [--n 2500 10000 40000] [--runs 40]

For each dimension p and seed: size_check (below; tests/test_normality.py runs it too), i.e. --clouds normal clouds with a
random correlated covariance and an off-centre mean, each fitted and tested against a null of --runs
N(0, I) clouds put through the same core fit and statistics (one null shared by the clouds, or with
--per-cloud-null each cloud's own, exactly as rule mnd does: runs x clouds fits, use fewer). A
calibrated test rejects about 5 % of them at 5 %, and its z has mean about 0 and spread about 1.

--n-dependence prints each statistic's null mean and spread at several n instead: why the tests run
on a subsample of max_test_n vectors with a null of exactly that n rather than on all vectors with
a null of fewer.

Prints a table; writes benchmarks/results/normality.json (or normality_n_dependence.json).
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

from caelatent.latent import normality as N  # noqa: E402


def size_check(
    p: int,
    n: int,
    clouds: int,
    runs: int,
    seed: int = 0,
    per_cloud_null: bool = False,
    k_sigma: float = 3.0,
    far_outliers: float = 0.0,
) -> tuple[np.ndarray, np.ndarray]:
    """How the calibrated tests behave on normal clouds: ``clouds`` clouds of n vectors from a normal
    with a random correlated covariance and an off-centre mean, each core-fitted and tested against
    a null of ``runs`` N(0, I_p) clouds. The null is shared (built with the directions of the true
    covariance; the clouds use their own fitted directions) or, with ``per_cloud_null``, each cloud's
    own with its directions, exactly as :func:`caelatent.latent.normality.test_core` does (runs x clouds fits).
    ``far_outliers``: that fraction of each cloud's vectors moved far beyond the shell (+- 30 sigma
    per component): the core is still normal, so the tests should still reject 5 %.

    Returns (rejected at 5 %, z), each clouds x len(N.TESTS), columns in the order of N.TESTS.
    """
    rng = np.random.default_rng([seed, p, n])
    a = rng.normal(size=(p, p)) / np.sqrt(p) + np.diag(np.linspace(0.5, 2, p))
    truth = N.CoreFit(
        np.zeros(p), a @ a.T, N.shell_threshold(p, k_sigma)[0], k_sigma, n, n, 0, True
    )
    shared = (
        None
        if per_cloud_null
        else N.null_calibration(n, p, k_sigma, runs, seed + 1, dirs=N.directions(truth))
    )
    rejected, zs = [], []
    for c in range(clouds):
        x = rng.standard_normal((n, p)) @ a.T + 3.0
        far = rng.random(n) < far_outliers
        x[far] += rng.standard_normal((int(far.sum()), p)) @ a.T * 30
        x = x.astype(np.float32)
        fit = N.fit_core(x, k_sigma)
        dirs = N.directions(fit)
        null = shared or N.null_calibration(n, p, k_sigma, runs, seed + 100 + c, dirs=dirs)
        rows = N.calibrated_tests(N.core_statistics(x, fit, dirs)[0], null)
        rejected.append([r["p_value"] < 0.05 for r in rows])
        zs.append([r["z"] for r in rows])
    return np.array(rejected), np.array(zs)


def size(args) -> list[dict]:
    rows = []
    print(
        f"{'p':>4} {'n':>6} {'seed':>4} {'test':<26} {'rejected at 5 %':>15} {'z mean':>7} {'z sd':>6} {'seconds':>8}"
    )
    for p, n in zip(args.dims, args.n):
        for seed in args.seeds:
            t0 = time.perf_counter()
            rejected, zs = size_check(p, n, args.clouds, args.runs, seed, args.per_cloud_null)
            secs = time.perf_counter() - t0
            for k, name in enumerate(N.TESTS):
                row = {
                    "p": p,
                    "n": n,
                    "seed": seed,
                    "test": name,
                    "rejected": float(rejected[:, k].mean()),
                    "z_mean": float(zs[:, k].mean()),
                    "z_sd": float(zs[:, k].std()),
                    "null_runs": args.runs,
                    "per_cloud_null": args.per_cloud_null,
                    "clouds": args.clouds,
                    "seconds": round(secs, 1),
                }
                rows.append(row)
                print(
                    f"{p:>4} {n:>6} {seed:>4} {name:<26} {row['rejected']:>15.3f} {row['z_mean']:>7.2f} "
                    f"{row['z_sd']:>6.2f} {secs:>8.1f}",
                    flush=True,
                )
    return rows


def n_dependence(args) -> list[dict]:
    rows = []
    print(f"{'p':>4} {'n':>6} {'test':<26} {'null mean':>9} {'null sd':>8} {'seconds':>8}")
    for p in args.dims:
        for n in args.n:
            t0 = time.perf_counter()
            null = N.null_calibration(n, p, runs=args.runs, seed=1)
            secs = time.perf_counter() - t0
            for name, v in null.values.items():
                row = {
                    "p": p,
                    "n": n,
                    "test": name,
                    "null_mean": float(v.mean()),
                    "null_sd": float(v.std(ddof=1)),
                    "runs": args.runs,
                    "seconds": round(secs, 1),
                }
                rows.append(row)
                print(
                    f"{p:>4} {n:>6} {name:<26} {row['null_mean']:>9.3f} {row['null_sd']:>8.3f} {secs:>8.1f}",
                    flush=True,
                )
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dims", type=int, nargs="+", default=[8, 64, 256])
    ap.add_argument("--n", type=int, nargs="+", default=[2000, 2000, 1500])
    ap.add_argument("--runs", type=int, default=300)
    ap.add_argument("--clouds", type=int, default=300)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0])
    ap.add_argument("--per-cloud-null", action="store_true")
    ap.add_argument("--n-dependence", action="store_true")
    args = ap.parse_args()
    rows = n_dependence(args) if args.n_dependence else size(args)
    out = (
        ROOT
        / "benchmarks"
        / "results"
        / ("normality_n_dependence.json" if args.n_dependence else "normality.json")
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(rows, indent=2) + "\n")


if __name__ == "__main__":
    main()
