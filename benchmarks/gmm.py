"""The GMM sampler's fit (component selection and the chosen size's refit): time and peak memory.

Usage: python benchmarks/gmm.py [--n 5000 10000] [--dim 256] [--components 1 5 10 20]
                                [--n-init 3] [--threads 2] [--out benchmarks/results/gmm.json]

For each --n, a latent cloud of that many vectors (5 overlapping groups of correlated, off-centre
multivariate t vectors with 10 degrees of freedom at --dim: a CAE's codes have nu about 10) is fitted by ``GaussianMixtureSampler`` as rule generate
fits it (the workflow's defaults: candidates 1, 5, 10, 20 each screened from one start, the chosen
size refitted from --n-init starts), in its own process with BLAS capped at --threads. Prints wall
time, peak RSS, the chosen size and whether EM converged; writes JSON (--out). One EM iteration
costs about n k p^2, so the time grows linearly with n (``generate.samplers.gmm.max_fit``).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import platform
import resource
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))


def cloud(n: int, dim: int, seed: int = 0):
    import numpy as np

    rng = np.random.default_rng(seed)
    mix = rng.normal(size=(dim, dim)) / np.sqrt(dim) + np.diag(rng.uniform(0.3, 1.5, dim))
    centres = rng.normal(0.5, 0.3, (5, dim))
    group = rng.integers(0, 5, n)
    scale = np.sqrt(rng.chisquare(10, n) / 10)[:, None]  # a multivariate t, nu 10, as the CAE's
    return (rng.normal(size=(n, dim)) @ mix.T / scale + centres[group]).astype(np.float32)


def fit_one(n: int, dim: int, components: list[int], n_init: int, threads: int, queue) -> None:
    os.environ["OMP_NUM_THREADS"] = os.environ["OPENBLAS_NUM_THREADS"] = str(threads)
    from threadpoolctl import threadpool_limits

    from caelatent.sampling.samplers import GaussianMixtureSampler

    z = cloud(n, dim)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    with threadpool_limits(threads):
        t0 = time.perf_counter()
        s = GaussianMixtureSampler(components, max_fit=n, seed=0, n_init=n_init).fit(z)
        wall = time.perf_counter() - t0
    queue.put(
        {
            "n": n,
            "dim": dim,
            "wall_s": round(wall, 1),
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
            "rss_before_fit_mb": round(before),
            "chosen": s.selection["gmm_components"],
            "converged": s.selection["gmm_converged"],
            "fitted_on": s.selection["gmm_fitted_on"],
        }
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, nargs="+", default=[5000, 10000])
    ap.add_argument("--dim", type=int, default=256)
    ap.add_argument("--components", type=int, nargs="+", default=[1, 5, 10, 20])
    ap.add_argument("--n-init", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks/results/gmm.json")
    a = ap.parse_args()
    rows = []
    ctx = mp.get_context("spawn")
    print(f"{'n':>7} {'p':>4} {'wall s':>8} {'peak RSS MB':>12} {'chosen':>7} {'converged':>10}")
    for n in a.n:
        q = ctx.Queue()
        proc = ctx.Process(target=fit_one, args=(n, a.dim, a.components, a.n_init, a.threads, q))
        proc.start()
        row = q.get()
        proc.join()
        rows.append(row)
        print(
            f"{n:>7} {a.dim:>4} {row['wall_s']:>8} {row['peak_rss_mb']:>12} {row['chosen']:>7} "
            f"{str(row['converged']):>10}"
        )
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text(
        json.dumps(
            {
                "components": a.components,
                "n_init": a.n_init,
                "threads": a.threads,
                "cpus": os.cpu_count(),
                "machine": platform.platform(),
                "rows": rows,
            },
            indent=1,
        )
    )


if __name__ == "__main__":
    main()
