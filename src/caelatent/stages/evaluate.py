"""Rules of ``workflow/rules/evaluate.smk``: score every decoded set, chart the scores.

``evaluate`` runs MTCNN (and InceptionV3), which are TensorFlow models: it selects TensorFlow
whatever the experiment's training backend.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from ..files import records
from ..latent import describe
from ..files.figures import save_figure
from ..model.backend import use_device
from ..sampling.generate import PCA_FIT_SET, REFERENCE_SET, REFERENCES
from ..logs import Eta
from ..plots import generate as plots
from ..files.store import TRAIN, open_zarr

from .inputs import read_moments

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
    from ..scoring.evaluate import Scorer, rank_first

    samples = Path(samples)
    lat = open_zarr(latents)
    pca_fit = np.load(samples / PCA_FIT_SET / "images.npy")
    scorer = Scorer(
        np.load(samples / REFERENCE_SET / "images.npy"),
        pca_fit,
        read_moments(moments),
        describe.take_rows(lat["z"], np.flatnonzero(lat["split"][:] == TRAIN)),
        min_confidence=min_confidence,
        fid_weights=str(fid_inception_weights) if fid_inception_weights else None,
        seed=seed,
        **realism,
        **intervals,
    )
    index = records.read_json(samples / "index.json")
    rows, names = [], index["references"] + index["samplers"]
    eta = Eta(len(names))
    for k, name in enumerate(names, 1):
        d = samples / name
        z, imgs = np.load(d / "z.npy"), np.load(d / "images.npy")
        rows.append(scorer.score(name, records.read_json(d / "meta.json"), z, imgs))
        log.info("set %d/%d, %s: %s; %s", k, len(names), name, rows[-1], eta.line(k))
    records.write_tsv(summary, {k: [r[k] for r in rows] for k in rows[0]})
    notes = {"rows": rows, "face_min_confidence": min_confidence, "ranking": rank_first(rows)}
    records.write_json(details, notes | scorer.notes(len(pca_fit)))
    return rows


def evaluate_plots(*, summary, chart) -> None:
    """The sampler summary: every metric of ``summary.tsv``, a bar per sampler and setting."""
    save_figure(plots.sampler_summary(records.read_tsv(summary), REFERENCES), chart, dpi=90)
