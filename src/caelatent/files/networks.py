"""Networks' files: the trained ones (``encoder.keras``, ``decoder.keras``) and the FID's
Inception weights (``evaluate.fid_inception_weights``)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

#: the config key that names the FID's weights file
FID_KEY = "evaluate.fid_inception_weights"
#: pool features of the FID network's last block
FID_DIM = 2048


def load_model(path):
    """A saved Keras model, uncompiled. Imports Keras: select the backend first
    (:func:`caelatent.model.backend.use_device`)."""
    import keras

    return keras.saving.load_model(path, compile=False)


def save_model(model, path) -> None:
    """``model`` saved to ``path`` whole or not at all (a temporary file, then a rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.name}.partial.keras")  # Keras insists on the .keras suffix
    model.save(tmp)
    os.replace(tmp, path)


def load_fid_inception(weights, device: str | None = None):
    """pytorch-fid's FID InceptionV3 (pool features) with the weights file ``weights``, on
    ``device`` (CUDA where torch sees a GPU, else the CPU), in this process: use :class:`Network`
    where TensorFlow is or may be loaded (:class:`caelatent.scoring.fid.Network`).

    pytorch-fid fetches its weights (``pt_inception-2015-12-05-6726825d.pth``) through torch.hub,
    which takes a file already in its checkpoint folder instead of downloading: the file is linked
    there, in a hub folder of its own for the call."""
    try:
        import torch
        from pytorch_fid.inception import FID_WEIGHTS_URL, InceptionV3
    except ImportError as e:
        raise ImportError(
            f"{FID_KEY} is set, and the standard FID needs pytorch-fid: pip install -e '.[fid]' ({e})"
        ) from e
    path = Path(weights)
    if not path.is_file():
        raise FileNotFoundError(f"{FID_KEY}: {weights} does not exist")
    name = FID_WEIGHTS_URL.rsplit("/", 1)[1]
    previous = torch.hub.get_dir()
    with tempfile.TemporaryDirectory() as hub:
        (Path(hub) / "checkpoints").mkdir()
        os.symlink(path.resolve(), Path(hub) / "checkpoints" / name)
        torch.hub.set_dir(hub)
        try:
            net = InceptionV3([InceptionV3.BLOCK_INDEX_BY_DIM[FID_DIM]])
        except Exception as e:  # not a state dict, or one of another network
            raise ValueError(
                f"{FID_KEY}: {weights} is not pytorch-fid's FID Inception weights ({name}): {e}"
            ) from e
        finally:
            torch.hub.set_dir(previous)
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    return net.eval().to(device)
