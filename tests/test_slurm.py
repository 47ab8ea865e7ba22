"""The demo DAG submitted to a real one-node SLURM cluster (tests/slurm/start_cluster.sh, as root).

Runs only where `sbatch` answers (CI starts the cluster first); it then checks that every job went
through sbatch (sacct lists them, completed) and that the outputs match a local run's.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
import yaml
import zarr

from conftest import snakemake, workflow_copy
from test_dryrun import dry_run_jobs

SMALL = {
    "data": {"synthetic": {"n_images": 600}},
    "train": {"epochs": 2, "gpus": 1},
    "generate": {
        "n_samples": 30,
        "samplers": {
            "uniform_box": {"b": [1.5]},
            "mnd": {"k": [3.0]},
            "gmm": {"components": [2], "max_fit": 500},
        },
    },
}


#: CPUs of the one-node test cluster (start_cluster.sh gives it the machine's; CI's has 2)
NODE_CPUS = 2


def fit_profile_to_node(wf: Path, cpus: int = NODE_CPUS, first_poll_s: int | None = 10) -> None:
    """The test node has 2 CPUs and one (pretend) GPU: scale the profile's cpu requests down to it,
    keeping everything else (partition choice, gpu requests, groups; the rules' own memory and
    runtimes) as the project ships it. Train gets the whole node, as in the local run it is
    compared with (TensorFlow's sums, and so the weights, depend on its thread count); every other
    job gets ``cpus``, so that with 1 two jobs share the node, and the figure group job runs as
    many figures at a time as the node has CPUs.

    On a one-node test cluster whose jobs take seconds, the executor first polls sacct
    ``first_poll_s`` after a submission or a finished job instead of 40 s (its default, right for a
    real cluster), each following wait 10 s longer: with 10, the many 8-s jobs are seen done at the
    first poll (with 5 they were seen at the second, 20 s after). ``None`` keeps the 40 s (the
    time-limit test, whose one job runs a minute and more).
    """
    path = wf / "profiles" / "slurm" / "config.yaml"
    prof = yaml.safe_load(path.read_text())
    for rule, res in prof["set-resources"].items():
        if "cpus_per_gpu" in res:
            res["cpus_per_gpu"] = min(res["cpus_per_gpu"], NODE_CPUS if rule == "train" else cpus)
    prof["set-threads"] = {
        rule: min(n, NODE_CPUS if rule == "train" else cpus)
        for rule, n in prof["set-threads"].items()
    }
    prof["resources"]["figure_jobs"] = min(prof["resources"]["figure_jobs"], NODE_CPUS)
    if first_poll_s is not None:
        prof["slurm-init-seconds-before-status-checks"] = first_poll_s
    path.write_text(yaml.safe_dump(prof))


def cluster_up() -> bool:
    if shutil.which("sbatch") is None or shutil.which("sacct") is None:
        return False
    return subprocess.run(["sinfo", "-h"], capture_output=True, timeout=20).returncode == 0


#: under CI (CI=true, where .ci/run starts the cluster) a cluster that does not answer fails the
#: run; elsewhere the cluster tests skip and say why
CI = os.environ.get("CI") == "true"
UP = cluster_up()
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not UP and not CI,
        reason="no SLURM cluster answers (run tests/slurm/start_cluster.sh as root)",
    ),
]


def test_the_cluster_answers():
    assert UP, "CI=true but no SLURM cluster answers: tests/slurm/start_cluster.sh did not start it"


#: the local run's outputs that the test compares with the cluster's
LOCAL_TARGETS = (
    "results/data/synthetic_64/images.zarr",
    "results/demo/latents.zarr",
    "results/demo/model/history.tsv",
    "results/demo/stats/pca.json",
)


def run_both(tmp_path: Path) -> tuple[Path, Path, subprocess.CompletedProcess]:
    """The small demo DAG through SLURM and, at the same time (the cluster's jobs spend much of
    their time queued or waiting for sacct), the part of it locally whose outputs are compared."""
    wfs = {kind: workflow_copy(tmp_path / kind) for kind in ("local", "slurm")}
    for wf in wfs.values():
        (wf / "small.yaml").write_text(yaml.safe_dump(SMALL))
    # one CPU a job, so that two jobs share the 2-CPU node: the DAG's independent branches run
    # side by side instead of queueing (the figure group job still asks for figure_jobs CPUs)
    fit_profile_to_node(wfs["slurm"], cpus=1)
    args = ["--configfile", "config/demo.yaml", "small.yaml"]
    with ThreadPoolExecutor(2) as pool:
        slurm = pool.submit(
            snakemake,
            wfs["slurm"],
            "--executor",
            "slurm",
            "--profile",
            "profiles/slurm",
            "--jobs",
            "2",
            *args,
        )
        local = pool.submit(snakemake, wfs["local"], "--cores", "2", *LOCAL_TARGETS, *args)
        local.result()
        return wfs["local"], wfs["slurm"], slurm.result()


def planned_outputs(dry_run: str) -> list[str]:
    """Every output path a dry run lists."""
    lines = re.findall(r"^\s*output: (.*)$", dry_run, re.M)
    return [p for line in lines for p in line.split(", ")]


def test_demo_dag_through_slurm_matches_a_local_run(tmp_path):
    local, slurm, proc = run_both(tmp_path)
    # every job went through sbatch: sacct lists them, all completed, train with its GPU
    rules = {
        "prepare",
        "train",
        "encode",
        "moments",
        "components",
        "radius",
        "correlations",
        "pca",
        "mnd",
        "origin",
        "generate",
        "evaluate",
        "compare",
    }
    plots = {
        "train_plots",
        "component_plots",
        "correlation_plots",
        "mnd_plots",
        "evaluate_plots",
        "compare_plots",
    }
    log = proc.stdout + proc.stderr
    job_ids = sorted(
        {int(x) for x in re.findall(r"has been submitted with SLURM jobid (\d+)", log)}
    )
    rows = sacct_rows(job_ids)
    acct = "\n".join("|".join(r) for r in rows)
    assert len(rows) == len(job_ids) and all(r[3] == "COMPLETED" for r in rows), acct
    by_rule = {r[1].split("_wildcards")[0].removeprefix("rule_"): r for r in rows}
    assert rules <= set(by_rule), acct
    # the figure rules went as group jobs ("rule_figures_<their rules>"), fewer submissions than
    # figure jobs, each asking for at most figure_jobs (here 2) CPUs at a time
    # (sacct cuts the comment short: that each figure was drawn is checked on the files below)
    groups = [r for r in rows if r[1].startswith("rule_figures_")]
    assert groups and not plots & set(by_rule), acct
    assert len(groups) < len(plots) and all(cpus(r[4]) <= NODE_CPUS for r in groups), acct
    # partitions as the executor chose them from profiles/slurm/partitions.yaml: every rule that
    # runs a model asks for a GPU (train for train.gpus, here 1) and goes to the GPU partition,
    # every other job to the CPU partition, which refuses GPU jobs (start_cluster.sh)
    # (evaluate's TensorFlow detectors run on the CPU build: it asks for evaluate.gpus, 0)
    for rule in ("train", "encode", "generate", "arithmetic", "innermost_maps"):
        assert by_rule[rule][2] == "gpu" and "gres/gpu=1" in by_rule[rule][4], by_rule[rule]
    for row in rows:
        if not row[1].startswith(("rule_train", "rule_encode", "rule_generate")):
            if not row[1].startswith(("rule_arithmetic_w", "rule_innermost_maps_w")):
                assert row[2] == "cpu" and "gres/gpu" not in row[4], row
    # each job asked SLURM for the memory its rule declares (the profile overrides none)
    args = ["--configfile", "config/demo.yaml", "small.yaml"]
    dry = snakemake(
        slurm, "-n", "--forceall", "--executor", "slurm", "--profile", "profiles/slurm", *args
    ).stdout
    planned = dry_run_jobs(dry)
    for rule, row in by_rule.items():
        if rule in planned and not rule.startswith("figures"):
            mem = re.search(r"mem=(\d+)M", row[4])
            assert mem and int(mem.group(1)) == planned[rule]["resources"]["mem_mb"], (rule, row)
    # the local rules ran on the submit host: no sbatch job, and their outputs are there
    assert not {"provenance", "experiment_tables", "comparison_tables", "all"} & set(by_rule)
    assert (slurm / "results/demo/provenance.json").exists()
    assert (slurm / "results/demo/tables/samplers.html").exists()
    # every figure the DAG plans was drawn (a figure folder holds at least one image)
    outputs = planned_outputs(dry)
    pngs = [f for f in outputs if f.endswith(".png")]
    folders = [f for f in outputs if "/figures/" in f and not Path(f).suffix]
    assert len(pngs) > 20 and folders, outputs
    assert [f for f in pngs if not (slurm / f).is_file()] == []
    assert [f for f in folders if not any((slurm / f).rglob("*.png"))] == []
    # the outputs match the local run
    d = "results/data/synthetic_64/images.zarr"
    assert (
        zarr.open_group(local / d)["images"][:] == zarr.open_group(slurm / d)["images"][:]
    ).all()
    za, zb = (zarr.open_group(p / "results/demo/latents.zarr")["z"][:] for p in (local, slurm))
    np.testing.assert_allclose(za, zb, rtol=1e-4, atol=1e-4)
    ha, hb = ((p / "results/demo/model/history.tsv").read_text() for p in (local, slurm))
    assert (
        ha.splitlines()[0] == hb.splitlines()[0]
        and len(ha.splitlines()) == len(hb.splitlines()) == 3
    )
    sa, sb = (json.loads((p / "results/demo/stats/pca.json").read_text()) for p in (local, slurm))
    assert sa["components_for"] == sb["components_for"]
    assert (slurm / "results/demo/stats/summary.tsv").exists()
    assert (slurm / "results/comparison/experiments.tsv").exists()


def cpus(alloc_tres: str) -> int:
    return int(re.search(r"\bcpu=(\d+)", alloc_tres).group(1))


def sacct_rows(job_ids) -> list[list[str]]:
    """sacct's JobID, Comment (Snakemake's rule and wildcards), Partition, State, AllocTRES."""
    out = subprocess.run(
        [
            "sacct",
            "-X",
            "--parsable2",
            "--noheader",
            "--format=JobID,Comment,Partition,State,AllocTRES",
            "-j",
            ",".join(map(str, job_ids)),
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return [line.split("|") for line in out.splitlines() if line]


#: the time-limit test's training: some 90 s on 2 idle cores, well above its 1-minute limit
EPOCHS = 50


def test_a_train_job_killed_at_its_time_limit_is_resubmitted_and_resumes(tmp_path):
    """train.runtime_min: 1 for a training of about 90 s (50 epochs of 1.8 s on 2 idle cores, after
    some 12 s of start-up): SLURM kills the job at its limit (state TIMEOUT; SLURM checks limits
    every 30 s, so between 60 and 90 s), Snakemake submits it again (the profile's `retries`), and
    the new job resumes from the checkpoint instead of starting over, until the training is done.
    The training is long enough that no first job can finish inside its limit. A job killed after
    its last epoch, while it writes its outputs, is rerun from the finished checkpoint (the train
    runner removes it last): before, such a job's rerun began again from scratch (with 28 epochs,
    six times in one CI run; with 50, once in the CI run of 6e795f4)."""
    prof = yaml.safe_load((Path(__file__).parents[1] / "profiles/slurm/config.yaml").read_text())
    assert prof["retries"] >= 1
    wf = workflow_copy(tmp_path / "wf")
    fit_profile_to_node(wf, first_poll_s=None)
    slow = {
        "data": {"synthetic": {"n_images": 1200}},
        "train": {"epochs": EPOCHS, "runtime_min": 1, "gpus": 0},
    }
    (wf / "slow.yaml").write_text(yaml.safe_dump(slow))
    proc = snakemake(
        wf,
        "--executor",
        "slurm",
        "--profile",
        "profiles/slurm",
        "--jobs",
        "1",
        "--retries",
        "6",  # however far each job gets before its limit, the training finishes
        "results/demo/model/encoder.keras",
        "--configfile",
        "config/demo.yaml",
        "slow.yaml",
    )
    log = proc.stdout + proc.stderr
    ids = sorted({int(x) for x in re.findall(r"has been submitted with SLURM jobid (\d+)", log)})
    train = [r for r in sacct_rows(ids) if r[1].startswith("rule_train")]
    # with train.gpus: 0, train asks for no GPU and goes to the CPU partition
    assert all(r[2] == "cpu" and "gres/gpu" not in r[4] for r in train), train
    states = [r[3] for r in train]
    assert len(train) >= 2 and "TIMEOUT" in states and states[-1] == "COMPLETED", (
        states,
        log[-3000:],
    )
    # the time limit the job ran under is the config's train.runtime_min
    limits = subprocess.run(
        ["sacct", "-X", "-n", "-P", "--format=Timelimit", "-j", train[0][0]],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert limits == ["00:01:00"], limits
    # every epoch ran once: the retries resumed, the history is one uninterrupted run's
    history = (wf / "results/demo/model/history.tsv").read_text().splitlines()
    assert [int(r.split("\t")[0]) for r in history[1:]] == list(range(EPOCHS))
    resumed = re.findall(
        r"resuming from the checkpoint in \S+ after epoch (\d+)",
        (wf / "logs/demo/train.log").read_text(),
    )
    assert resumed and all(int(e) > 0 for e in resumed), resumed
