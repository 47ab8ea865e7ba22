"""The workflow as a user runs it: config validation, dry runs, the demo DAG."""

from __future__ import annotations

import copy
import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
import yaml
import zarr

from caelatent.columns import WITH_INTERVALS
from snakemake.exceptions import WorkflowError
from snakemake.utils import validate

from conftest import ROOT, snakemake, workflow_copy

SCHEMA = str(ROOT / "config" / "schema.yaml")


def load(name: str) -> dict:
    return yaml.safe_load((ROOT / "config" / name).read_text())


def test_schema_fills_defaults():
    cfg = {"data": {"source": "synthetic"}}
    validate(cfg, SCHEMA)
    assert cfg["seed"] == 42 and cfg["threads"]["prepare"] == 8
    assert cfg["experiments"] == {"default": {}} and cfg["run"] == ["default"]
    assert cfg["data"]["size"] == 96 and cfg["data"]["chunk_size"] == 256
    assert cfg["data"]["crop_box"] == [0, 20, 178, 198]
    assert (
        cfg["data"]["celeba"]["download"]["enabled"] is True
        and cfg["data"]["split"]["train_size"] == 0.9
    )


@pytest.mark.parametrize(
    "patch, named",
    [
        ({"data": {"sizee": 64}}, "'sizee' was unexpected"),
        ({"data": {"celeba": {"download": {"mirror": []}}}}, "'mirror' was unexpected"),
        ({"trheads": {}}, "'trheads' was unexpected"),
        ({"data": {"size": 100}}, "100 is not one of [64, 96, 128]"),
        ({"data": {"max_images": "all"}}, "'all' is not of type 'integer', 'null'"),
        ({"data": {"split": {"train_size": -1}}}, "-1 is less than or equal to the minimum of 0"),
        (
            {"train": {"precision": "float16"}},
            "'float16' is not one of ['float32', 'mixed_bfloat16', 'mixed_float16']",
        ),
        ({"train": {"jit_compile": "yes"}}, "'yes' is not one of [True, False, 'auto']"),
        (
            {"train": {"backend": "theano"}},
            "'theano' is not one of ['auto', 'tensorflow', 'jax', 'torch']",
        ),
        ({"train": {"gpu_memory_fraction": 2}}, "2 is greater than the maximum of 1"),
        ({"train": {"steps_per_execution": 0}}, "0 is less than the minimum of 1"),
    ],
)
def test_schema_rejects_unknown_or_mistyped_keys(patch, named):
    cfg = copy.deepcopy(load("config.yaml"))

    def merge(a, b):
        for k, v in b.items():
            a[k] = merge(a.get(k, {}), v) if isinstance(v, dict) and v else v
        return a

    merge(cfg, patch)
    with pytest.raises(WorkflowError) as err:
        validate(cfg, SCHEMA)
    assert named in str(err.value)


def test_both_configs_validate():
    for name in ("config.yaml", "demo.yaml"):
        validate(load(name), SCHEMA)


@pytest.fixture(scope="module")
def wf(tmp_path_factory):
    return workflow_copy(tmp_path_factory.mktemp("wf"))


def readme_commands() -> list[str]:
    """Every command of README's bash blocks (a line of `a && b` gives two; comments dropped)."""
    readme = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```(?:bash|sh)\n(.*?)```", readme, re.S)
    lines = [line.split(" #")[0].strip() for block in blocks for line in block.splitlines()]
    return [c.strip() for line in lines if line for c in line.split("&&")]


def test_every_readme_command_is_run_or_dry_run(wf):
    """Each command in README is checked: Snakemake commands by a dry run here (the seed config
    plans its download, the demo none), `--report` by test_report_renders_every_figure_in_chromium, pip's
    extras against pyproject.toml, the venv and the tests by CI itself."""
    import shlex
    import tomllib

    extras = set(
        tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    )
    (wf / "my_photos").mkdir(exist_ok=True)  # the folder README's own-images command names
    planned = {}
    for cmd in readme_commands():
        args = shlex.split(cmd)
        if args[0] == ".venv/bin/snakemake" and "--report" not in args:
            if "slurm" in args and shutil.which("sbatch") is None:
                continue  # the plugin runs sbatch's checks; tests/test_slurm.py covers it
            planned[cmd] = snakemake(wf, *args[1:], "-n").stdout
        elif args[0] == ".venv/bin/pip":
            asked = re.search(r"\.\[([\w,]+)\]", cmd)
            assert asked and set(asked.group(1).split(",")) <= extras, cmd
        else:
            assert (
                cmd
                in {
                    "python3 -m venv .venv",
                    ".venv/bin/python -m pytest",
                    "unzip report.zip",
                }
                or "--report" in args
            ), f"README command not checked by any test: {cmd}"
    seed = planned[".venv/bin/snakemake --cores all"]
    assert re.search(r"download_celeba\s+3", seed) and re.search(r"prepare\s+1", seed)
    assert (
        re.search(r"train\s+1", seed)
        and re.search(r"encode\s+1", seed)
        and "results/seed/latents.zarr" in seed
    )
    assert "results/data/celeba_96/images.zarr" in seed
    demo = planned[".venv/bin/snakemake --cores all --configfile config/demo.yaml"]
    assert "download_celeba" not in demo and "results/data/synthetic_64/images.zarr" in demo
    assert len(planned) >= 4, list(planned)


#: the rules that run a Keras model on the training backend (evaluate's TensorFlow detectors run on
#: TensorFlow's CPU build and ask for evaluate.gpus, 0 by default)
MODEL_RULES = {"train", "encode", "generate", "arithmetic", "innermost_maps"}


