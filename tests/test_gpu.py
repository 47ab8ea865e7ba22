"""Training on a visible GPU (marked `gpu`; skipped, saying why, where no backend sees one)."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from caelatent.model import backend

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.slow,
]  # -m gpu selects it; the quick loop skips the probe

SCRIPT = textwrap.dedent("""
    import sys, pathlib, numpy as np
    from caelatent.model import backend
    name = backend.use("auto")
    device = backend.device_name(name)
    assert device != "cpu", (name, device)
    from caelatent.model.networks import ModelSpec
    from caelatent.data.prepare import Split
    from caelatent.stages.data import prepare_synthetic
    from caelatent.model.train import FitOptions
    from caelatent.stages.model import fit_and_save
    d = pathlib.Path(sys.argv[1])
    prepare_synthetic(d, n_images=2048, size=96, seed=0, split=Split(0.9), workers=4)
    m = d / "m"
    h = fit_and_save(d / "images.zarr", encoder=m / "encoder.keras", decoder=m / "decoder.keras",
                     history=m / "history.tsv", checkpoint=m / "checkpoint", spec=ModelSpec(image_size=96),
                     epochs=2, verbose=0, options=FitOptions(precision="mixed_bfloat16")).history
    assert np.isfinite(h["loss"]).all() and h["val_loss"][-1] < h["val_loss"][0], h
    print("OK", name, device)
""")


def gpu_backend() -> str | None:
    for name in backend.AUTO_ORDER:
        if backend.installed(name) and backend.sees_gpu(name):
            return name
    return None


def test_training_runs_on_the_visible_gpu(tmp_path):
    if gpu_backend() is None:
        pytest.skip(
            "no GPU visible to jax, torch or tensorflow (install with pip install -e '.[gpu]' on a GPU machine)"
        )
    proc = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(tmp_path)], capture_output=True, text=True, timeout=900
    )
    assert proc.returncode == 0 and "OK" in proc.stdout, proc.stderr[-3000:]
