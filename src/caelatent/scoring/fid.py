"""The standard FID: pytorch-fid's port of the TF-Inception graph of 2015-12-05 (the network of
TTUR's reference FID, which pytorch-fid and clean-fid's legacy mode reproduce), from a local
weights file, with its value from pytorch-fid and its 95 % interval from split halves.

The network comes from the configured weights file
(:func:`caelatent.files.networks.load_fid_inception`): pytorch-fid's own network, its bilinear
resize to 299x299 and its input scaling, and nothing is downloaded.
The images are given at the workflow's resolution (``data.size``) and upsampled by the network, as
papers that report FID at 64x64 do.

The interval: the FID on the split halves of both sets, value +- z * the split-half standard
error, as every other metric's (:mod:`caelatent.scoring.intervals`). A half
of 1,000 features in 2,048 dimensions has a covariance of rank below 1,000, so the cross term
tr sqrt(C1 C2) of each half is taken as the nuclear norm of A B^T (A, B the centred halves,
scaled): a 1,000 x 1,000 SVD instead of a 2,048-dimensional matrix square root.
"""

from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor

import numpy as np

from . import intervals
from ..files.networks import FID_DIM as DIM, load_fid_inception


class Network:
    """The FID network in a process of its own, started fresh (spawn): importing pytorch-fid pulls
    in torchvision, torch._dynamo and triton, and triton's import crashes (a segmentation fault)
    a process that has loaded TensorFlow, as ``evaluate`` has for MTCNN (seen with torch 2.14.1).
    The images go to it and the features come back as arrays; errors come back as raised."""

    def __init__(self, weights: str | os.PathLike, device: str | None = None):
        ctx = multiprocessing.get_context("spawn")
        self._pool = ProcessPoolExecutor(1, mp_context=ctx)
        try:
            self._pool.submit(_load, str(weights), device).result()
        except BaseException:
            self.close()
            raise

    def features(self, images: np.ndarray) -> np.ndarray:
        """:func:`features` of ``images``, computed in the network's process."""
        return self._pool.submit(_features, np.asarray(images)).result()

    def fid(self, real: np.ndarray, fake: np.ndarray) -> float:
        """:func:`fid` of two feature sets, by pytorch-fid in the network's process."""
        return self._pool.submit(fid, np.asarray(real), np.asarray(fake)).result()

    def close(self) -> None:
        self._pool.shutdown()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


_NET = None  # the network of the process Network started


def _load(weights: str, device: str | None) -> None:
    global _NET
    _NET = load_fid_inception(weights, device)


def _features(images: np.ndarray) -> np.ndarray:
    return features(_NET, images)


def features(net, images: np.ndarray, batch: int = 50) -> np.ndarray:
    """The network's 2,048 pool features of uint8 images (n, h, w, 3), in batches."""
    import torch

    device = next(net.parameters()).device
    out = [np.empty((0, DIM), np.float32)]
    with torch.no_grad():
        for s in range(0, len(images), batch):
            x = np.asarray(images[s : s + batch], np.float32) / 255.0
            t = torch.from_numpy(x).permute(0, 3, 1, 2).to(device)
            out.append(net(t)[0].flatten(1).cpu().numpy())
    return np.concatenate(out)


def frechet_lowrank(a: np.ndarray, b: np.ndarray) -> float:
    """Fréchet distance of the normals fitted to the rows of ``a`` and of ``b``, exact, with the
    cross term from the nuclear norm of the centred sets' product (cheap when n < d)."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    ac = (a - a.mean(0)) / np.sqrt(len(a) - 1)
    bc = (b - b.mean(0)) / np.sqrt(len(b) - 1)
    cross = float(np.linalg.svd(ac @ bc.T, compute_uv=False).sum())
    mean = float(((a.mean(0) - b.mean(0)) ** 2).sum())
    return max(mean + float((ac * ac).sum()) + float((bc * bc).sum()) - 2 * cross, 0.0)


def fid(real: np.ndarray, fake: np.ndarray) -> float:
    """FID of two feature sets, as pytorch-fid computes it (its own function; it imports
    pytorch-fid: :meth:`Network.fid` where TensorFlow is loaded)."""
    from pytorch_fid.fid_score import calculate_frechet_distance

    r, f = np.asarray(real, np.float64), np.asarray(fake, np.float64)
    return float(
        calculate_frechet_distance(
            r.mean(0), np.cov(r, rowvar=False), f.mean(0), np.cov(f, rowvar=False)
        )
    )


def interval(
    value: float, real: np.ndarray, fake: np.ndarray, resamples: int, seed: int, level: float = 0.95
) -> tuple[float, float]:
    """The split-half interval of the FID ``value`` of two feature sets (the halves of ``real``
    drawn with ``seed``, those of ``fake`` with ``seed + 1``)."""
    halves_r = intervals.HalfSamples(len(real), resamples, seed).indices()
    halves_f = intervals.HalfSamples(len(fake), resamples, seed + 1).indices()
    h = [frechet_lowrank(real[hr], fake[hf]) for hr, hf in zip(halves_r, halves_f)]
    return intervals.normal_interval(value, np.array(h), level, intervals.bounds_of("fd"))
