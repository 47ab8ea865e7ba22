"""Is the core of the latent cloud a multivariate normal? Tests calibrated for exactly this procedure.

The *core* is the part of the cloud inside the k-sigma shell (the ellipsoid holding the probability
of +-k sigma in one dimension) of a normal distribution fitted to the core itself:

1. :func:`fit_core` starts from the whole cloud's mean and covariance and iterates: cut at the
   shell, take the mean and covariance of what is inside, divide the covariance by the truncation
   consistency factor P(chi2_{p+2} <= t) / P(chi2_p <= t) (what a normal truncated at d^2 <= t
   keeps of its variance), until nothing changes. Points far outside the shell do not move it.
2. :func:`core_statistics` measures the core against a normal truncated at the shell: the KS
   distance of its squared Mahalanobis distances d^2 to the truncated chi-square law, Mardia's
   kurtosis (mean d^4), and the largest skewness and kurtosis deviation along the principal axes
   and the coordinates. Each is first written as a naive z (as if the core's points were
   independent draws with known mean and covariance, which they are not).
3. :func:`null_calibration` runs steps 1-2 on simulated N(0, I_p) clouds with the same n, p and
   shell (KS and Mardia are affine-invariant, so this serves any mean and covariance; the
   directional maxima depend on the set of directions, so the null uses the data's) and keeps each
   statistic's value in every run. :func:`calibrated_tests` places the data's statistic among them:
   an empirical p (two-sided for Mardia, one-sided for the distances, where only large values speak
   against normality) and the normal score of its rank; beyond every null run, p is reported as the
   bound 1 / (runs + 1), never extrapolated. Each test also has an effect size that does not grow
   with the core's size (the KS distance D, Mardia's standardised kurtosis, the largest directional
   moments) beside the 95 % range of the null runs' effect sizes. The null is rule
   normality_null's output, computed from the tested core (n, p, shell and directions) with
   its own runs and seed: because the directions are the data's, it is not shared between
   experiments.
4. :func:`test_core` does 1-3 with a null of exactly the tested n. The statistics' null law moves
   with n, so above ``max_test_n`` vectors the tests run on a seeded random subsample of that size
   (the core fit of all vectors is still returned) rather than against a null of fewer vectors.

``size_check`` in benchmarks/normality.py measures how often the calibrated tests reject normal
clouds (their size); tests/test_normality.py holds every test to 2-9 % at 5 % at p = 8, 64 and 256.
"""

from __future__ import annotations

import logging
import math
from dataclasses import asdict, dataclass

import numpy as np
from scipy import special, stats

from .describe import blocks, cov_whitener, shell_d2, shell_mass

log = logging.getLogger(__name__)

TESTS = ("ks_core_d2", "mardia_kurtosis", "directional_skewness_max", "directional_kurtosis_max")
# which tail of the calibrated z speaks against normality
SIDES = {
    "ks_core_d2": "upper",
    "mardia_kurtosis": "two-sided",
    "directional_skewness_max": "upper",
    "directional_kurtosis_max": "upper",
}
QQ_PROBS = np.linspace(0.005, 0.995, 199)
EFFECT = "effect:"  # key prefix of each test's effect size among core_statistics' values
#: what each test's effect size is (the tests tables' ``effect_measure``)
EFFECTS = {
    "ks_core_d2": "KS distance D of the core's d2 to the truncated chi-square",
    "mardia_kurtosis": "Mardia's standardised kurtosis b2,p / (p (p + 2)) of the core",
    "directional_skewness_max": "largest |third moment| along a principal axis or coordinate",
    "directional_kurtosis_max": "largest |fourth moment - truncated normal's| along an axis or coordinate",
}


def shell_threshold(p: int, k_sigma: float) -> tuple[float, float]:
    """(t, mass): the chi2_p quantile t holding the mass of +-k_sigma in one dimension
    (:func:`caelatent.latent.describe.shell_d2` and ``shell_mass``)."""
    return shell_d2(k_sigma, p), shell_mass(k_sigma)


