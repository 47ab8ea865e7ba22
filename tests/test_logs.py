"""caelatent.logs: what every workflow script does first."""

import json
import os
import subprocess
import sys


def test_cap_threads_holds_blas_to_the_jobs_threads():
    """A job given one thread runs NumPy's and SciPy's BLAS on one thread, also for BLAS libraries
    loaded after the cap (through the environment variables they read)."""
    code = (
        "import json, numpy; from caelatent.logs import cap_threads; cap_threads(1);"
        "import scipy.linalg; from threadpoolctl import threadpool_info;"
        "print(json.dumps([i['num_threads'] for i in threadpool_info()]))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={"PATH": "/usr/bin:/bin", "OMP_NUM_THREADS": "8"},
    ).stdout
    counts = json.loads(out)
    assert counts and all(c == 1 for c in counts), counts
    free = subprocess.run(
        [sys.executable, "-c", code.replace("cap_threads(1)", "pass")],
        capture_output=True,
        text=True,
        check=True,
        env={"PATH": "/usr/bin:/bin"},
    ).stdout
    assert (
        max(json.loads(free)) > 1 or len(os.sched_getaffinity(0)) == 1
    )  # uncapped, BLAS takes every core


def test_eta_projects_the_rate_so_far_and_counts_work_done_before_as_done():
    from caelatent.logs import Eta, duration

    now = [100.0]
    eta = Eta(1000, clock=lambda: now[0])
    assert eta.left(0) is None and "ETA unknown" in eta.line(0)
    now[0] = 130.0  # 250 units in 30 s: 750 more take 90 s
    assert eta.left(250) == 90.0
    assert eta.line(250) == "25 % done, 30s elapsed, ETA 1m 30s"
    resumed = Eta(1000, done_before=600, clock=lambda: now[0])  # 600 done by an earlier run
    now[0] = 230.0  # 100 more in 100 s: 300 left take 300 s
    assert resumed.left(700) == 300.0 and resumed.line(700).startswith("70 % done, 1m 40s")
    assert [duration(s) for s in (42, 185, 3720)] == ["42s", "3m 05s", "1h 02m"]


def test_training_logs_an_eta_counting_the_resumed_epochs(caplog):
    """The train callback's lines carry the run's ETA: after epoch 3 of 4, resumed after epoch 2,
    one epoch took 10 s so one more is left."""
    import logging

    from caelatent.model.train import Progress

    now = [0.0]
    cb = Progress(every_s=1e9, first_epoch=2, clock=lambda: now[0])
    cb.set_params({"epochs": 4, "steps": 5})
    caplog.set_level(logging.INFO, logger="caelatent.model.train")
    cb.on_train_begin()
    cb.on_epoch_begin(2)
    now[0] = 10.0
    cb.on_epoch_end(2, {"loss": 0.5, "val_loss": 0.6})
    assert caplog.messages == [
        "epoch 3/4 done in 10.0 s: loss 0.50000, val_loss 0.60000; 75 % done, 10s elapsed, ETA 10s"
    ]
