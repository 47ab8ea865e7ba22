"""Statistics on latent arrays with known structure."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import zarr

from caelatent.files import records
from caelatent.stages.inputs import read_moments  # noqa: E402
from caelatent.latent import normality, describe
from caelatent.stages import stats as stage


def write_latents(path, z, chunk=1000):
    g = zarr.open_group(path, mode="w")
    g.create_array("z", data=z.astype(np.float32), chunks=(chunk, z.shape[1]))
    return path


def known_mnd(n=30000, p=16, seed=0):
    """Mean far from the origin, unequal variances, three strongly correlated pairs."""
    rng = np.random.default_rng(seed)
    sd = np.linspace(0.5, 2.0, p)
    r = np.eye(p)
    for (i, j), v in {(0, 1): 0.8, (2, 5): -0.6, (7, 11): 0.5}.items():
        r[i, j] = r[j, i] = v
    cov = r * np.outer(sd, sd)
    mean = np.linspace(-1, 3, p)
    mean[4] = 9.0  # a dominant component (large mean)
    return rng.multivariate_normal(mean, cov, size=n), mean, cov


def mixture(n=30000, p=16, seed=1):
    rng = np.random.default_rng(seed)
    z = rng.normal(size=(n, p))
    z[:, 3] += np.where(rng.random(n) < 0.5, -2.5, 2.5)  # bimodal along one component
    return z


@pytest.fixture(scope="module")
def mnd_run(tmp_path_factory):
    d = tmp_path_factory.mktemp("mnd")
    z, mean, cov = known_mnd()
    lat = write_latents(d / "latents.zarr", z)
    stage.moments(latents=lat, moments=d / "moments.npz")
    return d, lat, z, mean, cov


def test_streaming_moments_equal_numpy(mnd_run):
    d, lat, z, mean, cov = mnd_run
    mom = read_moments(d / "moments.npz")
    z32 = z.astype(np.float32).astype(np.float64)
    np.testing.assert_allclose(mom.mean, z32.mean(axis=0), atol=1e-9)
    np.testing.assert_allclose(mom.cov, np.cov(z32, rowvar=False), rtol=1e-7, atol=1e-9)
    assert mom.n == len(z)
    # and they recover the distribution's parameters
    np.testing.assert_allclose(mom.mean, mean, atol=0.05)
    np.testing.assert_allclose(mom.cov, cov, atol=0.08)


def test_component_table_and_dominant_components(mnd_run, tmp_path):
    d, lat, z, mean, cov = mnd_run
    figs = [tmp_path / f"{k}.png" for k in ("grid", "overlay", "dom")]
    tables = {"table": tmp_path / "c.tsv", "dominant": tmp_path / "dom.tsv"}
    tables["histograms"] = tmp_path / "h.npz"
    table, dom = stage.components(
        latents=lat,
        moments=d / "moments.npz",
        **tables,
        bins=100,
        dominant_mean_factor=3.0,
        dominant_sigma_factor=2.0,
    )
    stage.component_plots(
        **tables, **dict(zip(("fig_grid", "fig_overlay", "fig_dominant"), figs)), grid=None
    )
    sd = np.sqrt(np.diag(cov))
    np.testing.assert_allclose(table["fit_sigma"], sd, rtol=0.05)
    np.testing.assert_allclose(table["fit_mean"], mean, atol=0.06)
    # a normal histogram's half width at half maximum is sigma * sqrt(2 ln 2)
    np.testing.assert_allclose(table["half_width"], sd * math.sqrt(2 * math.log(2)), rtol=0.1)
    assert np.all(np.abs(table["skew"]) < 0.1) and np.all(np.abs(table["excess_kurtosis"]) < 0.15)
    assert dom["components"][0] == 4 and bool(dom["large_mean"][0])
    assert (tmp_path / "dom.tsv").read_text().splitlines()[1].startswith("4\t")
    for f in figs:
        assert f.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_correlations_recover_the_correlated_pairs(mnd_run, tmp_path):
    d, lat, z, *_ = mnd_run
    out = [tmp_path / n for n in ("m.tsv", "counts.tsv", "pairs.tsv", "m.png", "p.png")]
    stage.correlations(
        moments=d / "moments.npz",
        **dict(zip(("matrix", "counts", "pairs"), out[:3])),
        count_thresholds=[0.1, 0.3, 0.55, 0.7],
        list_threshold=0.3,
    )
    rows = [line.split("\t") for line in out[2].read_text().splitlines()[1:]]
    assert [(int(i), int(j)) for i, j, _ in rows] == [(0, 1), (2, 5), (7, 11)]
    assert abs(float(rows[0][2]) - 0.8) < 0.02 and abs(float(rows[1][2]) + 0.6) < 0.02
    counts = [line.split("\t") for line in out[1].read_text().splitlines()[1:]]
    assert [int(c[1]) for c in counts] == [3, 3, 2, 1]
    matrix = np.loadtxt(out[0], skiprows=1, delimiter="\t")[:, 1:]
    assert matrix.shape == (16, 16) and np.allclose(np.diag(matrix), 1)
    # the scatter plots' data: the strongest pairs, the drawn points, the chosen image's vector
    drawn = dict(latents=lat, moments=d / "moments.npz", scatter=tmp_path / "s.npz", seed=0)
    stage.correlation_scatter(
        **drawn, top_pairs=3, chosen_image=5, max_points_drawn=2000, uniform_b=1.5
    )
    sc = records.read_npz(tmp_path / "s.npz")
    assert sc["pairs"].tolist() == [[0, 1], [2, 5], [7, 11]]
    assert sc["components"].tolist() == [0, 1, 2, 5, 7, 11]
    assert sc["points"].shape == (2000, 6) and sc["uniform"].shape == (2000, 6)
    assert np.all(np.abs(sc["uniform"]) <= 1.5)
    np.testing.assert_allclose(sc["chosen"], z[5, [0, 1, 2, 5, 7, 11]], rtol=1e-6)
    # every drawn point is a row of the data
    rows32 = {tuple(r) for r in z[:, [0, 1, 2, 5, 7, 11]].astype(np.float32)}
    assert all(tuple(p) in rows32 for p in sc["points"].astype(np.float32)[:50])
    figs = dict(zip(("fig_matrix", "fig_pairs"), out[3:]))
    stage.correlation_plots(matrix=out[0], scatter=tmp_path / "s.npz", **figs)
    assert all(f.read_bytes()[:4] == b"\x89PNG" for f in out[3:])
    with pytest.raises(ValueError, match="chosen_image=99999"):
        stage.correlation_scatter(
            **drawn | {"scatter": tmp_path / "bad.npz"},
            top_pairs=1,
            chosen_image=99999,
            max_points_drawn=200,
            uniform_b=1.5,
        )
    assert not (tmp_path / "bad.npz").exists()


def test_pca_counts_components_for_explained_variance():
    mom = describe.Moments(
        1000, np.zeros(4), np.diag([6.0, 2.0, 1.5, 0.5]), np.zeros(4), np.zeros(4)
    )
    w, v = describe.pca(mom)
    assert w.tolist() == [6.0, 2.0, 1.5, 0.5]
    # cumulative: 0.6, 0.8, 0.95, 1.0
    assert describe.components_for(w / w.sum()) == {"90%": 3, "95%": 3, "99%": 4}


def test_pca_rule(mnd_run, tmp_path):
    d, lat, z, mean, cov = mnd_run
    tables = dict(table=tmp_path / "e.tsv", summary=tmp_path / "p.json")
    need = stage.pca(moments=d / "moments.npz", **tables)
    planes = dict(latents=lat, moments=d / "moments.npz", projections=tmp_path / "pl.npz")
    stage.pca_planes(**planes, planes=[[0, 1], [2, 3]])
    h = records.read_npz(tmp_path / "pl.npz")
    assert h["planes"].tolist() == [[0, 1], [2, 3]] and h["counts"].shape == (2, 80, 80)
    # a normal cloud within +-4.5 sigma of each principal axis: nearly every vector is counted
    assert np.all(h["counts"].sum(axis=(1, 2)) > 0.999 * len(z))
    figs = dict(fig_spectrum=tmp_path / "s.png", fig_planes=tmp_path / "pl.png")
    stage.pca_plots(**tables, projections=tmp_path / "pl.npz", **figs)
    assert (tmp_path / "pl.png").read_bytes()[:4] == b"\x89PNG"
    with pytest.raises(
        ValueError, match="describe.pca_planes.planes: \\[0, 40\\] names a component beyond PC16"
    ):
        stage.pca_planes(**planes | {"projections": tmp_path / "bad.npz"}, planes=[[0, 40]])
    w = np.sort(np.linalg.eigvalsh(cov))[::-1]
    got = np.loadtxt(tmp_path / "e.tsv", skiprows=1)[:, 1]
    np.testing.assert_allclose(got, w, rtol=0.06)
    assert need == describe.components_for(w / w.sum())


def test_uniform_cloud_radius_finds_its_box(tmp_path):
    rng = np.random.default_rng(3)
    lat = write_latents(tmp_path / "u.zarr", rng.uniform(-1.5, 1.5, size=(20000, 64)))
    stage.moments(latents=lat, moments=tmp_path / "m.npz")
    res = stage.radius(
        latents=lat,
        moments=tmp_path / "m.npz",
        table=tmp_path / "r.tsv",
        summary=tmp_path / "r.json",
        radii=tmp_path / "r.npz",
        uniform_b=[0.5, 1.0, 1.5, 2.0, 3.0],
        uniform_samples=5000,
        seed=0,
    )
    stage.radius_plots(
        summary=tmp_path / "r.json", radii=tmp_path / "r.npz", fig=tmp_path / "r.png"
    )
    assert (tmp_path / "r.png").read_bytes()[:4] == b"\x89PNG"
    assert res["best_b"] == 1.5 and res["best_overlap"] > 0.85
    assert abs(res["b_matching_mean_square_radius"] - 1.5) < 0.02
    assert json.loads((tmp_path / "r.json").read_text())["best_b"] == 1.5


def mnd(lat, moments, out, planes, max_test_n=5000):
    """Rules mnd_core, normality_null, mnd, mnd_planes and mnd_plots with their outputs in ``out``:
    100 null runs (beyond them p is the bound 1/101, under the one-sided tests' Bonferroni level),
    at most 5,000 tested."""
    tables = dict(summary=out / "f.json", shells=out / "s.tsv", qq=out / "qq.npz")
    core, null = out / "core.npz", out / "null.npz"
    stage.mnd_core(latents=lat, core=core, core_sigma=3.0, max_test_n=max_test_n, seed=0)
    stage.normality_null(core=core, null=null, null_runs=100, seed=0)
    res = stage.mnd(
        latents=lat, moments=moments, core=core, null=null, **tables, tests=out / "t.tsv", seed=0
    )
    figs = {k: out / f"{k}.png" for k in ("fig_contours", "fig_marginals", "fig_qq", "fig_shells")}
    unused = dict(pairs=None, dominant=None, n_planes=1)  # only read when planes is None
    drawn = out / "planes.npz"
    stage.mnd_planes(latents=lat, moments=moments, projections=drawn, planes=planes, **unused)
    stage.mnd_plots(**tables, projections=drawn, **figs)
    assert all(f.read_bytes()[:4] == b"\x89PNG" for f in figs.values())
    return res


def test_normal_cloud_is_not_rejected(mnd_run, tmp_path):
    d, lat, z, mean, cov = mnd_run
    res = mnd(lat, d / "moments.npz", tmp_path, [(0, 1), (2, 5)])
    assert res["consistent_with_normal"], res["tests"]
    assert [t["test"] for t in res["tests"]] == list(normality.TESTS)
    for t in res["tests"]:  # every test reports its null mean and spread, z and p
        assert (
            t["null_runs"] == 100
            and t["null_sd"] > 0
            and np.isfinite(t["z"])
            and 0 < t["p_value"] <= 1
        )
    shells = [
        dict(
            zip(
                [
                    "sigma",
                    "d2_threshold",
                    "expected_fraction",
                    "expected_fraction_chi2",
                    "observed_fraction",
                ],
                map(float, line.split("\t")),
            )
        )
        for line in (tmp_path / "s.tsv").read_text().splitlines()[1:]
    ]
    for sh in shells:
        assert abs(sh["expected_fraction"] - sh["observed_fraction"]) < 0.01
    core = res["core"]
    assert abs(core["fraction_inside"] - core["expected_fraction"]) < 0.003
    # the tail measure: a normal cloud's t fit runs to the top of nu's range, and the 3-sigma
    # fraction it predicts is the observed one
    assert res["nu"] > 30 and res["nu_lo"] > 30, (res["nu"], res["nu_lo"])
    tails = res["tails"]
    assert abs(tails["inside_3sigma_predicted_by_t"] - tails["inside_3sigma_observed"]) < 0.01
    assert abs(core["trace_ratio_core_to_full"] - 1) < 0.03
    assert "says nothing about the vectors outside the shell" in res["consistent_with_normal_means"]
    # the null is simulated for the tested core: 5,000 of the 30,000 vectors, in 16 dimensions
    null = normality.Null.from_arrays(records.read_npz(tmp_path / "null.npz"))
    assert (null.n, null.p, null.runs, null.k_sigma) == (5000, 16, 100, 3.0)
    assert res["tested"]["n"] == 5000 and res["n"] == len(z)
    # mnd_planes: of a normal cloud, the marginals follow the fitted normal's density, and each
    # plane's highest-density regions hold about the ellipses' masses
    drawn = records.read_npz(tmp_path / "planes.npz")
    assert drawn["planes"].tolist() == [[0, 1], [2, 5]]
    assert drawn["marginal_components"].tolist() == [0, 1, 2, 5]
    for counts, edges, normal in zip(
        drawn["marginal_counts"], drawn["marginal_edges"], drawn["marginal_normal"]
    ):
        density = counts / counts.sum() / (edges[1] - edges[0])
        assert np.abs(density - normal).max() < 0.1 * normal.max()
    masses = 1 - np.exp(-np.asarray(describe.SIGMA_LEVELS) ** 2 / 2)
    for h, levels in zip(drawn["counts"], drawn["levels"]):
        held = [h[h >= lv].sum() / h.sum() for lv in levels]
        np.testing.assert_allclose(held, masses[::-1], atol=0.02)  # levels rise as masses fall
    assert drawn["ellipses"].shape == (2, len(describe.SIGMA_LEVELS), 200, 2)


def test_mixture_is_rejected(tmp_path):
    lat = write_latents(tmp_path / "mix.zarr", mixture())
    stage.moments(latents=lat, moments=tmp_path / "m.npz")
    res = mnd(lat, tmp_path / "m.npz", tmp_path, [(3, 4)])
    assert not res["consistent_with_normal"]
    assert min(t["p_value"] for t in res["tests"]) < res["alpha_per_test"]
    # beyond every null run the p-value is the bound 1/(runs + 1), not an extrapolation, and the
    # effect size lies outside its null range
    for t in res["tests"]:
        if t["p_is_bound"]:
            assert t["p_value"] == pytest.approx((2 if t["side"] == "two-sided" else 1) / 101)
            assert not t["effect_null_lo"] <= t["effect"] <= t["effect_null_hi"]


def test_tails_beyond_the_shell_do_not_reject_the_core(tmp_path):
    """A normal core with 1 % far outliers: consistent with normal; cut with the whole cloud's
    covariance (the old procedure) the same core looked non-normal."""
    rng = np.random.default_rng(5)
    z, _, cov = known_mnd(n=30000, p=16, seed=5)
    out = rng.choice(len(z), len(z) // 100, replace=False)
    z[out] += rng.normal(size=(len(out), 16)) * 25 * np.sqrt(np.diag(cov))
    lat = write_latents(tmp_path / "out.zarr", z)
    stage.moments(latents=lat, moments=tmp_path / "m.npz")
    res = mnd(lat, tmp_path / "m.npz", tmp_path, [(0, 1)])
    assert res["consistent_with_normal"], res["tests"]
    assert (
        0.985 < res["core"]["fraction_inside"] < 0.99
    )  # the outliers are outside, the core's 99.73 % inside


def test_histogram_range_ignores_far_outliers():
    rng = np.random.default_rng(3)
    z = rng.normal(size=(50000, 2)) * [1.0, 2.0]
    z[:5, 0] = 400.0  # five far outliers on component 0
    table, counts, edges = describe.component_table(z, describe.moments(z), bins=100)
    hwhm = np.sqrt(2 * np.log(2)) * np.array([1.0, 2.0])
    assert np.allclose(table["half_width"], hwhm, rtol=0.05), table["half_width"]
    assert table["outside_histogram"].tolist() == [5, 0] and counts[0].sum() == 50000 - 5
    assert edges[0, -1] < 30  # 6 sigma (sigma itself inflated by the outliers), not out to 400


def test_origin_position(tmp_path):
    rng = np.random.default_rng(2)
    for shift, expected in ((0.0, "inside the cloud"), (8.0, "outside the cloud")):
        lat = write_latents(tmp_path / f"o{shift}.zarr", rng.normal(size=(5000, 16)) + shift)
        stage.moments(latents=lat, moments=tmp_path / "m.npz")
        files = dict(summary=tmp_path / "o.json", distances=tmp_path / "o.npz")
        res = stage.origin(latents=lat, moments=tmp_path / "m.npz", **files)
        stage.origin_plots(**files, fig=tmp_path / "o.png")
        assert (tmp_path / "o.png").read_bytes()[:4] == b"\x89PNG"
        assert res["position"].startswith(expected)
        assert (
            abs(res["origin_mahalanobis"] - shift * 4) < 0.5
        )  # |(shift,...,shift)| in 16-D, unit variances


def test_hpd_levels_and_ellipses():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200000, 2))
    h, _, _ = np.histogram2d(x[:, 0], x[:, 1], bins=80, range=[[-5, 5], [-5, 5]])
    lv = describe.hpd_levels(h, [0.3935, 0.8647])  # masses of the 1 and 2 sigma ellipses in 2-D
    assert lv[0] > lv[1]
    for level, k in zip(lv, (1, 2)):
        inside = h >= level
        cx = (np.arange(80) + 0.5) * 10 / 80 - 5
        r = np.sqrt(cx[:, None] ** 2 + cx[None, :] ** 2)
        assert abs(np.median(r[inside & (h < level * 1.5)]) - k) < 0.25
    e = describe.ellipse_points(np.array([1.0, 2.0]), np.array([[4.0, 0], [0, 1.0]]), 2.0)
    assert np.allclose(((e[:, 0] - 1) / 4) ** 2 + ((e[:, 1] - 2) / 2) ** 2, 1)


def test_the_three_normality_rules_give_test_cores_verdict(tmp_path):
    """mnd_core, normality_null and mnd, each reading what the one before wrote, reach exactly
    the verdict of normality.test_core in one process (the fits survive their files bit for bit)."""
    z, _, _ = known_mnd(n=3000, p=12, seed=2)
    lat = write_latents(tmp_path / "l.zarr", z)
    stage.moments(latents=lat, moments=tmp_path / "m.npz")
    core, null = tmp_path / "core.npz", tmp_path / "null.npz"
    stage.mnd_core(latents=lat, core=core, core_sigma=3.0, max_test_n=2000, seed=4)
    stage.normality_null(core=core, null=null, null_runs=30, seed=4)
    out = {k: tmp_path / f"{k}" for k in ("summary", "shells", "tests", "qq")}
    res = stage.mnd(latents=lat, moments=tmp_path / "m.npz", core=core, null=null, **out, seed=4)
    whole = normality.test_core(z.astype(np.float32), runs=30, seed=4, max_test_n=2000)
    assert res["tests"] == whole["tests"]
    assert res["tested"]["n"] == 2000 and res["n"] == 3000