def truncated_chi2_moment(k: int, p: int, t: float) -> float:
    """E[(d^2)^k | d^2 <= t] for d^2 ~ chi2_p."""
    rising = math.prod(p + 2 * i for i in range(k))
    return rising * float(stats.chi2.cdf(t, p + 2 * k) / stats.chi2.cdf(t, p))


@dataclass
class CoreFit:
    mean: np.ndarray
    cov: np.ndarray
    t: float
    k_sigma: float
    n: int
    n_core: int
    iterations: int
    converged: bool

    @property
    def fraction_inside(self) -> float:
        return self.n_core / self.n

    def arrays(self, prefix: str = "") -> dict[str, np.ndarray]:
        """The fit as named arrays (for an NPZ), each key led by ``prefix``."""
        return {prefix + k: np.asarray(v) for k, v in asdict(self).items()}

    @classmethod
    def from_arrays(cls, arrays: dict, prefix: str = "") -> "CoreFit":
        """The fit :meth:`arrays` wrote (exactly: float64 arrays round-trip bit for bit)."""
        a = {k: arrays[prefix + k] for k in cls.__dataclass_fields__}
        return cls(
            a["mean"],
            a["cov"],
            float(a["t"]),
            float(a["k_sigma"]),
            int(a["n"]),
            int(a["n_core"]),
            int(a["iterations"]),
            bool(a["converged"]),
        )

    def summary(self) -> dict:
        d = {k: v for k, v in asdict(self).items() if k not in ("mean", "cov")}
        return {
            **d,
            "fraction_inside": self.fraction_inside,
            "expected_fraction": shell_threshold(len(self.mean), self.k_sigma)[1],
        }


# Arithmetic: the data's projections run in float64, which a covariance with a condition number of
# 1e6 needs (in float32 such a cloud's Mardia z had 1.5 times its null spread). The simulated N(0, I)
# clouds are perfectly conditioned, so they are drawn and projected in float32 (twice as fast; the
# statistics move by about 1e-6 of their null spread); every sum over vectors is taken in float64.
F32 = np.float32
BLOCK = 4096  # rows per block (float64 temporaries of 8 MB at p = 256)


def _project(b: np.ndarray, mean: np.ndarray, m: np.ndarray) -> np.ndarray:
    """(x - mean) @ m for the rows x of a block."""
    return (b - mean) @ m


def fit_core(
    z, k_sigma: float = 3.0, tol: float = 1e-6, max_iter: int = 100, dtype=np.float64
) -> CoreFit:
    """Mean and covariance of the normal whose k-sigma core the data's core is (see module doc).

    ``z`` is an array or a Zarr array (streamed in blocks). Converged when the core (the set of
    vectors inside the shell) is the same as in the previous iteration, so that the fit is exactly
    its fixed point, or when the covariance and mean move by less than ``tol`` (relative, in the
    metric of the current fit) in one iteration. ``dtype``: the projections' precision (module note).
    """
    n, p = z.shape
    if n <= p + 1:
        raise ValueError(f"need more vectors than dimensions + 1 (n={n}, p={p})")
    t, mass = shell_threshold(p, k_sigma)
    consistency = float(stats.chi2.cdf(t, p + 2) / mass)

    # sums over all vectors, taken once about a fixed origin (no cancellation for off-centre
    # clouds); each iteration subtracts those of the vectors outside the shell (a few per cent)
    origin = np.asarray(z[: min(n, BLOCK)], np.float64).mean(axis=0)
    o = origin.astype(dtype)
    s1_all, s2_all = np.zeros(p), np.zeros((p, p))
    for _, blk in blocks(z, rows=BLOCK, dtype=dtype):
        c = blk - o
        s1_all += c.sum(axis=0, dtype=np.float64)
        s2_all += c.T @ c  # float64 += the block's sum
    mean = origin + s1_all / n
    cov = s2_all / n - np.outer(s1_all / n, s1_all / n)

    def core_moments(mean, w):
        """Mean, covariance and membership of the vectors inside the shell of (mean, W)."""
        s1, s2, inside = s1_all.copy(), s2_all.copy(), []
        m, wt = mean.astype(dtype), w.T.astype(dtype)
        for _, blk in blocks(z, rows=BLOCK, dtype=dtype):
            y = _project(blk, m, wt)
            keep = np.einsum("ij,ij->i", y, y) <= t
            out = blk[~keep] - o
            s1 -= out.sum(axis=0, dtype=np.float64)
            s2 -= out.T @ out
            inside.append(keep)
        inside = np.concatenate(inside)
        k = int(inside.sum())
        if k <= p + 1:
            raise ValueError(f"only {k} vectors inside the {k_sigma}-sigma shell for p={p}")
        d = s1 / k
        return origin + d, s2 / k - np.outer(d, d), inside, k

    converged, it, k, previous = False, 0, n, None
    for it in range(1, max_iter + 1):
        w = cov_whitener(cov)
        new_mean, raw_cov, inside, k = core_moments(mean, w)
        new_cov = raw_cov / consistency
        wm = w @ (new_mean - mean)
        change = max(float(np.abs(w @ new_cov @ w.T - np.eye(p)).max()), float(np.sqrt(wm @ wm)))
        same_core = previous is not None and np.array_equal(inside, previous)
        mean, cov, previous = new_mean, new_cov, inside
        if same_core or change < tol:  # the k vectors cut with the previous fit are this fit's core
            converged = True
            break
    if not converged:
        k = int(core_moments(mean, cov_whitener(cov))[3])
    return CoreFit(mean, cov, t, k_sigma, n, k, it, converged)


