"""Training and encoding on small data (synthetic faces, and the shared CelebA sample)."""

from __future__ import annotations

import importlib.util
import json
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
import zarr

from caelatent.model import backend

backend.use("tensorflow")

import keras  # noqa: E402

from caelatent.model.networks import ModelSpec, build_encoder  # noqa: E402
from caelatent.data.prepare import Split  # noqa: E402
from caelatent.stages.data import prepare_celeba, prepare_synthetic  # noqa: E402
from caelatent.files.networks import load_model  # noqa: E402
from caelatent.stages.model import encode  # noqa: E402
from caelatent.model.codec import encode_into  # noqa: E402
from conftest import read_history, train_into  # noqa: E402
from caelatent.model.train import FitOptions, execution_steps  # noqa: E402
from conftest import ATTR_FILE, ORIGINALS_TAR  # noqa: E402

TINY = ModelSpec(image_size=64, filters=(8, 16, 16, 32), z_dim=16)


@pytest.fixture(scope="module")
def faces(tmp_path_factory):
    d = tmp_path_factory.mktemp("faces")
    prepare_synthetic(d, n_images=320, size=64, seed=0, split=Split(0.8), workers=2, chunk=64)
    return d / "images.zarr"


def tiny_run(faces, out, epochs: int, **options) -> dict:
    """The history of a TINY run, batches of 32, with these FitOptions."""
    return train_into(
        faces, out, TINY, epochs=epochs, batch_size=32, verbose=0, options=FitOptions(**options)
    )


def test_short_run_lowers_the_loss(faces, tmp_path):
    h = train_into(
        faces, tmp_path, TINY, loss="mse", epochs=8, batch_size=16, learning_rate=3e-3, verbose=0
    )
    assert h["epoch"] == list(range(8))
    assert h["loss"][-1] < 0.85 * h["loss"][0] and h["val_loss"][-1] < 0.85 * h["val_loss"][0], h
    assert (tmp_path / "encoder.keras").exists() and (tmp_path / "decoder.keras").exists()
    assert read_history(tmp_path / "history.tsv") == h
    assert not (tmp_path / "checkpoint").exists()  # removed once training finished


@pytest.mark.slow
def test_interrupted_training_resumes_as_if_never_stopped(faces, tmp_path):
    """Kill a training process after its first epoch, rerun: it continues after the saved epoch,
    with the weights, optimizer state and batch order an uninterrupted run has (same history)."""
    out, ckpt = tmp_path / "model", tmp_path / "ckpt"
    code = textwrap.dedent(f"""
        from caelatent.model import backend; backend.use("tensorflow", 1)
        from caelatent.model.networks import ModelSpec
        from caelatent.stages.model import fit_and_save
        out = {str(out)!r}
        fit_and_save({str(faces)!r}, encoder=out + "/encoder.keras", decoder=out + "/decoder.keras",
                     history=out + "/history.tsv", checkpoint={str(ckpt)!r},
                     spec=ModelSpec(image_size=64, filters=(8, 16, 16, 32), z_dim=16),
                     epochs=6, batch_size=32, verbose=0)
    """)
    proc = subprocess.Popen([sys.executable, "-c", code])
    state = ckpt / "state.json"
    deadline = time.time() + 300
    while time.time() < deadline and proc.poll() is None and not state.exists():
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    before = json.loads(state.read_text())
    k = before["epoch"]
    assert (
        1 <= k < 6 and not (out / "encoder.keras").exists()
    ), "the run was not interrupted mid-way"
    backend.set_threads("tensorflow", 1)
    h = train_into(faces, out, TINY, epochs=6, batch_size=32, checkpoint_dir=ckpt, verbose=0)
    assert h["epoch"] == list(
        range(6)
    )  # epochs 0..5 once each: the finished ones were not trained again
    assert h["loss"][:k] == before["history"]["loss"]
    assert (out / "encoder.keras").exists() and not ckpt.exists()
    whole = train_into(faces, tmp_path / "whole", TINY, epochs=6, batch_size=32, verbose=0)
    np.testing.assert_allclose(h["loss"], whole["loss"], rtol=1e-4)
    np.testing.assert_allclose(h["val_loss"], whole["val_loss"], rtol=1e-4)
    # the tolerance separates: a run with another batch order (seed) differs by far more
    other = train_into(faces, tmp_path / "other", TINY, epochs=6, batch_size=32, seed=1, verbose=0)
    assert np.abs(np.array(other["loss"][1:]) / np.array(whole["loss"][1:]) - 1).max() > 1e-3