def test_every_rule_that_runs_a_model_asks_for_the_configured_gpus(wf):
    """`gpu` (what the SLURM executor maps to --gpus, and what --resources gpu=N queues locally)
    is train.gpus on train (which trains on all of them), one on every other rule that runs a
    Keras model (they use one device), evaluate.gpus on evaluate, and absent elsewhere."""
    (wf / "gpus.yaml").write_text("train:\n  gpus: 2\n  mem_mb: 9000\n  runtime_min: 77\n")
    out = snakemake(wf, "-n", "--configfile", "config/demo.yaml", "gpus.yaml").stdout
    jobs = dict(re.findall(r"^(?:local)?rule (\w+):\n(?:.*\n)*?\s+resources: (.*)$", out, re.M))
    assert MODEL_RULES <= set(jobs) and len(jobs) > len(MODEL_RULES) + 5, jobs
    for rule, res in jobs.items():
        assert ("gpu=2" in res) == (rule == "train"), (rule, res)
        assert ("gpu=1" in res) == (rule in MODEL_RULES - {"train"}), (rule, res)
    assert "gpu=0" in jobs["evaluate"], jobs["evaluate"]
    assert "mem_mb=9000" in jobs["train"] and "runtime=77" in jobs["train"], jobs["train"]
    (wf / "gpus.yaml").write_text("evaluate:\n  gpus: 1\n")
    out = snakemake(wf, "-n", "--configfile", "config/demo.yaml", "gpus.yaml").stdout
    jobs = dict(re.findall(r"^(?:local)?rule (\w+):\n(?:.*\n)*?\s+resources: (.*)$", out, re.M))
    assert "gpu=1" in jobs["evaluate"], jobs["evaluate"]


def dry_run_jobs(out: str) -> dict[str, dict]:
    """Each job of a dry run: its resources (numbers as ints), threads and group, by rule name."""
    jobs = {}
    blocks = re.split(r"^(?=\s*(?:local)?rule \w+:$|\S.*Group job \w+)", out, flags=re.M)
    group = None
    for block in blocks:
        head = re.match(r"\S.*Group job (\w+)", block)
        if head:
            group = head.group(1)
            continue
        rule = re.match(r"(\s*)(?:local)?rule (\w+):$", block, re.M)
        if rule is None:
            continue
        res = re.search(r"resources: (.*)$", block, re.M)
        pairs = (kv.split("=", 1) for kv in res.group(1).split(", ")) if res else ()
        threads = re.search(r"threads: (\d+)", block)
        jobs[rule.group(2)] = {
            "resources": {k: int(v) if v.isdigit() else v for k, v in pairs},
            "threads": int(threads.group(1)) if threads else 1,
            "group": group if rule.group(1) else None,
        }
    return jobs


@pytest.mark.parametrize("gpus", [2, 0])
def test_the_slurm_profile_asks_for_what_the_config_says(wf, gpus):
    """A dry run of the seed config under profiles/slurm: train's runtime, memory and GPUs are the
    config's; the executor's own partition choice (from profiles/slurm/partitions.yaml) sends every
    job with a GPU to the GPU partition and every other job, the model rules with train.gpus: 0
    included, to the CPU partition; the figure rules go as one group job. (Which rules stay on the
    submit host, a dry run does not say: tests/test_slurm.py checks that on a real cluster.)"""
    pytest.importorskip("snakemake_executor_plugin_slurm")
    from snakemake_executor_plugin_slurm.partitions import read_partition_file

    (wf / "long.yaml").write_text(f"train:\n  runtime_min: 600\n  gpus: {gpus}\n  mem_mb: 64000\n")
    args = ["-n", "--executor", "slurm", "--profile", "profiles/slurm"]
    out = snakemake(wf, *args, "--configfile", "config/config.yaml", "long.yaml").stdout
    jobs = dry_run_jobs(out)
    assert MODEL_RULES | {"prepare", "evaluate", "mnd_plots", "provenance"} <= set(jobs), out[
        -2000:
    ]
    train = jobs["train"]["resources"]
    assert train["runtime"] == 600 and train["mem_mb"] == 64000, train
    assert train.get("gpu", 0) == gpus and "slurm_partition" not in train, train
    partitions = read_partition_file(wf / "profiles/slurm/partitions.yaml")

    class Job:  # what the executor's partition scoring reads of a job
        def __init__(self, name, job):
            self.name, self.threads = name, job["threads"]
            self.resources = job["resources"]

    for rule, job in jobs.items():
        fits = {p.name: p.score_job_fit(Job(rule, job)) for p in partitions}
        best = max((score, name) for name, score in fits.items() if score is not None)[1]
        wants_gpu = job["resources"].get("gpu", 0) > 0
        assert wants_gpu == (gpus > 0 and rule in MODEL_RULES), (rule, job)
        assert best == ("gpu" if wants_gpu else "cpu"), (rule, job, fits)
        if not wants_gpu:
            assert fits["cpu"] is not None, (rule, fits)  # a CPU job fits the CPU partition
        else:
            assert fits["cpu"] is None, (rule, fits)  # and a GPU job cannot go there
        assert (job["group"] == "figures") == rule.endswith("_plots"), (rule, job)