def directions(fit: CoreFit) -> np.ndarray:
    """The fit's standardised principal axes and coordinates as unit columns of the whitened space
    y = W (x - mean): v^T (x - mean) / sqrt(v^T cov v) = (L^T v)^T y / |L^T v|, L the Cholesky factor.
    The principal axes come first; they are orthonormal there (their Gram matrix is diag(eigenvalues)
    before normalising)."""
    p = len(fit.mean)
    chol = np.linalg.cholesky(fit.cov)
    dirs = chol.T @ np.hstack([np.linalg.eigh(fit.cov)[1], np.eye(p)])
    return dirs / np.linalg.norm(dirs, axis=0)


def core_statistics(
    z, fit: CoreFit, dirs: np.ndarray | None = None, dtype=np.float64
) -> tuple[dict[str, float], np.ndarray]:
    """The four statistics of the core (module doc) and its d^2 quantiles at QQ_PROBS.

    ``dirs``: 2p unit directions of the whitened space for the directional tests, the first p an
    orthonormal basis (default :func:`directions` of ``fit``). Their null law depends on these
    directions only, so the null is simulated with the data's. ``dtype``: the projections' precision.
    """
    p = len(fit.mean)
    dirs = directions(fit) if dirs is None else dirs
    # one product gives every projection: u = W (x - mean) projected on dirs; the first p columns
    # are an orthonormal basis of the whitened space, so their squares sum to d^2
    m = (cov_whitener(fit.cov).T @ dirs).astype(dtype)
    d2s, s3, s4, k = [], np.zeros(dirs.shape[1]), np.zeros(dirs.shape[1]), 0
    for _, b in blocks(z, rows=BLOCK, dtype=dtype):
        u = _project(b, fit.mean.astype(dtype), m)
        d2 = np.einsum("ij,ij->i", u[:, :p], u[:, :p]).astype(np.float64)
        keep = d2 <= fit.t
        d2s.append(d2[keep])
        u = u[keep]
        u2 = u * u
        s3 += np.einsum("ij,ij->j", u2, u)  # float64 += the block's sum
        s4 += np.einsum("ij,ij->j", u2, u2)
        k += int(keep.sum())
    d2 = np.sort(np.concatenate(d2s))
    t = fit.t
    law = stats.chi2(p)
    ks = stats.kstest(d2, lambda x: law.cdf(np.minimum(x, t)) / law.cdf(t)).statistic
    m2, m4 = truncated_chi2_moment(2, p, t), truncated_chi2_moment(4, p, t)
    mardia = (float(np.mean(d2**2)) - m2) / math.sqrt(max(m4 - m2 * m2, 1e-300) / k)
    # along a unit direction of a spherically symmetric core, E[u^2m] = E[(d^2)^m] (2m-1)!! / (p (p+2)...)
    e = {
        m: truncated_chi2_moment(m, p, t)
        * math.prod(range(2 * m - 1, 0, -2))
        / math.prod(p + 2 * i for i in range(m))
        for m in (2, 3, 4)
    }
    z3 = (s3 / k) / math.sqrt(e[3] / k)
    z4 = (s4 / k - e[2]) / math.sqrt(max(e[4] - e[2] ** 2, 1e-300) / k)
    values = {
        "ks_core_d2": ks * math.sqrt(k),
        "mardia_kurtosis": mardia,
        "directional_skewness_max": z3,
        "directional_kurtosis_max": z4,
    }
    # effect sizes, which do not grow with the core's size k (their null range says what a normal
    # core of this n and p gives): the KS distance D; Mardia's standardised kurtosis
    # b2,p / (p (p + 2)) (1 for an untruncated normal); the largest third moment and the largest
    # deviation of the fourth moment from the truncated normal's along the directions
    effects = {
        "ks_core_d2": float(ks),
        "mardia_kurtosis": float(np.mean(d2**2)) / (p * (p + 2)),
        "directional_skewness_max": float(np.abs(s3 / k).max()),
        "directional_kurtosis_max": float(np.abs(s4 / k - e[2]).max()),
    }
    return values | {EFFECT + t: v for t, v in effects.items()}, np.quantile(d2, QQ_PROBS)


