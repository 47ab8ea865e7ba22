"""Attribute directions, latent arithmetic and innermost-map activation maximisation."""

from __future__ import annotations

import json

import numpy as np
import pytest
import zarr

from caelatent.model import backend

backend.use("tensorflow", 2)

import keras  # noqa: E402

from caelatent.latent import attributes as at  # noqa: E402
from caelatent.latent import describe  # noqa: E402
from caelatent.files import records  # noqa: E402
from caelatent.files.records import read_tsv  # noqa: E402
from caelatent.stages.stats import moments as run_moments  # noqa: E402
from caelatent.model.maps import innermost_layer, maximise_maps  # noqa: E402
from caelatent.stages import attributes as stage  # noqa: E402
from caelatent.stages.inputs import read_directions, read_labelled, read_moments  # noqa: E402
from caelatent.model.networks import ModelSpec, build_decoder, build_encoder  # noqa: E402

NAMES = ["Smiling", "Eyeglasses", "Rare", "Noise"]


def write_latents(path, z, values, split, ids=None):
    g = zarr.open_group(path, mode="w")
    g.create_array("z", data=np.asarray(z, np.float32), chunks=(512, z.shape[1]))
    a = g.create_array(
        "attributes", data=np.asarray(values, np.int8), chunks=(512, values.shape[1])
    )
    a.attrs.update({"names": NAMES[: values.shape[1]], "missing_value": 0})
    g.create_array("split", data=np.asarray(split, np.uint8), chunks=(512,))
    g.create_array("ids", data=np.arange(1, len(z) + 1) if ids is None else ids, chunks=(512,))
    return path


@pytest.fixture(scope="module")
def cloud(tmp_path_factory):
    """Correlated latents with a known Smiling effect along coordinate 0 (the widest axis), an
    Eyeglasses effect along a mixed direction, a rare attribute, a noise attribute, and 150 images
    without attribute rows (values 0)."""
    rng = np.random.default_rng(0)
    n, d = 4000, 16
    scale = np.linspace(1.0, 0.3, d)
    scale[0] = 3.0
    base = rng.standard_normal((n, d)) * scale
    base[:, 1:] += 0.3 * base[:, :1] / 3  # correlated components
    smile = rng.choice([-1, 1], n)
    glasses = rng.choice([-1, 1], n, p=[0.8, 0.2])
    rare = np.where(rng.random(n) < 0.002, 1, -1)
    noise = rng.choice([-1, 1], n)
    e_glasses = np.zeros(d)
    e_glasses[[3, 5]] = [0.6, -0.8]
    z = base + 1.0 * smile[:, None] * np.eye(d)[0] + 0.8 * glasses[:, None] * e_glasses + 2.0
    values = np.stack([smile, glasses, rare, noise], axis=1)
    missing = rng.choice(n, 150, replace=False)
    values[missing] = 0
    split = (rng.random(n) < 0.25).astype(np.uint8)
    d_ = tmp_path_factory.mktemp("cloud")
    lat = write_latents(d_ / "latents.zarr", z, values, split)
    # images.zarr of the same rows, where Smiling shows in the pixels: a brighter upper half
    pix = rng.integers(60, 120, size=(n, 64, 64, 3), dtype=np.uint8)
    pix[smile == 1, :32] += 80
    zarr.open_group(d_ / "images.zarr", mode="w").create_array(
        "images", data=pix, chunks=(512, 64, 64, 3)
    )
    run_moments(latents=lat, moments=d_ / "moments.npz")
    summary = stage.attributes(
        latents=lat,
        moments=d_ / "moments.npz",
        table=d_ / "attributes.tsv",
        directions=d_ / "directions.npz",
        summary=d_ / "attributes.json",
        min_count=20,
        pcs=8,
    )
    return {
        "dir": d_,
        "summary": summary,
        "e_smile": np.eye(d)[0],
        "e_glasses": e_glasses,
        "missing": missing,
        "table": read_tsv(d_ / "attributes.tsv"),
        "z": z,
        "values": values,
    }


