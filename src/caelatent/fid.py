"""The standard FID: pytorch-fid's port of the TF-Inception graph of 2015-12-05 (the network of
TTUR's reference FID, which pytorch-fid and clean-fid's legacy mode reproduce), from a local
weights file, with its value from pytorch-fid and its 95 % interval from split halves.

pytorch-fid fetches its weights (``pt_inception-2015-12-05-6726825d.pth``) through torch.hub,
which takes a file already in its checkpoint folder instead of downloading. :func:`load_network`
links the configured file there, in a hub folder of its own for the call, so the network, its
bilinear resize to 299x299 and its input scaling are pytorch-fid's own and nothing is downloaded.
The images are given at the workflow's resolution (``data.size``) and upsampled by the network, as
papers that report FID at 64x64 do.

The interval: the FID on the split halves of both sets, value +- z * the split-half standard
error, as every other metric's (:mod:`caelatent.intervals`). A half
of 1,000 features in 2,048 dimensions has a covariance of rank below 1,000, so the cross term
tr sqrt(C1 C2) of each half is taken as the nuclear norm of A B^T (A, B the centred halves,
scaled): a 1,000 x 1,000 SVD instead of a 2,048-dimensional matrix square root.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np

from . import intervals

#: the config key that names the weights file
KEY = "evaluate.fid_inception_weights"
#: pool features of the network's last block
DIM = 2048


def load_network(weights: str | os.PathLike, device: str | None = None):
    """pytorch-fid's FID InceptionV3 (pool features) with the weights file ``weights``, on
    ``device`` (CUDA where torch sees a GPU, else the CPU)."""
    try:
        import torch
        from pytorch_fid.inception import FID_WEIGHTS_URL, InceptionV3
    except ImportError as e:
        raise ImportError(
            f"{KEY} is set, and the standard FID needs pytorch-fid: pip install -e '.[fid]' ({e})"
        ) from e
    path = Path(weights)
    if not path.is_file():
        raise FileNotFoundError(f"{KEY}: {weights} does not exist")
    name = FID_WEIGHTS_URL.rsplit("/", 1)[1]
    previous = torch.hub.get_dir()
    with tempfile.TemporaryDirectory() as hub:
        (Path(hub) / "checkpoints").mkdir()
        os.symlink(path.resolve(), Path(hub) / "checkpoints" / name)
        torch.hub.set_dir(hub)
        try:
            net = InceptionV3([InceptionV3.BLOCK_INDEX_BY_DIM[DIM]])
        except Exception as e:  # not a state dict, or one of another network
            raise ValueError(
                f"{KEY}: {weights} is not pytorch-fid's FID Inception weights ({name}): {e}"
            ) from e
        finally:
            torch.hub.set_dir(previous)
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    return net.eval().to(device)


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
    """FID of two feature sets, as pytorch-fid computes it (its own function)."""
    from pytorch_fid.fid_score import calculate_frechet_distance

    r, f = np.asarray(real, np.float64), np.asarray(fake, np.float64)
    return float(
        calculate_frechet_distance(
            r.mean(0), np.cov(r, rowvar=False), f.mean(0), np.cov(f, rowvar=False)
        )
    )


def fid_with_interval(
    real: np.ndarray, fake: np.ndarray, resamples: int, seed: int, level: float = 0.95
) -> tuple[float, float, float]:
    """(FID, lower, upper): pytorch-fid's value and the half-sample interval (the halves of
    ``real`` drawn with ``seed``, those of ``fake`` with ``seed + 1``)."""
    value = fid(real, fake)
    halves_r = intervals.HalfSamples(len(real), resamples, seed).indices()
    halves_f = intervals.HalfSamples(len(fake), resamples, seed + 1).indices()
    h = [frechet_lowrank(real[hr], fake[hf]) for hr, hf in zip(halves_r, halves_f)]
    lo, hi = intervals.normal_interval(value, np.array(h), level, intervals.bounds_of("fd"))
    return value, lo, hi
