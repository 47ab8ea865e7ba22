"""Keras 3 builders for the convolutional autoencoder (by default exactly the seeds' network), and
the two generative autoencoders it is compared with, on the same encoder and decoder:

- ``kind="vae"``: a mean and a log-variance head, the reparametrisation trick, and a KL term
  weighted by ``beta`` (Kingma & Welling 2014; beta as in Higgins et al. 2017);
- ``kind="rae"``: the deterministic encoder with an L2 penalty on z weighted by ``beta`` and a
  weight decay ``decoder_l2`` on the decoder (RAE-L2 of Ghosh et al., ICLR 2020).

Every loss term is per pixel: the reconstruction loss is a mean over pixels, so the KL and z terms
and the decoder's weight decay are divided by the pixels of an image (H * W * 3). ``beta`` and
``decoder_l2`` are therefore each term's weight relative to the reconstruction loss summed over an
image's pixels (the training loss times the pixel count is recon_sum + beta * term +
decoder_l2 * ||decoder kernels||^2).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import keras
from keras import layers

KINDS = ("cae", "vae", "rae")


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
    kind: str = "cae"
    beta: float = 1.0
    decoder_l2: float = 0.0

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
        if self.kind not in KINDS:
            raise ValueError(f"model.kind={self.kind!r}: expected one of {', '.join(KINDS)}")
        if self.beta < 0 or self.decoder_l2 < 0:
            raise ValueError(
                f"model.beta={self.beta}, model.decoder_l2={self.decoder_l2}: must be >= 0"
            )

    @property
    def pixels(self) -> int:
        return self.image_size * self.image_size * self.channels

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


def _features(spec: ModelSpec):
    x = inputs = keras.Input((spec.image_size, spec.image_size, spec.channels), name="image")
    for i, f in enumerate(spec.filters, 1):
        x = layers.Conv2D(
            f, spec.kernel_size, strides=spec.strides, padding="same", name=f"conv{i}"
        )(x)
        if spec.batch_norm:
            x = layers.BatchNormalization(name=f"bn{i}")(x)
        x = _act(spec.activation, f"act{i}")(x)
    return inputs, layers.Flatten(name="flatten")(x)


def build_encoder(spec: ModelSpec) -> keras.Model:
    """Images in [0, 1] -> z. For a VAE, z is the mean (what encoding writes); see build_heads."""
    return build_heads(spec)[0]


def build_heads(spec: ModelSpec) -> tuple[keras.Model, keras.Model | None]:
    """(encoder to z, or to the mean for a VAE; for a VAE the model to [mean, log-variance],
    sharing its layers, else None)."""
    inputs, x = _features(spec)
    z = layers.Dense(spec.z_dim, name="z")(x)
    encoder = keras.Model(inputs, z, name="encoder")
    if spec.kind != "vae":
        return encoder, None
    log_var = layers.Dense(spec.z_dim, name="z_log_var")(x)
    return encoder, keras.Model(inputs, [z, log_var], name="encoder_mean_log_var")


def build_decoder(spec: ModelSpec) -> keras.Model:
    h, w, c = spec.bottleneck
    # per pixel like every other term (module doc): decoder_l2 is relative to the summed loss
    decay = (
        {"kernel_regularizer": keras.regularizers.L2(spec.decoder_l2 / spec.pixels)}
        if spec.decoder_l2
        else {}
    )
    z = keras.Input((spec.z_dim,), name="z")
    x = layers.Dense(h * w * c, name="dense", **decay)(z)
    x = layers.Reshape((h, w, c), name="reshape")(x)
    for i, f in enumerate(reversed(spec.filters), 1):
        x = layers.Conv2DTranspose(
            f, spec.kernel_size, strides=spec.strides, padding="same", name=f"deconv{i}", **decay
        )(x)
        if spec.batch_norm:
            x = layers.BatchNormalization(name=f"dbn{i}")(x)
        x = _act(spec.activation, f"dact{i}")(x)
    out = layers.Conv2DTranspose(
        spec.channels,
        spec.kernel_size,
        padding="same",
        activation="sigmoid",
        name="image",
        **decay,
    )(x)
    return keras.Model(z, out, name="decoder")


def kl_divergence(mean, log_var):
    """KL(N(mean, exp(log_var)) || N(0, I)) per sample: -1/2 sum(1 + log_var - mean^2 - exp(log_var))."""
    terms = 1.0 + log_var - keras.ops.square(mean) - keras.ops.exp(log_var)
    return -0.5 * keras.ops.sum(terms, axis=-1)


def z_penalty(z):
    """RAE's L2 term on the code per sample: 1/2 ||z||^2."""
    return 0.5 * keras.ops.sum(keras.ops.square(z), axis=-1)


