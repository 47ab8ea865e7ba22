"""Realism and diversity metrics: Fréchet distance, precision/recall and diversity in the MTCNN-ONet
and pixel-PCA feature spaces, on real CelebA images and degraded copies of them."""

import numpy as np
import pytest
from scipy import ndimage

from caelatent.model import backend

backend.use("tensorflow")

from caelatent.scoring import realism  # noqa: E402
from caelatent.scoring.evaluate import rank_first  # noqa: E402
from caelatent.sampling.generate import REFERENCES  # noqa: E402
from conftest import HALFRES_TAR  # noqa: E402


@pytest.fixture(scope="module")
def real(sample, tmp_path_factory):
    """1,200 real CelebA faces at 64x64 from the shared sample, in two disjoint halves."""
    import zarr

    from caelatent.data.prepare import Split
    from caelatent.stages.data import prepare_celeba

    d = tmp_path_factory.mktemp("real")
    prepare_celeba(HALFRES_TAR, d, size=64, max_images=1200, split=Split(0.5), workers=2)
    x = zarr.open_group(d / "images.zarr", mode="r")["images"][:]
    order = np.random.default_rng(0).permutation(len(x))
    return x[order[:600]], x[order[600:]]


@pytest.fixture(scope="module")
def spaces(real):
    a, _ = real
    onet = realism.OnetFeatures()
    pixels = realism.PixelPCA(64).fit(a)
    return {"onet": onet, "pixels": pixels}


def degraded(b):
    rng = np.random.default_rng(1)
    blurred = (
        ndimage.gaussian_filter(b.astype(float), (0, 2, 2, 0)).round().clip(0, 255).astype(np.uint8)
    )
    noise = rng.integers(0, 256, b.shape).astype(np.uint8)
    mean = np.repeat(b.mean(axis=0, keepdims=True).round().astype(np.uint8), len(b), axis=0)
    return {"half": b, "blurred": blurred, "noise": noise, "mean": mean}


@pytest.fixture(scope="module")
def scores(real, spaces):
    a, b = real
    ref = {name: f(a) for name, f in spaces.items()}
    out = {}
    for kind, imgs in degraded(b).items():
        out[kind] = realism.realism_scores(ref, {name: f(imgs) for name, f in spaces.items()}, k=3)
        out[kind]["diversity"] = realism.mean_pairwise_distance(
            imgs
        ) / realism.mean_pairwise_distance(a)
    return out


@pytest.mark.slow
@pytest.mark.parametrize("space", ["onet", "pixels"])
def test_frechet_distance_orders_real_blurred_noise(scores, space):
    fd = {kind: s[f"fd_{space}"] for kind, s in scores.items()}
    assert fd["half"] < fd["blurred"] < fd["noise"], fd
    assert (
        fd["half"] < 0.05 * fd["noise"]
    ), fd  # two halves of one real set: near zero on this scale


@pytest.mark.parametrize("space", ["onet", "pixels"])
def test_recall_drops_when_every_sample_is_the_mean_image(scores, space):
    assert scores["half"][f"recall_{space}"] > 0.5
    assert scores["mean"][f"recall_{space}"] < 0.01
    assert scores["mean"]["diversity"] == 0 and 0.9 < scores["half"]["diversity"] < 1.1


@pytest.mark.parametrize("space", ["onet", "pixels"])
def test_precision_drops_for_noise(scores, space):
    assert scores["half"][f"precision_{space}"] > 0.5
    assert scores["noise"][f"precision_{space}"] < 0.05


def test_feature_extractors_give_the_same_output_for_the_same_input(real, spaces):
    a, b = real
    for name, f in spaces.items():
        once, again = f(b[:100]), f(b[:100])
        assert np.array_equal(once, again), name
        # an image's features do not depend on the batch it comes in
        np.testing.assert_allclose(f(b[7:8])[0], once[7], rtol=1e-4, atol=1e-5, err_msg=name)
    assert spaces["onet"](b[:3]).shape == (3, 256) and spaces["pixels"](b[:3]).shape == (3, 65)
    refit = realism.PixelPCA(64).fit(a)
    np.testing.assert_allclose(
        np.abs(refit(b[:50])), np.abs(spaces["pixels"](b[:50])), rtol=1e-6, atol=1e-8
    )


def test_precision_and_recall_on_known_sets():
    rng = np.random.default_rng(0)
    centres = np.array([[0.0, 0.0], [20.0, 0.0]])
    real = np.concatenate([c + rng.normal(size=(300, 2)) for c in centres])
    same = np.concatenate([c + rng.normal(size=(300, 2)) for c in centres])
    one_mode = centres[0] + rng.normal(size=(600, 2))  # realistic but covers half the real data
    p, r = realism.precision_recall(real, same, k=3)
    assert p > 0.9 and r > 0.9
    p, r = realism.precision_recall(real, one_mode, k=3)
    assert p > 0.9 and 0.4 < r < 0.6
    with pytest.raises(ValueError, match="k=3 needs more than 3 points, got 2"):
        realism.precision_recall(real, one_mode[:2], k=3)


def test_frechet_distance_of_a_shift_and_of_a_collapsed_set():
    x = np.random.default_rng(2).normal(size=(4000, 5))
    assert realism.frechet_distance(x, x) < 1e-6
    assert realism.frechet_distance(x, x + [3.0, 0, 0, 0, 0]) == pytest.approx(9.0, abs=0.1)
    collapsed = np.zeros_like(x)  # singular covariance: finite, about the total variance
    assert realism.frechet_distance(x, collapsed) == pytest.approx(5.0, abs=0.3)


def test_bad_face_crop_is_named():
    with pytest.raises(ValueError, match=r"onet_crop=\[0.5, 0.2, 0.4, 0.9\]"):
        realism.OnetFeatures((0.5, 0.2, 0.4, 0.9))


def test_rank_first_per_metric_skips_the_references():
    def row(name, **kw):
        base = {
            "sampler": name,
            "setting": "-",
            "face_rate": 0.5,
            "fd_onet": 1.0,
            "precision_onet": 0.5,
            "recall_onet": 0.5,
            "fd_pixels": 10.0,
            "kid_onet": 0.1,
            "kid_pixels": 1.0,
            "precision_pixels": 0.5,
            "recall_pixels": 0.5,
            "diversity": 0.5,
        }
        return {**base, **kw}

    rows = [
        row(REFERENCES[0], face_rate=1.0, fd_onet=0.0, diversity=1.0),
        row("a", face_rate=0.9, fd_onet=2.0),
        row("b", fd_onet=0.5, diversity=1.3, recall_pixels=0.7, kid_pixels=-0.2),
        row("c", diversity=0.2, precision_onet=0.8),
    ]
    best = rank_first(rows)
    assert best["face_rate"]["sampler"] == "a" and best["fd_onet"]["sampler"] == "b"
    assert best["diversity"]["sampler"] == "b"  # 1.3 is closer to the real spread than 0.5 or 0.2
    assert best["precision_onet"]["sampler"] == "c" and best["recall_pixels"]["sampler"] == "b"
    assert best["kid_pixels"]["sampler"] == "b"  # lowest KID
