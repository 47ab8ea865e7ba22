"""Inputs of several rules that the runners read into the library's records: the moments, the
attribute directions, the labelled latents."""

from __future__ import annotations

from ..files.records import read_npz
from ..files.store import open_zarr
from ..latent.attributes import Directions, Labelled, labelled
from ..latent.describe import Moments


def read_moments(path) -> Moments:
    """Rule moments' ``moments.npz``."""
    return Moments.from_arrays(read_npz(path))


def read_directions(path) -> Directions:
    """Rule attributes' ``attribute_directions.npz``."""
    return Directions.from_arrays(read_npz(path))


def read_labelled(latents) -> Labelled:
    """The rows of a ``latents.zarr`` that have attribute values (:func:`caelatent.latent.attributes.labelled`)."""
    return labelled(open_zarr(latents), str(latents))