def test_every_rule_declares_its_memory_and_the_profile_overrides_none(wf):
    """Every job asks for the mem_mb its rule declares (workflow/rules/common.smk, MEMORY_MB), the
    same locally and under profiles/slurm (one source); memory that grows with the latents grows
    with the images and the latent size; prepare and the figures declare their runtime too."""
    pytest.importorskip("snakemake_executor_plugin_slurm")
    args = ["-n", "--configfile", "config/config.yaml"]
    local = dry_run_jobs(snakemake(wf, "--cores", "2", *args).stdout)
    slurm = dry_run_jobs(
        snakemake(wf, "--executor", "slurm", "--profile", "profiles/slurm", *args).stdout
    )
    rules = set(local) - {"all"}
    assert MODEL_RULES | {"prepare", "moments", "mnd", "compare", "mnd_plots"} <= rules, rules
    for rule in rules:
        want = local[rule]["resources"].get("mem_mb")
        assert isinstance(want, int) and want >= 500, (rule, local[rule])
        assert slurm[rule]["resources"]["mem_mb"] == want, (rule, slurm[rule], want)
    for rule in ("prepare", "mnd_plots"):
        assert slurm[rule]["resources"]["runtime"] == local[rule]["resources"]["runtime"] < 600
    (wf / "small.yaml").write_text("data: {max_images: 20000}\nmodel: {z_dim: 512}\n")
    small = dry_run_jobs(snakemake(wf, "--cores", "2", *args, "small.yaml").stdout)
    seed = local["moments"]["resources"]["mem_mb"]
    assert small["moments"]["resources"]["mem_mb"] < seed  # a tenth of the images, twice the z
    assert small["evaluate"]["resources"]["mem_mb"] == local["evaluate"]["resources"]["mem_mb"]


def test_fid_weights_are_an_input_of_evaluate(wf):
    """Other weights rerun the evaluation: the weights file is an input, so a missing one is named
    before anything runs, and an existing one is listed among evaluate's inputs."""
    (wf / "fid.yaml").write_text("evaluate:\n  fid_inception_weights: weights/pt_inception.pth\n")
    args = ["-n", "--configfile", "config/demo.yaml", "fid.yaml"]
    proc = snakemake(wf, *args, check=False)
    said = proc.stdout + proc.stderr
    assert proc.returncode != 0 and "Missing input files" in said, said[-2000:]
    assert "weights/pt_inception.pth" in said
    (wf / "weights").mkdir()
    (wf / "weights/pt_inception.pth").write_bytes(b"stand-in")
    out = snakemake(wf, *args).stdout
    evaluate = re.search(r"^rule evaluate:\n\s+input: (.*)$", out, re.M).group(1)
    assert "weights/pt_inception.pth" in evaluate, evaluate


def test_experiments_share_prepared_data_by_dataset_and_size(wf):
    (wf / "exps.yaml").write_text("run: [seed, bn, z128, size128]\n")
    jobs = snakemake(wf, "-n", "--configfile", "exps.yaml").stdout
    counts = {m.group(1): int(m.group(2)) for m in re.finditer(r"^(\w+)\s+(\d+)\s*$", jobs, re.M)}
    assert (
        counts["prepare"] == 2
        and counts["train"] == 4
        and counts["encode"] == 4
        and counts["compare"] == 1
    )
    for exp in ("seed", "bn", "z128", "size128"):
        assert f"results/{exp}/latents.zarr" in jobs
    assert (
        "results/data/celeba_128/images.zarr" in jobs
        and "results/comparison/experiments.tsv" in jobs
    )


@pytest.mark.parametrize(
    "body, message",
    [
        ("experiments:\n  bad: {model: {zdim: 3}}\n", "experiments.bad.model.zdim: unknown key"),
        (
            "experiments:\n  bad: {data: {max_images: 10}}\n",
            "experiments.bad.data.max_images: an experiment may change",
        ),
        ("run: [nonesuch]\n", "run: experiment 'nonesuch' is not defined under experiments"),
        (
            "experiments:\n  bad: {model_env: model-gpu}\n",
            "experiments.bad.model_env: model_env applies to the whole run",
        ),
    ],
)
def test_bad_experiments_are_named(wf, body, message):
    (wf / "bad_exp.yaml").write_text(body)
    proc = snakemake(wf, "-n", "--configfile", "bad_exp.yaml", check=False)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0 and message in out
    if "zdim" in body:
        assert "'zdim' was unexpected" in out


def test_cli_error_names_the_bad_key(wf):
    (wf / "bad.yaml").write_text("data:\n  sorce: celeba\n")
    proc = snakemake(wf, "-n", "--configfile", "bad.yaml", check=False)
    assert proc.returncode != 0 and "'sorce' was unexpected" in proc.stdout + proc.stderr


def test_missing_local_celeba_without_download_is_a_clear_error(wf):
    (wf / "local.yaml").write_text(
        "data:\n  source: celeba\n  celeba:\n    images: /data/nowhere/img_align_celeba\n"
        "    download: {enabled: false}\n"
    )
    proc = snakemake(wf, "-n", "--configfile", "local.yaml", check=False)
    out = proc.stdout + proc.stderr
    assert (
        proc.returncode != 0
        and "data.celeba.images: /data/nowhere/img_align_celeba does not exist" in out
    )


# --- the demo DAG, run once per session (conftest.demo); one test per stage -----------------------


def demo_config() -> dict:
    return load("demo.yaml")


@pytest.mark.slow
def test_demo_prepare(demo):
    wf, demo = demo, demo_config()
    d = wf / "results/data/synthetic_64"
    m = json.loads((d / "manifest.json").read_text())
    n = demo["data"]["synthetic"]["n_images"]
    assert m["counts"]["written"] == n and m["split"]["seed"] == demo["seed"]
    assert m["split"]["train"] == round(demo["data"]["split"]["train_size"] * n)
    g = zarr.open_group(d / "images.zarr", mode="r")
    assert g["images"].shape == (n, 64, 64, 3)
    assert (wf / "logs/prepare/synthetic_64.log").read_text().count("rendered") == 1


