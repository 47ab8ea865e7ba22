"""Realism and diversity of decoded samples against real images, all offline.

Two feature spaces that need no download:

* ``onet``: the 256 penultimate features (``prelu5``) of MTCNN's output network, whose weights ship
  with the ``mtcnn`` package, on a fixed face crop of every image (the box MTCNN finds on aligned
  CelebA faces on average), so that images without a detectable face get features too;
* ``pixels``: a PCA of pixel space fitted on the real reference images (plus each image's
  distance from the PCA subspace).

In each: the Fréchet distance between Gaussians fitted to real and generated features, and
precision and recall for generative models (Kynkäänniemi et al., NeurIPS 2019): a point lies on a
set's manifold when it is within the distance to the k-th nearest neighbour of some point of that
set; precision is the fraction of samples on the real manifold, recall the fraction of real images
on the samples' manifold. Diversity is the mean pairwise pixel distance among a set's images
relative to that among the real images.
"""

from __future__ import annotations

import warnings

import numpy as np
from scipy import linalg
from scipy.spatial.distance import cdist, pdist

#: [left, top, right, bottom] fractions of the image side: the mean MTCNN box on aligned CelebA faces
FACE_CROP = (0.25, 0.26, 0.73, 0.90)


def frechet_distance(f1: np.ndarray, f2: np.ndarray) -> float:
    """Fréchet distance between Gaussians fitted to two feature sets [n, d]."""
    f1, f2 = np.asarray(f1, np.float64), np.asarray(f2, np.float64)
    m1, m2 = f1.mean(axis=0), f2.mean(axis=0)
    c1, c2 = np.atleast_2d(np.cov(f1, rowvar=False)), np.atleast_2d(np.cov(f2, rowvar=False))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", linalg.LinAlgWarning)  # singular products are handled below
        covmean = linalg.sqrtm(c1 @ c2)
        if not np.isfinite(covmean).all():  # regularise as the reference FID code does
            eps = 1e-6 * np.eye(len(c1))
            covmean = linalg.sqrtm((c1 + eps) @ (c2 + eps))
    covmean = np.real(covmean)
    return float(max(((m1 - m2) ** 2).sum() + np.trace(c1 + c2 - 2 * covmean), 0.0))


def knn_radii(features: np.ndarray, k: int) -> np.ndarray:
    """Distance from each point to its k-th nearest other point of the same set."""
    from sklearn.neighbors import NearestNeighbors

    features = np.asarray(features, np.float64)
    if len(features) <= k:
        raise ValueError(
            f"precision/recall with k={k} needs more than {k} points, got {len(features)}"
        )
    dist, _ = NearestNeighbors(n_neighbors=k + 1).fit(features).kneighbors(features)
    return dist[:, k]  # column 0 is the point itself


def precision_recall(real: np.ndarray, fake: np.ndarray, k: int = 3) -> tuple[float, float]:
    """Improved precision and recall (Kynkäänniemi et al., 2019) with k-NN manifolds."""
    real, fake = np.asarray(real, np.float64), np.asarray(fake, np.float64)
    r_real, r_fake = knn_radii(real, k), knn_radii(fake, k)
    d = cdist(fake, real)  # [n_fake, n_real]
    precision = float((d <= r_real[None, :]).any(axis=1).mean())
    recall = float((d <= r_fake[:, None]).any(axis=0).mean())
    return precision, recall


def mean_pairwise_distance(images: np.ndarray, max_images: int = 2000) -> float:
    """Mean Euclidean distance between the images (as pixel vectors in [0, 1]) of one set."""
    x = (
        np.asarray(images[:max_images], np.float64).reshape(min(len(images), max_images), -1)
        / 255.0
    )
    return float(pdist(x).mean()) if len(x) > 1 else 0.0


class PixelPCA:
    """PCA of pixel space (scikit-learn), fitted on real images. The features are the leading
    components plus the distance from the components' subspace (the reconstruction residual), so
    that images unlike the real ones (noise) do not project onto the real cloud's centre."""

    def __init__(self, components: int = 64, seed: int = 0):
        self.components, self.seed = components, seed

    def fit(self, images: np.ndarray) -> PixelPCA:
        from sklearn.decomposition import PCA

        x = self._flat(images)
        k = min(self.components, len(x) - 1, x.shape[1])
        self.pca = PCA(n_components=k, svd_solver="full", random_state=self.seed).fit(x)
        return self

    def __call__(self, images: np.ndarray) -> np.ndarray:
        x = self._flat(images)
        y = self.pca.transform(x)
        residual = np.linalg.norm(x - self.pca.inverse_transform(y), axis=1)
        return np.column_stack([y, residual])

    @staticmethod
    def _flat(images) -> np.ndarray:
        return np.asarray(images, np.float64).reshape(len(images), -1) / 255.0


class OnetFeatures:
    """Penultimate-layer features of MTCNN's ONet (256, after fc5 and its PReLU) on a face crop."""

    size = 48

    def __init__(self, crop=FACE_CROP, batch: int = 512):
        from mtcnn.stages import StageONet

        left, top, right, bottom = crop
        if not (0 <= left < right <= 1 and 0 <= top < bottom <= 1):
            raise ValueError(
                f"evaluate.realism.onet_crop={list(crop)}: expected 0 <= left < right <= 1 and "
                "0 <= top < bottom <= 1 (fractions of the image side)"
            )
        self.box = np.array(
            [[top, left, bottom, right]], np.float32
        )  # TensorFlow's [y1, x1, y2, x2]
        self.net = StageONet().model
        self.batch = batch

    def _features(self, x):
        n = self.net
        for block in (
            (n.conv1, n.prelu1, n.maxpool1),
            (n.conv2, n.prelu2, n.maxpool2),
            (n.conv3, n.prelu3, n.maxpool3),
            (n.conv4, n.prelu4),
            (n.permute, n.flatten, n.fc5, n.prelu5),
        ):
            for layer in block:
                x = layer(x)
        return x

    def __call__(self, images: np.ndarray) -> np.ndarray:
        import tensorflow as tf

        out = []
        for s in range(0, len(images), self.batch):
            x = (
                np.asarray(images[s : s + self.batch], np.float32) - 127.5
            ) / 128.0  # MTCNN's normalisation
            boxes = np.repeat(self.box, len(x), axis=0)
            crops = tf.image.crop_and_resize(
                x, boxes, np.arange(len(x), dtype=np.int32), (self.size, self.size)
            )
            out.append(np.asarray(self._features(crops), np.float64))
        return np.concatenate(out) if out else np.zeros((0, 256))


def realism_scores(
    real_feats: dict[str, np.ndarray], fake_feats: dict[str, np.ndarray], k: int
) -> dict:
    """Fréchet distance, precision and recall in each feature space."""
    out = {}
    for space, real in real_feats.items():
        fake = fake_feats[space]
        out[f"fd_{space}"] = frechet_distance(real, fake)
        out[f"precision_{space}"], out[f"recall_{space}"] = precision_recall(real, fake, k)
    return out
