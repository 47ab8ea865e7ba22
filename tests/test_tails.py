"""caelatent.latent.tails: the multivariate t's degrees of freedom, a tail measure comparable across p."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import special

from caelatent.latent import normality, tails


def t_cloud(rng, n, p, nu):
    """A multivariate t with a random correlated scatter and an off-centre mean."""
    a = rng.normal(size=(p, p)) / np.sqrt(p) + np.diag(np.linspace(0.5, 2, p))
    return tails.sample_t(n, p, nu, rng) @ a.T + 2.0


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_nu_is_recovered_at_p64(seed):
    fit = tails.fit_t(t_cloud(np.random.default_rng(seed), 20000, 64, 6.0))
    assert fit.converged and abs(fit.nu / 6 - 1) < 0.25, fit.nu


@pytest.mark.slow
def test_the_nu_interval_covers_nu_at_its_nominal_rate():
    """Over 150 clouds (t6, p = 8, n = 2,000) the 95 % profile interval holds 6 in 89-99 % of them
    (about three standard errors either side of 95 %)."""
    hits = 0
    for s in range(150):
        x = t_cloud(np.random.default_rng([6, s]), 2000, 8, 6.0)
        fit = tails.fit_t(x)
        lo, hi = tails.nu_interval(x, fit)
        assert lo < fit.nu < hi
        hits += lo < 6 < hi
    assert 0.89 <= hits / 150 <= 0.99, hits


def test_nu_is_recovered_at_p256():
    x = t_cloud(np.random.default_rng(3), 20000, 256, 6.0)
    fit = tails.fit_t(x)
    assert fit.converged and abs(fit.nu / 6 - 1) < 0.25, fit.nu


@pytest.mark.parametrize("p", [16, 64])
def test_a_normal_cloud_gives_a_large_nu(p):
    x = t_cloud(np.random.default_rng(p), 10000, p, np.inf)
    fit = tails.fit_t(x)
    lo, _ = tails.nu_interval(x, fit)
    assert fit.nu > 30 and lo > 30, (fit.nu, lo)


def test_heavier_tails_give_a_smaller_nu_at_every_p():
    """The ordering holds where the 3-sigma fraction's does not: t5 is heavier than t20."""
    rng = np.random.default_rng(4)
    for p in (16, 64):
        assert (
            tails.fit_t(t_cloud(rng, 8000, p, 5.0)).nu < tails.fit_t(t_cloud(rng, 8000, p, 20.0)).nu
        )


def test_the_profile_likelihood_peaks_at_the_fit():
    x = t_cloud(np.random.default_rng(5), 5000, 16, 8.0)
    fit = tails.fit_t(x)
    for nu in (fit.nu * 0.7, fit.nu * 1.4):
        assert tails.profile(x, fit, nu) < fit.loglik


def test_the_predicted_fraction_of_a_normal_is_the_exact_law():
    """For a normal the simulated in-sample fraction is the Beta law's (normality.beta_shell_fractions)."""
    for p, n in ((16, 2000), (64, 4000)):
        t, _ = normality.shell_threshold(p, 3.0)
        scale = (n - 1) ** 2 / n
        exact = special.betainc(p / 2, (n - p - 1) / 2, min(t / scale, 1))
        assert abs(tails.predicted_fraction(np.inf, p, n, repeats=5) - exact) < 0.004


def test_the_3sigma_fraction_of_one_law_falls_with_p():
    """Why the 3-sigma fraction cannot be compared across latent sizes: a t with 5 degrees of
    freedom keeps less inside the shell at every larger p, while its nu is the same."""
    f = [tails.predicted_fraction(5.0, p, 4000, repeats=2) for p in (16, 64, 256)]
    assert f[0] > f[1] > f[2] and f[0] - f[2] > 0.03, f


def test_too_few_vectors_is_an_error():
    with pytest.raises(ValueError, match="n=10, p=16"):
        tails.fit_t(np.zeros((10, 16)))
