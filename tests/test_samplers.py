"""Each sampler's defining property, on latents with known structure."""

import math

import numpy as np
import pytest

from caelatent.sampling import samplers as smp
from caelatent.latent import describe


@pytest.fixture(scope="module")
def cloud():
    rng = np.random.default_rng(0)
    p = 12
    a = rng.normal(size=(p, p)) / math.sqrt(p)
    cov = a @ a.T + np.diag(np.linspace(0.2, 1.5, p))
    mean = np.linspace(-2, 4, p)
    return rng.multivariate_normal(mean, cov, size=20000), mean, cov


def d2(x, mom):
    y = (x - mom.mean) @ describe.whitener(mom).T
    return np.einsum("ij,ij->i", y, y)


def test_uniform_box_bounds(cloud):
    z, *_ = cloud
    x = smp.UniformBox(1.5).fit(z).sample(5000, np.random.default_rng(1))
    assert x.shape == (5000, 12) and x.min() >= -1.5 and x.max() <= 1.5
    assert x.min() < -1.45 and x.max() > 1.45  # fills the box


def test_component_intervals(cloud):
    z, mean, cov = cloud
    s = smp.ComponentIntervals(0.5).fit(z)
    np.testing.assert_allclose(
        s.half_width_, np.sqrt(np.diag(cov)) * math.sqrt(2 * math.log(2)), rtol=0.1
    )
    x = s.sample(4000, np.random.default_rng(2))
    lo, hi = s.moments_.mean - 0.5 * s.half_width_, s.moments_.mean + 0.5 * s.half_width_
    assert (x >= lo).all() and (x <= hi).all()
    assert abs(np.corrcoef(x[:, 0], x[:, 1])[0, 1]) < 0.05  # independent components


def test_origin_to_centre(cloud):
    z, *_ = cloud
    s = smp.OriginToCentre().fit(z)
    x = s.sample(11, np.random.default_rng(0))
    assert np.allclose(x[0], 0) and np.allclose(x[-1], s.moments_.mean)
    assert np.allclose(x[5], s.moments_.mean / 2)


@pytest.mark.parametrize("angle", [0.0, 45.0, 90.0])
def test_plane_path_passes_through_the_centre(cloud, angle):
    z, *_ = cloud
    s = smp.PlanePath(2, 7, angle, extent=3.0).fit(z)
    x = s.sample(21, np.random.default_rng(0))
    assert np.allclose(x[10], s.moments_.mean)  # the middle point is the centre
    moved = np.flatnonzero(np.abs(x - s.moments_.mean).max(axis=0) > 1e-9)
    assert set(moved) <= {2, 7}
    step = x[1:] - x[:-1]
    assert np.allclose(step, step[0])  # a straight, evenly spaced path
    a = math.radians(angle)
    direction = step[0] / np.linalg.norm(step[0])
    assert np.allclose(direction[[2, 7]], [math.cos(a), math.sin(a)], atol=1e-9)
    # from -3 to +3 standard deviations along the direction
    sd = math.sqrt(direction @ s.moments_.cov @ direction)
    assert np.isclose(np.linalg.norm(x[-1] - x[0]), 6 * sd)
    with pytest.raises(ValueError, match="component 40 is outside"):
        smp.PlanePath(0, 40).fit(z)


@pytest.mark.parametrize("k", [1.0, 3.0])
def test_truncated_normal_stays_inside_its_shell(cloud, k):
    z, mean, cov = cloud
    s = smp.TruncatedNormal(k).fit(z)
    x = s.sample(20000, np.random.default_rng(3))
    r = d2(x, s.moments_)
    t = smp.shell_d2(k, 12)
    assert r.max() <= t + 1e-9 and r.max() > 0.97 * t  # inside the shell, up to its edge
    # the fitted normal truncated to the shell: same centre, covariance shrunk by F_{p+2}(t) / F_p(t)
    from scipy.stats import chi2

    shrink = chi2.cdf(t, 14) / chi2.cdf(t, 12)
    np.testing.assert_allclose(x.mean(axis=0), s.moments_.mean, atol=0.05)
    want = s.moments_.cov * shrink
    assert np.linalg.norm(np.cov(x, rowvar=False) - want) < 0.04 * np.linalg.norm(want)


def test_independent_gaussians_drop_the_correlations(cloud):
    z, mean, cov = cloud
    x = smp.IndependentGaussians().fit(z).sample(20000, np.random.default_rng(4))
    np.testing.assert_allclose(x.std(axis=0), np.sqrt(np.diag(cov)), rtol=0.05)
    r = np.corrcoef(x, rowvar=False)
    assert (
        np.abs(r - np.eye(12)).max()
        < 0.05
        < np.abs(np.corrcoef(z, rowvar=False) - np.eye(12)).max()
    )


def test_prior_is_the_standard_normal_whatever_the_cloud(cloud):
    z, mean, _ = cloud
    x = smp.build_samplers({"prior": {}}, [])[0].fit(z).sample(20000, np.random.default_rng(5))
    assert x.shape == (20000, 12)
    assert np.abs(x.mean(axis=0)).max() < 0.05 < np.abs(mean).min()  # not the cloud's centre
    assert np.abs(np.cov(x, rowvar=False) - np.eye(12)).max() < 0.05


