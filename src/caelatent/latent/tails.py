"""How heavy the latent cloud's tails are, in a number that does not move with p or n: the degrees
of freedom nu of a multivariate t fitted to the vectors.

The share of vectors inside the 3-sigma shell falls with the dimension p for one and the same
radial law (a normal vector times a random scale keeps 83.7 / 78.1 / 73.1 % at p = 128 / 256 / 512),
so it cannot be compared across latent sizes. A multivariate t, x = mu + A g / sqrt(w / nu) with g
standard normal and w ~ chi2_nu, has one tail parameter at every p: nu near 3-10 for heavy tails,
large (here: the search's cap) for a normal. :func:`fit_t` estimates (mu, scatter, nu) by maximum
likelihood (the ECME algorithm of Liu & Rubin, Statistica Sinica 1995: EM steps for mu and the
scatter, an exact one-dimensional maximisation of the likelihood for nu), and
:func:`nu_interval` gives nu's profile-likelihood interval (the scatter and mean refitted at every
nu tried, so its cost is a bounded number of EM steps per point). :func:`predicted_fraction` is the
3-sigma fraction the fitted t predicts at the data's p and n (simulated, in-sample covariance
included), which shows how much of the fall with p the law's shape alone explains.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import numpy as np
from scipy import linalg, optimize, special, stats

log = logging.getLogger(__name__)

NU_MIN, NU_MAX = (
    0.5,
    1000.0,
)  # the search range of nu; NU_MAX stands for "indistinguishable from normal"


@dataclass
class TFit:
    mean: np.ndarray
    scatter: np.ndarray
    nu: float
    loglik: float
    iterations: int
    converged: bool


def _d2(x: np.ndarray, mean: np.ndarray, scatter: np.ndarray) -> tuple[np.ndarray, float]:
    """Squared Mahalanobis distances of the rows of x under (mean, scatter), and log|scatter|."""
    chol = np.linalg.cholesky(scatter)
    y = linalg.solve_triangular(chol, (x - mean).T, lower=True)
    return np.einsum("ij,ij->j", y, y), 2 * float(np.log(np.diag(chol)).sum())


def loglik(d2: np.ndarray, logdet: float, nu: float, p: int) -> float:
    """Log-likelihood of a multivariate t with nu degrees of freedom, from the distances."""
    n = len(d2)
    const = special.gammaln((nu + p) / 2) - special.gammaln(nu / 2) - p / 2 * math.log(nu * math.pi)
    return float(n * (const - logdet / 2) - (nu + p) / 2 * np.log1p(d2 / nu).sum())


def _best_nu(d2: np.ndarray, logdet: float, p: int) -> float:
    res = optimize.minimize_scalar(
        lambda s: -loglik(d2, logdet, math.exp(s), p),
        bounds=(math.log(NU_MIN), math.log(NU_MAX)),
        method="bounded",
        options={"xatol": 1e-4},
    )
    return float(math.exp(res.x))


def _em(x, mean, scatter, nu, fixed_nu: bool, max_iter: int, tol: float):
    """EM steps for (mean, scatter) at nu (and nu's exact update unless ``fixed_nu``)."""
    n, p = x.shape
    d2, logdet = _d2(x, mean, scatter)
    ll, it, converged = loglik(d2, logdet, nu, p), 0, False
    for it in range(1, max_iter + 1):
        w = (nu + p) / (nu + d2)
        mean = w @ x / w.sum()
        c = x - mean
        scatter = (
            (c * w[:, None]).T @ c / w.sum()
        )  # PX-EM: sum of weights, not n (same fixed point)
        d2, logdet = _d2(x, mean, scatter)
        if not fixed_nu:
            nu = _best_nu(d2, logdet, p)
        new = loglik(d2, logdet, nu, p)
        if abs(new - ll) <= tol * abs(new):
            ll, converged = new, True
            break
        ll = new
    return TFit(mean, scatter, float(nu), float(ll), it, converged)


def fit_t(z, max_iter: int = 500, tol: float = 1e-10) -> TFit:
    """Maximum-likelihood multivariate t (module doc), started at the sample mean and covariance."""
    x = np.asarray(z, np.float64)
    n, p = x.shape
    if n <= p + 1:
        raise ValueError(
            f"a multivariate t fit needs more vectors than dimensions + 1 (n={n}, p={p})"
        )
    fit = _em(x, x.mean(axis=0), np.cov(x, rowvar=False), 30.0, False, max_iter, tol)
    if not fit.converged:
        log.warning("multivariate t: not converged after %d EM steps (nu %.3g)", max_iter, fit.nu)
    return fit


def profile(x: np.ndarray, fit: TFit, nu: float, max_iter: int = 200, tol: float = 1e-10) -> float:
    """Profile log-likelihood at nu: mean and scatter refitted at that nu (warm-started at ``fit``)."""
    return _em(x, fit.mean, fit.scatter, nu, True, max_iter, tol).loglik


def nu_interval(z, fit: TFit, level: float = 0.95, max_iter: int = 200) -> tuple[float, float]:
    """Profile-likelihood interval of nu: where twice the drop of the profile log-likelihood from
    its maximum stays under the chi2_1 quantile. An end that reaches the search range is returned as
    NU_MIN or NU_MAX (``nu_hi == NU_MAX``: the data cannot tell the law from a normal)."""
    x = np.asarray(z, np.float64)
    drop = stats.chi2.ppf(level, 1) / 2

    def excess(log_nu):
        return fit.loglik - profile(x, fit, math.exp(log_nu), max_iter) - drop

    centre = math.log(min(max(fit.nu, NU_MIN), NU_MAX))
    ends = []
    for edge in (math.log(NU_MIN), math.log(NU_MAX)):
        if abs(edge - centre) < 1e-9 or excess(edge) < 0:
            ends.append(math.exp(edge))
        else:
            ends.append(math.exp(optimize.brentq(excess, centre, edge, xtol=1e-3)))
    return ends[0], ends[1]


def sample_t(n: int, p: int, nu: float, rng: np.random.Generator) -> np.ndarray:
    """n standard multivariate t vectors (identity scatter) with nu degrees of freedom."""
    g = rng.standard_normal((n, p))
    if nu >= NU_MAX:
        return g
    return g / np.sqrt(rng.chisquare(nu, size=n) / nu)[:, None]


def predicted_fraction(
    nu: float, p: int, n: int, k_sigma: float = 3.0, repeats: int = 3, seed: int = 0
) -> float:
    """The share of n vectors of a t with nu degrees of freedom inside the k-sigma shell of their own
    sample mean and covariance (as rule mnd's shells measure it), averaged over ``repeats`` clouds.
    """
    from .normality import shell_threshold  # the shell's definition lives with the tests

    t, _ = shell_threshold(p, k_sigma)
    rng = np.random.default_rng([seed, n, p])
    out = []
    for _ in range(repeats):
        x = sample_t(n, p, nu, rng)
        c = x - x.mean(axis=0)
        d2, _ = _d2(c, np.zeros(p), np.cov(c, rowvar=False))
        out.append(float(np.mean(d2 <= t)))
    return float(np.mean(out))