class Reparametrise(layers.Layer):
    """z = mean + exp(log_var / 2) * eps, eps ~ N(0, I), seeded (the draws resume with a run)."""

    def __init__(self, seed: int = 0, **kwargs):
        super().__init__(**kwargs)
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, inputs):
        mean, log_var = inputs
        eps = keras.random.normal(keras.ops.shape(mean), seed=self.seed_generator)
        return mean + keras.ops.exp(0.5 * log_var) * eps


LOSSES = ("bce", "mse")


def reconstruction_loss(loss: str) -> keras.losses.Loss:
    if loss not in LOSSES:
        raise ValueError(f"train.loss={loss!r}: expected bce or mse")
    return keras.losses.BinaryCrossentropy() if loss == "bce" else keras.losses.MeanSquaredError()


class UInt8Autoencoder(keras.Model):
    """The autoencoder as trained: uint8 images in, scaled to [0, 1] on the device, loss against that.

    Batches travel from the feed to the device as uint8 (a quarter of float32's bytes). The loss is
    computed in float32 whatever the dtype policy. ``encoder`` and ``decoder`` stay plain models
    taking and giving images in [0, 1]. For a VAE, ``heads`` (mean and log-variance) feed the
    reparametrised z; for an RAE, z is penalised (see :func:`training_loss`).
    """

    def __init__(
        self,
        encoder: keras.Model,
        decoder: keras.Model,
        spec: ModelSpec,
        loss: str = "bce",
        heads: keras.Model | None = None,
        seed: int = 0,
        **kwargs,
    ):
        x = keras.Input(encoder.input_shape[1:], dtype="uint8", name="image_uint8")
        scaled = layers.Rescaling(1 / 255, name="scale")(x)
        if spec.kind == "vae":
            if heads is None:
                raise ValueError("a VAE needs its mean and log-variance heads (build_heads)")
            mean, log_var = heads(scaled)
            z = Reparametrise(seed, name="reparametrise")([mean, log_var])
            codes = [mean, log_var]
        else:
            z = encoder(scaled)
            codes = [z]
        super().__init__(x, [decoder(z), *codes], name="autoencoder", **kwargs)
        self.encoder, self.decoder, self.loss_name = encoder, decoder, loss
        self.spec = spec
        self.reconstruction = reconstruction_loss(loss)

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        target = keras.ops.cast(x, "float32") / 255.0
        image, *codes = (keras.ops.cast(t, "float32") for t in y_pred)
        total = training_loss(self.spec, self.reconstruction(target, image), codes)
        return total + sum(self.losses) if self.losses else total


def training_loss(spec: ModelSpec, reconstruction, codes):
    """The per-pixel reconstruction loss plus, per kind: nothing (cae), beta * KL (vae), beta *
    1/2 ||z||^2 (rae), each averaged over the batch and divided by the pixels of an image."""
    if spec.kind == "vae":
        return reconstruction + spec.beta * keras.ops.mean(kl_divergence(*codes)) / spec.pixels
    if spec.kind == "rae":
        return reconstruction + spec.beta * keras.ops.mean(z_penalty(codes[0])) / spec.pixels
    return reconstruction


def scaled_input(model: keras.Model) -> keras.Model:
    """``model`` (taking images in [0, 1]) behind a uint8 input scaled on the device."""
    x = keras.Input(model.input_shape[1:], dtype="uint8", name="image_uint8")
    return keras.Model(
        x, model(layers.Rescaling(1 / 255, name="scale")(x)), name=f"{model.name}_uint8"
    )
