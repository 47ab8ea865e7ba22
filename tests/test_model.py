import pytest

from caelatent.model import backend

backend.use("tensorflow")

import keras  # noqa: E402

from caelatent.model.networks import ModelSpec, build_decoder, build_encoder  # noqa: E402


def build_autoencoder(spec: ModelSpec) -> tuple[keras.Model, keras.Model, keras.Model]:
    """(encoder, decoder, autoencoder): the two networks and a model chaining them."""
    encoder, decoder = build_encoder(spec), build_decoder(spec)
    x = keras.Input((spec.image_size, spec.image_size, spec.channels), name="image")
    autoencoder = keras.Model(x, decoder(encoder(x)), name="autoencoder")
    return encoder, decoder, autoencoder


def expected_params(size, filters, k, z, bn, channels=3):
    """Parameter count of the CAE worked out by hand, layer by layer."""
    enc, cin = 0, channels
    for f in filters:
        enc += k * k * cin * f + f + (4 * f if bn else 0)
        cin = f
    flat = (size // 2 ** len(filters)) ** 2 * filters[-1]
    enc += flat * z + z
    dec = z * flat + flat
    cin = filters[-1]
    for f in reversed(filters):
        dec += k * k * cin * f + f + (4 * f if bn else 0)
        cin = f
    dec += k * k * cin * channels + channels
    return enc, dec


@pytest.mark.parametrize(
    "size, filters, k, z, bn",
    [
        (96, (64, 64, 128, 128), 3, 256, False),  # the seeds' network
        (64, (32, 32, 64, 64), 3, 64, False),
        (128, (64, 64, 128, 128), 5, 512, True),
        (64, (16, 32, 64), 3, 128, False),
    ],
)
def test_shapes_and_parameter_counts(size, filters, k, z, bn):
    spec = ModelSpec(image_size=size, filters=filters, kernel_size=k, z_dim=z, batch_norm=bn)
    enc, dec, ae = build_autoencoder(spec)
    assert enc.name == "encoder" and dec.name == "decoder" and ae.name == "autoencoder"
    assert enc.output_shape == (None, z)
    assert dec.output_shape == (None, size, size, 3) and ae.output_shape == (None, size, size, 3)
    want_enc, want_dec = expected_params(size, filters, k, z, bn)
    assert enc.count_params() == want_enc and dec.count_params() == want_dec
    assert ae.count_params() == want_enc + want_dec
    convs = [layer for layer in enc.layers if layer.__class__.__name__ == "Conv2D"]
    assert [c.filters for c in convs] == list(filters) and all(c.strides == (2, 2) for c in convs)
    assert any(layer.__class__.__name__ == "BatchNormalization" for layer in enc.layers) == bn


def test_seed_network_layers():
    enc, dec, _ = build_autoencoder(ModelSpec())
    acts = [layer.__class__.__name__ for layer in enc.layers if "act" in layer.name]
    assert acts == ["LeakyReLU"] * 4
    assert dec.layers[-1].activation.__name__ == "sigmoid"
    assert [
        layer.filters for layer in dec.layers if layer.__class__.__name__ == "Conv2DTranspose"
    ] == [128, 128, 64, 64, 3]


def test_bad_specs_name_the_key():
    with pytest.raises(ValueError, match="data.size=100 is not divisible"):
        ModelSpec(image_size=100)
    with pytest.raises(ValueError, match="model.activation='sigmoidal'"):
        ModelSpec(activation="sigmoidal")
    with pytest.raises(ValueError, match="train.backend='theano'"):
        backend.use("theano")