def test_recovered_directions_point_the_right_way(cloud):
    dirs = read_directions(cloud["dir"] / "directions.npz")
    for name, effect, size in (
        ("Smiling", cloud["e_smile"], 2.0),
        ("Eyeglasses", cloud["e_glasses"], 1.6),
    ):
        u = dirs.unit[dirs.names.index(name)]
        assert u @ effect > 0.9, name  # the right way, not merely the right line
        assert np.linalg.norm(dirs.of(name)) == pytest.approx(size, rel=0.2)
    t = cloud["table"]
    row = {n: k for k, n in enumerate(t["attribute"])}
    assert (
        t["holdout_auc"][row["Smiling"]] > 0.6 and t["holdout_auc_fisher"][row["Eyeglasses"]] > 0.8
    )
    assert abs(t["holdout_auc"][row["Noise"]] - 0.5) < 0.06  # no effect, no separation
    assert t["top_pc"][row["Smiling"]] == 1 and t["top_pc_cos"][row["Smiling"]] ** 2 > 0.8
    # Eyeglasses is positive for 20 % of the images: they lie off-centre along its direction
    assert t["positive_fraction"][row["Eyeglasses"]] == pytest.approx(0.2, abs=0.03)


def test_images_without_attribute_rows_are_excluded_and_counted(cloud):
    s = json.loads((cloud["dir"] / "attributes.json").read_text())
    assert s["excluded_no_attribute_row"] == len(cloud["missing"]) == 150
    assert (
        s["with_attributes"]
        == s["images"] - 150
        == s["train_with_attributes"] + s["holdout_with_attributes"]
    )
    # the means really leave them out: recompute from the labelled rows only
    keep = np.ones(len(cloud["z"]), bool)
    keep[cloud["missing"]] = False
    train = keep & (zarr.open_group(cloud["dir"] / "latents.zarr")["split"][:] == 0)
    v = cloud["values"][train, 0]
    expect = cloud["z"][train][v == 1].mean(0) - cloud["z"][train][v == -1].mean(0)
    dirs = read_directions(cloud["dir"] / "directions.npz")
    assert np.allclose(dirs.of("Smiling"), expect, atol=1e-4)
    t = cloud["table"]
    assert t["n_pos"][0] + t["n_neg"][0] == train.sum()


def test_rare_attribute_is_skipped_and_listed(cloud):
    s = cloud["summary"]
    assert [x["attribute"] for x in s["skipped"]] == ["Rare"] and "fewer than 20" in s["skipped"][
        0
    ]["reason"]
    assert "Rare" not in list(cloud["table"]["attribute"]) and s["analysed"] == 3
    with pytest.raises(ValueError, match="'Rare' has no direction"):
        read_directions(cloud["dir"] / "directions.npz").of("Rare")


def test_bad_attribute_values_name_attribute_and_row(tmp_path):
    values = np.ones((50, 2), np.int8)
    values[7, 1] = 3
    lat = write_latents(tmp_path / "l.zarr", np.zeros((50, 4)), values, np.zeros(50))
    with pytest.raises(ValueError, match="attribute Eyeglasses of row 7 is 3"):
        read_labelled(lat)


def test_attribute_projections_hold_what_the_plots_draw(cloud):
    d = cloud["dir"]
    tables = dict(latents=d / "latents.zarr", moments=d / "moments.npz", table=d / "attributes.tsv")
    tables["directions"] = d / "directions.npz"
    shown = ["Smiling", "Eyeglasses"]
    stage.attribute_projections(
        **tables, projections=d / "proj.npz", pcs=8, histogram_pcs=3, histogram_attributes=shown
    )
    drawn = records.read_npz(d / "proj.npz")
    lab, mom = read_labelled(d / "latents.zarr"), read_moments(d / "moments.npz")
    names = [str(n) for n in drawn["names"]]
    assert drawn["cosines"].shape == (len(names), 8) and list(drawn["shown"]) == shown
    assert np.all(np.abs(drawn["cosines"]) <= 1 + 1e-9)
    # the radius is each image's Mahalanobis distance, the values its attribute columns
    np.testing.assert_allclose(
        drawn["radius"], np.sqrt(describe.mahalanobis_sq(lab.z, mom)), rtol=1e-5
    )
    for k, n in enumerate(names):
        assert np.array_equal(drawn["values"][:, k], lab.values[:, lab.names.index(n)])
    w, v = describe.pca(mom)
    np.testing.assert_allclose(drawn["variances"], w[:3])
    np.testing.assert_allclose(drawn["projections"], (lab.z - mom.mean) @ v[:, :3], atol=1e-4)
    # the plot rule draws from that file alone
    figs = dict(fig_pcs=d / "pcs.png", fig_radius=d / "radius.png", fig_hist=d / "hist.png")
    stage.attribute_plots(projections=d / "proj.npz", **figs)
    for f in ("pcs.png", "radius.png", "hist.png"):
        assert (d / f).stat().st_size > 10_000
    with pytest.raises(
        ValueError, match="histogram_attributes: 'Bald' is not an analysed attribute"
    ):
        stage.attribute_projections(
            **tables,
            projections=d / "p2.npz",
            pcs=8,
            histogram_pcs=3,
            histogram_attributes=["Bald"],
        )
    assert not (d / "p2.npz").exists()


