"""What the samplers' decoded sets are made of: reference rows, sampler draws, grid labels.

Layout of ``results/<exp>/samples/`` (written by :func:`caelatent.stages.generate.generate`): one
folder per sampler and setting (``uniform_box-b1.5``) holding ``z.npy`` [n, d] and ``images.npy``
uint8 [n, H, W, 3], plus the references ``holdout_real`` and ``holdout_reconstruction``, and
``reference/images.npy``: real holdout images (disjoint from ``holdout_real``) that the realism
metrics compare every set with (their rows in images.zarr in ``reference/rows.npy``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from . import samplers as smp
from ..files.store import HOLDOUT, TRAIN

log = logging.getLogger(__name__)
ORDERED = (smp.OriginToCentre, smp.PlanePath)  # samplers whose vectors lie along a path
REFERENCES = ("holdout_real", "holdout_reconstruction")
REFERENCE_SET = (
    "reference"  # real holdout images, disjoint from holdout_real, for the realism metrics
)
PCA_FIT_SET = (
    "pca_fit"  # real training images the pixel PCA is fitted on (disjoint from every compared set)
)
MIN_REFERENCE = 10


@dataclass(frozen=True)
class Rows:
    """Which images.zarr rows each real set takes (sorted)."""

    real: np.ndarray  # holdout_real (and the vectors of holdout_reconstruction)
    reference: np.ndarray  # the realism metrics' real images, disjoint from ``real``
    pca_fit: np.ndarray  # training images the pixel PCA is fitted on


def pick_rows(
    split: np.ndarray, n: int, n_reference: int, seed: int, source: str = "images.zarr"
) -> Rows:
    """``n`` holdout rows for the real references, up to ``n_reference`` other holdout rows for the
    realism metrics, and as many training rows for the pixel PCA."""
    train_idx, hold_idx = np.flatnonzero(split == TRAIN), np.flatnonzero(split == HOLDOUT)
    both = np.random.default_rng(seed).choice(
        hold_idx, size=min(n + n_reference, len(hold_idx)), replace=False
    )
    pick, ref = np.sort(both[:n]), np.sort(both[n:])
    if len(ref) < min(n_reference, MIN_REFERENCE):
        raise ValueError(
            f"{source}: {len(hold_idx)} holdout images leave {len(ref)} real reference images "
            f"after generate.n_samples={n}; realism metrics need at least {MIN_REFERENCE} "
            "(lower generate.n_samples or hold out more images)"
        )
    if len(ref) < n_reference:
        log.warning(
            "generate.n_reference=%d, but only %d holdout images are left after the %d real samples; "
            "using %d",
            n_reference,
            len(ref),
            len(pick),
            len(ref),
        )
    fit = np.random.default_rng([seed, 1]).choice(
        train_idx, size=min(n_reference, len(train_idx)), replace=False
    )
    return Rows(pick, ref, np.sort(fit))


def reference_meta(name: str, n: int) -> dict:
    """``meta.json`` of a real reference set."""
    title = name.replace("_", " ")
    return {
        "sampler": name,
        "setting": "",
        "n": n,
        "title": title,
        "ordered": False,
        "labels": None,
    }


def draw(sampler: smp.Sampler, k: int, z_train: np.ndarray, n: int, seed: int):
    """Fit the ``k``-th sampler on the training latents and draw ``n`` vectors; returns them with
    their ``meta.json`` (title; whether they lie along a path, with their positions on it)."""
    log.info("sampler %s: fitting on %d training latents", smp.sampler_id(sampler), len(z_train))
    sampler.fit(z_train)
    z = sampler.sample(n, np.random.default_rng([seed, k]))
    labels = None
    if isinstance(sampler, smp.OriginToCentre):
        labels = [f"t={t:.2f}" for t in np.linspace(0, 1, len(z))]
    if isinstance(sampler, smp.PlanePath):
        labels = [f"{v:+.1f}σ" for v in np.linspace(-sampler.extent, sampler.extent, len(z))]
    meta = {"sampler": sampler.name, "setting": sampler.setting, "n": len(z)}
    meta |= getattr(sampler, "selection", {})  # the GMM's chosen size, candidates and convergence
    meta |= {"title": f"{sampler.name} {sampler.setting}".strip()}
    return z, meta | {"ordered": isinstance(sampler, ORDERED), "labels": labels}


def grid_rows(n: int, k: int, ordered: bool) -> np.ndarray:
    """Which of ``n`` vectors a grid of ``k`` cells shows: evenly spaced along a path, else the first."""
    if ordered:
        return np.unique(np.linspace(0, n - 1, k).round().astype(int))
    return np.arange(min(k, n))
