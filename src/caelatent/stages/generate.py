"""Rules of ``workflow/rules/generate.smk`` that need no model (``generate`` itself decodes with
the trained decoder: :func:`caelatent.generate.run_generate`)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .. import io
from ..plots import generate as plots
from ..store import atomic_path


def grid_rows(n: int, k: int, ordered: bool) -> np.ndarray:
    """Which of ``n`` vectors a grid of ``k`` cells shows: evenly spaced along a path, else the first."""
    if ordered:
        return np.unique(np.linspace(0, n - 1, k).round().astype(int))
    return np.arange(min(k, n))


def generate_plots(*, samples, grids, grid: list[int]) -> list[str]:
    """A grid of decoded images per reference set and sampler (``samples_<id>.png``)."""
    rows, cols = grid
    index = io.read_json(Path(samples) / "index.json")
    names = index["references"] + index["samplers"]
    with atomic_path(grids) as tmp:
        tmp.mkdir(parents=True)
        for name in names:
            d = Path(samples) / name
            meta, images = io.read_json(d / "meta.json"), np.load(d / "images.npy", mmap_mode="r")
            sel = grid_rows(len(images), rows * cols, meta["ordered"])
            labels = [meta["labels"][i] for i in sel] if meta["labels"] else None
            title = meta["title"]
            if name in index["samplers"]:
                title += f": {len(sel)} decoded latent vectors"
            figure = plots.sample_grid(np.asarray(images[sel]), title, rows, cols, labels)
            io.save_figure(figure, tmp / f"samples_{name}.png", dpi=90)
    return names
