"""Scores of a decoded set against real images: MTCNN face rate, realism metrics in two feature
spaces, diversity, where its vectors lie in the fitted normal, distance to the training latents."""

from __future__ import annotations

import logging

import numpy as np

from . import detect, realism, stats
from .generate import REFERENCES
from .samplers import shell_d2

log = logging.getLogger(__name__)

#: The FID's column: Fréchet distance of pool features of Keras's ImageNet InceptionV3
#: (keras.applications), not of the TF-Inception graph behind published FIDs (TTUR, pytorch-fid):
#: its values rank samplers within this workflow and are not comparable with papers' FIDs.
FID = "fid_keras_inceptionv3"

#: summary columns of the realism metrics, and whether higher is better (None: closest to 1 is best)
REALISM = {
    "fd_onet": False,
    "precision_onet": True,
    "recall_onet": True,
    "fd_pixels": False,
    "precision_pixels": True,
    "recall_pixels": True,
    "diversity": None,
}


def nearest_distances(z: np.ndarray, z_ref, exclude: np.ndarray | None = None) -> np.ndarray:
    """Euclidean distance of each row of ``z`` to its nearest row of ``z_ref`` (streamed)."""
    z = np.asarray(z, np.float64)
    best = np.full(len(z), np.inf)
    zz = (z * z).sum(axis=1)[:, None]
    for _, b in stats.blocks(z_ref):
        d2 = zz + (b * b).sum(axis=1)[None, :] - 2 * z @ b.T
        best = np.minimum(best, d2.min(axis=1))
    return np.sqrt(np.maximum(best, 0))


class Scorer:
    """Everything a set is compared with, built once: the real reference images' features, the
    fitted normal, the training latents, the face detector (and InceptionV3, where configured)."""

    def __init__(
        self,
        reference: np.ndarray,
        pca_fit: np.ndarray,
        mom: stats.Moments,
        z_train: np.ndarray,
        *,
        min_confidence: float,
        fid_weights: str | None,
        k: int = 3,
        pca_components: int = 64,
        onet_crop=realism.FACE_CROP,
        seed: int = 0,
    ):
        self.reference, self.mom, self.z_train, self.k = reference, mom, z_train, k
        self.onet_crop = list(onet_crop)
        self.limit = shell_d2(3.0, len(mom.mean))
        self.w = stats.whitener(mom)
        self.detector = detect.FaceDetector(min_confidence)
        self.onet = realism.OnetFeatures(onet_crop)
        self.pixels = realism.PixelPCA(pca_components, seed).fit(pca_fit)
        self.features = {"onet": self.onet, "pixels": self.pixels}
        self.real_feats = {space: f(reference) for space, f in self.features.items()}
        self.real_spread = realism.mean_pairwise_distance(reference)
        self.fid_weights = fid_weights
        self.fid_real = detect.inception_features(reference, fid_weights) if fid_weights else None
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
                "FID skipped: set evaluate.fid_inception_weights to a local InceptionV3 weights "
                "file to compute it"
            )

    def score(self, name: str, meta: dict, z: np.ndarray, imgs: np.ndarray) -> dict:
        """One summary row. Score ``holdout_real`` first: its nearest-latent distance is the scale
        of every set's ``nn_distance_ratio``."""
        z = np.asarray(z, np.float64)
        rate, conf, _ = self.detector.face_rate(imgs)
        y = (z - self.mom.mean) @ self.w.T
        nn = np.median(nearest_distances(z, self.z_train))
        if name == "holdout_real":
            self.reference_nn = float(nn)
        feats = {space: f(imgs) for space, f in self.features.items()}
        fid = float("nan")
        if self.fid_weights:
            fid = realism.frechet_distance(
                self.fid_real, detect.inception_features(imgs, self.fid_weights)
            )
        return {
            "sampler": meta["sampler"],
            "setting": meta["setting"] or "-",
            "n": len(z),
            "face_rate": rate,
            "mean_confidence": conf,
            **realism.realism_scores(self.real_feats, feats, self.k),
            "diversity": realism.mean_pairwise_distance(imgs) / self.real_spread,
            "n_reference": len(self.reference),
            "inside_3sigma": float((np.einsum("ij,ij->i", y, y) <= self.limit).mean()),
            "nn_distance_median": float(nn),
            "nn_distance_ratio": float(nn) / self.reference_nn if self.reference_nn else np.nan,
            FID: fid,
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
            },
            "fid": (
                f"column {FID}: Fréchet distance of the 2048 pool features of Keras's ImageNet "
                f"InceptionV3 (weights {self.fid_weights}); not the TF-Inception network of "
                "published FIDs, so not comparable with papers' values"
                if self.fid_weights
                else "skipped: no local InceptionV3 weights configured"
            ),
            "nn_reference": "median distance of holdout latents to their nearest training latent",
        }


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
