"""What the comparison of experiments tabulates and how it names things: the metrics per sampler
and per experiment, a sampler's label across experiments, each experiment's best cloud sampler.
No file is read here: ``stages/compare.py`` reads the runs' tables and calls these."""

from __future__ import annotations

import math

from .columns import FID, WITH_INTERVALS

#: per sampler, the metrics the comparison tabulates and maps (columns of each summary.tsv; those
#: of WITH_INTERVALS carry their run's own interval, used where an experiment has one replicate)
SAMPLER_METRICS = (*WITH_INTERVALS, "inside_3sigma", FID)
#: the sampler metrics whose differences from the baseline experiment are judged (Welch)
SAMPLER_DIFFERENCES = ("face_rate", "fd_pixels", "kid_pixels", "gap_fd_pixels")
#: experiment-level settings and expectations, the same for every replicate (shown, not averaged)
DESCRIPTIVE = ("z_dim", "n_vectors", "expected_3sigma", "core_expected_fraction")
#: experiment-level numbers whose differences from the baseline experiment are judged (Welch)
EXPERIMENT_DIFFERENCES = (
    "reconstruction_loss",
    "inside_3sigma",
    "nu",
    "core_fraction_inside",
    "ks_core_d",
    "mardia_standardised_kurtosis",
)


def sampler_labels(samplers, settings) -> list[str]:
    """A sampler's name across experiments: its name and setting, except that a plane path is
    named by its angle alone (its axes are each experiment's own dominant pair) where that leaves
    the experiment's labels distinct."""
    full = [s if v == "-" else f"{s} {v}" for s, v in zip(samplers, settings)]
    short = [
        f"{s} {v.rsplit('-', 1)[-1]}" if s == "plane_path" else f
        for s, v, f in zip(samplers, settings, full)
    ]
    return short if len(set(short)) == len(short) else full


#: samplers drawn from inside the cloud (or the prior): the generators the trade-off compares
CLOUD_SAMPLERS = ("mnd", "gmm", "pca_ellipsoid", "independent", "prior")


def best_cloud_sampler(grids: dict, names, labels) -> dict:
    """{metric: {experiment: its best cloud sampler's (value, lo, hi)}} for the lowest pixel-PCA
    distance and the highest face rate; an experiment without a finite value is left out. A grid
    cell is a value or a (value, lo, hi) triple."""
    cloud = [k for k, lab in enumerate(labels) if lab.split()[0] in CLOUD_SAMPLERS]
    out = {}
    for metric, best in (("fd_pixels", min), ("face_rate", max)):
        out[metric] = {}
        for name, row in zip(names, grids[metric]):
            cells = [row[k] if isinstance(row[k], tuple) else (row[k],) * 3 for k in cloud]
            cells = [c for c in cells if math.isfinite(c[0])]
            if cells:
                out[metric][name] = best(cells, key=lambda c: c[0])
    return out
