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
