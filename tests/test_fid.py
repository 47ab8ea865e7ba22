"""caelatent.scoring.fid: the standard FID through pytorch-fid's network, loaded from a local weights file
(here a randomly initialised file of the same architecture, written by the test: the real one
cannot be downloaded here), its value pytorch-fid's, its half-sample interval."""

from __future__ import annotations

import importlib.util
import subprocess
import sys

import numpy as np
import pytest

from caelatent.scoring import fid, intervals, realism

#: each test starts the network's process (torch's import, some 5-15 s)
pytestmark = pytest.mark.slow

# (found, not imported: see STAND_IN)
if importlib.util.find_spec("pytorch_fid") is None:
    pytest.skip("the fid extra is not installed (pip install -e '.[fid]')", allow_module_level=True)


#: writes pytorch-fid's FID Inception (its patched blocks, 1,008 classes, no auxiliary head) with
#: seeded random weights as a state dict like pt_inception-2015-12-05-*.pth; in a process of its
#: own, like the network (caelatent.scoring.fid.Network: triton's import crashes beside TensorFlow)
STAND_IN = """
import sys, torch
from pytorch_fid import inception as pfi
torch.manual_seed(int(sys.argv[2]))
net = pfi._inception_v3(num_classes=1008, aux_logits=False, weights=None)
net.Mixed_5b = pfi.FIDInceptionA(192, pool_features=32)
net.Mixed_5c = pfi.FIDInceptionA(256, pool_features=64)
net.Mixed_5d = pfi.FIDInceptionA(288, pool_features=64)
net.Mixed_6b = pfi.FIDInceptionC(768, channels_7x7=128)
net.Mixed_6c = pfi.FIDInceptionC(768, channels_7x7=160)
net.Mixed_6d = pfi.FIDInceptionC(768, channels_7x7=160)
net.Mixed_6e = pfi.FIDInceptionC(768, channels_7x7=192)
net.Mixed_7b = pfi.FIDInceptionE_1(1280)
net.Mixed_7c = pfi.FIDInceptionE_2(2048)
torch.save(net.state_dict(), sys.argv[1])
"""


@pytest.fixture(scope="module")
def stand_ins(tmp_path_factory):
    """Two stand-in weights files (seeds 0 and 1)."""
    out = []
    for seed in (0, 1):
        path = tmp_path_factory.mktemp("fid") / f"pt_inception-stand-in-{seed}.pth"
        subprocess.run([sys.executable, "-c", STAND_IN, str(path), str(seed)], check=True)
        out.append(path)
    return out


def test_the_network_loads_the_given_file_and_gives_pool_features(stand_ins):
    rng = np.random.default_rng(0)
    imgs = rng.integers(0, 256, size=(5, 64, 64, 3), dtype=np.uint8)
    with fid.Network(stand_ins[0], "cpu") as net:
        f1 = net.features(imgs)
        f1_again = net.features(imgs[::-1])[::-1]
    with fid.Network(stand_ins[0], "cpu") as net, fid.Network(stand_ins[1], "cpu") as other:
        f2, g = net.features(imgs), other.features(imgs)
    # (random weights shrink the activations layer by layer: compare on the features' own scale)
    scale = float(np.abs(f1).max())
    assert f1.shape == (5, fid.DIM) and np.isfinite(f1).all() and scale > 0
    np.testing.assert_allclose(f1, f2, rtol=1e-4, atol=1e-4 * scale)  # same file, same features
    np.testing.assert_allclose(f1, f1_again, rtol=1e-4, atol=1e-4 * scale)  # per image
    assert np.abs(f1[0] - f1[1]).max() > 1e-2 * scale  # the images differ, so do their features
    assert np.abs(f1 - g).max() > 1e-2 * scale  # the weights are the file's: another file differs


def test_a_missing_or_wrong_weights_file_names_the_key(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"evaluate.fid_inception_weights: .*none.pth"):
        fid.Network(tmp_path / "none.pth", "cpu")
    h5 = tmp_path / "inception_v3.h5"
    h5.write_bytes(b"\x89HDF\r\n\x1a\n not a state dict")
    with pytest.raises(ValueError, match=r"fid_inception_weights: .*inception_v3.h5 is not"):
        fid.Network(h5, "cpu")


def test_the_low_rank_frechet_distance_is_pytorch_fids(stand_ins):
    rng = np.random.default_rng(1)
    with fid.Network(stand_ins[0], "cpu") as net:
        for n, d in ((60, 20), (30, 80)):  # more points than dimensions, and fewer
            a = rng.standard_normal((n, d))
            b = rng.standard_normal((n + 7, d)) * 1.3 + 0.2
            low = fid.frechet_lowrank(a, b)
            assert low == pytest.approx(realism.frechet_distance(a, b), rel=1e-6)
            assert net.fid(a, b) == pytest.approx(low, rel=1e-6)


def test_the_fid_interval_holds_the_value_and_shrinks_with_n():
    rng = np.random.default_rng(2)
    widths = []
    for n in (200, 800):
        real = rng.standard_normal((n, 16))
        fake = rng.standard_normal((n, 16)) * 1.2 + 0.3
        value = fid.frechet_lowrank(real, fake)
        lo, hi = fid.interval(value, real, fake, resamples=40, seed=3)
        assert lo < value < hi
        widths.append(hi - lo)
    assert widths[1] < 0.7 * widths[0]  # about 1/sqrt(4) of it


def test_the_fid_half_samples_are_the_other_distances_half_samples():
    """The interval is the Fréchet distance's own procedure (caelatent.scoring.intervals), only faster."""
    rng = np.random.default_rng(4)
    real, fake = rng.standard_normal((40, 6)), rng.standard_normal((50, 6)) + 0.5
    hr = intervals.HalfSamples(40, 1, 0).indices()[0]
    hf = intervals.HalfSamples(50, 1, 1).indices()[0]
    a, b = real[hr], fake[hf]
    m1, c1 = a.mean(0), np.cov(a, rowvar=False)
    full = intervals.frechet_from_moments(
        m1, intervals._psd_sqrt(c1), c1, b.mean(0), np.cov(b, rowvar=False)
    )
    assert fid.frechet_lowrank(a, b) == pytest.approx(full, rel=1e-6)


def test_the_evaluation_reports_the_fid_with_its_interval(stand_ins):
    """evaluate.Scorer with the weights file, TensorFlow loaded first (MTCNN) as in the rule:
    every set's row has the FID and its interval, and the notes say which network it is."""
    from caelatent.model import backend

    backend.use("tensorflow")
    from caelatent.latent import describe
    from caelatent.scoring.columns import FID
    from caelatent.scoring.evaluate import Scorer

    rng = np.random.default_rng(5)
    ref = rng.integers(0, 256, size=(24, 64, 64, 3), dtype=np.uint8)
    z = rng.standard_normal((60, 4))
    mom = describe.Moments(len(z), z.mean(0), np.cov(z, rowvar=False), z.min(0), z.max(0))
    scorer = Scorer(
        ref,
        ref,
        mom,
        z,
        min_confidence=0.9,
        fid_weights=str(stand_ins[0]),
        pca_components=4,
        resamples=10,
    )
    fake = np.clip(ref.astype(int) + rng.integers(-40, 40, ref.shape), 0, 255).astype(np.uint8)
    row = scorer.score("holdout_real", {"sampler": "holdout_real", "setting": ""}, z[:24], fake)
    assert row[f"{FID}_lo"] <= row[FID] <= row[f"{FID}_hi"] and row[FID] > 0, row
    assert scorer.notes(24)["fid"].startswith("column fid: the standard FID, pytorch-fid's")