def test_arithmetic_grids_step_along_the_direction():
    rng = np.random.default_rng(1)
    faces, direction = rng.normal(size=(3, 8)), rng.normal(size=8)
    s = at.scales(1.5, 7)
    grid = at.attribute_grid(faces, direction, s)
    assert grid.shape == (3, 7, 8) and s[3] == 0
    assert np.allclose(grid[:, 3], faces)  # the middle column is the face itself
    assert np.allclose(
        np.diff(grid, axis=1), (s[1] - s[0]) * direction
    )  # equal steps along the direction
    m = at.morph_grid(faces[:2], faces[1:], 5)
    assert (
        m.shape == (2, 5, 8)
        and np.allclose(m[:, 0], faces[:2])
        and np.allclose(m[:, -1], faces[1:])
    )
    assert np.allclose(m[:, 2], (faces[:2] + faces[1:]) / 2)


def test_arithmetic_rule_writes_every_grid_and_face_check(cloud, tmp_path):
    spec = ModelSpec(image_size=64, filters=(8, 8, 8, 8), z_dim=16)
    keras.utils.set_random_seed(0)
    build_decoder(spec).save(tmp_path / "decoder.keras")
    d = cloud["dir"]
    out = stage.arithmetic(
        latents=d / "latents.zarr",
        pixels=d / "images.zarr",
        moments=d / "moments.npz",
        decoder=tmp_path / "decoder.keras",
        directions=d / "directions.npz",
        table=tmp_path / "a.tsv",
        summary=tmp_path / "a.json",
        images=tmp_path / "a.npz",
        attributes=["Smiling", "Eyeglasses"],
        max_scale=2.0,
        steps=5,
        faces=3,
        morph_pairs=2,
        morph_steps=4,
        min_confidence=0.9,
        seed=0,
    )
    drawn = dict(summary=tmp_path / "a.json", images=tmp_path / "a.npz")
    stage.arithmetic_plots(**drawn, grids=tmp_path / "grids")
    assert sorted(p.name for p in (tmp_path / "grids").iterdir()) == [
        "Eyeglasses.png",
        "Smiling.png",
        "morph.png",
    ]
    t = read_tsv(tmp_path / "a.tsv")
    assert len(t["grid"]) == 2 * 3 * 5 + 2 * 4
    assert list(out["grids"]["Smiling"]["scale"]) == [-2.0, -1.0, 0.0, 1.0, 2.0]
    assert len(out["grids"]["morph"]["face_rate"]) == 4 and out["grids"]["morph"]["rows"] == 2
    # the pixel classifier judges every attribute image (its probabilities), not the morph's
    p, sm = t["attribute_probability"], t["grid"] == "Smiling"
    assert ((p[sm] >= 0) & (p[sm] <= 1)).all() and np.isnan(p[t["grid"] == "morph"]).all()
    assert out["pixel_classifier"]["training_accuracy"]["Smiling"] > 0.95
    # a random decoder draws no faces, and the detector says so for every image
    assert (t["face"] == 0).all() and (t["confidence"] < 0.9).all()
    # the radius column is the Mahalanobis radius of each grid vector: growing |scale| moves away
    r = t["radius"][sm].reshape(3, 5)
    assert (r[:, [0, 4]].max(axis=1) > r[:, 2]).all()
    # faces come from holdout images that have attributes
    lab = read_labelled(d / "latents.zarr")
    assert set(t["image_id"][sm].astype(int)) <= set(lab.ids[~lab.train])
    with pytest.raises(ValueError, match="arithmetic.attributes: 'Bald'"):
        stage.arithmetic(
            latents=d / "latents.zarr",
            pixels=d / "images.zarr",
            moments=d / "moments.npz",
            decoder=tmp_path / "decoder.keras",
            directions=d / "directions.npz",
            table=tmp_path / "b.tsv",
            summary=tmp_path / "b.json",
            images=tmp_path / "b.npz",
            attributes=["Bald"],
            max_scale=1,
            steps=3,
            faces=1,
            morph_pairs=1,
            morph_steps=2,
            min_confidence=0.9,
            seed=0,
        )
    assert not (tmp_path / "g2").exists() and not (tmp_path / "b.tsv").exists()


