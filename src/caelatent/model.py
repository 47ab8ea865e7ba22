"""Keras 3 builders for the convolutional autoencoder (by default exactly the seeds' network)."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import keras
from keras import layers


@dataclass(frozen=True)
class ModelSpec:
    """Every knob of the CAE. Defaults: 4 Conv2D (64, 64, 128, 128), 3x3, stride 2, LeakyReLU, z=256."""

    image_size: int = 96
    filters: tuple[int, ...] = (64, 64, 128, 128)
    kernel_size: int = 3
    strides: int = 2
    activation: str = "leaky_relu"
    batch_norm: bool = False
    z_dim: int = 256
    channels: int = 3

    def __post_init__(self):
        object.__setattr__(self, "filters", tuple(self.filters))
        down = self.strides ** len(self.filters)
        if self.image_size % down:
            raise ValueError(
                f"data.size={self.image_size} is not divisible by strides**layers = {down} "
                f"(model.strides={self.strides}, {len(self.filters)} layers in model.filters)"
            )
        if self.activation not in ("leaky_relu", "relu", "elu", "gelu", "swish", "tanh"):
            raise ValueError(f"model.activation={self.activation!r} is not supported")

    @property
    def bottleneck(self) -> tuple[int, int, int]:
        s = self.image_size // self.strides ** len(self.filters)
        return (s, s, self.filters[-1])

    def to_dict(self) -> dict:
        d = asdict(self)
        d["filters"] = list(self.filters)
        return d


def _act(name: str, label: str):
    if name == "leaky_relu":
        return layers.LeakyReLU(negative_slope=0.2, name=label)
    return layers.Activation(name, name=label)


def build_encoder(spec: ModelSpec) -> keras.Model:
    x = inputs = keras.Input((spec.image_size, spec.image_size, spec.channels), name="image")
    for i, f in enumerate(spec.filters, 1):
        x = layers.Conv2D(
            f, spec.kernel_size, strides=spec.strides, padding="same", name=f"conv{i}"
        )(x)
        if spec.batch_norm:
            x = layers.BatchNormalization(name=f"bn{i}")(x)
        x = _act(spec.activation, f"act{i}")(x)
    x = layers.Flatten(name="flatten")(x)
    z = layers.Dense(spec.z_dim, name="z")(x)
    return keras.Model(inputs, z, name="encoder")


def build_decoder(spec: ModelSpec) -> keras.Model:
    h, w, c = spec.bottleneck
    z = keras.Input((spec.z_dim,), name="z")
    x = layers.Dense(h * w * c, name="dense")(z)
    x = layers.Reshape((h, w, c), name="reshape")(x)
    for i, f in enumerate(reversed(spec.filters), 1):
        x = layers.Conv2DTranspose(
            f, spec.kernel_size, strides=spec.strides, padding="same", name=f"deconv{i}"
        )(x)
        if spec.batch_norm:
            x = layers.BatchNormalization(name=f"dbn{i}")(x)
        x = _act(spec.activation, f"dact{i}")(x)
    out = layers.Conv2DTranspose(
        spec.channels, spec.kernel_size, padding="same", activation="sigmoid", name="image"
    )(x)
    return keras.Model(z, out, name="decoder")


def build_autoencoder(spec: ModelSpec) -> tuple[keras.Model, keras.Model, keras.Model]:
    """(encoder, decoder, autoencoder); the autoencoder chains the two."""
    encoder, decoder = build_encoder(spec), build_decoder(spec)
    x = keras.Input((spec.image_size, spec.image_size, spec.channels), name="image")
    autoencoder = keras.Model(x, decoder(encoder(x)), name="autoencoder")
    return encoder, decoder, autoencoder


LOSSES = ("bce", "mse")


def reconstruction_loss(loss: str) -> keras.losses.Loss:
    if loss not in LOSSES:
        raise ValueError(f"train.loss={loss!r}: expected bce or mse")
    return keras.losses.BinaryCrossentropy() if loss == "bce" else keras.losses.MeanSquaredError()


class UInt8Autoencoder(keras.Model):
    """The autoencoder as trained: uint8 images in, scaled to [0, 1] on the device, loss against that.

    Batches travel from the feed to the device as uint8 (a quarter of float32's bytes). The loss is
    computed in float32 whatever the dtype policy. ``encoder`` and ``decoder`` stay plain models
    taking and giving images in [0, 1].
    """

    def __init__(self, encoder: keras.Model, decoder: keras.Model, loss: str = "bce", **kwargs):
        x = keras.Input(encoder.input_shape[1:], dtype="uint8", name="image_uint8")
        y = decoder(encoder(layers.Rescaling(1 / 255, name="scale")(x)))
        super().__init__(x, y, name="autoencoder", **kwargs)
        self.encoder, self.decoder, self.loss_name = encoder, decoder, loss
        self.reconstruction = reconstruction_loss(loss)

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        target = keras.ops.cast(x, "float32") / 255.0
        return self.reconstruction(target, keras.ops.cast(y_pred, "float32"))


def scaled_input(model: keras.Model) -> keras.Model:
    """``model`` (taking images in [0, 1]) behind a uint8 input scaled on the device."""
    x = keras.Input(model.input_shape[1:], dtype="uint8", name="image_uint8")
    return keras.Model(
        x, model(layers.Rescaling(1 / 255, name="scale")(x)), name=f"{model.name}_uint8"
    )
