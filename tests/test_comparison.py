"""A two-experiment demo variant (the demo's CAE with two replicate training seeds and a VAE on
the same data, the VAE also sampled from its prior) runs the comparison stage end to end: one row
per run, one per experiment (mean and interval over its replicates), one per experiment and
sampler, the differences from the first experiment, the heat maps and the reconstruction/sampling
trade-off drawn."""

from __future__ import annotations

import math

import numpy as np
import pytest
import yaml
import zarr

from caelatent.files import records
from caelatent.comparison.tables import SAMPLER_METRICS
from conftest import snakemake, workflow_copy

TWO = {
    "data": {"synthetic": {"n_images": 1000}},
    "train": {"epochs": 2},
    "experiments": {
        "demo": {"train_seeds": [1, 2]},
        "demo_vae": {"model": {"kind": "vae"}, "generate": {"samplers": {"prior": {}}}},
    },
    "run": ["demo", "demo_vae"],
    # the samplers the checks below name (the default's other nine add time, not coverage)
    "generate": {
        "n_samples": 120,
        "samplers": {
            "uniform_box": {"b": [1.5]},
            "plane_path": {"axes": None, "angles": [0, 45], "extent": 3.0},
            "mnd": {"k": [3.0]},
        },
    },
}
RUNS = ["demo-s1", "demo-s2", "demo_vae"]


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
    exps = records.read_tsv(wf / out / "experiments.tsv")
    assert list(exps["experiment"]) == ["demo", "demo_vae"]
    assert list(exps["n_replicates"]) == [2, 1] and list(exps["kind"]) == ["cae", "vae"]
    for key in ("reconstruction_loss", "inside_3sigma", "pcs_for_90pct", "nu"):
        assert all(math.isfinite(float(v)) for v in exps[key]), key
    assert all(0 <= float(v) <= 1 for v in exps["inside_3sigma"])
    # replicates: each trained with its own seed into its own folder, the mean of the two in the
    # table with the t interval of their spread; the single VAE keeps the run's own nu interval
    reps = records.read_tsv(wf / out / "replicates.tsv")
    assert list(reps["replicate"]) == RUNS and list(reps["train_seed"][:2]) == [1, 2]
    loss = [float(v) for v in reps["reconstruction_loss"][:2]]
    assert loss[0] != loss[1] and float(exps["reconstruction_loss"][0]) == pytest.approx(
        np.mean(loss)
    )
    assert (
        float(exps["reconstruction_loss_lo"][0])
        < min(loss)
        <= max(loss)
        < float(exps["reconstruction_loss_hi"][0])
    )
    assert float(exps["nu_lo"][1]) == pytest.approx(float(reps["nu_lo"][2]))
    # the replicates share the real reference rows and differ in their samplers' draws
    rows = {r: np.load(wf / f"results/{r}/samples/reference/rows.npy") for r in RUNS}
    assert (rows["demo-s1"] == rows["demo-s2"]).all()
    draws = [np.load(wf / f"results/{r}/samples/mnd-k3/z.npy") for r in RUNS[:2]]
    assert not np.allclose(draws[0], draws[1])
    long = records.read_tsv(wf / out / "samplers.tsv")
    per = {
        e: [s for x, s in zip(long["experiment"], long["sampler"]) if x == e] for e in TWO["run"]
    }
    summaries = {e: records.read_tsv(wf / f"results/{e}/stats/summary.tsv") for e in RUNS}
    for e, r in (("demo", "demo-s1"), ("demo_vae", "demo_vae")):  # a row per sampler and reference
        assert len(per[e]) == len(summaries[r]["sampler"]) == len(set(per[e])), per[e]
    assert "prior" in per["demo_vae"] and "prior" not in per["demo"]
    assert {"plane_path a0", "plane_path a45", "mnd k3"} <= set(per["demo"]) & set(per["demo_vae"])
    assert set(SAMPLER_METRICS) <= set(long)
    assert all(0 <= float(v) <= 1 for v in long["face_rate"])
    for metric in ("face_rate", "fd_pixels", "kid_pixels"):
        assert all(
            float(lo) <= float(v) <= float(hi)
            for v, lo, hi in zip(long[metric], long[f"{metric}_lo"], long[f"{metric}_hi"])
        ), metric
    diffs = records.read_tsv(wf / out / "differences.tsv")
    assert set(diffs["baseline"]) == {"demo"} and set(diffs["experiment"]) == {"demo_vae"}
    assert set(diffs["supported"]) == {"-"}  # one VAE replicate: no difference is judged
    for name in ("sampler_heatmaps.png", "tradeoff.png", "experiments.png"):
        assert (wf / out / name).stat().st_size > 10_000, name
    for page in ("samplers", "replicates", "differences"):
        assert (wf / out / "tables" / f"{page}.html").exists()
    # the VAE's codes sit nearer N(0, I): the centre of its cloud is nearer the origin
    norms = {
        e: float(np.linalg.norm(zarr.open_group(wf / f"results/{e}/latents.zarr")["z"][:].mean(0)))
        for e in ("demo-s1", "demo_vae")
    }
    assert norms["demo_vae"] < norms["demo-s1"], norms


def test_plane_paths_are_named_by_angle_across_experiments_unless_that_collides():
    from caelatent.comparison.tables import sampler_labels

    got = sampler_labels(["mnd", "plane_path", "plane_path"], ["k3", "z28-z51-a0", "z28-z51-a45"])
    assert got == ["mnd k3", "plane_path a0", "plane_path a45"]
    two_planes = sampler_labels(["plane_path", "plane_path"], ["z1-z2-a0", "z3-z4-a0"])
    assert two_planes == ["plane_path z1-z2-a0", "plane_path z3-z4-a0"]


def test_the_trade_off_takes_each_experiments_best_cloud_sampler():
    from caelatent.comparison.tables import best_cloud_sampler

    labels = ["holdout_real", "uniform_box b1.5", "mnd k3", "gmm n10", "prior"]
    nan = float("nan")
    grids = {
        "fd_pixels": [[10, 700, 57, 54, nan], [10, 280, 81, 79, 255], [10, 5, nan, nan, nan]],
        "face_rate": [
            [0.99, 0.01, 0.955, 0.95, nan],
            [0.99, 0.4, 0.96, (1.0, 0.98, 1.0), 0.35],
            [1, 1, nan, nan, nan],
        ],
    }
    best = best_cloud_sampler(grids, ["seed", "vae", "none"], labels)
    # references and uniform boxes never count; an experiment without cloud samplers is left out;
    # a cell's interval comes along with its value
    assert best == {
        "fd_pixels": {"seed": (54,) * 3, "vae": (79,) * 3},
        "face_rate": {"seed": (0.955,) * 3, "vae": (1.0, 0.98, 1.0)},
    }