@pytest.mark.slow
def test_steps_per_execution_changes_speed_not_the_batches(faces, tmp_path, recwarn):
    """Keras draws steps_per_execution batches per call, also at an epoch's end: 3 on an epoch of 8
    batches (256 images / 32) would start epoch 2 with epoch 1's leftovers and run out of data in the
    last. The run uses a divisor instead and matches steps_per_execution=1 epoch by epoch."""
    assert [execution_steps(w, 8) for w in (1, 2, 3, 5, 8, 32)] == [1, 2, 2, 4, 8, 8]
    assert execution_steps(8, 2657) == 1 and execution_steps(8, 2658) == 6
    one, three = (
        tiny_run(faces, tmp_path / str(spe), 3, steps_per_execution=spe) for spe in (1, 3)
    )
    np.testing.assert_allclose(three["loss"], one["loss"], rtol=1e-4)
    np.testing.assert_allclose(three["val_loss"], one["val_loss"], rtol=1e-4)
    assert not [w for w in recwarn if "ran out of data" in str(w.message)]


class Crash(keras.callbacks.Callback):
    """Stops a run like a kill would, after ``after`` finished epochs."""

    def __init__(self, after: int):
        super().__init__()
        self.after = after

    def on_epoch_end(self, epoch, logs=None):
        if epoch + 1 == self.after:
            raise KeyboardInterrupt("simulated kill")


@pytest.mark.parametrize("damage", ["truncated weights", "garbled state"])
def test_damaged_checkpoint_is_discarded_with_a_warning(faces, tmp_path, caplog, damage):
    ckpt = tmp_path / "ckpt"
    with pytest.raises(KeyboardInterrupt):
        train_into(
            faces,
            tmp_path / "m",
            TINY,
            epochs=3,
            batch_size=32,
            checkpoint_dir=ckpt,
            verbose=0,
            callbacks=[Crash(after=1)],
        )
    state = json.loads((ckpt / "state.json").read_text())
    assert state["epoch"] == 1
    if damage == "truncated weights":
        w = ckpt / state["weights"]
        w.write_bytes(w.read_bytes()[:200])
    else:
        (ckpt / "state.json").write_text('{"epoch": 1, "weig')
    ran = keras.callbacks.LambdaCallback(on_epoch_end=lambda epoch, logs: trained.append(epoch))
    trained: list[int] = []
    h = train_into(
        faces,
        tmp_path / "m",
        TINY,
        epochs=3,
        batch_size=32,
        checkpoint_dir=ckpt,
        verbose=0,
        callbacks=[ran],
    )
    assert "discarding damaged checkpoint" in caplog.text and str(ckpt) in caplog.text
    assert "resuming" not in caplog.text and trained == [0, 1, 2] and h["epoch"] == [0, 1, 2]
    np.testing.assert_allclose(
        h["loss"][0], state["history"]["loss"][0], rtol=1e-4
    )  # the same run, from scratch
    assert not ckpt.exists() and (tmp_path / "m" / "encoder.keras").exists()


@pytest.mark.slow  # XLA compiles for seconds: out of the quick loop
@pytest.mark.parametrize(
    "options",
    [
        FitOptions(jit_compile=True, steps_per_execution=4),
        FitOptions(precision="mixed_bfloat16", steps_per_execution=2),
        FitOptions(jit_compile=True, precision="mixed_bfloat16"),
    ],
    ids=["xla", "bf16", "xla-bf16"],
)
def test_xla_and_bf16_settings_train_on_cpu(faces, tmp_path, options):
    h = train_into(
        faces,
        tmp_path,
        TINY,
        loss="mse",
        epochs=4,
        batch_size=16,
        learning_rate=3e-3,
        options=options,
        verbose=0,
    )
    assert np.isfinite(h["loss"]).all() and h["loss"][-1] < 0.9 * h["loss"][0], h
    enc = load_model(tmp_path / "encoder.keras")
    assert enc.dtype_policy.name == "float32" and all(w.dtype == "float32" for w in enc.weights)
    n = encode(images=faces, encoder=tmp_path / "encoder.keras", latents=tmp_path / "lat.zarr")
    assert n == 320 and np.isfinite(zarr.open_group(tmp_path / "lat.zarr")["z"][:]).all()