@pytest.mark.slow
def test_demo_train_and_encode(demo):
    wf, demo = demo, demo_config()
    n = demo["data"]["synthetic"]["n_images"]
    g = zarr.open_group(wf / "results/data/synthetic_64/images.zarr", mode="r")
    exp = wf / "results" / demo["run"][0]
    lat = zarr.open_group(exp / "latents.zarr", mode="r")
    assert lat["z"].shape == (n, demo["model"]["z_dim"]) and (lat["ids"][:] == g["ids"][:]).all()
    for fig in ("train_loss_curve.png", "holdout_reconstructions.png"):
        assert (exp / "figures" / fig).stat().st_size > 10_000
    history = (exp / "model/history.tsv").read_text().splitlines()
    assert len(history) == demo["train"]["epochs"] + 1
    # reconstructions resemble their inputs: far closer than the mean training image is
    from caelatent import backend

    backend.use("tensorflow")
    from caelatent.encode import load_model

    hold = np.flatnonzero(g["split"][:] == 1)[:200]
    x = (
        g["images"]
        .get_orthogonal_selection((hold, slice(None), slice(None), slice(None)))
        .astype("float32")
        / 255
    )
    rec = load_model(exp / "model/decoder.keras").predict(
        load_model(exp / "model/encoder.keras").predict(x, verbose=0), verbose=0
    )
    mean_face = g["images"][:1000].astype("float32").mean(axis=0) / 255
    assert ((rec - x) ** 2).mean() < 0.5 * ((mean_face - x) ** 2).mean()


@pytest.mark.slow
def test_demo_stats(demo):
    wf, demo = demo, demo_config()
    exp = wf / "results" / demo["run"][0]
    for name in (
        "components.tsv",
        "dominant_components.tsv",
        "radius.json",
        "correlated_pairs.tsv",
        "pca.json",
        "mnd_fit.json",
        "mnd_normality_tests.tsv",
        "origin.json",
    ):
        assert (exp / "stats" / name).stat().st_size > 0, name
    # every table rule's plot rule drew its figures
    for fig in (
        "radius_distributions.png",
        "origin_mahalanobis_position.png",
        "mnd_contours_vs_ellipses.png",
        "mnd_mahalanobis_qq_chi2.png",
        "pca_planes.png",
        "components_histograms_grid.png",
    ):
        assert (exp / "figures" / fig).read_bytes()[:4] == b"\x89PNG", fig


@pytest.mark.slow
def test_demo_generate_and_evaluate(demo):
    wf, demo = demo, demo_config()
    exp = wf / "results" / demo["run"][0]
    # a grid per sampler and setting, and the summary with a row for each
    index = json.loads((exp / "samples/index.json").read_text())
    rows = [line.split("\t") for line in (exp / "stats/summary.tsv").read_text().splitlines()]
    header, rows = rows[0], [dict(zip(rows[0], r)) for r in rows[1:]]
    assert header[:4] == ["sampler", "setting", "n", "face_rate"] and len(rows) == 2 + len(
        index["samplers"]
    )
    assert [r["sampler"] for r in rows[:2]] == ["holdout_real", "holdout_reconstruction"]
    assert {r["sampler"] for r in rows} >= {
        "uniform_box",
        "intervals",
        "origin_to_centre",
        "plane_path",
        "mnd",
        "independent",
        "pca_ellipsoid",
        "gmm",
    }
    for r in rows:
        assert 0 <= float(r["face_rate"]) <= 1 and 0 <= float(r["inside_3sigma"]) <= 1
        assert int(r["n"]) == demo["generate"]["n_samples"]
    for sid in index["references"] + index["samplers"]:
        assert (exp / "figures/samples" / f"samples_{sid}.png").stat().st_size > 5000
    assert (exp / "figures/sampler_summary.png").exists()
    details = json.loads((exp / "stats/summary.json").read_text())
    assert details["fid"] == "skipped: evaluate.fid_inception_weights is not set"
    # FID is optional: skipped, and said so; its column and its interval's are empty
    assert all(r[c] == "nan" for r in rows for c in ("fid", "fid_lo", "fid_hi"))
    # realism and diversity against real holdout images that are not the holdout_real row's
    gen = demo_or_default(demo, "generate")
    n_ref = gen["n_reference"] or gen["n_samples"]  # null: as many as n_samples
    assert {int(r["n_reference"]) for r in rows} == {n_ref}
    assert details["realism"]["reference_images"] == n_ref
    # the pixel PCA is fitted on training images, none of them compared
    fit_rows, ref_rows = (
        np.load(exp / "samples" / d / "rows.npy") for d in ("pca_fit", "reference")
    )
    split = zarr.open_group(wf / "results/data/synthetic_64/images.zarr")["split"][:]
    assert len(fit_rows) == n_ref and (split[fit_rows] == 0).all() and (split[ref_rows] == 1).all()
    by = {
        (r["sampler"], r["setting"]): {
            k: float(v)
            for k, v in r.items()
            if k not in ("sampler", "setting", "gmm_components", "gmm_converged")
        }
        for r in rows
    }
    real, noise = by[("holdout_real", "-")], by[("uniform_box", "b4")]
    for space in ("onet", "pixels"):
        assert (
            real[f"fd_{space}"] < noise[f"fd_{space}"]
            and real[f"recall_{space}"] > noise[f"recall_{space}"]
        )
    assert 0.8 < real["diversity"] < 1.2
    # every score carries its interval, around the score
    for r in by.values():
        for key in WITH_INTERVALS:
            if not np.isnan(r[key]):
                assert r[f"{key}_lo"] <= r[key] <= r[f"{key}_hi"], key
    # two real sets of one law: KID's interval holds 0; noise is farther than the reconstructions
    for space in ("onet", "pixels"):
        assert real[f"kid_{space}_lo"] <= 0 <= real[f"kid_{space}_hi"]
        assert noise[f"gap_fd_{space}_lo"] > 0
    assert set(details["ranking"]) >= {
        "face_rate",
        "fd_onet",
        "fd_pixels",
        "precision_onet",
        "recall_onet",
        "precision_pixels",
        "recall_pixels",
        "diversity",
    }
    assert all(
        v["sampler"] not in ("holdout_real", "holdout_reconstruction")
        for v in details["ranking"].values()
    )


