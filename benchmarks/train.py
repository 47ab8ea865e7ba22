"""Feed, training and encoding throughput, and the projected seed run (170k images x 24 epochs).

Usage: python benchmarks/train.py [--backend auto] [--feed-images 8192] [--feed-size 96]
                                  [--train-images 2048] [--size 96] [--epochs 3]
                                  [--batch-size 64 256] [--path host device]
                                  [--jit-compile auto false] [--precision float32 mixed_bfloat16]
                                  [--steps-per-execution 1 8] [--predict-batch-size 256 1024]
                                  [--shuffle-window 8192] [--profile]
                                  [--skip-feed] [--skip-train] [--out benchmarks/results/train.json]

1. The feed alone: uint8 batches at --feed-size, --batch-size, in the seeded shuffled order, iterated
   through the very adapter ``model.fit`` uses for the backend (Keras's own data adapter; for
   TensorFlow the tf.data pipeline), with no model: from RAM and streamed from Zarr.
2. Training: the seed network at --size on synthetic faces, for every combination of --path x
   --batch-size x --jit-compile x --precision x --steps-per-execution (each from scratch). --path
   host: ``fit`` fed from the host (train.device_mb: 0); device: the splits on the device, steps per
   compiled call (jax only; :mod:`caelatent.model.devicefit`). images/s is the median of epochs 2.. (the
   first includes compilation), with the projected seed-run time and the last epoch's holdout loss
   (to compare paths and devices at equal settings).
3. --profile (jax): a wall-clock breakdown of one training step at the first batch size and
   precision: the host feed's gather and copy of a batch, the dispatch of a compiled call, and the
   step's device time, for one step per call and --steps-per-execution's largest per call.
4. Encoding: images/s of rule encode's loop (``encode_into``) for each --predict-batch-size.

Generates synthetic faces (no download). Prints a table; writes JSON (--out).
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
SEED_IMAGES = 170_000 * 24


def flag(v: str):
    return {"true": True, "false": False}.get(v.lower(), v)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--backend", default="auto")
    ap.add_argument("--feed-images", type=int, default=8192)
    ap.add_argument("--feed-size", type=int, default=96)
    ap.add_argument("--train-images", type=int, default=2048)
    ap.add_argument("--size", type=int, default=96)
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--batch-size", type=int, nargs="+", default=[64])
    ap.add_argument("--path", nargs="+", default=["host"], choices=["host", "device"])
    ap.add_argument("--profile", action="store_true")
    ap.add_argument("--filters", type=int, nargs="+", default=[64, 64, 128, 128])
    ap.add_argument("--z-dim", type=int, default=256)
    ap.add_argument("--learning-rate", type=float, default=5e-4)
    ap.add_argument(
        "--train-fraction", type=float, default=0.9, help="data.split.train_size of the train set"
    )
    ap.add_argument("--seed", type=int, default=0, help="data and training seed")
    ap.add_argument("--jit-compile", type=flag, nargs="+", default=["auto"])
    ap.add_argument("--precision", nargs="+", default=["float32"])
    ap.add_argument("--steps-per-execution", type=int, nargs="+", default=[8])
    ap.add_argument(
        "--unroll", type=int, nargs="+", default=[8], help="device path: steps unrolled per loop"
    )
    ap.add_argument("--predict-batch-size", type=int, nargs="+", default=[1024])
    ap.add_argument(
        "--shuffle-window", type=int, default=8192, help="train.shuffle_window of the feed"
    )
    ap.add_argument("--threads", type=int, default=0, help="0: the backend default")
    ap.add_argument(
        "--repeats",
        type=int,
        default=3,
        help="feed epochs timed after a warm-up epoch (the median is reported)",
    )
    ap.add_argument("--skip-feed", action="store_true")
    ap.add_argument("--skip-train", action="store_true")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "train.json"))
    args = ap.parse_args()

    from caelatent.model import backend

    name = backend.use(args.backend, args.threads or None)
    import numpy as np
    import zarr

    from caelatent.data.prepare import Split
    from caelatent.stages.data import prepare_synthetic

    device = backend.device_name(name)
    result = {
        "backend": name,
        "device": device,
        "host": platform.node(),
        "cpus": os.cpu_count(),
        "versions": versions(name),
        "feed": [],
        "train": [],
        "profile": [],
        "encode": [],
    }
    print(f"backend {name} on {device}, {os.cpu_count()} CPUs; {result['versions']}")
    with tempfile.TemporaryDirectory() as tmp:
        if not args.skip_feed:
            d = Path(tmp) / "feed"
            prepare_synthetic(
                d,
                n_images=args.feed_images,
                size=args.feed_size,
                split=Split(0.99),
                workers=os.cpu_count(),
            )
            result["feed"] = feed_rates(d / "images.zarr", args)
            print(
                f"\nfeed alone, {args.feed_size}x{args.feed_size}, through the adapter fit uses "
                f"(median of {args.repeats} epochs after the first)"
            )
            print(f"{'source':<10} {'images':>8} {'images/s':>10}")
            for r in result["feed"]:
                print(f"{r['source']:<10} {r['images']:>8} {r['images_per_s']:>10.0f}")
        if not args.skip_train:
            d = Path(tmp) / "train"
            prepare_synthetic(
                d,
                n_images=args.train_images,
                size=args.size,
                seed=args.seed,
                split=Split(args.train_fraction),
                workers=os.cpu_count(),
            )
            images = d / "images.zarr"
            print(
                f"\ntraining, seed network {args.filters} z={args.z_dim} at {args.size}x{args.size}, "
                f"median of epochs 2..{args.epochs}"
            )
            print(
                f"{'path':<7} {'batch':>6} {'jit_compile':<12} {'precision':<15} {'steps/exec':>10} "
                f"{'unroll':>6} {'images/s':>10} {'seed run (min)':>15} {'holdout loss':>13}"
            )
            combos = itertools.product(
                args.path,
                args.batch_size,
                args.jit_compile,
                args.precision,
                args.steps_per_execution,
                args.unroll,
            )
            for path, bs, jit, prec, spe, unroll in combos:
                if path == "host" and unroll != args.unroll[0]:
                    continue  # the host feed does not unroll
                if unroll > spe:
                    continue
                # no checkpoint: each combination trains from scratch
                rate, val_loss, encoder = train_rate(images, args, path, bs, jit, prec, spe, unroll)
                row = {
                    "path": path,
                    "batch_size": bs,
                    "jit_compile": jit,
                    "precision": prec,
                    "steps_per_execution": spe,
                    "unroll": unroll if path == "device" else None,
                    "size": args.size,
                    "images_per_s": round(rate, 1),
                    "projected_seed_run_min": round(SEED_IMAGES / rate / 60, 2),
                    "holdout_loss": round(val_loss, 5),
                }
                result["train"].append(row)
                print(
                    f"{path:<7} {bs:>6} {str(jit):<12} {prec:<15} {spe:>10} "
                    f"{unroll if path == 'device' else '-':>6} {rate:>10.0f} "
                    f"{row['projected_seed_run_min']:>15.1f} {val_loss:>13.5f}"
                )
                write(result, args.out)  # what has run survives a later failure or time limit
            if args.profile:
                result["profile"] = profile(images, args)
                print("\nprofile of one step (ms), batch", args.batch_size[0], args.precision[0])
                for r in result["profile"]:
                    print(f"{r['part']:<55} {r['ms']:>9.3f}")
                write(result, args.out)
            result["encode"] = encode_rates(images, encoder, Path(tmp), args)
            print(f"\n{'encode batch':<12} {'images/s':>10}")
            for r in result["encode"]:
                print(f"{r['predict_batch_size']:<12} {r['images_per_s']:>10.0f}")
    write(result, args.out)
    print(f"\nwrote {args.out}")
    del np, zarr


def write(result: dict, path: str) -> None:
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")


def versions(backend_name: str) -> dict:
    """The versions the numbers were measured at."""
    import importlib.metadata as md

    names = ["keras", "numpy", {"jax": "jax", "torch": "torch"}.get(backend_name, "tensorflow")]
    if backend_name == "jax":
        names.append("jaxlib")
    out = {"python": platform.python_version()}
    for n in names:
        try:
            out[n] = md.version(n)
        except md.PackageNotFoundError:
            out[n] = md.version("tensorflow-cpu") if n == "tensorflow" else "?"
    return out


def feed_rates(images: Path, args) -> list[dict]:
    import keras
    import numpy as np
    import zarr
    from keras.src.trainers.data_adapters import get_data_adapter

    from caelatent.model.feed import Feed, open_source

    arr = zarr.open_group(images, mode="r")["images"]
    rows = np.flatnonzero(zarr.open_group(images, mode="r")["split"][:] == 0)
    out = []
    for label, budget in (("memory", 1e9), ("zarr", 0)):
        source = open_source(arr, rows, in_memory_mb=budget)
        # one stream over all epochs, as fit consumes it (steps_per_epoch); epoch 0 is the warm-up
        feed = Feed(
            source,
            rows,
            arr.chunks[0],
            args.batch_size[0],
            seed=0,
            epochs=args.repeats + 1,
            window=args.shuffle_window,
        )
        adapter = get_data_adapter(feed.keras_input())
        it = iter(
            {
                "tensorflow": adapter.get_tf_dataset,
                "jax": adapter.get_jax_iterator,
                "torch": adapter.get_torch_dataloader,
            }[keras.backend.backend()]()
        )
        times = []
        for epoch in range(args.repeats + 1):
            t0, n = time.perf_counter(), 0
            for _ in range(feed.batches_per_epoch):
                batch = next(it)
                n += int((batch[0] if isinstance(batch, (tuple, list)) else batch).shape[0])
            times.append(time.perf_counter() - t0)
            assert n == len(rows), (n, len(rows))
        out.append(
            {
                "source": label,
                "images": len(rows),
                "size": args.feed_size,
                "window": args.shuffle_window,
                "images_per_s": round(len(rows) / float(np.median(times[1:])), 1),
            }
        )
    return out


def train_rate(
    images: Path,
    args,
    path: str,
    batch_size: int,
    jit,
    precision: str,
    spe: int,
    unroll: int = 1,
) -> tuple[float, float, object]:
    """Images/s (median of epochs 2..), the last epoch's holdout loss and the trained encoder."""
    import keras
    import numpy as np

    from caelatent.model.networks import ModelSpec
    from caelatent.files.store import open_splits
    from caelatent.model.train import FitOptions, train_autoencoder

    class Timer(keras.callbacks.Callback):
        times: list = []

        def on_epoch_begin(self, epoch, logs=None):
            self.t = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            Timer.times.append(time.perf_counter() - self.t)

    Timer.times = []
    spec = ModelSpec(image_size=args.size, filters=tuple(args.filters), z_dim=args.z_dim)
    opts = FitOptions(
        jit_compile=jit,
        precision=precision,
        steps_per_execution=spe,
        unroll=unroll,
        device_mb=1e9 if path == "device" else 0,
    )
    arr, train_idx, hold_idx = open_splits(images)
    trained = train_autoencoder(
        arr,
        train_idx,
        hold_idx,
        spec,
        batch_size=batch_size,
        epochs=args.epochs,
        learning_rate=args.learning_rate,
        seed=args.seed,
        options=opts,
        verbose=0,
        callbacks=[Timer()],
    )
    h = trained.history
    assert all(np.isfinite(h["loss"])), h
    rate = len(train_idx) / float(np.median(Timer.times[1:]))
    return rate, float(h["val_loss"][-1]), trained.encoder


