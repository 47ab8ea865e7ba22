"""The face detector the evaluation scores decoded images with (MTCNN, a TensorFlow model)."""

from __future__ import annotations

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
