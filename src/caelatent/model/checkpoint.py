"""Resumable training's files: a checkpoint after every epoch, restoring from it, the history.

``results/<exp>/checkpoint/`` holds the last finished epoch's weights (with the optimizer's state)
and ``state.json`` naming them; a rerun with the same settings (:func:`fingerprint`) resumes there.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from pathlib import Path

import keras

from .networks import ModelSpec
from ..files.store import atomic_path

log = logging.getLogger(__name__)


class EpochCheckpoint(keras.callbacks.Callback):
    """After every epoch: weights (with the optimizer's state), then ``state.json`` naming them.

    Each epoch's weights go to a new file and ``state.json`` is replaced atomically after it, so a
    kill at any moment leaves the last finished epoch's state readable.
    """

    def __init__(self, ckpt: Path, history: dict[str, list]):
        super().__init__()
        self.ckpt, self.history = ckpt, history

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        self.history["epoch"].append(epoch)
        for key in ("loss", "val_loss"):
            self.history[key].append(float(logs.get(key, float("nan"))))
        weights = self.ckpt / f"weights-{epoch + 1}.weights.h5"
        self.model.save_weights(weights)
        with atomic_path(self.ckpt / "state.json") as tmp:
            Path(tmp).write_text(
                json.dumps({"epoch": epoch + 1, "weights": weights.name, "history": self.history})
            )
        for old in self.ckpt.glob("weights-*.weights.h5"):
            if old != weights:
                old.unlink()


def fingerprint(spec: ModelSpec, settings: dict, images: str) -> str:
    blob = json.dumps(
        {"spec": spec.to_dict(), "train": settings, "images": os.path.abspath(images)},
        sort_keys=True,
    )
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def restore(ckpt: Path, model: keras.Model) -> tuple[int, dict[str, list]] | None:
    """(epochs done, history) from a checkpoint, loaded into ``model``; None if there is none or it is damaged."""
    state_file = ckpt / "state.json"
    if not state_file.exists():
        return None
    try:
        state = json.loads(state_file.read_text())
        model.optimizer.build(model.trainable_variables)
        model.load_weights(ckpt / state["weights"])
        return int(state["epoch"]), {
            k: list(state["history"][k]) for k in ("epoch", "loss", "val_loss")
        }
    except Exception as err:  # a truncated or corrupted file: start again, saying which
        log.warning(
            "discarding damaged checkpoint %s (%s: %s); training restarts",
            ckpt,
            type(err).__name__,
            err,
        )
        return None