def profile(images: Path, args, calls: int = 20) -> list[dict]:
    """Milliseconds per step of the parts of a training step (jax backend), at the first batch size
    and precision: the host feed's gather and host-to-device copy of one batch, the dispatch of a
    compiled call (the time until it returns, before the device finishes), and the device time of
    a step, with one step per call and with the largest --steps-per-execution per call."""
    import jax
    import keras
    import numpy as np
    import zarr

    from caelatent.model.devicefit import DeviceFit
    from caelatent.model.feed import Feed, InMemory
    from caelatent.model.networks import ModelSpec, UInt8Autoencoder, build_decoder, build_heads

    if keras.backend.backend() != "jax":
        print("--profile needs the jax backend; skipped")
        return []
    bs, k = args.batch_size[0], max(args.steps_per_execution)
    g = zarr.open_group(images, mode="r")
    arr, split = g["images"], g["split"][:]
    train, hold = np.flatnonzero(split == 0), np.flatnonzero(split == 1)
    spec = ModelSpec(image_size=args.size, filters=tuple(args.filters), z_dim=args.z_dim)
    keras.config.set_dtype_policy(args.precision[0])
    ae = UInt8Autoencoder(build_heads(spec)[0], build_decoder(spec), spec, "bce")
    keras.config.set_dtype_policy("float32")
    ae.compile(optimizer=keras.optimizers.Adam(args.learning_rate))
    ae.optimizer.build(ae.trainable_variables)
    rows = Feed(None, train, arr.chunks[0], bs, seed=0).batch_rows(0)
    rows = [r for r in rows if len(r) == bs]
    out = []

    def timed(steps: int, unroll: int) -> tuple[float, float]:
        fit = DeviceFit(ae, arr, train, hold, steps=steps, unroll=unroll)
        pos = [p for p in fit._positions(rows, fit.train_rows) if p.shape[0] == steps]
        state = fit._state()
        state, loss = fit._train(state, fit.train_images, pos[0])  # compiles
        loss.block_until_ready()
        n = min(calls, len(pos) - 1)
        dispatch, t0 = 0.0, time.perf_counter()
        for p in pos[1 : n + 1]:
            t = time.perf_counter()
            state, loss = fit._train(state, fit.train_images, p)
            dispatch += time.perf_counter() - t
        loss.block_until_ready()
        total = time.perf_counter() - t0
        return 1e3 * dispatch / n, 1e3 * total / (n * steps)

    for steps, unroll in sorted({(1, 1), (k, 1), (k, max(args.unroll))}):
        dispatch, per_step = timed(steps, unroll)
        label = f"{steps} step(s) per call, unroll {unroll}"
        out.append({"part": f"dispatch of one compiled call, {label}", "ms": dispatch})
        out.append({"part": f"step, device-resident, {label}", "ms": per_step})
    source = InMemory(arr, train)
    t0 = time.perf_counter()
    for r in rows[:calls]:
        jax.device_put(source.window(r)).block_until_ready()
    out.append(
        {
            "part": "host feed: gather one batch and copy it to the device",
            "ms": 1e3 * (time.perf_counter() - t0) / min(calls, len(rows)),
        }
    )
    return [
        {**r, "ms": round(r["ms"], 4), "batch_size": bs, "precision": args.precision[0]}
        for r in out
    ]


def encode_rates(images: Path, net, folder: Path, args) -> list[dict]:
    """Encoding rate of rule encode's loop (:func:`caelatent.model.codec.encode_into`) with the
    encoder ``net`` into a Zarr array of the latents' chunks in ``folder``, per predict batch size.
    """
    import zarr

    from caelatent.files.store import open_zarr
    from caelatent.model.codec import encode_into

    arr = open_zarr(images)["images"]
    n, step = arr.shape[0], arr.chunks[0] * max(1, 4096 // arr.chunks[0])
    out = []
    for bs in args.predict_batch_size:
        for run in ("warm-up", "timed"):  # the first builds the graph
            g = zarr.open_group(folder / f"lat{bs}-{run}.zarr", mode="w")
            z = g.create_array(
                "z", shape=(n, args.z_dim), chunks=(min(4096, n), args.z_dim), dtype="float32"
            )
            t0 = time.perf_counter()
            encode_into(net, arr, z, batch_size=bs, step=step)
        out.append(
            {"predict_batch_size": bs, "images_per_s": round(n / (time.perf_counter() - t0), 1)}
        )
    return out


if __name__ == "__main__":
    main()
