"""Detectors and feature networks the evaluation scores decoded images with (TensorFlow models)."""

from __future__ import annotations

import os

import numpy as np


class FaceDetector:
    """MTCNN (the ``mtcnn`` package ships its weights; it runs on TensorFlow)."""

    def __init__(self, min_confidence: float = 0.9):
        from mtcnn import MTCNN

        self.detector = MTCNN(device="CPU:0")
        self.min_confidence = min_confidence

    def confidences(self, images: np.ndarray, batch: int = 64) -> np.ndarray:
        """Highest face confidence per image (0 where MTCNN finds none)."""
        out = np.zeros(len(images))
        for s in range(0, len(images), batch):
            res = self.detector.detect_faces(list(np.asarray(images[s : s + batch], np.uint8)))
            for k, faces in enumerate(res):
                out[s + k] = max((float(f["confidence"]) for f in faces), default=0.0)
        return out

    def face_rate(self, images: np.ndarray) -> tuple[float, float, np.ndarray]:
        """(fraction with a face, mean confidence of the detected faces, per-image confidences)."""
        c = self.confidences(images)
        found = c >= self.min_confidence
        return float(found.mean()), float(c[found].mean()) if found.any() else 0.0, c


def inception_features(images: np.ndarray, weights: str) -> np.ndarray:
    """InceptionV3 pool features from local weights (no download)."""
    import keras

    if not os.path.exists(weights):
        raise FileNotFoundError(f"evaluate.fid_inception_weights: {weights} does not exist")
    model = keras.applications.InceptionV3(
        include_top=False, pooling="avg", weights=weights, input_shape=(299, 299, 3)
    )
    x = keras.ops.image.resize(np.asarray(images, np.float32), (299, 299))
    return np.asarray(model.predict(keras.applications.inception_v3.preprocess_input(x), verbose=0))
