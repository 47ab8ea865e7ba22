"""Training with the splits on the device (jax backend): the host feed's batches and losses, resume,
and data parallelism on virtual CPU devices."""

import importlib.util
import os
import subprocess
import sys
import textwrap

import pytest

needs_jax = pytest.mark.skipif(
    importlib.util.find_spec("jax") is None,
    reason="jax is not installed (pip install -e '.[backends]')",
)

PREAMBLE = textwrap.dedent("""
    import sys, pathlib, numpy as np
    from caelatent.model import backend
    backend.use("jax", 2)
    import jax, keras
    from caelatent.model.networks import ModelSpec
    from caelatent.data.prepare import Split
    from caelatent.stages.data import prepare_synthetic
    from caelatent.model.train import FitOptions
    from caelatent.stages.model import fit_and_save
    d = pathlib.Path(sys.argv[1])
    def train_into(out, spec, checkpoint=None, **settings):
        return fit_and_save(d / "images.zarr", encoder=out / "encoder.keras", decoder=out / "decoder.keras",
                            history=out / "history.tsv", checkpoint=checkpoint or out / "checkpoint",
                            spec=spec, **settings).history
    # 240 train images: batches of 14 give 17 full batches and a partial one of 2
    prepare_synthetic(d, n_images=300, size=32, seed=0, split=Split(0.8), workers=1, chunk=64)
    def train(name, spec, epochs=2, **fit):
        return train_into(d / name, spec, epochs=epochs, batch_size=14, verbose=0,
                          options=FitOptions(**fit))
    SMALL = dict(image_size=32, filters=(8, 16, 16, 32), z_dim=16)
""")

EQUAL_SCRIPT = PREAMBLE + textwrap.dedent("""
    for kind in ("cae", "vae"):
        spec = ModelSpec(**SMALL, kind=kind)
        host = train(f"host-{kind}", spec, device_mb=0, steps_per_execution=1)
        dev = train(f"dev-{kind}", spec, steps_per_execution=4, unroll=2)
        for key in ("loss", "val_loss"):
            np.testing.assert_allclose(dev[key], host[key], rtol=1e-5, err_msg=f"{kind} {key}")
        a = keras.saving.load_model(d / f"host-{kind}" / "decoder.keras").get_weights()
        b = keras.saving.load_model(d / f"dev-{kind}" / "decoder.keras").get_weights()
        # Adam magnifies float reassociation in near-zero gradients: 1e-4 is under 1 % of how far
        # training moved the weights (about 0.03)
        assert all(np.allclose(x, y, atol=1e-4) for x, y in zip(a, b)), kind

    class Stop(keras.callbacks.Callback):  # a kill after epoch 1's checkpoint
        def on_epoch_end(self, epoch, logs=None):
            if epoch == 0:
                raise KeyboardInterrupt
    spec = ModelSpec(**SMALL)
    ckpt = d / "ckpt"
    try:
        train_into(d / "resumed", spec, ckpt, epochs=2, batch_size=14, verbose=0,
                   options=FitOptions(steps_per_execution=4), callbacks=[Stop()])
        raise AssertionError("the interruption did not happen")
    except KeyboardInterrupt:
        pass
    resumed = train_into(d / "resumed", spec, ckpt, epochs=2, batch_size=14, verbose=0,
                         options=FitOptions(steps_per_execution=4))
    whole = train("whole", spec, steps_per_execution=4)
    np.testing.assert_allclose(resumed["loss"], whole["loss"], rtol=1e-5)
    np.testing.assert_allclose(resumed["val_loss"], whole["val_loss"], rtol=1e-5)
""")

