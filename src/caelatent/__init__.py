"""caelatent: what a plain convolutional autoencoder does with its latent space."""

__version__ = "0.1.0"
