"""A two-experiment demo variant (the demo's CAE and a VAE on the same data, the VAE also sampled
from its prior) runs the comparison stage end to end: one row per experiment, one per experiment
and sampler, the heat maps and the reconstruction/sampling trade-off drawn."""

from __future__ import annotations

import math

import numpy as np
import pytest
import yaml
import zarr

from caelatent import io
from caelatent.stages.compare import SAMPLER_METRICS
from conftest import snakemake, workflow_copy

TWO = {
    "data": {"synthetic": {"n_images": 1200}},
    "train": {"epochs": 3},
    "experiments": {
        "demo": {},
        "demo_vae": {"model": {"kind": "vae"}, "generate": {"samplers": {"prior": {}}}},
    },
    "run": ["demo", "demo_vae"],
    "generate": {"n_samples": 200, "n_reference": 300},
}


@pytest.mark.slow
def test_two_experiments_are_compared_per_experiment_and_sampler(tmp_path):
    wf = workflow_copy(tmp_path / "wf")
    (wf / "two.yaml").write_text(yaml.safe_dump(TWO))
    out = "results/comparison"
    snakemake(
        wf,
        "--cores",
        "2",
        f"{out}/sampler_heatmaps.png",
        f"{out}/tradeoff.png",
        f"{out}/tables",
        "--configfile",
        "config/demo.yaml",
        "two.yaml",
    )
    exps = io.read_tsv(wf / out / "experiments.tsv")
    assert list(exps["experiment"]) == ["demo", "demo_vae"]
    assert list(exps["kind"]) == ["cae", "vae"]
    for key in ("reconstruction_loss", "inside_3sigma", "pcs_for_90pct"):
        assert all(math.isfinite(float(v)) for v in exps[key]), key
    assert all(0 <= float(v) <= 1 for v in exps["inside_3sigma"])
    long = io.read_tsv(wf / out / "samplers.tsv")
    per = {
        e: [s for x, s in zip(long["experiment"], long["sampler"]) if x == e] for e in TWO["run"]
    }
    summaries = {e: io.read_tsv(wf / f"results/{e}/stats/summary.tsv") for e in TWO["run"]}
    for e in TWO["run"]:  # one row per experiment and sampler (and reference set)
        assert len(per[e]) == len(summaries[e]["sampler"]) == len(set(per[e])), per[e]
    assert "prior" in per["demo_vae"] and "prior" not in per["demo"]
    assert {"plane_path a0", "plane_path a45", "mnd k3"} <= set(per["demo"]) & set(per["demo_vae"])
    assert set(SAMPLER_METRICS) <= set(long)
    assert all(0 <= float(v) <= 1 for v in long["face_rate"])
    for name in ("sampler_heatmaps.png", "tradeoff.png", "experiments.png"):
        assert (wf / out / name).stat().st_size > 10_000, name
    assert (wf / out / "tables" / "samplers.html").exists()
    # the VAE's codes sit nearer N(0, I): the centre of its cloud is nearer the origin
    norms = {
        e: float(np.linalg.norm(zarr.open_group(wf / f"results/{e}/latents.zarr")["z"][:].mean(0)))
        for e in TWO["run"]
    }
    assert norms["demo_vae"] < norms["demo"], norms


def test_plane_paths_are_named_by_angle_across_experiments_unless_that_collides():
    from caelatent.stages.compare import sampler_labels

    got = sampler_labels(["mnd", "plane_path", "plane_path"], ["k3", "z28-z51-a0", "z28-z51-a45"])
    assert got == ["mnd k3", "plane_path a0", "plane_path a45"]
    two_planes = sampler_labels(["plane_path", "plane_path"], ["z1-z2-a0", "z3-z4-a0"])
    assert two_planes == ["plane_path z1-z2-a0", "plane_path z3-z4-a0"]


def test_the_trade_off_takes_each_experiments_best_cloud_sampler():
    from caelatent.stages.compare import best_cloud_sampler

    labels = ["holdout_real", "uniform_box b1.5", "mnd k3", "gmm n10", "prior"]
    nan = float("nan")
    grids = {
        "fd_pixels": [[10, 700, 57, 54, nan], [10, 280, 81, 79, 255], [10, 5, nan, nan, nan]],
        "face_rate": [
            [0.99, 0.01, 0.955, 0.95, nan],
            [0.99, 0.4, 0.96, 1.0, 0.35],
            [1, 1, nan, nan, nan],
        ],
    }
    best = best_cloud_sampler(grids, ["seed", "vae", "none"], labels)
    # references and uniform boxes never count; an experiment without cloud samplers is left out
    assert best == {"fd_pixels": {"seed": 54, "vae": 79}, "face_rate": {"seed": 0.955, "vae": 1.0}}
