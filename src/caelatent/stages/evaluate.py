"""Rules of ``workflow/rules/evaluate.smk``: score every decoded set, chart the scores.

``evaluate`` runs MTCNN (and InceptionV3), which are TensorFlow models: it selects TensorFlow
whatever the experiment's training backend.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from .. import io, stats
from ..plots import save_figure
from ..backend import use_device
from ..generate import PCA_FIT_SET, REFERENCE_SET, REFERENCES
from ..logs import Eta
from ..plots import generate as plots
from ..store import TRAIN, open_zarr

log = logging.getLogger(__name__)


def evaluate(
    *,
    samples,
    latents,
    moments,
    summary,
    details,
    min_confidence: float,
    fid_inception_weights,
    realism: dict,
    intervals: dict,
    seed: int,
    device: dict | None = None,
    threads: int | None = None,
) -> list[dict]:
    """Score every set of ``samples/`` against the real reference images (a row of ``summary`` each;
    ``details``: the rows, the best sampler per metric and what was measured against what)."""
    use_device(device, threads, backend="tensorflow")
    from ..evaluate import Scorer, rank_first

    samples = Path(samples)
    lat = open_zarr(latents)
    pca_fit = np.load(samples / PCA_FIT_SET / "images.npy")
    scorer = Scorer(
        np.load(samples / REFERENCE_SET / "images.npy"),
        pca_fit,
        stats.Moments.load(moments),
        stats.take_rows(lat["z"], np.flatnonzero(lat["split"][:] == TRAIN)),
        min_confidence=min_confidence,
        fid_weights=str(fid_inception_weights) if fid_inception_weights else None,
        seed=seed,
        **realism,
        **intervals,
    )
    index = io.read_json(samples / "index.json")
    rows, names = [], index["references"] + index["samplers"]
    eta = Eta(len(names))
    for k, name in enumerate(names, 1):
        d = samples / name
        z, imgs = np.load(d / "z.npy"), np.load(d / "images.npy")
        rows.append(scorer.score(name, io.read_json(d / "meta.json"), z, imgs))
        log.info("set %d/%d, %s: %s; %s", k, len(names), name, rows[-1], eta.line(k))
    io.write_tsv(summary, {k: [r[k] for r in rows] for k in rows[0]})
    notes = {"rows": rows, "face_min_confidence": min_confidence, "ranking": rank_first(rows)}
    io.write_json(details, notes | scorer.notes(len(pca_fit)))
    return rows


def evaluate_plots(*, summary, chart) -> None:
    """The sampler summary: every metric of ``summary.tsv``, a bar per sampler and setting."""
    save_figure(plots.sampler_summary(io.read_tsv(summary), REFERENCES), chart, dpi=90)
