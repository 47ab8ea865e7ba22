"""caelatent.normality: the core fitted from the core, and simulation-calibrated tests of it.

(Not yet used by rule mnd: see the module's docstring.)
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from caelatent import normality as N


def cloud(rng, n, p):
    """A normal cloud with unequal scales, correlations and an off-centre mean."""
    a = rng.normal(size=(p, p)) / np.sqrt(p) + np.diag(np.linspace(0.5, 2, p))
    return rng.standard_normal((n, p)) @ a.T + 3.0, a @ a.T


def test_the_core_fit_ignores_far_outliers():
    rng = np.random.default_rng(0)
    p, n = 16, 30000
    x, cov = cloud(rng, n, p)
    out = rng.choice(n, n // 100, replace=False)
    x[out] += rng.normal(size=(len(out), p)) * 30  # 1 % far beyond the shell
    fit = N.fit_core(x)
    assert fit.converged
    assert np.linalg.norm(fit.cov - cov) / np.linalg.norm(cov) < 0.05
    naive = np.cov(x.T)
    assert np.linalg.norm(naive - cov) / np.linalg.norm(cov) > 1  # what cutting with all the data's covariance meets
    assert 0.98 < fit.fraction_inside < 0.99


def test_truncated_chi2_moments():
    rng = np.random.default_rng(1)
    d2 = rng.chisquare(10, 400000)
    t = N.shell_threshold(10, 2.0)[0]
    for k in (1, 2):
        assert abs(N.truncated_chi2_moment(k, 10, t) / np.mean(d2[d2 <= t] ** k) - 1) < 0.01


def test_the_beta_law_is_told_from_chi_square_at_small_n():
    """In-sample d^2 of n = 40 normal vectors in p = 10 follow the Beta law, not chi-square."""
    rng = np.random.default_rng(2)
    n, p = 40, 10
    d2 = []
    for _ in range(2000):
        x = rng.standard_normal((n, p))
        c = x - x.mean(0)
        d2.append(np.einsum("ij,jk,ik->i", c, np.linalg.inv(np.cov(c.T, bias=False)), c))
    d2 = np.concatenate(d2)
    scale = (n - 1) ** 2 / n
    beta = stats.kstest(d2 / scale, stats.beta(p / 2, (n - p - 1) / 2).cdf).pvalue
    chi2 = stats.kstest(d2, stats.chi2(p).cdf).pvalue
    assert beta > 0.01 and chi2 < 1e-10
    rows = N.beta_shell_fractions(d2, n, p, [1, 2, 3])
    for r in rows:  # observed fractions match the exact law to sampling error, not chi-square's
        assert abs(r["observed_fraction"] - r["expected_fraction"]) < 0.005
    assert abs(rows[1]["expected_fraction"] - rows[1]["expected_fraction_chi2"]) > 0.01


@pytest.mark.parametrize("p, n", [(8, 2000), (64, 2000)])
def test_radial_tests_hold_their_size(p, n):
    """KS and Mardia over 60 normal clouds against a null of 200 runs: z about N(0, 1), about 5 %
    rejected at 5 %."""
    rng = np.random.default_rng([3, p])
    null = N.null_calibration(n, p, runs=200, seed=11)
    zs, rejected = [], []
    for _ in range(60):
        x, _ = cloud(rng, n, p)
        rows = [r for r in N.calibrated_tests(N.core_statistics(x, N.fit_core(x))[0], null)
                if r["test"] in ("ks_core_d2", "mardia_kurtosis")]
        zs.append([r["z"] for r in rows])
        rejected.append([r["p_value"] < 0.05 for r in rows])
    zs, rejected = np.array(zs), np.array(rejected)
    assert ((zs.std(0) > 0.75) & (zs.std(0) < 1.25)).all(), zs.std(0)
    assert (np.abs(zs.mean(0)) < 0.45).all(), zs.mean(0)
    assert ((rejected.mean(0) >= 0.0) & (rejected.mean(0) <= 0.12)).all(), rejected.mean(0)


def test_scale_mixture_and_two_modes_are_rejected():
    rng = np.random.default_rng(4)
    p, n = 64, 20000
    null = N.null_calibration(n, p, runs=30, seed=5)
    s = np.where(rng.random(n) < 0.5, 0.97, 1.03)[:, None]  # a +-3 % scale mixture
    mix = N.calibrated_tests(N.core_statistics(*(lambda x: (x, N.fit_core(x)))(rng.standard_normal((n, p)) * s))[0], null)
    mardia = next(r for r in mix if r["test"] == "mardia_kurtosis")
    assert mardia["p_value"] < 0.05 and mardia["statistic"] > null.values["mardia_kurtosis"].max()
    two = rng.standard_normal((n, p))
    two[: n // 2, 0] += 3.0  # two modes along one axis
    rows = N.calibrated_tests(N.core_statistics(two, N.fit_core(two))[0], null)
    assert min(r["p_value"] for r in rows) < 0.05 / len(rows)


def test_heavier_tails_inside_the_shell_are_rejected():
    rng = np.random.default_rng(6)
    p, n = 16, 20000
    null = N.null_calibration(n, p, runs=30, seed=7)
    t = rng.standard_normal((n, p)) / np.sqrt(rng.chisquare(8, n) / 8)[:, None]  # multivariate t, 8 df
    rows = {r["test"]: r for r in N.calibrated_tests(N.core_statistics(t, N.fit_core(t))[0], null)}
    assert rows["ks_core_d2"]["p_value"] < 0.05 / 4 or rows["mardia_kurtosis"]["p_value"] < 0.05 / 4, rows
