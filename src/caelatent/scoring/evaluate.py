"""Scores of a decoded set against real images: MTCNN face rate, realism metrics in two feature
spaces, diversity, where its vectors lie in the fitted normal, distance to the training latents."""

from __future__ import annotations

import logging

import numpy as np

from scipy.spatial.distance import pdist, squareform

from . import detect, fid, intervals, realism
from ..latent import describe
from .columns import FID, GAPS, REALISM, WITH_INTERVALS
from ..sampling.generate import REFERENCES
from ..latent.describe import shell_d2

log = logging.getLogger(__name__)


def nearest_distances(z: np.ndarray, z_ref, exclude: np.ndarray | None = None) -> np.ndarray:
    """Euclidean distance of each row of ``z`` to its nearest row of ``z_ref`` (streamed)."""
    z = np.asarray(z, np.float64)
    best = np.full(len(z), np.inf)
    zz = (z * z).sum(axis=1)[:, None]
    for _, b in describe.blocks(z_ref):
        d2 = zz + (b * b).sum(axis=1)[None, :] - 2 * z @ b.T
        best = np.minimum(best, d2.min(axis=1))
    return np.sqrt(np.maximum(best, 0))


class Scorer:
    """Everything a set is compared with, built once: the real reference images' features, the
    fitted normal, the training latents, the face detector (and the FID network, where configured).
    """

    def __init__(
        self,
        reference: np.ndarray,
        pca_fit: np.ndarray,
        mom: describe.Moments,
        z_train: np.ndarray,
        *,
        min_confidence: float,
        fid_weights: str | None,
        k: int = 3,
        pca_components: int = 64,
        onet_crop=realism.FACE_CROP,
        seed: int = 0,
        resamples: int = 100,
        level: float = 0.95,
    ):
        self.reference, self.mom, self.z_train, self.k = reference, mom, z_train, k
        self.seed, self.level, self.resamples = seed, level, resamples
        self.onet_crop = list(onet_crop)
        self.limit = shell_d2(3.0, len(mom.mean))
        self.w = describe.whitener(mom)
        self.detector = detect.FaceDetector(min_confidence)
        self.onet = realism.OnetFeatures(onet_crop)
        self.pixels = realism.PixelPCA(pca_components, seed).fit(pca_fit)
        self.features = {"onet": self.onet, "pixels": self.pixels}
        halves = intervals.HalfSamples(len(reference), resamples, seed)
        self.real = {
            space: intervals.RealSet(f(reference), k, halves) for space, f in self.features.items()
        }
        d_ref = _pixel_distances(reference)
        self.real_spread = intervals.mean_pairwise(d_ref)
        self.real_spread_halves = intervals.half_means(d_ref, halves.indices())
        self.reconstruction: dict | None = None  # holdout_reconstruction's values and half-samples
        self.scored = 0
        self.fid_weights = fid_weights
        self.fid_net = fid.Network(fid_weights) if fid_weights else None
        self.fid_real = self.fid_net.features(reference) if fid_weights else None
        self.reference_nn: float | None = None  # holdout_real's median nearest distance
        log.info(
            "realism reference: %d real holdout images; %d pixel-PCA components fitted on %d "
            "training images",
            len(reference),
            self.pixels.pca.n_components_,
            len(pca_fit),
        )
        if not fid_weights:
            log.info(
                "FID skipped: set evaluate.fid_inception_weights to pytorch-fid's weights file "
                "(pt_inception-2015-12-05-6726825d.pth) to compute it"
            )

    def score(self, name: str, meta: dict, z: np.ndarray, imgs: np.ndarray) -> dict:
        """One summary row, every metric of WITH_INTERVALS with its interval. Score
        ``holdout_real`` first (its nearest-latent distance is the scale of every set's
        ``nn_distance_ratio``) and ``holdout_reconstruction`` before the samplers (the latent gaps
        are taken against it)."""
        z = np.asarray(z, np.float64)
        self.scored += 1
        rate, conf, c = self.detector.face_rate(imgs)
        y = (z - self.mom.mean) @ self.w.T
        nn = np.median(nearest_distances(z, self.z_train))
        if name == "holdout_real":
            self.reference_nn = float(nn)
        values, halves = {}, {}
        for space, f in self.features.items():
            v, h = intervals.compare_sets(self.real[space], f(imgs), [self.seed, self.scored])
            values |= {f"{m}_{space}": v[m] for m in v}
            halves |= {f"{m}_{space}": h[m] for m in h}
        d = _pixel_distances(imgs)
        fake_halves = intervals.HalfSamples(len(imgs), self.resamples, self.seed).indices()
        values["diversity"] = intervals.mean_pairwise(d) / self.real_spread
        halves["diversity"] = intervals.half_means(d, fake_halves) / self.real_spread_halves
        if name == "holdout_reconstruction":
            self.reconstruction = {"values": values, "halves": halves}
        for gap in GAPS:
            metric = gap.removeprefix("gap_")
            if self.reconstruction is None or name in REFERENCES:
                values[gap], halves[gap] = float("nan"), np.array([])
            else:
                values[gap] = values[metric] - self.reconstruction["values"][metric]
                halves[gap] = halves[metric] - self.reconstruction["halves"][metric]
        found = int((c >= self.detector.min_confidence).sum())
        ranges = {"face_rate": intervals.proportion_interval(found, len(imgs), self.level)}
        for key, h in halves.items():
            bounds = intervals.bounds_of(key)
            ranges[key] = intervals.normal_interval(values[key], h, self.level, bounds)
        nan = float("nan")
        fid_row = dict.fromkeys((FID, f"{FID}_lo", f"{FID}_hi"), nan)
        if self.fid_net is not None:
            feats = self.fid_net.features(imgs)
            value = self.fid_net.fid(self.fid_real, feats)
            got = (value, *fid.interval(value, self.fid_real, feats, self.resamples, self.seed))
            fid_row = dict(zip(fid_row, got))
        values["face_rate"] = rate
        row = {"sampler": meta["sampler"], "setting": meta["setting"] or "-", "n": len(z)}
        for key in WITH_INTERVALS:
            row |= {key: values[key], f"{key}_lo": ranges[key][0], f"{key}_hi": ranges[key][1]}
        return row | {
            "n_reference": len(self.reference),
            "mean_confidence": conf,
            "inside_3sigma": float((np.einsum("ij,ij->i", y, y) <= self.limit).mean()),
            "nn_distance_median": float(nn),
            "nn_distance_ratio": float(nn) / self.reference_nn if self.reference_nn else np.nan,
            **fid_row,
            # the GMM's number of components (chosen by held-out likelihood) and whether EM converged
            "gmm_components": meta.get("gmm_components", "-"),
            "gmm_converged": meta.get("gmm_converged", "-"),
        }

    def notes(self, n_pca_fit: int) -> dict:
        """What the scores were measured against (``summary.json``)."""
        return {
            "realism": {
                "reference_images": len(self.reference),
                "k": self.k,
                "pca_components": int(self.pixels.pca.n_components_),
                "onet_crop": self.onet_crop,
                "reference": "real holdout images disjoint from the holdout_real row's; holdout_real's "
                "scores are therefore the real-vs-real floor for this many samples",
                "pixel_pca_fitted_on": f"{n_pca_fit} training images",
                "kid": "kernel inception distance: unbiased squared MMD with the kernel "
                "(x.y / d + 1)^3 in the same feature space (0 in expectation for one law)",
                "gap": "gap_fd_<space>: the set's Fréchet distance minus holdout_reconstruction's, "
                "the sampler's part of the distance with the decoder's blur taken out",
            },
            "intervals": {
                "level": self.level,
                "face_rate": "Wilson score interval (binomial)",
                "others": f"value +- z * split-half SE from {self.resamples // 2} random splits of "
                "both sets into two halves (caelatent.scoring.intervals); the real set's splits are shared "
                "by every set, so the "
                "gaps' intervals are paired",
            },
            "fid": (
                f"column {FID}: the standard FID, pytorch-fid's port of the TF-Inception network "
                f"(weights {self.fid_weights}), on the images at their own size (the network "
                "resizes them to 299x299); its interval from half-samples like the others"
                if self.fid_weights
                else "skipped: evaluate.fid_inception_weights is not set"
            ),
            "nn_reference": "median distance of holdout latents to their nearest training latent",
        }


def _pixel_distances(images: np.ndarray) -> np.ndarray:
    """Pairwise Euclidean distances of the images as pixel vectors in [0, 1] (square matrix)."""
    x = np.asarray(images, np.float32).reshape(len(images), -1) / 255.0
    return squareform(pdist(x)) if len(x) > 1 else np.zeros((len(x), len(x)))


def rank_first(rows: list[dict]) -> dict:
    """The sampler ranking first on each metric (references excluded); diversity: closest to 1."""
    cands = [r for r in rows if r["sampler"] not in REFERENCES]
    best = {}
    for key, higher in {"face_rate": True, **REALISM}.items():
        vals = np.array([r[key] for r in cands], float)
        if not len(cands) or np.isnan(vals).all():
            continue
        score = (
            vals
            if higher
            else (-vals if higher is False else -np.abs(np.log(np.maximum(vals, 1e-12))))
        )
        r = cands[int(np.nanargmax(score))]
        best[key] = {"sampler": r["sampler"], "setting": r["setting"], "value": r[key]}
    return best