@pytest.mark.slow
def test_demo_attributes(demo):
    wf, demo = demo, demo_config()
    exp = wf / "results" / demo["run"][0]
    n = demo["data"]["synthetic"]["n_images"]
    # every synthetic attribute analysed, none excluded; the CAE encodes hair colour linearly
    from caelatent.io import read_tsv

    att = read_tsv(exp / "stats/attributes.tsv")
    summary = json.loads((exp / "stats/attributes.json").read_text())
    assert summary["excluded_no_attribute_row"] == 0 and summary["with_attributes"] == n
    assert len(att["attribute"]) == summary["analysed"] == 14 - len(summary["skipped"])
    auc = dict(zip(att["attribute"], att["holdout_auc_fisher"]))
    assert auc["Black_Hair"] > 0.9 and auc["Blond_Hair"] > 0.9, auc
    arith = demo_or_default(demo, "attributes", "arithmetic")
    grids = sorted(p.stem for p in (exp / "figures/arithmetic").glob("*.png"))
    assert grids == sorted(arith["attributes"] + ["morph"])
    t = read_tsv(exp / "stats/arithmetic.tsv")
    assert (
        len(t["grid"])
        == len(arith["attributes"]) * arith["faces"] * arith["steps"]
        + arith["morph_pairs"] * arith["morph_steps"]
    )
    for fig in (
        "attributes_pc_projection.png",
        "attributes_mahalanobis.png",
        "attributes_pc_histograms.png",
        "innermost_maps.png",
        "innermost_maps_ascent.png",
    ):
        assert (exp / "figures" / fig).stat().st_size > 10_000, fig
    maps = read_tsv(exp / "stats/innermost_maps.tsv")
    assert len(maps["map"]) == demo["model"]["filters"][-1] and (maps["rise"] > 0).mean() > 0.9


@pytest.mark.slow
def test_demo_provenance(demo):
    wf, demo = demo, demo_config()
    prov = json.loads((wf / "results" / demo["run"][0] / "provenance.json").read_text())
    from caelatent import provenance

    assert prov["version"] and prov["config"]["model"]["z_dim"] == demo["model"]["z_dim"]
    assert prov["library_path"] == str(wf / "src" / "caelatent")
    assert prov["library_sha256_16"] == provenance.library_hash(wf / "src" / "caelatent")
    assert prov["git"]["commit"] is None  # the workflow copy is no git checkout
    assert "results/demo/latents.zarr" in prov["outputs"]
    assert prov["host"]["cpus"] == os.cpu_count() and prov["host"]["machine"]


@pytest.mark.slow
def test_demo_second_run_has_nothing_to_do(demo):
    assert (
        "Nothing to be done"
        in snakemake(demo, "--cores", "2", "--configfile", "config/demo.yaml").stderr
    )


def demo_or_default(demo: dict, *keys: str) -> dict:
    """A config block as the workflow sees it: the demo's keys over the schema's defaults."""
    cfg = copy.deepcopy(demo)
    validate(cfg, SCHEMA)
    for k in keys:
        cfg = cfg[k]
    return cfg


