"""What the innermost feature maps respond to: activation maximisation on the encoder's last
convolutional block.

For every map ``c`` of that block, gradient ascent finds an input image that maximises the map's
mean activation, regularised towards a plain image (each step shrinks the image towards mid-grey by a factor
``1 - decay``, which is an L2 penalty's weight decay; a Gaussian blur every few steps; random
jitter; as in Yosinski et al., 2015). Each step moves along the gradient normalised by its standard
deviation, so ``step_size`` is in pixel units whatever the activations' scale. All maps are
optimised at once as one batch: image ``k`` climbs map ``maps[k]``. Gradients come from
:func:`caelatent.model.backend.value_and_grad`, so the code runs on every Keras backend.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import keras
import numpy as np
from scipy import ndimage

from .backend import evaluate, value_and_grad

log = logging.getLogger(__name__)


def innermost_layer(encoder: keras.Model) -> keras.layers.Layer:
    """The last layer before the encoder flattens its maps (the last conv block's activation)."""
    layers = encoder.layers
    for k, layer in enumerate(layers):
        if isinstance(layer, keras.layers.Flatten):
            if k == 0 or len(layers[k - 1].output.shape) != 4:
                break
            return layers[k - 1]
    raise ValueError(f"{encoder.name}: no convolutional block followed by Flatten was found")


@dataclass
class Ascent:
    maps: np.ndarray  # [n] map index optimised by image k
    images: np.ndarray  # [n, H, W, 3] float in [0, 1]
    trace: np.ndarray  # [steps + 1, n] mean activation of map maps[k] on image k after each step
    final: np.ndarray  # [n, C] mean activation of every map on each final image
    layer: str


def maximise_maps(
    encoder: keras.Model,
    maps=None,
    *,
    steps: int = 150,
    step_size: float = 0.05,
    decay: float = 0.01,
    blur_sigma: float = 0.5,
    blur_every: int = 4,
    jitter: int = 2,
    seed: int = 0,
    start_noise: float = 0.02,
) -> Ascent:
    """Gradient ascent on the input, one image per map of the innermost layer (all maps if None)."""
    layer = innermost_layer(encoder)
    channels = int(layer.output.shape[-1])
    maps = np.arange(channels) if maps is None else np.asarray(maps, int)
    if maps.size == 0 or maps.min() < 0 or maps.max() >= channels:
        raise ValueError(f"maps {maps.tolist()}: the layer {layer.name} has maps 0..{channels - 1}")
    features = keras.Model(encoder.input, layer.output, name="innermost")
    rng = np.random.default_rng(seed)
    h, w, ch = encoder.input_shape[1:]
    x = np.clip(0.5 + start_noise * rng.standard_normal((len(maps), h, w, ch)), 0, 1).astype(
        np.float32
    )
    onehot = np.eye(channels, dtype=np.float32)[maps]

    def objective(t):
        a = keras.ops.mean(features(t, training=False), axis=(1, 2))  # [n, C]
        target = keras.ops.sum(keras.ops.multiply(a, keras.ops.convert_to_tensor(onehot)), axis=1)
        return keras.ops.sum(target), target

    def activations(images):
        return evaluate(lambda t: keras.ops.mean(features(t, training=False), axis=(1, 2)), images)

    pick = np.arange(len(maps))
    trace = [activations(x)[pick, maps]]
    for step in range(steps):
        dy, dx = rng.integers(-jitter, jitter + 1, size=2) if jitter else (0, 0)
        _, _, grad = value_and_grad(objective, np.roll(x, (dy, dx), axis=(1, 2)))
        grad = np.roll(grad, (-dy, -dx), axis=(1, 2))
        scale = grad.reshape(len(x), -1).std(axis=1)[:, None, None, None] + 1e-8
        x = 0.5 + (1 - decay) * (x + step_size * grad / scale - 0.5)
        x = np.clip(x, 0, 1).astype(np.float32)
        if blur_every and blur_sigma and (step + 1) % blur_every == 0:
            x = ndimage.gaussian_filter(x, sigma=(0, blur_sigma, blur_sigma, 0))
        trace.append(activations(x)[pick, maps])
        if (step + 1) % 50 == 0 or step + 1 == steps:
            log.info(
                "ascent step %d/%d: mean target activation %.4f (start %.4f)",
                step + 1,
                steps,
                float(trace[-1].mean()),
                float(trace[0].mean()),
            )
    final = activations(x)
    return Ascent(maps, x, np.asarray(trace), final, layer.name)


def map_table(a: Ascent) -> dict[str, np.ndarray]:
    """Per map: its mean activation before and after the ascent, and whether its own image excites
    it more than every other map's image does."""
    own = a.final[np.arange(len(a.maps)), a.maps]
    others = a.final[:, a.maps]
    np.fill_diagonal(others, -np.inf)
    return {
        "map": a.maps,
        "activation_start": a.trace[0],
        "activation_end": a.trace[-1],
        "rise": a.trace[-1] - a.trace[0],
        "best_other_image": others.max(axis=0),  # the map's activation on the other maps' images
        "own_image_is_best": own >= others.max(axis=0),
    }
