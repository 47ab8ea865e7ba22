"""A running job killed (SIGTERM as a scheduler or `kill` sends, SIGKILL as the OOM killer does)
in train, encode and evaluate, on a copy of the demo: Snakemake fails the job and keeps none of its
outputs; the rerun completes, encode's and evaluate's outputs equal the uninterrupted demo's, and
train resumes from its checkpoint with the uninterrupted demo's history."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import zarr

from conftest import read_history
from conftest import snakemake

pytestmark = pytest.mark.slow

DEMO = ["--configfile", "config/demo.yaml"]


def demo_copy(demo: Path, dest: Path) -> Path:
    shutil.copytree(demo, dest, symlinks=True)
    return dest


def job_process(wf: Path, rule: str, deadline: float) -> int | None:
    """The pid of the Python process running ``rule``'s script in ``wf``."""
    while time.time() < deadline:
        for pid in filter(str.isdigit, os.listdir("/proc")):
            try:
                cmd = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
                cwd = os.readlink(f"/proc/{pid}/cwd")
            except OSError:
                continue
            if cwd == str(wf) and any(
                c.endswith(f".{rule}.py".encode()) and b".snakemake/scripts" in c for c in cmd
            ):
                return int(pid)
        time.sleep(0.05)
    return None


def run_and_kill(wf: Path, rule: str, target: str, sig: int, ready) -> subprocess.CompletedProcess:
    """Run Snakemake for ``target`` (forcing ``rule``), send ``sig`` to the rule's process once
    ``ready(wf)`` holds, and return the finished Snakemake run."""
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    env["PYTHONPATH"] = str(wf / "src")
    proc = subprocess.Popen(
        [sys.executable, "-m", "snakemake", "--cores", "2", target, "--forcerun", rule, *DEMO],
        cwd=wf,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    deadline = time.time() + 300
    pid = job_process(wf, rule, deadline)
    assert pid is not None, f"no {rule} job started"
    while time.time() < deadline and not ready(wf):
        time.sleep(0.05)
    os.kill(pid, sig)
    out, _ = proc.communicate(timeout=300)
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, "")


def killed_run(demo: Path, tmp_path: Path, rule: str, target: str, sig: int, ready) -> Path:
    """A copy of the demo in which a run forcing ``rule`` was killed: Snakemake failed."""
    wf = demo_copy(demo, tmp_path / "wf")
    killed = run_and_kill(wf, rule, target, sig, ready)
    assert killed.returncode != 0, killed.stdout[-3000:]
    return wf


SIGNALS = [pytest.param(signal.SIGTERM, id="SIGTERM"), pytest.param(signal.SIGKILL, id="SIGKILL")]


def checkpointed(wf: Path) -> bool:
    """Two epochs done and saved, and 1.5 s into the third: the kill lands mid-epoch."""
    state = wf / "results/demo/checkpoint/state.json"
    if not state.exists() or '"epoch": 2' not in state.read_text():
        return False
    time.sleep(1.5)
    return True


# train takes SIGKILL here; SIGTERM reaches it from SLURM at its time limit (tests/test_slurm.py,
# where the resubmitted job resumes from the checkpoint the same way)
@pytest.mark.parametrize("sig", SIGNALS[1:])
def test_train_killed_mid_epoch_resumes_with_the_uninterrupted_history(demo, tmp_path, sig):
    target = "results/demo/model/history.tsv"
    wf = killed_run(demo, tmp_path, "train", target, sig, checkpointed)
    assert not (wf / target).exists() and not (wf / "results/demo/model/encoder.keras").exists()
    assert (wf / "results/demo/checkpoint/state.json").exists()  # kept: not an output
    snakemake(wf, "--cores", "2", target, *DEMO)
    log = (wf / "logs/demo/train.log").read_text()
    assert "resuming from the checkpoint" in log and "after epoch 2" in log, log[-2000:]
    resumed, whole = (read_history(d / target) for d in (wf, demo))
    assert resumed["epoch"] == whole["epoch"]
    for key in ("loss", "val_loss"):
        np.testing.assert_allclose(resumed[key], whole[key], rtol=1e-5)
    assert not (wf / "results/demo/checkpoint").exists()


def partial_latents(wf: Path) -> bool:
    return (wf / "results/demo/latents.zarr.partial/z").exists()


