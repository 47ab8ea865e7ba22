"""Choose the Keras backend (tensorflow, jax or torch) before Keras is imported.

All backend-specific code of the project lives here.
"""

from __future__ import annotations

import importlib.util
import os
import sys

BACKENDS = ("tensorflow", "jax", "torch")


def use(backend: str, threads: int | None = None) -> None:
    """Select ``backend`` for Keras; must run before the first ``import keras``."""
    if backend not in BACKENDS:
        raise ValueError(f"train.backend={backend!r}: expected one of {', '.join(BACKENDS)}")
    if importlib.util.find_spec(backend) is None:
        raise ModuleNotFoundError(f"train.backend={backend!r}, but the {backend} package is not installed")
    if "keras" in sys.modules:
        import keras

        if keras.backend.backend() != backend:
            raise RuntimeError(f"Keras was already imported with the {keras.backend.backend()} backend")
    os.environ["KERAS_BACKEND"] = backend
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if threads:
        set_threads(backend, threads)


def set_threads(backend: str, threads: int) -> None:
    """Cap the CPU threads the backend uses (the rule's ``threads``)."""
    if backend == "tensorflow":
        import tensorflow as tf

        try:
            tf.config.threading.set_intra_op_parallelism_threads(threads)
        except RuntimeError:  # already initialised in this process
            pass
    elif backend == "torch":
        import torch

        torch.set_num_threads(threads)
    else:
        os.environ.setdefault("XLA_FLAGS", f"--xla_cpu_multi_thread_eigen=true intra_op_parallelism_threads={threads}")


def value_and_grad(fn, x):
    """``(value, aux, grad)`` of a scalar ``value, aux = fn(x)`` with respect to the input array ``x``.

    ``fn`` is written with ``keras.ops`` (and may call Keras models); the gradient is taken with the
    active backend's own machinery. Results come back as NumPy arrays.
    """
    import keras

    name = keras.backend.backend()
    if name == "tensorflow":
        import tensorflow as tf

        t = tf.convert_to_tensor(x)
        with tf.GradientTape() as tape:
            tape.watch(t)
            value, aux = fn(t)
        grad = tape.gradient(value, t)
    elif name == "jax":
        import jax

        (value, aux), grad = jax.value_and_grad(fn, has_aux=True)(keras.ops.convert_to_tensor(x))
    elif name == "torch":
        t = keras.ops.convert_to_tensor(x).detach().requires_grad_(True)
        value, aux = fn(t)
        (grad,) = __import__("torch").autograd.grad(value, t)
        value, aux = value.detach(), aux.detach()
    else:
        raise RuntimeError(f"gradients are not implemented for the {name} backend")
    return (float(keras.ops.convert_to_numpy(value)), keras.ops.convert_to_numpy(aux),
            keras.ops.convert_to_numpy(grad))


def evaluate(fn, x):
    """``fn(x)`` as a NumPy array, without tracking gradients (torch would otherwise refuse NumPy)."""
    import keras

    if keras.backend.backend() == "torch":
        import torch

        with torch.no_grad():
            return keras.ops.convert_to_numpy(fn(keras.ops.convert_to_tensor(x)))
    return keras.ops.convert_to_numpy(fn(x))