def test_pca_ellipsoid_is_uniform_inside(cloud):
    z, *_ = cloud
    s = smp.PCAEllipsoid(2.0).fit(z)
    x = s.sample(5000, np.random.default_rng(5))
    r = np.sqrt(d2(x, s.moments_)) / math.sqrt(smp.shell_d2(2.0, 12))
    assert r.max() <= 1 + 1e-9
    # uniform in a 12-ball: P(r <= 0.9) = 0.9^12
    assert abs((r <= 0.9).mean() - 0.9**12) < 0.03
    lead = smp.PCAEllipsoid(3.0, components=2).fit(z)
    y = (lead.sample(100, np.random.default_rng(6)) - lead.moments_.mean) @ lead.axes_
    assert y.shape == (100, 2)


def test_gaussian_mixture_recovers_a_known_mixture():
    rng = np.random.default_rng(7)
    means = np.array([[0, 0, 0, 0], [8, 0, 0, 0], [0, 8, 0, 0]], float)
    z = np.vstack([rng.normal(m, 0.5, size=(3000, 4)) for m in means])
    s = smp.GaussianMixtureSampler(candidates=[3], max_fit=9000, seed=0).fit(z)
    assert s.setting == "n3" and s.selection["gmm_converged"]
    got = s.gmm_.means_[np.argsort(s.gmm_.means_[:, 0] * 10 + s.gmm_.means_[:, 1])]
    want = means[np.argsort(means[:, 0] * 10 + means[:, 1])]
    np.testing.assert_allclose(got, want, atol=0.1)
    x = s.sample(3000, np.random.default_rng(8))
    nearest = np.argmin(((x[:, None, :] - means[None]) ** 2).sum(-1), axis=1)
    assert np.allclose(np.bincount(nearest) / 3000, 1 / 3, atol=0.05)


@pytest.mark.parametrize("true_k", [1, 4])
def test_gaussian_mixture_selection_finds_the_true_number_of_components(true_k):
    """Well-separated mixtures: the held-out log-likelihood picks the true size among 1, 2, 4, 8."""
    rng = np.random.default_rng(true_k)
    means = rng.normal(size=(true_k, 6)) * 12
    z = np.vstack([rng.normal(m, 1.0, size=(1500, 6)) for m in means])
    s = smp.GaussianMixtureSampler(candidates=[1, 2, 4, 8], max_fit=6000, seed=0).fit(z)
    assert s.setting == "selected" and s.selection["gmm_components"] == true_k, s.selection
    assert s.selection["gmm_selected_on"] == round(len(z) * 0.1)
    assert set(s.selection["gmm_candidates"]) == {"1", "2", "4", "8"}


def test_gaussian_mixture_screens_each_candidate_once_and_refits_the_chosen_size():
    """The cost cap: candidates get one EM start each, the chosen size n_init starts in all, and
    the kept fit is the best of them (never worse than the screening start)."""
    rng = np.random.default_rng(11)
    means = rng.normal(size=(5, 8)) * 3
    z = np.vstack([rng.normal(m, 1.0, size=(600, 8)) for m in means])
    one = smp.GaussianMixtureSampler(candidates=[2, 5], max_fit=3000, seed=3, n_init=1).fit(z)
    four = smp.GaussianMixtureSampler(candidates=[2, 5], max_fit=3000, seed=3, n_init=4).fit(z)
    k = four.selection["gmm_components"]
    assert k == one.selection["gmm_components"] == 5
    starts = {c: v["starts"] for c, v in four.selection["gmm_candidates"].items()}
    assert starts == {"2": 1, "5": 4}
    assert four.gmm_.lower_bound_ >= one.gmm_.lower_bound_
    assert four.selection["gmm_candidates"]["2"] == one.selection["gmm_candidates"]["2"]


def test_gaussian_mixture_that_does_not_converge_is_a_warning(caplog):
    rng = np.random.default_rng(9)
    z = rng.standard_normal((600, 5)) / np.sqrt(rng.chisquare(2, 600) / 2)[:, None]
    s = smp.GaussianMixtureSampler(candidates=[6], max_fit=600, max_iter=2, n_init=3).fit(z)
    assert not s.selection["gmm_converged"]
    assert "did not converge in 2 iterations" in caplog.text


def test_build_samplers_from_config():
    spec = {
        "uniform_box": {"b": [1.5, 4]},
        "plane_path": {"axes": None, "angles": [0, 45], "extent": 3.0},
        "mnd": {"k": [3]},
        "origin_to_centre": {},
    }
    ids = [smp.sampler_id(s) for s in smp.build_samplers(spec, dominant=[5, 9, 2])]
    assert ids == [
        "uniform_box-b1.5",
        "uniform_box-b4",
        "plane_path-z5-z9-a0",
        "plane_path-z5-z9-a45",
        "mnd-k3",
        "origin_to_centre",
    ]
    with pytest.raises(ValueError, match="generate.samplers.vae: unknown sampler"):
        smp.build_samplers({"vae": {}}, dominant=[])
    with pytest.raises(ValueError, match="generate.samplers.mnd.k: missing"):
        smp.build_samplers({"mnd": {}}, dominant=[])