@pytest.mark.slow
def test_ram_and_zarr_feeds_train_identically(faces, tmp_path):
    runs = [tiny_run(faces, tmp_path / str(mb), 2, in_memory_mb=mb) for mb in (1000, 0)]
    np.testing.assert_allclose(runs[0]["loss"], runs[1]["loss"], rtol=1e-6)
    np.testing.assert_allclose(runs[0]["val_loss"], runs[1]["val_loss"], rtol=1e-6)


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads RSS from /proc")
@pytest.mark.parametrize(
    "name",
    [
        "tensorflow",
        pytest.param(
            "jax",
            marks=pytest.mark.skipif(
                importlib.util.find_spec("jax") is None, reason="jax is not installed"
            ),
        ),
    ],
)
def test_the_feed_holds_each_split_once(tmp_path, name):
    """Train's memory grows by one copy of its splits, not two: the peak RSS above the RSS just
    before the splits load, at 2,000 and at 40,000 images of 96x96 (1.1 GB), grows by at most 1.25
    bytes per byte of split (a captured tensor of the split made it 3.1). Each size in its own
    process, so that one peak does not hide the other. On jax the splits go to the device (here
    the CPU) through caelatent.model.devicefit, block by block into one buffer (measured: 1.02)."""

    def probe(n: int) -> dict:
        out = subprocess.run(
            [
                sys.executable,
                str(Path(__file__).with_name("memory_probe.py")),
                str(tmp_path / f"s{n}.zarr"),
                str(n),
                "96",
                name,
            ],
            capture_output=True,
            text=True,
            check=True,
        )
        return json.loads(out.stdout.strip().splitlines()[-1])

    small, large = probe(2000), probe(40000)
    assert large["splits"] >= 2**30
    grown = (large["peak"] - large["before"]) - (small["peak"] - small["before"])
    assert grown / (large["splits"] - small["splits"]) <= 1.25, (small, large)


def test_fit_options_name_the_bad_key():
    with pytest.raises(ValueError, match="train.precision='float16'"):
        FitOptions(precision="float16")
    with pytest.raises(ValueError, match="train.jit_compile='yes'"):
        FitOptions(jit_compile="yes")


def test_checkpoint_of_other_settings_is_discarded(faces, tmp_path, caplog):
    ckpt = tmp_path / "ckpt"
    (ckpt / "backup").mkdir(parents=True)
    (ckpt / "fingerprint.txt").write_text("made-with-other-settings")
    h = train_into(
        faces, tmp_path / "m", TINY, epochs=1, batch_size=32, checkpoint_dir=ckpt, verbose=0
    )
    assert h["epoch"] == [0] and "discarding checkpoint" in caplog.text


def test_nan_loss_stops_with_a_clear_error(faces, tmp_path):
    with pytest.raises(FloatingPointError, match="training loss became nan"):
        train_into(faces, tmp_path, TINY, loss="mse", learning_rate=1e30, epochs=2, verbose=0)


def test_encode_equals_encoder_predict_and_checks_the_image_size(faces, tmp_path):
    train_into(faces, tmp_path, TINY, epochs=1, batch_size=32, verbose=0)
    n = encode(images=faces, encoder=tmp_path / "encoder.keras", latents=tmp_path / "latents.zarr")
    lat = zarr.open_group(tmp_path / "latents.zarr", mode="r")
    img = zarr.open_group(faces, mode="r")
    x = img["images"][:].astype(np.float32) / 255
    net = load_model(tmp_path / "encoder.keras")
    direct = net.predict(x, verbose=0)
    assert n == 320 and lat["z"].shape == (320, 16) and lat["z"].dtype == np.float32
    assert lat.attrs["z_dim"] == 16  # read from the encoder, not from the config
    np.testing.assert_allclose(lat["z"][:], direct, rtol=1e-5, atol=1e-5)
    assert (lat["ids"][:] == img["ids"][:]).all() and (lat["split"][:] == img["split"][:]).all()
    assert (lat["attributes"][:] == img["attributes"][:]).all()
    assert lat["attributes"].attrs["names"] == img["attributes"].attrs["names"]
    # in steps of 100 rows, the same vectors
    z = np.zeros((320, 16), np.float32)
    assert encode_into(net, img["images"], z, step=100) == 320
    np.testing.assert_allclose(z, lat["z"][:], rtol=1e-6, atol=1e-6)
    # an encoder of other images: the error names both files, and nothing is left behind
    build_encoder(ModelSpec(image_size=96, filters=(8, 16, 16, 32), z_dim=16)).save(
        tmp_path / "e96.keras"
    )
    with pytest.raises(ValueError, match="e96.keras and .* expects \\(96, 96\\) images"):
        encode(images=faces, encoder=tmp_path / "e96.keras", latents=tmp_path / "other.zarr")
    assert not (tmp_path / "other.zarr").exists()


