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
   against normality) and the normal score of its rank; beyond every null run, the empirical tail
   continued with a conservative exponential tail. Null runs are cached by (n, p, shell, runs, seed, directions).

Status: KS and Mardia hold their size at p = 8, 64 and 256 (tests/test_normality.py); the
directional maxima are calibrated the same way but their size has not been checked at the issue's
standard yet, and rule ``mnd`` does not use this module yet (it still runs ``stats.normality_tests``).
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from scipy import special, stats

from .stats import blocks

TESTS = ("ks_core_d2", "mardia_kurtosis", "directional_skewness_max", "directional_kurtosis_max")
# which tail of the calibrated z speaks against normality
SIDES = {"ks_core_d2": "upper", "mardia_kurtosis": "two-sided", "directional_skewness_max": "upper",
         "directional_kurtosis_max": "upper"}
QQ_PROBS = np.linspace(0.005, 0.995, 199)


def shell_threshold(p: int, k_sigma: float) -> tuple[float, float]:
    """(t, mass): the chi2_p quantile t holding the mass of +-k_sigma in one dimension."""
    mass = float(stats.norm.cdf(k_sigma) - stats.norm.cdf(-k_sigma))
    return float(stats.chi2.ppf(mass, p)), mass


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

    def summary(self) -> dict:
        d = {k: v for k, v in asdict(self).items() if k not in ("mean", "cov")}
        return {**d, "fraction_inside": self.fraction_inside, "expected_fraction": shell_threshold(len(self.mean), self.k_sigma)[1]}


def _whiten(cov: np.ndarray) -> np.ndarray:
    """W with W cov W^T = I (inverse Cholesky factor)."""
    return np.linalg.inv(np.linalg.cholesky(cov))


def _d2(b: np.ndarray, mean: np.ndarray, w: np.ndarray) -> np.ndarray:
    y = (b - mean) @ w.T
    return np.einsum("ij,ij->i", y, y)


def fit_core(z, k_sigma: float = 3.0, tol: float = 1e-6, max_iter: int = 100) -> CoreFit:
    """Mean and covariance of the normal whose k-sigma core the data's core is (see module doc).

    ``z`` is an array or a Zarr array (streamed in blocks). Converged when the covariance and mean
    move by less than ``tol`` (relative, in the metric of the current fit) in one iteration.
    """
    n, p = z.shape
    if n <= p + 1:
        raise ValueError(f"need more vectors than dimensions + 1 (n={n}, p={p})")
    t, mass = shell_threshold(p, k_sigma)
    consistency = float(stats.chi2.cdf(t, p + 2) / mass)
    s1, s2 = np.zeros(p), np.zeros((p, p))
    for _, b in blocks(z):
        b = np.asarray(b, dtype=np.float64)
        s1 += b.sum(axis=0)
        s2 += b.T @ b
    mean = s1 / n
    cov = s2 / n - np.outer(mean, mean)
    converged, it, k = False, 0, n
    for it in range(1, max_iter + 1):
        w = _whiten(cov)
        s1, s2, k = np.zeros(p), np.zeros((p, p)), 0
        for _, b in blocks(z):
            b = np.asarray(b, dtype=np.float64)
            c = b[_d2(b, mean, w) <= t]
            s1 += c.sum(axis=0)
            s2 += c.T @ c
            k += len(c)
        if k <= p + 1:
            raise ValueError(f"only {k} vectors inside the {k_sigma}-sigma shell for p={p}")
        new_mean = s1 / k
        new_cov = (s2 / k - np.outer(new_mean, new_mean)) / consistency
        wm = w @ (new_mean - mean)
        change = max(float(np.abs(w @ new_cov @ w.T - np.eye(p)).max()), float(np.sqrt(wm @ wm)))
        mean, cov = new_mean, new_cov
        if change < tol:  # the core did not change: the k vectors cut with the previous fit are this fit's
            converged = True
            break
    if not converged:
        k = sum(int((_d2(np.asarray(b, np.float64), mean, _whiten(cov)) <= t).sum()) for _, b in blocks(z))
    return CoreFit(mean, cov, t, k_sigma, n, k, it, converged)


def directions(fit: CoreFit) -> np.ndarray:
    """The fit's standardised principal axes and coordinates as unit columns of the whitened space
    y = W (x - mean): v^T (x - mean) / sqrt(v^T cov v) = (L^T v)^T y / |L^T v|, L the Cholesky factor."""
    p = len(fit.mean)
    chol = np.linalg.cholesky(fit.cov)
    dirs = chol.T @ np.hstack([np.linalg.eigh(fit.cov)[1], np.eye(p)])
    return dirs / np.linalg.norm(dirs, axis=0)


