"""Feed, training and encoding throughput, and the projected seed run (170k images x 24 epochs).

Usage: python benchmarks/train.py [--backend auto] [--feed-images 8192] [--feed-size 96]
                                  [--train-images 2048] [--size 96] [--epochs 3] [--batch-size 64]
                                  [--jit-compile auto false] [--precision float32 mixed_bfloat16]
                                  [--steps-per-execution 1 8] [--predict-batch-size 256 1024]
                                  [--shuffle-window 8192]
                                  [--skip-feed] [--skip-train] [--out benchmarks/results/train.json]

1. The feed alone: uint8 batches at --feed-size, --batch-size, in the seeded shuffled order, iterated
   through the very adapter ``model.fit`` uses for the backend (Keras's own data adapter; for
   TensorFlow the tf.data pipeline), with no model: from RAM and streamed from Zarr.
2. Training: the seed network at --size on synthetic faces through the workflow's feed, for every
   combination of --jit-compile x --precision x --steps-per-execution (each from scratch); images/s
   is the median of epochs 2.. (the first includes compilation), the projected seed-run time, and
   the last epoch's holdout loss (to compare devices at equal settings).
3. Encoding: images/s of ``encode_images`` for each --predict-batch-size.

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
    ap.add_argument("--batch-size", type=int, default=64)
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

    from caelatent import backend

    name = backend.use(args.backend, args.threads or None)
    import numpy as np
    import zarr

    from caelatent.prepare import Split, prepare_synthetic

    device = backend.device_name(name)
    result = {
        "backend": name,
        "device": device,
        "host": platform.node(),
        "cpus": os.cpu_count(),
        "batch_size": args.batch_size,
        "feed": [],
        "train": [],
        "encode": [],
    }
    print(f"backend {name} on {device}, {os.cpu_count()} CPUs, batch {args.batch_size}")
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
                f"{'jit_compile':<12} {'precision':<15} {'steps/exec':>10} {'images/s':>10} "
                f"{'seed run (min)':>15} {'holdout loss':>13}"
            )
            for jit, prec, spe in itertools.product(
                args.jit_compile, args.precision, args.steps_per_execution
            ):
                # a fresh folder per combination: a checkpoint would otherwise be resumed
                model_dir = Path(tmp) / f"m-{jit}-{prec}-{spe}"
                rate, val_loss = train_rate(images, model_dir, args, jit, prec, spe)
                row = {
                    "jit_compile": jit,
                    "precision": prec,
                    "steps_per_execution": spe,
                    "size": args.size,
                    "images_per_s": round(rate, 1),
                    "projected_seed_run_min": round(SEED_IMAGES / rate / 60, 2),
                    "holdout_loss": round(val_loss, 5),
                }
                result["train"].append(row)
                print(
                    f"{str(jit):<12} {prec:<15} {spe:>10} {rate:>10.0f} "
                    f"{row['projected_seed_run_min']:>15.1f} {val_loss:>13.5f}"
                )
            result["encode"] = encode_rates(images, model_dir, args)
            print(f"\n{'encode batch':<12} {'images/s':>10}")
            for r in result["encode"]:
                print(f"{r['predict_batch_size']:<12} {r['images_per_s']:>10.0f}")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"\nwrote {out}")
    del np, zarr


def feed_rates(images: Path, args) -> list[dict]:
    import keras
    import numpy as np
    import zarr
    from keras.src.trainers.data_adapters import get_data_adapter

    from caelatent.feed import Feed, open_source

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
            args.batch_size,
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


def train_rate(images: Path, out: Path, args, jit, precision: str, spe: int) -> tuple[float, float]:
    """Images/s (median of epochs 2..) and the last epoch's holdout loss."""
    import keras
    import numpy as np

    from caelatent.model import ModelSpec
    from caelatent.train import FitOptions, train_autoencoder

    class Timer(keras.callbacks.Callback):
        times: list = []

        def on_epoch_begin(self, epoch, logs=None):
            self.t = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            Timer.times.append(time.perf_counter() - self.t)

    Timer.times = []
    spec = ModelSpec(image_size=args.size, filters=tuple(args.filters), z_dim=args.z_dim)
    opts = FitOptions(jit_compile=jit, precision=precision, steps_per_execution=spe)
    h = train_autoencoder(
        images,
        out,
        spec,
        batch_size=args.batch_size,
        epochs=args.epochs,
        learning_rate=args.learning_rate,
        seed=args.seed,
        options=opts,
        verbose=0,
        callbacks=[Timer()],
    )
    assert all(np.isfinite(h["loss"])), h
    n_train = int((__import__("zarr").open_group(images, mode="r")["split"][:] == 0).sum())
    return n_train / float(np.median(Timer.times[1:])), float(h["val_loss"][-1])


def encode_rates(images: Path, model_dir: Path, args) -> list[dict]:
    from caelatent.encode import encode_images

    out = []
    for bs in args.predict_batch_size:
        encode_images(
            images,
            model_dir / "encoder.keras",
            model_dir / f"lat{bs}.zarr",
            z_dim=args.z_dim,
            batch_size=bs,
        )  # warm-up: graph building
        t0 = time.perf_counter()
        n = encode_images(
            images,
            model_dir / "encoder.keras",
            model_dir / f"lat{bs}b.zarr",
            z_dim=args.z_dim,
            batch_size=bs,
        )
        out.append(
            {"predict_batch_size": bs, "images_per_s": round(n / (time.perf_counter() - t0), 1)}
        )
    return out


if __name__ == "__main__":
    main()
