"""Dry runs of the workflow: README's commands, the resources each rule asks for, shared data, named targets, the official split, a folder source."""

from __future__ import annotations

import json
import re
import shutil

import numpy as np
import pytest
import yaml
import zarr


from conftest import ROOT, snakemake, workflow_copy

#: each test starts Snakemake once or more (2-17 s each): CI runs them, the quick loop does not
pytestmark = pytest.mark.slow


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
