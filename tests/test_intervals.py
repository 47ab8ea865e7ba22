"""caelatent.scoring.intervals: each interval covers what it estimates at its nominal rate (over hundreds of
repeats, not one draw), and KID is unbiased where the Fréchet distance is not."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import linalg

from caelatent.scoring import intervals as iv
from caelatent.scoring import realism

D, N, REPEATS = 16, 200, 400


def two_laws(rng, n, shift=0.3):
    """A real set N(0, I) and a generated set N(shift, 1.21 I) in D dimensions."""
    return rng.standard_normal((n, D)), rng.standard_normal((n, D)) * 1.1 + shift


def scores(real, fake, seed, resamples):
    return iv.compare_sets(
        iv.RealSet(real, 3, iv.HalfSamples(len(real), resamples, seed)), fake, seed + 1
    )


@pytest.fixture(scope="module")
def coverage():
    """Each metric's 95 % interval over REPEATS pairs of sets of N, and what it should cover: the
    metric's expectation at this N (from 400 other pairs) and, for KID, its value at n = 4,000."""
    rng = np.random.default_rng(0)
    truth = {m: [] for m in iv.SPACE_METRICS}
    for i in range(400):
        v, _ = scores(*two_laws(rng, N), i, 2)
        for m in v:
            truth[m].append(v[m])
    truth = {m: float(np.mean(t)) for m, t in truth.items()}
    large_kid = scores(*two_laws(rng, 4000), 0, 2)[0]["kid"]
    ranges = {m: [] for m in iv.SPACE_METRICS}
    for i in range(REPEATS):
        v, h = scores(*two_laws(rng, N), 1000 + i, 60)
        for m in v:
            ranges[m].append(iv.normal_interval(v[m], h[m]))
    return truth, large_kid, {m: np.array(r) for m, r in ranges.items()}


@pytest.mark.slow
@pytest.mark.parametrize("metric", iv.SPACE_METRICS)
def test_each_interval_covers_the_metric_at_its_nominal_rate(coverage, metric):
    truth, _, ranges = coverage
    lo, hi = ranges[metric].T
    rate = np.mean((lo <= truth[metric]) & (truth[metric] <= hi))
    assert 0.92 <= rate <= 0.98, (metric, rate)


@pytest.mark.slow
def test_the_kid_interval_covers_its_large_sample_value(coverage):
    """KID is unbiased: its interval at n = 200 covers the value at n = 4,000 (where the FD's
    does not: its estimate at 200 is biased upwards)."""
    _, large, ranges = coverage
    lo, hi = ranges["kid"].T
    assert np.mean((lo <= large) & (large <= hi)) >= 0.9


def test_the_fd_at_small_n_is_biased_and_kid_is_not():
    rng = np.random.default_rng(1)
    small = [scores(*two_laws(rng, 100), i, 2)[0] for i in range(100)]
    large = scores(*two_laws(rng, 4000), 0, 2)[0]
    assert np.mean([s["fd"] for s in small]) > 1.5 * large["fd"]
    assert abs(np.mean([s["kid"] for s in small]) / large["kid"] - 1) < 0.15


def test_face_rate_intervals_cover_at_their_nominal_rate():
    """Wilson's interval of a face rate of 0.95 from 200 images, over 1,000 repeats."""
    rng = np.random.default_rng(2)
    hits = [
        lo <= 0.95 <= hi
        for lo, hi in (iv.proportion_interval(k, 200) for k in rng.binomial(200, 0.95, 1000))
    ]
    assert 0.92 <= np.mean(hits) <= 0.98


def test_two_samples_of_one_law():
    """KID's interval holds 0 in at least 90 % of 200 pairs of one law; equal-size precision and
    recall agree within their intervals."""
    rng = np.random.default_rng(3)
    zero, agree = 0, 0
    for i in range(200):
        a, b = rng.standard_normal((N, D)), rng.standard_normal((N, D))
        v, h = scores(a, b, i, 40)
        lo, hi = iv.normal_interval(v["kid"], h["kid"])
        zero += lo <= 0 <= hi
        (plo, phi), (rlo, rhi) = (iv.normal_interval(v[m], h[m]) for m in ("precision", "recall"))
        agree += plo <= rhi and rlo <= phi
    assert zero / 200 >= 0.9 and agree / 200 >= 0.95


def test_the_metrics_equal_the_reference_implementations():
    """Fréchet distance as realism.frechet_distance (scipy's sqrtm), precision and recall as
    realism.precision_recall (scikit-learn's neighbours), KID as the textbook U-statistic."""
    rng = np.random.default_rng(4)
    real, fake = two_laws(rng, 150)
    v, _ = scores(real, fake, 0, 2)
    assert v["fd"] == pytest.approx(realism.frechet_distance(real, fake), rel=1e-6)
    assert (v["precision"], v["recall"]) == pytest.approx(realism.precision_recall(real, fake, 3))
    kxx, kyy, kxy = ((x @ y.T / D + 1) ** 3 for x, y in ((real, real), (fake, fake), (real, fake)))
    m = len(real)
    u = (kxx.sum() - np.trace(kxx) + kyy.sum() - np.trace(kyy)) / (m * (m - 1)) - 2 * kxy.mean()
    assert v["kid"] == pytest.approx(u, rel=1e-9)
    assert (
        linalg.norm(iv._psd_sqrt(np.cov(real.T)) @ iv._psd_sqrt(np.cov(real.T)) - np.cov(real.T))
        < 1e-9
    )


def test_paired_gaps_are_narrower_than_their_parts():
    """The latent gap (a set's distance minus another's against the same real halves) has a
    narrower interval than the difference of two independent intervals would suggest."""
    rng = np.random.default_rng(5)
    real, fake = two_laws(rng, N)
    other = rng.standard_normal((N, D)) * 1.1 + 0.35
    rs = iv.RealSet(real, 3, iv.HalfSamples(N, 60, 0))
    (_, ha), (_, hb) = iv.compare_sets(rs, fake, 1), iv.compare_sets(rs, other, 2)
    paired = np.std(ha["fd"] - hb["fd"])
    assert paired < np.hypot(np.std(ha["fd"]), np.std(hb["fd"]))