def scalar_statistics(values: dict) -> dict[str, float]:
    """One number per test (effect sizes under their own keys): KS and Mardia as they are, the
    directional tests as max |naive z|."""
    return {t: float(np.abs(v).max()) if np.ndim(v) else float(v) for t, v in values.items()}


NULL_KEYS = TESTS + tuple(EFFECT + t for t in TESTS)


def _npz_key(key: str) -> str:
    return key.replace(":", "__")


@dataclass
class Null:
    n: int
    p: int
    k_sigma: float
    runs: int
    seed: int
    values: dict  # test (and EFFECT + test) -> the statistic (effect size) in each null run
    qq_low: np.ndarray
    qq_high: np.ndarray
    qq_mid: np.ndarray

    def arrays(self) -> dict[str, np.ndarray]:
        """The null as named arrays (for an NPZ: rule normality_null's output)."""
        head = {k: np.asarray(getattr(self, k)) for k in ("n", "p", "k_sigma", "runs", "seed")}
        qq = {k: getattr(self, k) for k in ("qq_low", "qq_high", "qq_mid")}
        return head | qq | {_npz_key(t): v for t, v in self.values.items()}

    @classmethod
    def from_arrays(cls, a: dict) -> "Null":
        """The null :meth:`arrays` wrote."""
        return cls(
            int(a["n"]),
            int(a["p"]),
            float(a["k_sigma"]),
            int(a["runs"]),
            int(a["seed"]),
            {t: a[_npz_key(t)] for t in NULL_KEYS},
            a["qq_low"],
            a["qq_high"],
            a["qq_mid"],
        )


def null_calibration(
    n: int,
    p: int,
    k_sigma: float = 3.0,
    runs: int = 100,
    seed: int = 0,
    dirs: np.ndarray | None = None,
) -> Null:
    """Every statistic over ``runs`` N(0, I_p) clouds of n vectors put through :func:`fit_core` and
    :func:`core_statistics` (with the directions ``dirs``, default each cloud's own), and the 95 %
    band of the core's d^2 quantiles. In the workflow this is rule normality_null, whose output
    Snakemake keeps until the tested core changes (the directions are the data's, module doc)."""
    rng = np.random.default_rng([seed, n, p])
    vals, qqs = {t: [] for t in NULL_KEYS}, []
    for _ in range(runs):
        x = rng.standard_normal((n, p), dtype=F32)
        v, q = core_statistics(x, fit_core(x, k_sigma, dtype=F32), dirs, dtype=F32)
        for t, val in scalar_statistics(v).items():
            vals[t].append(val)
        qqs.append(q)
    qqs = np.array(qqs)
    return Null(
        n,
        p,
        k_sigma,
        runs,
        seed,
        {t: np.array(vals[t]) for t in NULL_KEYS},
        np.quantile(qqs, 0.025, axis=0),
        np.quantile(qqs, 0.975, axis=0),
        np.median(qqs, axis=0),
    )


