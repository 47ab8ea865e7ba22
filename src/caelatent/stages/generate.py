"""Rules of ``workflow/rules/generate.smk``: draw and decode every sampler's vectors, draw the grids.

``generate`` decodes with the trained decoder: it selects the Keras backend from the rule's
``device`` params before importing Keras.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..files import records
from ..latent import describe
from ..files.figures import save_figure
from ..model.backend import predict_batch, use_device
from ..sampling.generate import PCA_FIT_SET, REFERENCE_SET, REFERENCES, draw, grid_rows, pick_rows
from ..sampling.generate import reference_meta
from ..plots import generate as plots
from ..sampling.samplers import build_samplers, sampler_id
from ..files.networks import load_model
from ..files.store import TRAIN, atomic_path, open_zarr


def _save(d: Path, z, imgs, meta) -> None:
    d.mkdir(parents=True)
    np.save(d / "z.npy", np.asarray(z, np.float32))
    np.save(d / "images.npy", imgs)
    records.write_json(d / "meta.json", meta)


def _rows_of(images, rows: np.ndarray) -> np.ndarray:
    return images.get_orthogonal_selection((rows, slice(None), slice(None), slice(None)))


def generate(
    *,
    images,
    latents,
    decoder,
    dominant,
    samples,
    samplers: dict,
    n_samples: int,
    n_reference: int | None,
    seed: int,
    sampler_seed: int | None = None,
    device: dict | None = None,
    threads: int | None = None,
) -> list[str]:
    """Fit every sampler on the training latents, draw ``n_samples`` vectors each and decode them;
    write them with the real references (``samples/``, see :mod:`caelatent.sampling.generate`). ``seed``
    picks the real rows (the same for every replicate), ``sampler_seed`` (default ``seed``) the
    samplers' fits and draws."""
    use_device(device, threads)
    from ..model.codec import decode

    batch = predict_batch(device)
    net = load_model(decoder)
    lat = open_zarr(latents)
    split = lat["split"][:]
    z_train = describe.take_rows(lat["z"], np.flatnonzero(split == TRAIN))
    top = [int(c) for c in records.read_tsv(dominant)["component"]]
    n_reference = n_samples if n_reference is None else n_reference
    rows = pick_rows(split, n_samples, n_reference, seed, source=str(images))
    pixels = open_zarr(images)["images"]
    with atomic_path(samples) as tmp:
        tmp.mkdir(parents=True)
        for name, picked in ((REFERENCE_SET, rows.reference), (PCA_FIT_SET, rows.pca_fit)):
            (tmp / name).mkdir()
            np.save(tmp / name / "images.npy", _rows_of(pixels, picked))
            np.save(tmp / name / "rows.npy", picked)
        z_hold = describe.take_rows(lat["z"], rows.real)
        real, recon = _rows_of(pixels, rows.real), decode(net, z_hold, batch)
        for name, imgs in zip(REFERENCES, (real, recon)):
            _save(tmp / name, z_hold, imgs, reference_meta(name, len(z_hold)))
        ids = []
        drawn = seed if sampler_seed is None else sampler_seed
        for k, s in enumerate(build_samplers(samplers, top, drawn)):
            z, meta = draw(s, k, z_train, n_samples, drawn)
            _save(tmp / sampler_id(s), z, decode(net, z, batch), meta)
            ids.append(sampler_id(s))
        records.write_json(tmp / "index.json", {"references": list(REFERENCES), "samplers": ids})
    return ids


def generate_plots(*, samples, grids, grid: list[int]) -> list[str]:
    """A grid of decoded images per reference set and sampler (``samples_<id>.png``)."""
    rows, cols = grid
    index = records.read_json(Path(samples) / "index.json")
    names = index["references"] + index["samplers"]
    with atomic_path(grids) as tmp:
        tmp.mkdir(parents=True)
        for name in names:
            d = Path(samples) / name
            meta, images = records.read_json(d / "meta.json"), np.load(
                d / "images.npy", mmap_mode="r"
            )
            sel = grid_rows(len(images), rows * cols, meta["ordered"])
            labels = [meta["labels"][i] for i in sel] if meta["labels"] else None
            title = meta["title"]
            if name in index["samplers"]:
                title += f": {len(sel)} decoded latent vectors"
            figure = plots.sample_grid(np.asarray(images[sel]), title, rows, cols, labels)
            save_figure(figure, tmp / f"samples_{name}.png", dpi=90)
    return names
