"""Choose the Keras backend (tensorflow, jax, torch, or auto) before Keras is imported; GPU memory.

All backend-specific code of the project lives here, except how the training feed hands batches
to ``fit`` (``caelatent.model.feed.Feed.keras_input``: a tf.data pipeline on TensorFlow).
"""

from __future__ import annotations

import importlib.util
import logging
import os
import subprocess
import sys

log = logging.getLogger(__name__)

BACKENDS = ("tensorflow", "jax", "torch")
# `auto` tries the backends in this order and takes the first that sees a GPU (jax first: the `[gpu]`
# install's backend, XLA-compiled); with no GPU it takes tensorflow, the CPU install's backend.
AUTO_ORDER = ("jax", "torch", "tensorflow")


def installed(backend: str) -> bool:
    return importlib.util.find_spec(backend) is not None


_PROBES = {
    "jax": "import jax; print(any(d.platform == 'gpu' for d in jax.devices()))",
    "torch": "import torch; print(torch.cuda.is_available())",
    "tensorflow": "import tensorflow as tf; print(bool(tf.config.list_physical_devices('GPU')))",
}


def sees_gpu(backend: str) -> bool:
    """Whether ``backend`` (installed) can run on a GPU, asked in a child process: importing jax or
    torch here would leave their threads in a process that may fork later, and their memory in one
    that uses another backend."""
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "XLA_PYTHON_CLIENT_PREALLOCATE": "false"}
    try:
        out = subprocess.run(
            [sys.executable, "-c", _PROBES[backend]],
            capture_output=True,
            text=True,
            timeout=300,
            env=env,
        )
    except subprocess.TimeoutExpired:
        log.warning("probing %s for a GPU timed out; taking it as none", backend)
        return False
    return out.returncode == 0 and out.stdout.strip().splitlines()[-1:] == ["True"]


def resolve(backend: str) -> str:
    """The backend ``train.backend`` names; for ``auto``, the first of AUTO_ORDER that sees a GPU."""
    if backend != "auto":
        return backend
    have = [b for b in AUTO_ORDER if installed(b)]
    if not have:
        raise ModuleNotFoundError(
            "train.backend=auto, but none of tensorflow, jax, torch is installed"
        )
    for b in have:
        if sees_gpu(b):
            return b
    return "tensorflow" if "tensorflow" in have else have[0]


def use(backend: str, threads: int | None = None, gpu_memory_fraction: float | None = None) -> str:
    """Select ``backend`` (or ``auto``) for Keras; must run before the first ``import keras``.

    ``gpu_memory_fraction``: the share of each GPU's memory the process may take; ``None`` lets it
    grow as needed instead of reserving most of the card up front (jax's and TensorFlow's default).
    Returns the backend chosen.
    """
    if backend != "auto" and backend not in BACKENDS:
        raise ValueError(
            f"train.backend={backend!r}: expected auto or one of {', '.join(BACKENDS)}"
        )
    if backend != "auto" and not installed(backend):
        raise ModuleNotFoundError(
            f"train.backend={backend!r}, but the {backend} package is not installed"
        )
    if gpu_memory_fraction is not None and not 0 < gpu_memory_fraction <= 1:
        raise ValueError(
            f"train.gpu_memory_fraction={gpu_memory_fraction}: expected a fraction in (0, 1]"
        )
    # jax reads these when it starts, so set them before resolve() may start it
    if gpu_memory_fraction is None:
        os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")
    else:
        os.environ["XLA_PYTHON_CLIENT_MEM_FRACTION"] = str(gpu_memory_fraction)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    requested, backend = backend, resolve(backend)
    if "keras" in sys.modules:
        import keras

        if keras.backend.backend() != backend:
            raise RuntimeError(
                f"Keras was already imported with the {keras.backend.backend()} backend"
            )
    os.environ["KERAS_BACKEND"] = backend
    if threads:
        set_threads(backend, threads)
    limit_gpu_memory(backend, gpu_memory_fraction)
    log.info("Keras backend %s on %s (train.backend=%s)", backend, device_name(backend), requested)
    return backend


def use_device(device: dict | None, threads: int | None, backend: str | None = None) -> None:
    """What a stage runner that runs a Keras model does first: :func:`use` with the rule's
    ``device`` params (``backend``, ``gpu_memory_fraction``; ``backend`` overrides the first) and
    threads. ``device=None``: a library caller has chosen already, nothing changes."""
    if device is not None:
        use(backend or device["backend"], threads, device["gpu_memory_fraction"])


def predict_batch(device: dict | None) -> int:
    """The batch size a runner predicts with: the rule's ``device`` params' ``predict_batch_size``,
    or 256 for a library caller (``device=None``)."""
    return device["predict_batch_size"] if device else 256


def limit_gpu_memory(backend: str, fraction: float | None) -> None:
    """TensorFlow: memory growth, or a hard limit; torch: a per-process cap (jax: see use())."""
    if backend == "tensorflow":
        import tensorflow as tf

        for gpu in tf.config.list_physical_devices("GPU"):
            try:
                if fraction is None:
                    tf.config.experimental.set_memory_growth(gpu, True)
                else:
                    total = tf.config.experimental.get_device_details(gpu).get("memory_limit_mb")
                    if total:
                        tf.config.set_logical_device_configuration(
                            gpu,
                            [
                                tf.config.LogicalDeviceConfiguration(
                                    memory_limit=int(total * fraction)
                                )
                            ],
                        )
            except RuntimeError:  # already initialised in this process
                pass
    elif backend == "torch" and fraction is not None:
        import torch

        for i in range(torch.cuda.device_count()):
            torch.cuda.set_per_process_memory_fraction(fraction, i)


def device_name(backend: str) -> str:
    """What the backend computes on: the GPU's name, or ``cpu``."""
    if backend == "jax":
        import jax

        d = jax.devices()[0]
        return d.device_kind if d.platform == "gpu" else "cpu"
    if backend == "torch":
        import torch

        return torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu"
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    return (
        tf.config.experimental.get_device_details(gpus[0]).get("device_name", "gpu")
        if gpus
        else "cpu"
    )


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
        os.environ.setdefault(
            "XLA_FLAGS", f"--xla_cpu_multi_thread_eigen=true intra_op_parallelism_threads={threads}"
        )


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
    return (
        float(keras.ops.convert_to_numpy(value)),
        keras.ops.convert_to_numpy(aux),
        keras.ops.convert_to_numpy(grad),
    )


def evaluate(fn, x):
    """``fn(x)`` as a NumPy array, without tracking gradients (torch would otherwise refuse NumPy)."""
    import keras

    if keras.backend.backend() == "torch":
        import torch

        with torch.no_grad():
            return keras.ops.convert_to_numpy(fn(keras.ops.convert_to_tensor(x)))
    return keras.ops.convert_to_numpy(fn(x))