def test_snakefiles_are_formatted_and_lint_clean(wf):
    proc = subprocess.run(
        [sys.executable, "-m", "snakefmt", "--check", "Snakefile", "workflow/rules"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr
    lint = snakemake(wf, "--lint", "--configfile", "config/demo.yaml")
    assert "Congratulations, your workflow is in a good condition" in lint.stdout + lint.stderr


PYTHON_TREES = ["src", "tests", "workflow/scripts", "benchmarks", "docs"]


def test_python_is_black_formatted():
    """black (line length 100, pyproject.toml) next to snakefmt: ``black src tests workflow/scripts
    benchmarks docs`` fixes what this finds."""
    proc = subprocess.run(
        [sys.executable, "-m", "black", "--check", *PYTHON_TREES],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr


@pytest.mark.slow  # a Snakemake run for a picture's edge list
def test_readmes_rule_graph_is_current():
    """docs/rulegraph.png and its edge list are redrawn by docs/make_rulegraph.py; the list must
    match the workflow's rules."""
    proc = subprocess.run(
        [sys.executable, "docs/make_rulegraph.py", "--check"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr
    assert (ROOT / "docs" / "rulegraph.png").exists()
    assert "docs/rulegraph.png" in (ROOT / "README.md").read_text()
    # plot rules only draw: none reads the latents (encode) or the images (prepare)
    edges = [
        line.split(" -> ") for line in (ROOT / "docs" / "rulegraph.txt").read_text().splitlines()
    ]
    readers = {(a, b) for a, b in edges if b.endswith("_plots") and a in ("encode", "prepare")}
    assert not readers, readers
    assert {a for a, b in edges if b == "pca_plots"} == {"pca", "pca_planes"}


def test_ci_runs_exactly_readmes_test_command():
    readme = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```(?:bash|sh)\n(.*?)```", readme, re.S)
    test_cmd = blocks[0].strip().splitlines()[-1]
    assert "pytest" in test_cmd
    assert test_cmd in (ROOT / ".ci" / "run").read_text().splitlines()


@pytest.mark.slow
def test_the_demo_shows_the_contrast_between_samplers_and_arithmetic_that_works(demo):
    """What README says the demo shows. MTCNN finds faces in the real synthetic images but not in
    the demo CAE's blurred decodings, so the contrast is read in the pixel-PCA Fréchet distance:
    vectors from inside the cloud decode to images as close to the real ones as reconstructions
    are, uniform boxes to images several times farther. And adding an attribute direction changes
    the attribute, as a classifier of real images' pixels judges the decoded images."""
    rows = {
        (r["sampler"], r["setting"]): r
        for r in read_tsv_rows(demo / "results/demo/stats/summary.tsv")
    }
    fd = {k: float(r["fd_pixels"]) for k, r in rows.items()}
    rec = fd[("holdout_reconstruction", "-")]
    assert float(rows[("holdout_real", "-")]["face_rate"]) >= 0.5
    for inside in [k for k in fd if k[0] in ("mnd", "gmm")]:
        assert fd[inside] <= 1.5 * rec, (inside, fd[inside], rec)
    boxes = [k for k in fd if k[0] == "uniform_box"]
    assert boxes and all(fd[k] >= 3 * rec for k in boxes), {k: fd[k] for k in boxes}
    grids = json.loads((demo / "results/demo/stats/arithmetic.json").read_text())["grids"]
    rise = {
        name: g["attribute_probability"][-1] - g["attribute_probability"][0]
        for name, g in grids.items()
        if name != "morph"
    }
    assert rise["Blond_Hair"] >= 0.6 and sum(r >= 0.3 for r in rise.values()) >= 4, rise


def read_tsv_rows(path):
    lines = path.read_text().splitlines()
    header = lines[0].split("\t")
    return [dict(zip(header, line.split("\t"))) for line in lines[1:]]


@pytest.mark.slow
def test_no_demo_figure_has_a_title_or_colour_bar_over_its_axes(demo):
    """plots.save_figure logs every overlap it finds in a figure (tests/test_io.py shows it finds them);
    the demo's plot rules logged none."""
    logs = sorted((demo / "logs").rglob("*plots.log")) + [demo / "logs/comparison_plots.log"]
    assert len(logs) >= 12
    found = [line for f in logs for line in f.read_text().splitlines() if " overlaps " in line]
    assert not found, found


UPSTREAM = {"prepare", "train", "encode", "moments", "components"}


@pytest.mark.parametrize(
    "target, rules",
    [
        (
            "stats",
            UPSTREAM
            | {"radius", "correlations", "pca", "mnd_core", "normality_null", "mnd", "origin"},
        ),
        ("samples", UPSTREAM | {"generate", "evaluate"}),
    ],
)
def test_named_targets_schedule_their_stage_only(tmp_path, target, rules):
    wf = workflow_copy(tmp_path)
    out = snakemake(wf, "-n", target, "--configfile", "config/demo.yaml").stdout
    table = out.split("Job stats:")[1].split("total")[0]
    jobs = set(re.findall(r"^(\w+)\s+\d+\s*$", table, re.M))
    assert jobs - {target} == rules, jobs


def test_the_figures_target_draws_every_figure_and_only_what_they_need(tmp_path):
    wf = workflow_copy(tmp_path)
    out = snakemake(wf, "-n", "figures", "--configfile", "config/demo.yaml").stdout
    everything = snakemake(wf, "-n", "--configfile", "config/demo.yaml").stdout
    plots = set(re.findall(r"^rule (\w+_plots):", everything, re.M))
    jobs = set(re.findall(r"^rule (\w+):", out, re.M))
    assert len(plots) >= 12 and plots <= jobs, plots - jobs
    # tables only the report needs, and provenance, are not figures
    assert not jobs & {"experiment_tables", "comparison_tables", "provenance"}, jobs


# --- only stale stages rerun (dry runs in the demo's workflow copy) -------------------------------


def scheduled(wf: Path, extra: dict | None = None) -> dict[str, int]:
    """Jobs a dry run schedules after the demo run, with ``extra`` layered over the demo config."""
    args = ["-n", "--configfile", "config/demo.yaml"]
    if extra:
        (wf / "edit.yaml").write_text(yaml.safe_dump(extra))
        args.append("edit.yaml")
    out = snakemake(wf, *args).stdout
    if "Nothing to be done" in out:
        return {}
    table = out.split("Job stats:")[1].split("total")[0]
    return {m.group(1): int(m.group(2)) for m in re.finditer(r"^(\w+)\s+(\d+)\s*$", table, re.M)}


TABLES = {"experiment_tables", "comparison_tables"}  # report pages of the summary tables
STATS_AND_LATER = {
    "moments",
    "components",
    "radius",
    "correlations",
    "pca",
    "mnd",
    "origin",
    "generate",
    "evaluate",
    "attributes",
    "attribute_plots",
    "arithmetic",
    "innermost_maps",
}


@pytest.mark.slow
def test_noop_run_schedules_nothing(demo):
    assert scheduled(demo) == {}


@pytest.mark.slow
@pytest.mark.parametrize(
    "edit, rules",
    [
        # what a figure shows is computed by a table rule of its own, which the analysis and the
        # comparison do not read
        ({"stats": {"pca_planes": {"planes": [[0, 2]]}}}, {"pca_planes", "pca_plots"}),
        (
            {"stats": {"correlation_scatter": {"top_pairs": 4}}},
            {"correlation_scatter", "correlation_plots"},
        ),
        ({"stats": {"component_plots": {"grid": [0, 1, 2]}}}, {"component_plots"}),
        ({"stats": {"radius": {"uniform_b": [1.0, 2.0]}}}, {"radius", "radius_plots"}),
        # the planes drawn rerun neither the normality tests nor the arithmetic
        ({"stats": {"mnd_planes": {"n_planes": 2}}}, {"mnd_planes", "mnd_plots"}),
        (
            {"attributes": {"projections": {"pcs": 10}}},
            {"attribute_projections", "attribute_plots"},
        ),
        ({"attributes": {"arithmetic": {"max_scale": 2.0}}}, {"arithmetic", "arithmetic_plots"}),
        ({"innermost_maps": {"steps": 20}}, {"innermost_maps", "innermost_maps_plots"}),
        # attribute directions feed the plots and the arithmetic grids
        (
            {"attributes": {"stats": {"min_count": 30}}},
            {
                "attributes",
                "attribute_projections",
                "attribute_plots",
                "arithmetic",
                "arithmetic_plots",
                "experiment_tables",
            },
        ),
        # not plot-only: the face threshold changes the summary, which the comparison reads, and
        # the face checks of the arithmetic grids
        (
            {"evaluate": {"min_confidence": 0.8}},
            {
                "evaluate",
                "evaluate_plots",
                "compare",
                "compare_plots",
                "arithmetic",
                "arithmetic_plots",
            }
            | TABLES,
        ),
        # the grid layout only redraws the grids
        ({"generate": {"grid": [2, 5]}}, {"generate_plots"}),
    ],
)
def test_a_parameter_reruns_only_its_rule_and_what_reads_its_output(demo, edit, rules):
    assert set(scheduled(demo, edit)) - {"all", "provenance"} == rules


PLOT_RULES = {
    "component_plots",
    "radius_plots",
    "correlation_plots",
    "pca_plots",
    "mnd_plots",
    "origin_plots",
}


@pytest.mark.slow
@pytest.mark.parametrize(
    "module, rules",
    [
        # a figure edit reruns the plot rules that draw with it, and no table rule
        ("plots/stats.py", PLOT_RULES),
        ("plots/compare.py", {"compare_plots"}),
        ("plots/train.py", {"train_plots"}),
        ("plots/generate.py", {"generate_plots", "evaluate_plots"}),
        ("plots/attributes.py", {"attribute_plots", "arithmetic_plots", "innermost_maps_plots"}),
        # a computation edit reruns the table rule that uses it, and what reads its tables
        ("normality.py", {"mnd", "mnd_plots", "compare", "compare_plots"} | TABLES),
    ],
)
def test_a_library_edit_reruns_only_the_rules_whose_code_changed(demo, module, rules):
    """demo.yaml sets library_rerun: true; the demo's workflow copy runs its own library copy."""
    path = demo / "src" / "caelatent" / module
    original = path.read_text()
    try:
        path.write_text(original + "\n# an edit\n")
        assert set(scheduled(demo)) - {"all", "provenance"} == rules
    finally:
        path.write_text(original)
    assert scheduled(demo) == {}


@pytest.mark.slow
def test_z_dim_reruns_training_and_everything_after_but_not_prepare(demo):
    jobs = scheduled(demo, {"model": {"z_dim": 32}})
    assert "prepare" not in jobs
    assert {"train", "encode"} | STATS_AND_LATER <= set(jobs)


@pytest.mark.slow
def test_a_training_setting_reruns_training_but_not_prepare(demo):
    jobs = scheduled(demo, {"train": {"shuffle_window": 1024, "precision": "mixed_bfloat16"}})
    assert "prepare" not in jobs and {"train", "encode"} | STATS_AND_LATER <= set(jobs)


@pytest.mark.slow
def test_split_reruns_prepare_and_everything_after(demo):
    jobs = scheduled(demo, {"data": {"split": {"train_size": 0.8}}})
    assert {"prepare", "train", "encode"} | STATS_AND_LATER <= set(jobs)


@pytest.mark.slow
def test_image_size_reruns_prepare_too(demo):
    jobs = scheduled(demo, {"data": {"size": 96}})
    assert {"prepare", "train", "encode"} | STATS_AND_LATER <= set(jobs)


# --- the HTML report ---------------------------------------------------------------------------------

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium_dom(url: str, profile: Path) -> str:
    proc = subprocess.run(
        [
            CHROMIUM,
            *CHROMIUM_FLAGS,
            f"--user-data-dir={profile}",
            "--virtual-time-budget=20000",
            "--dump-dom",
            url,
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout


@pytest.mark.skipif(
    CHROMIUM is None, reason="Debian's chromium is not installed (apt-get install chromium)"
)
@pytest.mark.slow
def test_report_renders_every_figure_in_chromium(demo, tmp_path):
    wf = demo
    snakemake(wf, "--configfile", "config/demo.yaml", "--report", "report.zip")
    with zipfile.ZipFile(wf / "report.zip") as z:
        z.extractall(tmp_path)
    html = next(tmp_path.rglob("report.html"))
    pngs = sorted(p for p in html.parent.rglob("*.png"))
    figures = list((wf / "results/demo/figures").rglob("*.png")) + list(
        (wf / "results/comparison").glob("*.png")
    )
    assert len(pngs) == len(figures) > 25
    # the report application itself loads: its menu lists every stage, the front page has our text
    dom = chromium_dom(html.as_uri(), tmp_path / "profile1")
    for category in (
        "Tables",
        "Training",
        "Latent statistics",
        "Normality",
        "Generation",
        "Attributes",
        "Comparison",
    ):
        assert category in dom
    assert "What a plain convolutional autoencoder does with its latent space" in dom
    assert "System Message" not in dom  # no broken reStructuredText
    assert (
        "Holdout images (never trained on) above their reconstructions" in html.read_text()
    )  # a caption
    # captions show the configured values (Jinja over the rule's params and wildcards)
    top = demo_or_default(load("demo.yaml"), "stats", "correlation_scatter")["top_pairs"]
    assert f"The {top} most correlated component pairs of experiment demo" in html.read_text()
    assert "principal planes PC1-PC2, PC3-PC4, PC5-PC6" in html.read_text()
    # the summary tables are pages of the report, the sampler summary with a row per set
    pages = {p.name for p in html.parent.rglob("*.html")}
    assert {"samplers.html", "normality_tests.html", "experiments.html"} <= pages, pages
    by_title = {
        re.search(r"<title>(.*?)</title>", t).group(1): t
        for t in (p.read_text() for p in html.parent.rglob("samplers.html"))
    }
    samplers = by_title["experiment demo: samplers"]
    n_sets = len((wf / "results/demo/stats/summary.tsv").read_text().splitlines()) - 1
    assert samplers.count("<tr>") == n_sets + 1 and "<td>mnd</td>" in samplers
    # and the comparison's sampler table, one row per experiment (one here) and sampler
    compared = by_title["comparison of experiments: samplers"]
    assert compared.count("<tr>") == n_sets + 1 and "<td>mnd k3</td>" in compared
    # every figure in the report decodes and renders in the browser
    page = html.parent / "check_figures.html"
    imgs = "".join(f'<img src="{p.relative_to(html.parent).as_posix()}">' for p in pngs)
    page.write_text(f"""<html><body>{imgs}<div id="result">pending</div><script>
        window.onload = () => {{
            const all = [...document.images];
            const ok = all.filter(i => i.complete && i.naturalWidth > 100 && i.naturalHeight > 100);
            document.getElementById('result').textContent = 'rendered ' + ok.length + ' of ' + all.length;
        }};</script></body></html>""")
    dom = chromium_dom(page.as_uri(), tmp_path / "profile2")
    assert f"rendered {len(pngs)} of {len(pngs)}" in dom


def test_the_official_split_plans_the_partition_file_only_when_asked(wf):
    """data.split.by: partition: prepare reads data.celeba.partition, downloaded with CelebA's other
    files at its default path; without it the file is neither read nor fetched, and partitions
    without a file is an error naming both keys."""
    (wf / "official.yaml").write_text("data:\n  split:\n    by: partition\n")
    out = snakemake(wf, "-n", "--configfile", "config/config.yaml", "official.yaml").stdout
    assert "resources/celeba/list_eval_partition.txt" in out
    assert re.search(r"download_celeba\s+4", out), out[-2000:]
    plain = snakemake(wf, "-n").stdout
    assert "list_eval_partition" not in plain
    (wf / "nofile.yaml").write_text(
        "data:\n  split:\n    by: partition\n  celeba:\n    partition: null\n"
    )
    proc = snakemake(wf, "-n", "--configfile", "config/config.yaml", "nofile.yaml", check=False)
    assert proc.returncode != 0
    assert "data.celeba.partition must name" in proc.stdout + proc.stderr


def test_a_folder_source_prepares_and_runs_the_attribute_rules_only_with_attributes(wf, tmp_path):
    """data.source: folder through the workflow: prepare writes the folder's images with the
    manifest's id-to-path map; the attribute rules are planned with an attribute CSV and left out,
    saying so, without one."""
    from PIL import Image

    pics = tmp_path / "pics"
    (pics / "nested dir").mkdir(parents=True)
    rng = np.random.default_rng(0)
    for i in range(8):
        arr = (rng.random((70 + i, 90, 3)) * 255).astype(np.uint8)
        sub = "nested dir/" if i % 2 else ""
        Image.fromarray(arr).save(pics / f"{sub}photo {i}.{'png' if i % 3 else 'jpg'}")
    (tmp_path / "attrs.csv").write_text(
        "file,Smiling\n" + "".join(f"photo {i}.png,{i % 2}\n" for i in (2, 4))
    )
    cfg = {"data": {"source": "folder", "size": 64, "folder": {"images": str(pics)}}}
    (wf / "folder.yaml").write_text(yaml.safe_dump(cfg))
    args = ["--configfile", "config/demo.yaml", "folder.yaml"]
    plain = snakemake(wf, "-n", *args)
    assert not re.search(r"^arithmetic\s+1", plain.stdout, re.M)
    assert "no attributes" in plain.stdout + plain.stderr
    cfg["data"]["folder"]["attributes"] = str(tmp_path / "attrs.csv")
    (wf / "folder.yaml").write_text(yaml.safe_dump(cfg))
    assert re.search(r"^arithmetic\s+1", snakemake(wf, "-n", *args).stdout, re.M)
    snakemake(wf, "--cores", "2", "results/data/folder_64/manifest.json", *args)
    m = json.loads((wf / "results/data/folder_64/manifest.json").read_text())
    assert m["counts"]["written"] == 8 and m["source"]["kind"] == "folder"
    assert sorted(m["id_to_path"].values()) == sorted(
        str(p.relative_to(pics)) for p in pics.rglob("*.*")
    )
    assert zarr.open_group(wf / "results/data/folder_64/images.zarr")["images"].shape == (
        8,
        64,
        64,
        3,
    )
