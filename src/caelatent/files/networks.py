"""The trained networks' files (``encoder.keras``, ``decoder.keras``)."""

from __future__ import annotations


def load_model(path):
    """A saved Keras model, uncompiled. Imports Keras: select the backend first
    (:func:`caelatent.model.backend.use_device`)."""
    import keras

    return keras.saving.load_model(path, compile=False)