PARALLEL_SCRIPT = textwrap.dedent("""
    assert len(jax.devices()) == 2, jax.devices()
    spec = ModelSpec(**SMALL, batch_norm=True)  # batch statistics must be the global batch's
    one = train("one", spec, devices=1, steps_per_execution=4)
    two = train("two", spec, devices=2, steps_per_execution=4)
    for key in ("loss", "val_loss"):
        np.testing.assert_allclose(two[key], one[key], rtol=1e-4, err_msg=key)
    assert two["loss"][-1] < two["loss"][0], two

    # what runs on two devices: each batch's positions split between them, images on both
    import zarr
    from caelatent.model.devicefit import DeviceFit, devices_for
    from caelatent.model.feed import Feed
    from caelatent.model.networks import UInt8Autoencoder, build_decoder, build_heads
    g = zarr.open_group(d / "images.zarr", mode="r")
    split = g["split"][:]
    rows, hold = np.flatnonzero(split == 0), np.flatnonzero(split == 1)
    ae = UInt8Autoencoder(build_heads(spec)[0], build_decoder(spec), spec)
    ae.compile(optimizer=keras.optimizers.Adam(5e-4))
    fit = DeviceFit(ae, g["images"], rows, hold, steps=4, devices=devices_for(2))
    pos = fit._positions(Feed(None, rows, 64, 14, seed=0).batch_rows(0), fit.train_rows)
    full = pos[0]
    assert full.shape == (4, 14) and len(full.sharding.device_set) == 2, full.sharding
    shard_shapes = {s.data.shape for s in full.addressable_shards}
    assert shard_shapes == {(4, 7)}, shard_shapes
    assert {s.data.shape for s in fit.train_images.addressable_shards} == {(240, 32, 32, 3)}
    try:
        devices_for(3)
        raise AssertionError("3 of 2 devices were granted")
    except RuntimeError as err:
        assert "train.gpus=3" in str(err), err
    print("OK")
""")


def run(script: str, tmp_path, **env) -> None:
    proc = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=tmp_path,
        env={**os.environ, **env},
    )
    assert proc.returncode == 0 and "OK" in proc.stdout, proc.stderr[-4000:]


@pytest.mark.slow
@needs_jax
def test_the_device_path_trains_on_the_host_feeds_batches_resumes_and_splits_across_devices(
    tmp_path,
):
    """One fresh process with two virtual CPU devices. On one device: same seed, same batches (a
    partial last one included), same losses and weights as ``fit`` fed from the host, for the CAE
    and the VAE (whose noise is seeded state); a run stopped after an epoch resumes to the
    uninterrupted history. train.gpus: 2: each step's batch is split between the devices (7 + 7
    of 14) and the loss trajectory is one device's, batch norm included; asking for more devices
    than there are names the setting."""
    run(
        EQUAL_SCRIPT + PARALLEL_SCRIPT,
        tmp_path,
        XLA_FLAGS="--xla_force_host_platform_device_count=2",
    )


def test_data_parallel_training_off_the_jax_backend_names_the_setting(tmp_path):
    """train.gpus: 2 on the TensorFlow backend (the test process's) is refused before training,
    naming train.gpus and what it needs; bad fit options name their key."""
    import keras

    from caelatent.model.networks import ModelSpec
    from caelatent.data.prepare import Split
    from caelatent.stages.data import prepare_synthetic
    from caelatent.model.train import FitOptions
    from conftest import train_into

    assert keras.backend.backend() != "jax"
    prepare_synthetic(tmp_path, n_images=40, size=32, seed=0, split=Split(0.8), workers=1)
    spec = ModelSpec(image_size=32, filters=(8, 8, 8, 8), z_dim=4)
    with pytest.raises(ValueError, match=r"train.gpus=2: data-parallel training needs .* jax"):
        train_into(
            tmp_path / "images.zarr", tmp_path / "m", spec, epochs=1, options=FitOptions(devices=2)
        )
    assert not (tmp_path / "m" / "encoder.keras").exists()
    with pytest.raises(ValueError, match="train.unroll=0"):
        FitOptions(unroll=0)
    with pytest.raises(ValueError, match="train.device_mb=-1"):
        FitOptions(device_mb=-1)