def core_statistics(z, fit: CoreFit, dirs: np.ndarray | None = None) -> tuple[dict[str, float], np.ndarray]:
    """The four statistics of the core (module doc) and its d^2 quantiles at QQ_PROBS.

    ``dirs``: unit directions of the whitened space for the directional tests (default
    :func:`directions` of ``fit``). Their null law depends on these directions only, so the null is
    simulated with the data's.
    """
    p = len(fit.mean)
    w = _whiten(fit.cov)
    dirs = directions(fit) if dirs is None else dirs
    d2s, s3, s4, k = [], np.zeros(dirs.shape[1]), np.zeros(dirs.shape[1]), 0
    for _, b in blocks(z):
        y = (np.asarray(b, np.float64) - fit.mean) @ w.T
        d2 = np.einsum("ij,ij->i", y, y)
        keep = d2 <= fit.t
        d2s.append(d2[keep])
        u = y[keep] @ dirs
        u2 = u * u
        s3 += (u2 * u).sum(axis=0)
        s4 += (u2 * u2).sum(axis=0)
        k += int(keep.sum())
    d2 = np.sort(np.concatenate(d2s))
    t = fit.t
    law = stats.chi2(p)
    ks = stats.kstest(d2, lambda x: law.cdf(np.minimum(x, t)) / law.cdf(t)).statistic
    m2, m4 = truncated_chi2_moment(2, p, t), truncated_chi2_moment(4, p, t)
    mardia = (float(np.mean(d2**2)) - m2) / math.sqrt(max(m4 - m2 * m2, 1e-300) / k)
    # along a unit direction of a spherically symmetric core, E[u^2m] = E[(d^2)^m] (2m-1)!! / (p (p+2)...)
    e = {m: truncated_chi2_moment(m, p, t) * math.prod(range(2 * m - 1, 0, -2)) / math.prod(p + 2 * i for i in range(m))
         for m in (2, 3, 4)}
    z3 = (s3 / k) / math.sqrt(e[3] / k)
    z4 = (s4 / k - e[2]) / math.sqrt(max(e[4] - e[2] ** 2, 1e-300) / k)
    values = {"ks_core_d2": ks * math.sqrt(k), "mardia_kurtosis": mardia,
              "directional_skewness_max": z3, "directional_kurtosis_max": z4}
    return values, np.quantile(d2, QQ_PROBS)


def scalar_statistics(values: dict) -> dict[str, float]:
    """One number per test: KS and Mardia as they are, the directional tests as max |naive z|."""
    return {t: float(np.abs(v).max()) if np.ndim(v) else float(v) for t, v in values.items()}


@dataclass
class Null:
    n: int
    p: int
    k_sigma: float
    runs: int
    seed: int
    values: dict  # test -> the statistic in each null run
    qq_low: np.ndarray
    qq_high: np.ndarray
    qq_mid: np.ndarray


def null_calibration(n: int, p: int, k_sigma: float = 3.0, runs: int = 100, seed: int = 0,
                     cache_dir: str | Path | None = None, dirs: np.ndarray | None = None) -> Null:
    """Every statistic over ``runs`` N(0, I_p) clouds of n vectors put through :func:`fit_core` and
    :func:`core_statistics` (with the directions ``dirs``, default each cloud's own), and the 95 %
    band of the core's d^2 quantiles; cached in ``cache_dir`` by the arguments."""
    dkey = hashlib.sha256(np.ascontiguousarray(np.round(dirs, 6)).tobytes()).hexdigest() if dirs is not None else ""
    key = hashlib.sha256(json.dumps([n, p, k_sigma, runs, seed, dkey, 2]).encode()).hexdigest()[:16]
    path = Path(cache_dir) / f"normality_null_n{n}_p{p}_{key}.npz" if cache_dir else None
    if path is not None and path.exists():
        d = np.load(path, allow_pickle=False)
        return Null(n, p, k_sigma, runs, seed, {t: d[t] for t in TESTS}, d["qq_low"], d["qq_high"], d["qq_mid"])
    rng = np.random.default_rng([seed, n, p])
    vals, qqs = {t: [] for t in TESTS}, []
    for _ in range(runs):
        x = rng.standard_normal((n, p))
        v, q = core_statistics(x, fit_core(x, k_sigma), dirs)
        for t, val in scalar_statistics(v).items():
            vals[t].append(val)
        qqs.append(q)
    qqs = np.array(qqs)
    null = Null(n, p, k_sigma, runs, seed, {t: np.array(vals[t]) for t in TESTS}, np.quantile(qqs, 0.025, axis=0),
                np.quantile(qqs, 0.975, axis=0), np.median(qqs, axis=0))
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.stem + ".partial.npz")
        np.savez(tmp, **null.values, qq_low=null.qq_low, qq_high=null.qq_high, qq_mid=null.qq_mid)
        tmp.replace(path)
    return null


