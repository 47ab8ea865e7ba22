"""The columns of the sampler summary (``results/<exp>/stats/summary.tsv``): names only, in one
place, for the evaluation that writes them and the comparison that reads them."""

from __future__ import annotations

#: The standard FID's column (:mod:`caelatent.scoring.fid`: pytorch-fid's TF-Inception network, with
#: ``fid_lo`` / ``fid_hi`` beside it), NaN unless ``evaluate.fid_inception_weights`` names its file
FID = "fid"

#: summary columns of the realism metrics, and whether higher is better (None: closest to 1 is best);
#: each has ``<metric>_lo`` and ``<metric>_hi`` columns (its 95 % interval) beside it, as do
#: ``face_rate`` and the latent gaps
SPACES = ("onet", "pixels")
REALISM = {
    **{
        f"{m}_{space}": higher
        for space in SPACES
        for m, higher in (("fd", False), ("kid", False), ("precision", True), ("recall", True))
    },
    "diversity": None,
}
#: a sampler's Fréchet distance minus the holdout reconstructions' (the decoder's blur taken out)
GAPS = tuple(f"gap_fd_{space}" for space in SPACES)
WITH_INTERVALS = ("face_rate", *REALISM, *GAPS)
