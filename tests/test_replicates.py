"""caelatent.comparison.replicates: numbers over replicate trainings, and Welch intervals of differences."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from caelatent.comparison import replicates as rp


def test_the_t_interval_over_replicates_covers_the_mean_at_its_nominal_rate():
    """Three replicates each, 2,000 repeats: the 95 % interval holds the true mean 93-97 %."""
    rng = np.random.default_rng(0)
    hits = 0
    for _ in range(2000):
        s = rp.summarise(list(rng.normal(0.8, 0.05, 3)))
        hits += s["lo"] <= 0.8 <= s["hi"]
    assert 0.93 <= hits / 2000 <= 0.97


def test_one_replicate_keeps_its_own_interval():
    rows = [{"exp": "a", "rate": 0.9, "rate_lo": 0.85, "rate_hi": 0.94}]
    out = rp.aggregate(rows, ["rate"], ("exp",))
    assert out["n_replicates"] == [1] and math.isnan(out["rate_sd"][0])
    assert (out["rate_lo"][0], out["rate_hi"][0]) == (0.85, 0.94)
    # and without one, there is none (never a made-up zero width)
    assert math.isnan(rp.aggregate([{"exp": "a", "x": 1.0}], ["x"], ("exp",))["x_lo"][0])


def test_replicates_that_agree_keep_the_runs_interval():
    """A number shared by every replicate (a score of the fixed reference rows) has no spread
    between trainings: the interval is the run's own, not of zero width."""
    rows = [{"exp": "a", "r": 0.7, "r_lo": 0.6, "r_hi": 0.8} for _ in range(3)]
    out = rp.aggregate(rows, ["r"], ("exp",))
    assert (out["r_lo"][0], out["r_hi"][0]) == (0.6, 0.8)


def test_aggregate_groups_in_order_and_keeps_descriptions():
    rows = [
        {"exp": "b", "z_dim": 64, "kind": "cae", "x": 1.0},
        {"exp": "a", "z_dim": 32, "kind": "cae", "x": 2.0},
        {"exp": "b", "z_dim": 64, "kind": "vae", "x": 3.0},
    ]
    out = rp.aggregate(rows, ["z_dim", "kind", "x"], ("exp",), descriptive=("z_dim",))
    assert out["exp"] == ["b", "a"] and out["n_replicates"] == [2, 1]
    assert out["z_dim"] == ["64", "32"] and out["kind"] == ["mixed", "cae"]
    assert out["x"] == [2.0, 2.0] and out["x_sd"][0] == pytest.approx(math.sqrt(2))
    half = stats.t.ppf(0.975, 1) * math.sqrt(2) / math.sqrt(2)
    assert (out["x_lo"][0], out["x_hi"][0]) == pytest.approx((2 - half, 2 + half))


def test_welch_has_its_size_and_power():
    """Three replicates a side (SDs 1 and 1.5): equal means are called different in 3-7 % of
    2,000 repeats, a difference of 5 (4.8 standard errors) in over 80 %."""
    rng = np.random.default_rng(1)

    def called(shift):
        w = rp.welch(rng.normal(0, 1, 3), rng.normal(shift, 1.5, 3))
        return w["lo"] > 0 or w["hi"] < 0

    size = np.mean([called(0.0) for _ in range(2000)])
    power = np.mean([called(5.0) for _ in range(500)])
    assert 0.03 <= size <= 0.07 and power > 0.8, (size, power)


def test_differences_are_judged_against_the_baseline_only_with_replicates():
    rows = [{"experiment": "seed", "sampler": "gmm", "x": v} for v in (0.80, 0.82, 0.81)]
    rows += [{"experiment": "z512", "sampler": "gmm", "x": v} for v in (0.70, 0.71, 0.69)]
    rows += [{"experiment": "bn", "sampler": "gmm", "x": 0.5}]
    out = rp.differences(rows, ["x"], "experiment", "seed", ("sampler",))
    by = dict(zip(out["experiment"], zip(out["difference"], out["supported"])))
    assert by["z512"][0] == pytest.approx(-0.11) and by["z512"][1] == "yes"
    assert math.isnan(by["bn"][0]) and by["bn"][1] == "-"  # one replicate: not judged
    assert "seed" not in by


def test_the_interval_over_replicates_stays_inside_the_quantity_s_range():
    """Three face rates near 0 have a t interval reaching below 0: it is clipped to the rate's
    range, the mean and SD untouched (the latent gap, a difference, is not clipped)."""
    rows = [
        {"run": "a", "face_rate": v, "gap_fd_onet": g}
        for v, g in ((0.0, -1.0), (0.004, 0.5), (0.004, 2.0))
    ]
    out = rp.aggregate(rows, ["face_rate", "gap_fd_onet"], by=("run",))
    assert out["face_rate_lo"][0] == 0.0 and out["face_rate"][0] == pytest.approx(0.008 / 3)
    assert out["face_rate_hi"][0] < 1 and out["face_rate_sd"][0] > 0
    assert out["gap_fd_onet_lo"][0] < -1.0
