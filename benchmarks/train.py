"""Training images/s through the workflow's Zarr input pipeline vs model.fit on the same images in RAM,
and encode images/s; on a GPU also the projected time of the seed run (170k images x 24 epochs).

Usage: python benchmarks/train.py [--images N] [--size 96] [--epochs 2] [--backend tensorflow]
                                  [--filters 64 64 128 128] [--z-dim 256] [--threads T]

Generates synthetic faces (no download), prepares them into a temporary images.zarr, and times
epochs after the first (which includes graph building). Prints a table; writes
benchmarks/results/train.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=int, default=2048)
    ap.add_argument("--size", type=int, default=96)
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--backend", default="tensorflow")
    ap.add_argument("--filters", type=int, nargs="+", default=[64, 64, 128, 128])
    ap.add_argument("--z-dim", type=int, default=256)
    ap.add_argument("--threads", type=int, default=0, help="0: the backend default")
    args = ap.parse_args()

    from caelatent import backend

    backend.use(args.backend, args.threads or None)
    import keras
    import numpy as np
    import zarr

    from caelatent.model import ModelSpec, build_autoencoder, compile_autoencoder
    from caelatent.prepare import Split, prepare_synthetic
    from caelatent.train import ZarrImages, encode_images

    spec = ModelSpec(image_size=args.size, filters=tuple(args.filters), z_dim=args.z_dim)
    with tempfile.TemporaryDirectory() as tmp:
        prepare_synthetic(tmp, n_images=args.images, size=args.size, split=Split(0.99), workers=os.cpu_count())
        g = zarr.open_group(Path(tmp) / "images.zarr", mode="r")
        train_idx = np.flatnonzero(g["split"][:] == 0)
        n = len(train_idx)

        class Timer(keras.callbacks.Callback):
            def on_epoch_begin(self, epoch, logs=None):
                self.t = time.perf_counter()

            def on_epoch_end(self, epoch, logs=None):
                self.times.append(time.perf_counter() - self.t)

        def run(data, **fit_kw):
            keras.utils.set_random_seed(0)
            _, _, ae = build_autoencoder(spec)
            compile_autoencoder(ae, "bce", 5e-4)
            timer = Timer()
            timer.times = []
            ae.fit(data, epochs=args.epochs, callbacks=[timer], verbose=0, **fit_kw)
            return n / float(np.median(timer.times[1:]))

        ram = g["images"].get_orthogonal_selection((train_idx, slice(None), slice(None), slice(None)))
        ram = ram.astype(np.float32) / 255.0
        rate_ram = run(ram, y=ram, batch_size=args.batch_size, shuffle=True)
        ds = ZarrImages(g["images"], train_idx, args.batch_size, shuffle=True, workers=1,
                        use_multiprocessing=False, max_queue_size=8)
        rate_pipe = run(ds)
        del ram
        encoder, _, _ = build_autoencoder(spec)
        encoder.save(Path(tmp) / "enc.keras")
        t0 = time.perf_counter()
        encode_images(Path(tmp) / "images.zarr", Path(tmp) / "enc.keras", Path(tmp) / "latents.zarr", z_dim=args.z_dim)
        t_enc = time.perf_counter() - t0
        rate_enc = args.images / t_enc

    seed_images = 170_000 * 24
    device = "cpu"
    if args.backend == "jax":
        import jax
        device = str(jax.devices()[0])
    elif args.backend == "torch":
        import torch
        device = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu"
    elif args.backend == "tensorflow":
        import tensorflow as tf
        device = "gpu" if tf.config.list_physical_devices("GPU") else "cpu"
    rows = {
        "backend": args.backend, "device": device, "host": platform.node(), "threads": args.threads,
        "size": args.size, "filters": args.filters, "z_dim": args.z_dim, "batch_size": args.batch_size,
        "train_images": n, "fit_in_ram_images_per_s": round(rate_ram, 1),
        "zarr_pipeline_images_per_s": round(rate_pipe, 1), "pipeline_ratio": round(rate_pipe / rate_ram, 3),
        "encode_images_per_s": round(rate_enc, 1),
        "projected_seed_run_min": round(seed_images / rate_pipe / 60, 1),
    }
    print(f"train benchmark: {args.backend} on {device}, {n} images {args.size}x{args.size}, "
          f"filters {args.filters}, z={args.z_dim}, batch {args.batch_size}, median of epochs 2..{args.epochs}")
    print(f"{'what':<34} {'images/s':>10}")
    print(f"{'model.fit, images in RAM':<34} {rate_ram:>10.0f}")
    print(f"{'model.fit, Zarr pipeline':<34} {rate_pipe:>10.0f}")
    print(f"{'pipeline / in-RAM (target >= 0.95)':<34} {rate_pipe / rate_ram:>10.3f}")
    print(f"{'encode (whole workflow step)':<34} {rate_enc:>10.0f}")
    print(f"projected seed run (170k x 24 epochs at this rate): {rows['projected_seed_run_min']:.1f} min")
    out = ROOT / "benchmarks" / "results" / "train.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(rows, indent=2) + "\n")


if __name__ == "__main__":
    main()
