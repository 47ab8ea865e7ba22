"""Training and encoding on Keras's jax and torch backends, where they are installed."""

import importlib.util
import os
import subprocess
import sys
import textwrap

import pytest

from caelatent.model import backend

pytestmark = pytest.mark.slow  # each test trains or ascends in a fresh process

SCRIPT = textwrap.dedent("""
    import sys, pathlib, numpy as np, zarr
    from caelatent.model import backend
    backend.use(sys.argv[1], 1)
    import keras
    assert keras.backend.backend() == sys.argv[1]
    from caelatent.model.networks import ModelSpec
    from caelatent.data.prepare import Split
    from caelatent.stages.data import prepare_synthetic
    from caelatent.files.networks import load_model
    from caelatent.stages.model import encode
    from caelatent.model.train import FitOptions
    from caelatent.stages.model import fit_and_save
    d = pathlib.Path(sys.argv[2])
    def train_into(out, **settings):
        return fit_and_save(d / "images.zarr", encoder=out / "encoder.keras", decoder=out / "decoder.keras",
                            history=out / "history.tsv", checkpoint=out / "checkpoint",
                            spec=ModelSpec(image_size=64, filters=(8, 16, 16, 32), z_dim=16), **settings).history
    prepare_synthetic(d, n_images=160, size=64, seed=0, split=Split(0.8), workers=1, chunk=64)
    h = train_into(d / "m", loss="mse", epochs=2, batch_size=16, verbose=0)
    assert h["epoch"] == [0, 1] and all(np.isfinite(h["loss"])), h
    # epochs of 8 batches, shorter than one execution: Keras's jax trainer failed in the second one
    h = train_into(d / "m2", loss="mse", epochs=2, batch_size=16, verbose=0,
                   options=FitOptions(steps_per_execution=32))
    assert all(np.isfinite(h["loss"])), h
    encode(images=d / "images.zarr", encoder=d / "m" / "encoder.keras", latents=d / "lat.zarr")
    z = zarr.open_group(d / "lat.zarr")["z"][:]
    x = zarr.open_group(d / "images.zarr")["images"][:].astype("float32") / 255
    direct = np.asarray(load_model(d / "m" / "encoder.keras").predict(x, verbose=0))
    assert z.shape == (160, 16) and np.allclose(z, direct, atol=1e-4)
    print("OK", sys.argv[1])
""")


@pytest.mark.parametrize("name", ["jax", "torch"])
def test_train_and_encode_on_other_backends(name, tmp_path):
    if importlib.util.find_spec(name) is None:
        pytest.skip(f"{name} is not installed (pip install -e '.[backends]')")
    proc = subprocess.run(
        [sys.executable, "-c", SCRIPT, name, str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=tmp_path,
    )
    assert proc.returncode == 0 and f"OK {name}" in proc.stdout, proc.stderr[-3000:]


GRADIENT_SCRIPT = textwrap.dedent("""
    import sys, numpy as np
    from caelatent.model import backend
    backend.use(sys.argv[1], 1)
    import keras
    from caelatent.model.maps import maximise_maps
    from caelatent.model.networks import ModelSpec, build_encoder
    x = np.random.default_rng(0).normal(size=(3, 4)).astype("float32")
    value, aux, grad = backend.value_and_grad(lambda t: (keras.ops.sum(t ** 3), keras.ops.sum(t, axis=1)), x)
    assert abs(value - (x ** 3).sum()) < 1e-3 and np.allclose(aux, x.sum(1), atol=1e-5), (value, aux)
    assert np.allclose(grad, 3 * x ** 2, atol=1e-4), grad
    keras.utils.set_random_seed(3)
    a = maximise_maps(build_encoder(ModelSpec(image_size=32, filters=(8, 16), z_dim=8)), steps=15, seed=0,
                      decay=0, blur_sigma=0, jitter=0)
    assert (a.trace[-1] > a.trace[0]).all(), a.trace[[0, -1]]
    print("OK", sys.argv[1])
""")


@pytest.mark.parametrize("name", ["jax", "torch"])
def test_gradient_ascent_on_other_backends(name, tmp_path):
    if importlib.util.find_spec(name) is None:
        pytest.skip(f"{name} is not installed (pip install -e '.[backends]')")
    proc = subprocess.run(
        [sys.executable, "-c", GRADIENT_SCRIPT, name],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=tmp_path,
    )
    assert proc.returncode == 0 and f"OK {name}" in proc.stdout, proc.stderr[-3000:]


AUTO_SCRIPT = textwrap.dedent("""
    import os, sys
    from caelatent.model import backend
    chosen = backend.use("auto", 1, None if sys.argv[1] == "none" else float(sys.argv[1]))
    import keras
    assert keras.backend.backend() == chosen == os.environ["KERAS_BACKEND"], chosen
    print(chosen, os.environ.get("XLA_PYTHON_CLIENT_PREALLOCATE"), os.environ.get("XLA_PYTHON_CLIENT_MEM_FRACTION"))
""")


def test_auto_backend_on_a_machine_without_gpu_is_tensorflow(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KERAS_", "XLA_PYTHON"))}
    for fraction, expect in (("none", "false None"), ("0.4", "None 0.4")):
        proc = subprocess.run(
            [sys.executable, "-c", AUTO_SCRIPT, fraction],
            capture_output=True,
            text=True,
            timeout=300,
            cwd=tmp_path,
            env=env,
        )
        assert proc.returncode == 0, proc.stderr[-3000:]
        if not any(backend.sees_gpu(b) for b in backend.AUTO_ORDER if backend.installed(b)):
            assert proc.stdout.split() == ["tensorflow", *expect.split()], proc.stdout


def test_auto_prefers_the_first_backend_that_sees_a_gpu(monkeypatch):
    monkeypatch.setattr(backend, "installed", lambda b: True)
    for gpus, expect in (
        ({"torch", "tensorflow"}, "torch"),
        ({"jax", "torch"}, "jax"),
        ({"tensorflow"}, "tensorflow"),
        (set(), "tensorflow"),
    ):
        monkeypatch.setattr(backend, "sees_gpu", lambda b, gpus=gpus: b in gpus)
        assert backend.resolve("auto") == expect
    monkeypatch.setattr(backend, "installed", lambda b: b == "torch")
    monkeypatch.setattr(backend, "sees_gpu", lambda b: False)
    assert backend.resolve("auto") == "torch"  # the only one installed
    monkeypatch.setattr(backend, "installed", lambda b: False)
    with pytest.raises(ModuleNotFoundError, match="train.backend=auto"):
        backend.resolve("auto")
    assert backend.resolve("jax") == "jax"


def test_bad_backend_settings_name_the_key():
    with pytest.raises(ValueError, match="train.backend='theano'"):
        backend.use("theano")
    with pytest.raises(ValueError, match="train.gpu_memory_fraction=1.5"):
        backend.use("tensorflow", gpu_memory_fraction=1.5)