@pytest.mark.slow
def test_short_real_data_run(sample, tmp_path):
    prepare_celeba(
        ORIGINALS_TAR, tmp_path / "data", size=64, attributes=ATTR_FILE, split=Split(0.9), workers=2
    )
    images = tmp_path / "data" / "images.zarr"
    h = train_into(
        images, tmp_path / "m", TINY, epochs=2, batch_size=32, learning_rate=2e-3, verbose=0
    )
    assert h["val_loss"][-1] < h["val_loss"][0]
    encode(
        images=images, encoder=tmp_path / "m" / "encoder.keras", latents=tmp_path / "latents.zarr"
    )
    lat = zarr.open_group(tmp_path / "latents.zarr", mode="r")
    assert (
        lat["z"].shape == (558, 16)
        and lat["ids"][-1] == 558
        and lat["attributes"].shape == (558, 40)
    )
    assert np.isfinite(lat["z"][:]).all() and lat["z"][:].std(axis=0).min() > 0


def rule_train(faces, tmp_path, **settings) -> dict:
    """Keyword arguments of rule train's runner: TINY's model on ``faces``, outputs under
    ``tmp_path``/model, two batches an epoch (``settings`` replace any of them)."""
    out = tmp_path / "model"
    kw = dict(
        images=faces,
        encoder=out / "encoder.keras",
        decoder=out / "decoder.keras",
        history=out / "history.tsv",
        reconstructions=out / "holdout_reconstructions.npz",
        checkpoint=tmp_path / "checkpoint",
        model={"image_size": 64, "filters": [8, 16, 16, 32], "z_dim": 16},
        fit={},
        loss="bce",
        learning_rate=1e-3,
        batch_size=32,
        epochs=1,
        max_batches_per_epoch=2,
        seed=0,
    )
    return kw | settings


def test_rule_train_writes_tensorboard_logs_when_asked(faces, tmp_path):
    """train.tensorboard: the rule's runner hands Keras's TensorBoard callback the experiment's
    log folder, which then holds the run's event files (the losses per epoch)."""
    from caelatent.stages.model import train

    board = tmp_path / "logs" / "tensorboard"
    hist = train(**rule_train(faces, tmp_path, tensorboard=str(board)))
    assert hist["epoch"] == [0]
    assert list(board.rglob("events.out.tfevents.*")), sorted(board.rglob("*"))


def test_a_train_job_killed_while_writing_resumes_at_its_last_epoch(
    faces, tmp_path, caplog, monkeypatch
):
    """The train rule's checkpoint goes last, after every output is written: a job killed after
    its last epoch, while it saves (a SLURM time limit), is rerun from the finished checkpoint
    without training again, not from scratch."""
    from caelatent.model import codec
    from caelatent.stages.model import train

    out, kw = tmp_path / "model", rule_train(faces, tmp_path, epochs=2)

    def killed(*args, **kwargs):
        raise KeyboardInterrupt("killed at the time limit")

    with monkeypatch.context() as m:
        m.setattr(codec, "reconstruct_holdout", killed)
        with pytest.raises(KeyboardInterrupt):
            train(**kw)
    assert (tmp_path / "checkpoint" / "state.json").exists()
    first = read_history(out / "history.tsv")
    caplog.clear()
    with caplog.at_level("INFO"):
        again = train(**kw)
    assert "after epoch 2" in caplog.text and "epoch 1/2 done" not in caplog.text, caplog.text
    assert again == first and (out / "holdout_reconstructions.npz").exists()
    assert not (tmp_path / "checkpoint").exists()
