"""Decoding and the evaluation's measures."""

import numpy as np
import pytest

from caelatent.model import backend

backend.use("tensorflow")

from caelatent.scoring.detect import FaceDetector  # noqa: E402
from caelatent.model.codec import decode  # noqa: E402
from caelatent.scoring.evaluate import nearest_distances  # noqa: E402
from caelatent.sampling.generate import pick_rows  # noqa: E402
from caelatent.scoring.realism import frechet_distance  # noqa: E402
from caelatent.model.networks import ModelSpec, build_decoder  # noqa: E402
from caelatent.data.images import decode_crop_resize  # noqa: E402
from conftest import ORIGINALS_TAR, read_jpegs  # noqa: E402


def test_decode_shapes():
    dec = build_decoder(ModelSpec(image_size=64, filters=(8, 8, 16, 16), z_dim=10))
    x = decode(dec, np.random.default_rng(0).normal(size=(7, 10)))
    assert x.shape == (7, 64, 64, 3) and x.dtype == np.uint8


@pytest.fixture(scope="module")
def detector():
    return FaceDetector(min_confidence=0.9)


def test_face_detector_tells_celeba_from_noise(sample, detector):
    faces = np.stack(
        [
            decode_crop_resize(d, 64, (0, 20, 178, 198))[0]
            for d in read_jpegs(ORIGINALS_TAR, 48).values()
        ]
    )
    rate, conf, c = detector.face_rate(faces)
    assert rate >= 0.9 and conf > 0.95 and len(c) == 48
    rng = np.random.default_rng(0)
    noise = rng.integers(0, 256, size=(48, 64, 64, 3), dtype=np.uint8)
    blank = np.full((8, 64, 64, 3), 128, np.uint8)
    assert detector.face_rate(noise)[0] == 0.0 and detector.face_rate(blank)[0] == 0.0


def test_nearest_distances_match_brute_force():
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=(50, 8)), rng.normal(size=(3000, 8))
    brute = np.sqrt(((a[:, None, :] - b[None]) ** 2).sum(-1)).min(axis=1)
    np.testing.assert_allclose(nearest_distances(a, b), brute, atol=1e-9)
    assert np.allclose(nearest_distances(b[:5], b), 0, atol=1e-6)  # copies of training latents


def test_frechet_distance():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(4000, 5))
    assert frechet_distance(x, x) < 1e-6
    shifted = frechet_distance(x, x + np.array([3.0, 0, 0, 0, 0]))
    assert abs(shifted - 9.0) < 0.1


@pytest.mark.slow  # builds InceptionV3
def test_real_sets_are_disjoint_and_drawn_from_their_split():
    split = np.r_[np.zeros(300, np.uint8), np.ones(100, np.uint8)]
    r = pick_rows(split, n=40, n_reference=50, seed=3)
    assert len(r.real) == 40 and len(r.reference) == 50 and len(r.pca_fit) == 50
    assert (split[r.real] == 1).all() and (split[r.reference] == 1).all()
    assert (split[r.pca_fit] == 0).all() and not set(r.real) & set(r.reference)
    assert (np.diff(r.real) > 0).all()  # sorted rows: Zarr reads them in order
    again = pick_rows(split, n=40, n_reference=50, seed=3)
    assert (again.real == r.real).all() and (again.pca_fit == r.pca_fit).all()
    # too few holdout images left for the realism metrics: the error names the key to change
    with pytest.raises(ValueError, match=r"images.zarr: 100 holdout images leave 5 .*n_samples=95"):
        pick_rows(split, n=95, n_reference=50, seed=0)