def calibrated_tests(values: dict, null: Null, level: float = 0.95) -> list[dict]:
    """One row per test: the effect size with the 95 % range of the null runs' effect sizes, the
    statistic with its null mean and spread, and where the statistic falls among the null runs:
    p = (1 + #{null at least as extreme}) / (runs + 1) (two-sided: twice the smaller tail), and z,
    the normal score of its mid-rank (about N(0, 1) under normality). Beyond every null run ranks
    say no more: p is then the bound 1 / (runs + 1) (``p_is_bound``; two-sided 2 / (runs + 1)),
    never an extrapolation, and z the score of the outermost rank."""
    rows, scalars = [], scalar_statistics(values)
    tail = (1 - level) / 2
    for name in TESTS:
        stat, nv, ne = scalars[name], null.values[name], null.values[EFFECT + name]
        r = len(nv)
        two = SIDES[name] == "two-sided"
        upper, lower = (1 + np.sum(nv >= stat)) / (r + 1), (1 + np.sum(nv <= stat)) / (r + 1)
        pv = min(1.0, 2 * min(upper, lower)) if two else upper
        zc = stats.norm.ppf((np.sum(nv < stat) + 0.5 * np.sum(nv == stat) + 0.5) / (r + 1))
        beyond = bool(stat > nv.max() or (two and stat < nv.min()))
        rows.append(
            {
                "test": name,
                "effect": scalars[EFFECT + name],
                "effect_null_lo": float(np.quantile(ne, tail)),
                "effect_null_hi": float(np.quantile(ne, 1 - tail)),
                "effect_measure": EFFECTS[name],
                "statistic": stat,
                "null_mean": float(nv.mean()),
                "null_sd": float(nv.std(ddof=1)),
                "z": float(zc),
                "p_value": float(pv),
                "p_is_bound": beyond,
                "side": SIDES[name],
                "null_runs": r,
                "null_n": null.n,
                "beyond_null_runs": beyond,
            }
        )
    return rows


def subsample_rows(n: int, m: int, seed: int) -> np.ndarray:
    """A seeded random m of n row indices, sorted."""
    return np.sort(np.random.default_rng([seed, n, m]).choice(n, m, replace=False))


def take(z, rows: np.ndarray) -> np.ndarray:
    """Rows ``rows`` (sorted) of ``z`` (an array or a Zarr array) as float32."""
    picked = z.oindex[rows, :] if hasattr(z, "oindex") else z[rows]
    return np.asarray(picked, dtype=F32)


def fit_cores(z, k_sigma: float, seed: int, max_test_n: int):
    """The core fit of all n vectors, the rows the tests run on (None: all of them; else a seeded
    random ``max_test_n``, because the null is simulated at exactly the tested n: the statistics'
    null law moves with n, at p = 256 Mardia's null mean by about one null spread between
    n = 10,000 and 40,000, and a null at n = 202,599 costs minutes per run) and their own core
    fit (the first fit itself when all are tested). Rule mnd_core."""
    fit = fit_core(z, k_sigma)
    if fit.n <= max_test_n:
        return fit, None, fit
    rows = subsample_rows(fit.n, max_test_n, seed)
    return fit, rows, fit_core(take(z, rows), k_sigma)


def decide(sample, fit: CoreFit, test_fit: CoreFit, null: Null, alpha: float = 0.05) -> dict:
    """The tests of the core of ``sample`` (the tested vectors, whose core fit is ``test_fit``)
    calibrated by ``null`` (simulated with :func:`directions` of ``test_fit``), and the verdict.
    Rule mnd."""
    dirs = directions(test_fit)
    values, qq = core_statistics(sample, test_fit, dirs)
    rows = calibrated_tests(values, null)
    per_test = alpha / len(rows)
    floor = 2 / (null.runs + 1)  # the smallest p a two-sided test can reach
    if floor >= per_test:
        log.warning(
            "stats.mnd.null_runs=%d: a two-sided test's smallest p-value is 2/%d = %.3g, not under "
            "the Bonferroni level %.3g, so it cannot reject; use at least %d null runs",
            null.runs,
            null.runs + 1,
            floor,
            per_test,
            math.ceil(2 / per_test),
        )
    return {
        "fit": fit,
        "test_fit": test_fit,
        "tests": rows,
        "alpha": alpha,
        "alpha_per_test": per_test,
        "consistent_with_normal": bool(all(r["p_value"] >= per_test for r in rows)),
        "qq": qq,
        "null": null,
        "sample": sample,  # the tested vectors (all of them, or the seeded subsample)
    }