# encode and evaluate take one signal each, as train does: Snakemake treats a job that died of
# either alike, and each run of these costs a minute or more of the suite
@pytest.mark.parametrize("sig", SIGNALS[:1])
def test_encode_killed_midway_reruns_to_the_uninterrupted_latents(demo, tmp_path, sig):
    target = "results/demo/latents.zarr"
    wf = killed_run(demo, tmp_path, "encode", target, sig, partial_latents)
    assert not (wf / target).exists()  # at most a .partial, which no rule reads
    snakemake(wf, "--cores", "2", target, *DEMO)
    assert not (wf / "results/demo/latents.zarr.partial").exists()
    got, want = (zarr.open_group(d / target, mode="r") for d in (wf, demo))
    np.testing.assert_allclose(got["z"][:], want["z"][:], rtol=1e-5, atol=1e-6)
    for name in ("ids", "split", "attributes"):
        assert (got[name][:] == want[name][:]).all(), name


def evaluating_for(seconds: float):
    start = []

    def ready(wf: Path) -> bool:
        start.append(time.time()) if not start else None
        return time.time() - start[0] > seconds

    return ready


@pytest.mark.parametrize("sig", SIGNALS[1:])
def test_evaluate_killed_midway_reruns_to_the_uninterrupted_summary(demo, tmp_path, sig):
    target = "results/demo/stats/summary.tsv"
    wf = killed_run(demo, tmp_path, "evaluate", target, sig, evaluating_for(8))
    assert not (wf / target).exists() and not (wf / "results/demo/stats/summary.json").exists()
    snakemake(wf, "--cores", "2", target, *DEMO)
    got, want = ((d / target).read_text().splitlines() for d in (wf, demo))
    assert [r.split("\t")[:3] for r in got] == [r.split("\t")[:3] for r in want]
    header = got[0].split("\t")
    text = {"gmm_components", "gmm_converged"}  # "-" outside the GMM's row
    numeric = [k for k, name in enumerate(header) if k >= 3 and name not in text]
    values = [
        [[float(r.split("\t")[k]) for k in numeric] for r in rows[1:]] for rows in (got, want)
    ]
    np.testing.assert_allclose(values[0], values[1], rtol=1e-4, equal_nan=True)
    labels = [
        [[r.split("\t")[header.index(n)] for n in sorted(text)] for r in rows[1:]]
        for rows in (got, want)
    ]
    assert labels[0] == labels[1]


# --- a full disk while encode and generate write, on the demo's own outputs ------------------


@pytest.mark.parametrize(
    "rule, output, log",
    [
        ("encode", "latents.zarr", "logs/demo/encode.log"),
        ("generate", "samples", "logs/demo/generate.log"),
    ],
)
def test_a_full_disk_while_writing_fails_the_rule_and_a_rerun_with_room_completes(
    demo, tmp_path, rule, output, log
):
    """results/demo on a small tmpfs that holds the demo's other outputs and 300 KB more: the rule
    fails, its log names the output, no output (and no .partial) is left, and with room the same
    command rebuilds it as the demo had it."""
    from test_faults import needs_mount, small_disk, used_kb

    if needs_mount.args[0]:
        pytest.skip(needs_mount.kwargs["reason"])
    wf = demo_copy(demo, tmp_path / "wf")
    saved = wf / "results" / "demo_saved"
    (wf / "results/demo").rename(saved)
    with small_disk(wf / "results/demo", 512 * 1024) as resize:
        shutil.copytree(saved, wf / "results/demo", dirs_exist_ok=True)
        shutil.rmtree(wf / "results/demo" / output)
        resize(used_kb(wf / "results/demo") + 300)
        target = f"results/demo/{output}"
        plan = snakemake(wf, "-n", target, *DEMO).stdout
        assert re.findall(r"^rule (\w+):", plan, re.M) == [rule], plan[-2000:]
        proc = snakemake(wf, "--cores", "2", target, *DEMO, check=False)
        said = (wf / log).read_text()
        assert proc.returncode != 0, proc.stdout[-2000:]
        assert f"results/demo/{output}: no space left on the device" in said, said[-3000:]
        assert not (wf / "results/demo" / output).exists()
        assert not (wf / "results/demo" / f"{output}.partial").exists()
        resize(512 * 1024)
        snakemake(wf, "--cores", "2", target, *DEMO)
        built, ran = wf / "results/demo" / output, saved / output
        assert sorted(p.name for p in built.rglob("*")) == sorted(p.name for p in ran.rglob("*"))