# --- innermost maps -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def encoder():
    keras.utils.set_random_seed(3)
    return build_encoder(ModelSpec(image_size=32, filters=(8, 16, 16, 24), z_dim=8))


def test_innermost_layer_is_the_last_conv_block(encoder):
    assert innermost_layer(encoder).name == "act4"
    bn = build_encoder(ModelSpec(image_size=32, filters=(8, 8), z_dim=4, batch_norm=True))
    assert innermost_layer(bn).name == "act2" and tuple(innermost_layer(bn).output.shape[1:]) == (
        8,
        8,
        8,
    )


def test_target_map_activation_rises_during_ascent(encoder):
    a = maximise_maps(encoder, steps=40, seed=0)
    assert a.trace.shape == (41, 24) and a.images.shape == (24, 32, 32, 3)
    assert (a.trace[-1] > a.trace[0]).all()  # every target map is excited more than at the start
    # ... beyond what any of 64 random images excites it to
    feats = keras.Model(encoder.input, innermost_layer(encoder).output)
    noise = np.random.default_rng(9).random((64, 32, 32, 3)).astype("float32")
    random_best = np.asarray(feats(noise)).mean(axis=(1, 2)).max(axis=0)
    assert (a.trace[-1] > random_best[a.maps]).mean() >= 0.9
    # ... and mostly by its own image: the ascent is specific to its map
    own = a.final[np.arange(24), a.maps]
    others = a.final[:, a.maps].copy()
    np.fill_diagonal(others, -np.inf)
    assert (own > others.max(axis=0)).mean() >= 0.8
    assert 0 <= a.images.min() and a.images.max() <= 1
    # the same seed gives the same images
    b = maximise_maps(encoder, maps=[0, 5], steps=5, seed=1)
    c = maximise_maps(encoder, maps=[0, 5], steps=5, seed=1)
    assert np.array_equal(b.images, c.images) and list(b.maps) == [0, 5]


def test_maps_out_of_range_are_named(encoder):
    with pytest.raises(ValueError, match=r"maps \[24\]: the layer act4 has maps 0..23"):
        maximise_maps(encoder, maps=[24], steps=1)


def test_value_and_grad_matches_the_analytic_gradient():
    x = np.random.default_rng(0).normal(size=(3, 4)).astype(np.float32)
    value, aux, grad = backend.value_and_grad(
        lambda t: (keras.ops.sum(t**3), keras.ops.sum(t, axis=1)), x
    )
    assert value == pytest.approx(float((x**3).sum()), rel=1e-5)
    assert np.allclose(aux, x.sum(1), atol=1e-6) and np.allclose(grad, 3 * x**2, atol=1e-5)


def test_innermost_maps_rule_outputs(encoder, tmp_path):
    encoder.save(tmp_path / "encoder.keras")
    out = stage.innermost_maps(
        encoder=tmp_path / "encoder.keras",
        table=tmp_path / "m.tsv",
        images=tmp_path / "m.npz",
        maps=[1, 2, 3],
        steps=20,
        step_size=0.05,
        decay=0.01,
        blur_sigma=0.5,
        blur_every=4,
        jitter=1,
        seed=0,
    )
    t = read_tsv(tmp_path / "m.tsv")
    assert list(t["map"]) == [1, 2, 3] and (t["rise"] > 0).all() and out["rose"] == 3
    with np.load(tmp_path / "m.npz") as f:
        assert f["images"].shape == (3, 32, 32, 3) and f["trace"].shape == (21, 3)
    figs = dict(fig_grid=tmp_path / "grid.png", fig_trace=tmp_path / "trace.png")
    stage.innermost_maps_plots(images=tmp_path / "m.npz", **figs)
    assert (tmp_path / "grid.png").stat().st_size > 2000 and (
        tmp_path / "trace.png"
    ).stat().st_size > 10_000