def test_core(
    z,
    k_sigma: float = 3.0,
    runs: int = 200,
    seed: int = 0,
    max_test_n: int = 10000,
    alpha: float = 0.05,
) -> dict:
    """Fit the core, compute the statistics, calibrate them; the verdict: :func:`fit_cores`, then
    :func:`null_calibration` with the tested core's directions, then :func:`decide` (rules
    mnd_core, normality_null and mnd in turn)."""
    fit, rows, test_fit = fit_cores(z, k_sigma, seed, max_test_n)
    sample = z if rows is None else take(z, rows)
    null = null_calibration(test_fit.n, len(fit.mean), k_sigma, runs, seed, directions(test_fit))
    return decide(sample, fit, test_fit, null, alpha)


def beta_shell_fractions(d2: np.ndarray, n: int, p: int, levels) -> list[dict]:
    """Fractions inside each k-sigma shell with the exact law of in-sample d^2 of n normal vectors
    (n d^2 / (n-1)^2 ~ Beta(p/2, (n-p-1)/2)), observed and expected."""
    scale, a, b = (n - 1) ** 2 / n, p / 2, (n - p - 1) / 2
    out = []
    for k in levels:
        t, mass = shell_threshold(p, k)
        out.append(
            {
                "sigma": k,
                "d2_threshold": t,
                "expected_fraction": float(special.betainc(a, b, min(t / scale, 1))),
                "expected_fraction_chi2": mass,
                "observed_fraction": float(np.mean(d2 <= t)),
            }
        )
    return out


def qq_band(verdict: dict, dim: int) -> dict:
    """QQ points of the core's d² against chi-square truncated at the shell, and the null's band."""
    law = stats.chi2(dim)
    null = verdict["null"]
    return {
        "theoretical": law.ppf(QQ_PROBS * law.cdf(verdict["fit"].t)),
        "observed": verdict["qq"],
        "null_low": null.qq_low,
        "null_high": null.qq_high,
        "null_runs": null.runs,
    }


def report(verdict: dict, mean: np.ndarray, cov: np.ndarray, core_sigma: float, seed: int) -> dict:
    """What :func:`test_core` found, as rule mnd's ``mnd_fit.json``; ``mean`` and ``cov`` are all
    vectors' (the core's distance from them is reported)."""
    found, fit, test_fit, null = (verdict[k] for k in ("tests", "fit", "test_fit", "null"))
    return {
        "n": fit.n,
        "dim": len(mean),
        "core_sigma": core_sigma,
        "core": {
            **fit.summary(),
            "mean_distance_from_full_mean": float(np.linalg.norm(fit.mean - mean)),
            "trace_ratio_core_to_full": float(np.trace(fit.cov) / np.trace(cov)),
        },
        "tests": found,
        "tested": {
            "n": test_fit.n,
            "n_core": test_fit.n_core,
            "fraction_inside": test_fit.fraction_inside,
            "vectors": (
                "all"
                if test_fit.n == fit.n
                else f"a random {test_fit.n} of {fit.n} (seed {seed}), "
                "because the null is simulated at exactly the tested n"
            ),
        },
        "consistent_with_normal": verdict["consistent_with_normal"],
        "consistent_with_normal_means": (
            f"no test rejects at {verdict['alpha']:g} (Bonferroni over {len(found)} tests) that the "
            f"vectors inside the {core_sigma:g}-sigma shell of a normal fitted to them are that "
            "normal's truncated core; it says nothing about the vectors outside the shell (see "
            "core.fraction_inside against expected_fraction)"
        ),
        "alpha_per_test": verdict["alpha_per_test"],
        "null": {
            "runs": null.runs,
            "n": null.n,
            "simulated": "N(0, I) clouds through the same core fit and statistics",
        },
    }
