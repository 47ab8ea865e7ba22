"""A training's checkpoint folder: the last finished epoch, restored by a rerun of the same settings.

``results/<exp>/checkpoint/`` holds the last finished epoch's weights (with the optimizer's state),
``state.json`` naming them with the history so far, and ``fingerprint.txt``, the settings' key
(:func:`caelatent.model.train.fingerprint`); a rerun whose key differs starts afresh.
"""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import keras

from .store import atomic_path

log = logging.getLogger(__name__)


class Checkpoint:
    """The checkpoint folder ``folder``, which training claims, restores from and writes to."""

    def __init__(self, folder):
        self.folder = Path(folder)

    def __str__(self) -> str:
        return str(self.folder)

    def claim(self, key: str) -> None:
        """Keep the folder if it was made with the settings ``key``, else start it afresh; either
        way stamp it with ``key``."""
        stamp = self.folder / "fingerprint.txt"
        if self.folder.exists() and (not stamp.exists() or stamp.read_text() != key):
            log.warning("discarding checkpoint %s: it was made with other settings", self.folder)
            shutil.rmtree(self.folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        stamp.write_text(key)

    def restore(self, model: keras.Model) -> tuple[int, dict[str, list]] | None:
        """(epochs done, history), the weights and optimizer state loaded into ``model``; None if
        there is no checkpoint or it is damaged (then training restarts, with a warning)."""
        state_file = self.folder / "state.json"
        if not state_file.exists():
            return None
        try:
            state = json.loads(state_file.read_text())
            model.optimizer.build(model.trainable_variables)
            model.load_weights(self.folder / state["weights"])
            return int(state["epoch"]), {
                k: list(state["history"][k]) for k in ("epoch", "loss", "val_loss")
            }
        except Exception as err:  # a truncated or corrupted file: start again, saying which
            log.warning(
                "discarding damaged checkpoint %s (%s: %s); training restarts",
                self.folder,
                type(err).__name__,
                err,
            )
            return None

    def callback(self, history: dict[str, list]) -> keras.callbacks.Callback:
        """The callback that writes the checkpoint after every epoch (``history`` as it stands)."""
        return EpochCheckpoint(self.folder, history)

    def remove(self) -> None:
        """Training is done and its networks saved: the folder goes."""
        shutil.rmtree(self.folder)


class EpochCheckpoint(keras.callbacks.Callback):
    """After every epoch: weights (with the optimizer's state), then ``state.json`` naming them.

    Each epoch's weights go to a new file and ``state.json`` is replaced atomically after it, so a
    kill at any moment leaves the last finished epoch's state readable. ``history`` is the run's,
    already holding this epoch (training records it in a callback before this one).
    """

    def __init__(self, ckpt: Path, history: dict[str, list]):
        super().__init__()
        self.ckpt, self.history = ckpt, history

    def on_epoch_end(self, epoch, logs=None):
        weights = self.ckpt / f"weights-{epoch + 1}.weights.h5"
        self.model.save_weights(weights)
        with atomic_path(self.ckpt / "state.json") as tmp:
            Path(tmp).write_text(
                json.dumps({"epoch": epoch + 1, "weights": weights.name, "history": self.history})
            )
        for old in self.ckpt.glob("weights-*.weights.h5"):
            if old != weights:
                old.unlink()
