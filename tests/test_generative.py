"""The VAE and RAE the CAE is compared with (model.kind): their loss terms are the textbook
formulas, a short VAE run pulls the latent cloud towards N(0, I), and the RAE's penalties act."""

from __future__ import annotations

import numpy as np
import pytest

from caelatent.model import backend

backend.use("tensorflow")

import keras  # noqa: E402

from caelatent.model.networks import (  # noqa: E402
    ModelSpec,
    UInt8Autoencoder,
    build_decoder,
    build_heads,
    kl_divergence,
    training_loss,
    z_penalty,
)
from caelatent.data.prepare import Split  # noqa: E402
from caelatent.stages.data import prepare_synthetic  # noqa: E402
from caelatent.stages.model import encode  # noqa: E402
from conftest import train_into  # noqa: E402

TINY = dict(image_size=64, filters=(8, 16, 16, 32), z_dim=8)


def test_kl_term_is_the_closed_form_gaussian_kl():
    rng = np.random.default_rng(0)
    mean, log_var = rng.normal(size=(5, 3)), rng.normal(size=(5, 3))
    var = np.exp(log_var)
    # KL(N(m, s^2) || N(0, 1)) = log(1/s) + (s^2 + m^2) / 2 - 1/2, summed over dimensions
    want = (-0.5 * log_var + (var + mean**2) / 2 - 0.5).sum(axis=1)
    got = keras.ops.convert_to_numpy(kl_divergence(mean, log_var))
    np.testing.assert_allclose(got, want, rtol=1e-6)
    zero = keras.ops.convert_to_numpy(kl_divergence(np.zeros((2, 4)), np.zeros((2, 4))))
    assert np.allclose(zero, 0)  # the prior itself
    # and a Monte Carlo estimate of E_q[log q - log p] agrees
    m, lv = np.array([[0.7, -1.2]]), np.array([[-0.4, 0.9]])
    s = np.exp(lv / 2)
    x = m + s * rng.normal(size=(200_000, 2))
    logq = (-0.5 * ((x - m) / s) ** 2 - np.log(s)).sum(1)
    logp = (-0.5 * x**2).sum(1)
    mc = (logq - logp).mean()
    assert abs(mc - float(keras.ops.convert_to_numpy(kl_divergence(m, lv))[0])) < 0.02


def test_rae_terms_are_half_the_squared_norm_and_decoder_weight_decay():
    z = np.array([[3.0, 4.0], [1.0, 0.0]])
    np.testing.assert_allclose(keras.ops.convert_to_numpy(z_penalty(z)), [12.5, 0.5])
    spec = ModelSpec(**TINY, kind="rae", beta=2.0, decoder_l2=1e-3)
    rec = 0.25
    got = float(keras.ops.convert_to_numpy(training_loss(spec, rec, [z])))
    assert got == pytest.approx(rec + 2.0 * (12.5 + 0.5) / 2 / (64 * 64 * 3))
    decoder = build_decoder(spec)
    kernels = [w for w in decoder.trainable_weights if "kernel" in w.path]
    # per pixel, like the other terms: decoder_l2 weighs the decay against the summed loss
    decay = sum(
        1e-3 / (64 * 64 * 3) * float(np.sum(keras.ops.convert_to_numpy(w) ** 2)) for w in kernels
    )
    decoder(np.zeros((1, 8), np.float32))
    assert float(sum(keras.ops.convert_to_numpy(v) for v in decoder.losses)) == pytest.approx(
        decay, rel=1e-4
    )
    assert not build_decoder(ModelSpec(**TINY)).losses  # the CAE's decoder has none


def test_vae_heads_share_the_encoder_and_encoding_gives_the_mean():
    spec = ModelSpec(**TINY, kind="vae")
    encoder, heads = build_heads(spec)
    assert encoder.output_shape == (None, 8) and heads.output_shape == [(None, 8), (None, 8)]
    x = np.random.default_rng(0).random((3, 64, 64, 3)).astype("float32")
    mean, _ = heads.predict(x, verbose=0)
    np.testing.assert_allclose(encoder.predict(x, verbose=0), mean, rtol=1e-5)
    with pytest.raises(ValueError, match="heads"):
        UInt8Autoencoder(encoder, build_decoder(spec), spec=spec)
    with pytest.raises(ValueError, match="model.kind='gan'"):
        ModelSpec(**TINY, kind="gan")


def test_prior_samples_decode_to_images_through_a_vae_decoder(tmp_path):
    from caelatent.model.codec import decode
    from caelatent.sampling.samplers import Prior

    spec = ModelSpec(**TINY, kind="vae")
    prior = Prior().fit(np.zeros((10, 8)))
    images = decode(build_decoder(spec), prior.sample(6, np.random.default_rng(0)))
    assert images.shape == (6, 64, 64, 3) and images.dtype == np.uint8


@pytest.fixture(scope="module")
def faces(tmp_path_factory):
    d = tmp_path_factory.mktemp("faces")
    prepare_synthetic(d, n_images=640, size=64, seed=0, split=Split(0.9), chunk=64)
    return d / "images.zarr"


def latent_cloud(faces, out, kind: str, **extra) -> np.ndarray:
    spec = ModelSpec(**TINY, kind=kind, **extra)
    train_into(faces, out, spec, epochs=4, batch_size=32, learning_rate=2e-3, loss="bce", verbose=0)
    encode(images=faces, encoder=out / "encoder.keras", latents=out / "latents.zarr")
    import zarr

    return zarr.open_group(out / "latents.zarr", mode="r")["z"][:]


def distance_to_standard_normal(z: np.ndarray) -> tuple[float, float]:
    """(norm of the mean, Frobenius distance of the covariance from I)."""
    return float(np.linalg.norm(z.mean(0))), float(np.linalg.norm(np.cov(z.T) - np.eye(z.shape[1])))


@pytest.mark.slow
def test_a_short_vae_run_is_closer_to_the_prior_than_the_cae(faces, tmp_path):
    cae = distance_to_standard_normal(latent_cloud(faces, tmp_path / "cae", "cae"))
    vae = distance_to_standard_normal(latent_cloud(faces, tmp_path / "vae", "vae"))
    print("CAE", cae, "VAE", vae)
    assert 2 * vae[0] < cae[0] and 2 * vae[1] < cae[1], (cae, vae)


@pytest.mark.slow
def test_the_rae_penalty_shrinks_the_codes(faces, tmp_path):
    cae = latent_cloud(faces, tmp_path / "cae", "cae")
    rae = latent_cloud(faces, tmp_path / "rae", "rae", beta=50.0, decoder_l2=1e-6)
    assert np.linalg.norm(rae, axis=1).mean() < 0.5 * np.linalg.norm(cae, axis=1).mean()