def test_whitened_radius_matches_mahalanobis(cloud):
    """The radii in the attribute table use the same Mahalanobis distance as the statistics stage."""
    d = cloud["dir"]
    lab = read_labelled(d / "latents.zarr")
    mom = read_moments(d / "moments.npz")
    r = np.sqrt(describe.mahalanobis_sq(lab.z, mom))
    v = lab.values[:, 0]
    assert cloud["table"]["radius_median_pos"][0] == pytest.approx(np.median(r[v == 1]), rel=1e-4)


def test_real_sample_images_beyond_the_attribute_file_are_excluded_and_counted(sample, tmp_path):
    """CelebA's 558 sample images prepared with an attribute file that stops at id 400 (as the shared
    file stops at 20,000): the 158 images without a row are kept by prepare and left out here."""
    from conftest import ATTR_FILE, ORIGINALS_TAR

    from caelatent.data.prepare import Split
    from caelatent.stages.data import prepare_celeba
    from caelatent.stages.model import encode

    lines = ATTR_FILE.read_text().splitlines()
    short = tmp_path / "list_attr_short.txt"
    short.write_text("\n".join(["400", lines[1]] + lines[2:402]) + "\n")
    manifest = prepare_celeba(
        ORIGINALS_TAR, tmp_path / "data", size=64, attributes=short, split=Split(0.8), workers=2
    )
    assert manifest["counts"]["missing_attributes"] == 158
    keras.utils.set_random_seed(0)
    build_encoder(ModelSpec(image_size=64, filters=(8, 8, 16, 16), z_dim=12)).save(
        tmp_path / "encoder.keras"
    )
    encode(
        images=tmp_path / "data/images.zarr",
        encoder=tmp_path / "encoder.keras",
        latents=tmp_path / "latents.zarr",
    )
    run_moments(latents=tmp_path / "latents.zarr", moments=tmp_path / "moments.npz")
    s = stage.attributes(
        latents=tmp_path / "latents.zarr",
        moments=tmp_path / "moments.npz",
        table=tmp_path / "a.tsv",
        directions=tmp_path / "d.npz",
        summary=tmp_path / "a.json",
        min_count=20,
        pcs=5,
    )
    assert (
        s["images"] == 558 and s["excluded_no_attribute_row"] == 158 and s["with_attributes"] == 400
    )
    assert (
        s["analysed"] + len(s["skipped"]) == 40
    )  # every CelebA attribute is either analysed or listed
    t = read_tsv(tmp_path / "a.tsv")
    assert set(t["n_pos"] + t["n_neg"]) == {s["train_with_attributes"]}
    lab = read_labelled(tmp_path / "latents.zarr")
    assert lab.ids.max() == 400 and len(lab.ids) == 400


def test_pixel_classifier_sees_an_attribute_in_the_pixels_and_not_a_random_label():
    """Power: Smiling brightens the upper half, and held-out images with it score high. Size: a
    label unrelated to the pixels scores near 0.5 on held-out images, for either value."""
    rng = np.random.default_rng(1)
    n = 1200
    smile, noise = rng.choice([-1, 1], n), rng.choice([-1, 1], n)
    pix = rng.integers(60, 120, size=(n, 32, 32, 3), dtype=np.uint8)
    pix[smile == 1, :16] += 25  # a modest change against pixel noise of the same size
    fit, held = slice(0, 800), slice(800, None)
    judge = at.PixelClassifier(pix[fit], np.stack([smile, noise], 1)[fit], ["Smiling", "Noise"])
    p = judge.probability("Smiling", pix[held])
    assert p[smile[held] == 1].mean() > 0.9 and p[smile[held] == -1].mean() < 0.1
    q = judge.probability("Noise", pix[held])
    assert abs(q[noise[held] == 1].mean() - q[noise[held] == -1].mean()) < 0.1
    assert np.isnan(
        at.PixelClassifier(pix[:50], np.ones((50, 1)), ["All"]).probability("All", pix[:2])
    ).all()
