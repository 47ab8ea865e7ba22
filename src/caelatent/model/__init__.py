"""The autoencoder: networks, training (feeds, checkpoints, device fitting, the Keras backend), encoding and decoding, and the innermost maps (stage model)."""