def calibrated_tests(values: dict, null: Null) -> list[dict]:
    """One row per test: the statistic, its null mean and spread, and where it falls among the null
    runs: p = (1 + #{null at least as extreme}) / (runs + 1), and z, the normal score of its
    mid-rank among the null runs (about N(0, 1) under normality). Beyond every null run, where
    ranks say no more, p continues the empirical tail with an exponential tail,
    p = floor * exp(-(statistic - most extreme null run) / beta), beta = null spread * sqrt(6) / pi
    (a Gumbel law's scale: heavier than these statistics' tails, so conservative), and z is that
    p's normal score (an extrapolation, marked in the row)."""
    rows = []
    for name, stat in scalar_statistics(values).items():
        nv = null.values[name]
        r = len(nv)
        two = SIDES[name] == "two-sided"
        upper, lower = (1 + np.sum(nv >= stat)) / (r + 1), (1 + np.sum(nv <= stat)) / (r + 1)
        pv = min(1.0, 2 * min(upper, lower)) if two else upper
        zc = stats.norm.ppf((np.sum(nv < stat) + 0.5 * np.sum(nv == stat) + 0.5) / (r + 1))
        beyond = stat > nv.max() or (two and stat < nv.min())
        if beyond:
            # continue the empirical tail past the most extreme null run with an exponential
            # (Gumbel-type) tail, heavier than these statistics' own, so conservative:
            # p = floor * exp(-(distance past that run) / beta), beta = null spread * sqrt(6) / pi
            mu, sd = nv.mean(), nv.std(ddof=1)
            edge = nv.max() if stat > nv.max() else nv.min()
            beta = sd * math.sqrt(6) / math.pi
            log_p = math.log((2 if two else 1) / (r + 1)) - abs(stat - edge) / beta  # in logs: p underflows
            pv = math.exp(log_p)
            zc = float(np.sign(stat - mu) * -special.ndtri_exp(log_p - (math.log(2) if two else 0.0)))
        rows.append({"test": name, "statistic": stat, "null_mean": float(nv.mean()), "null_sd": float(nv.std(ddof=1)),
                     "z": float(zc), "p_value": float(pv), "side": SIDES[name], "null_runs": r, "null_n": null.n,
                     "beyond_null_runs": bool(beyond)})
    return rows


def test_core(z, k_sigma: float = 3.0, runs: int = 100, seed: int = 0, max_null_n: int = 20000,
              cache_dir: str | Path | None = None, alpha: float = 0.05) -> dict:
    """Fit the core, compute the statistics, calibrate them; the verdict.

    The null is simulated at min(n, ``max_null_n``) vectors; above that the statistics' null
    spread is taken from the smaller n (each statistic is a z or a sqrt(n)-scaled distance, whose
    null law depends little on n once n >> p).
    """
    fit = fit_core(z, k_sigma)
    dirs = directions(fit)
    values, qq = core_statistics(z, fit, dirs)
    n_null = min(fit.n, max_null_n)
    null = null_calibration(n_null, len(fit.mean), k_sigma, runs, seed, cache_dir, dirs)
    rows = calibrated_tests(values, null)
    per_test = alpha / len(rows)
    return {"fit": fit, "tests": rows, "alpha": alpha, "alpha_per_test": per_test,
            "consistent_with_normal": bool(all(r["p_value"] >= per_test for r in rows)), "qq": qq, "null": null}


def beta_shell_fractions(d2: np.ndarray, n: int, p: int, levels) -> list[dict]:
    """Fractions inside each k-sigma shell with the exact law of in-sample d^2 of n normal vectors
    (n d^2 / (n-1)^2 ~ Beta(p/2, (n-p-1)/2)), observed and expected."""
    scale, a, b = (n - 1) ** 2 / n, p / 2, (n - p - 1) / 2
    out = []
    for k in levels:
        t, mass = shell_threshold(p, k)
        out.append({"sigma": k, "d2_threshold": t, "expected_fraction": float(special.betainc(a, b, min(t / scale, 1))),
                    "expected_fraction_chi2": mass, "observed_fraction": float(np.mean(d2 <= t))})
    return out
