"""Set-up shared by the workflow's scripts: logging, and native thread pools capped at the job's threads."""

from __future__ import annotations

import logging
import os
import sys


def log_to(path: str | None, level: int = logging.INFO) -> None:
    """Send logging and uncaught exceptions to ``path`` (Snakemake's ``log:``) and to stderr."""
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if path:
        handlers.append(logging.FileHandler(path, mode="w"))
    logging.basicConfig(
        level=level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        handlers=handlers,
        force=True,
    )
    logging.captureWarnings(True)

    def excepthook(etype, value, tb):
        logging.getLogger("caelatent").critical(
            "%s: %s", etype.__name__, value, exc_info=(etype, value, tb)
        )

    sys.excepthook = excepthook


# the variables BLAS and OpenMP read when they load
THREAD_VARIABLES = (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "BLIS_NUM_THREADS",
)
_limits = None


def cap_threads(threads: int) -> None:
    """Hold NumPy's and SciPy's BLAS and any OpenMP pool to ``threads`` (a job's share of the cores).

    Unset, every job's BLAS starts a thread per core: under ``snakemake --cores 2`` two analyses then
    run four spinning threads on two cores (measured: the statistics stage took 40 s instead of 23 s).
    Libraries loaded later read the environment variables; those already loaded are capped through
    threadpoolctl.
    """
    global _limits
    for var in THREAD_VARIABLES:
        os.environ[var] = str(threads)
    from threadpoolctl import threadpool_limits

    _limits = threadpool_limits(limits=threads)


def start_job(smk) -> None:
    """What every workflow script does first: log to the rule's log, cap threads at the rule's."""
    log_to(smk.log[0] if smk.log else None)
    cap_threads(smk.threads)


def rule_kwargs(smk) -> dict:
    """A rule's named inputs, outputs and params as keyword arguments of its stage runner.

    A param named ``settings`` (the rule's config block) is spread into its keys, so a runner's
    arguments carry the config's names; ``library`` (a code hash) is left out. A name used twice is
    an error that names it.
    """
    kwargs: dict = {}
    named = [*smk.input.items(), *smk.output.items()]
    for k, v in smk.params.items():
        if k not in ("library", "caption"):  # a code hash (library_rerun), a caption's settings
            named += list(v.items()) if k == "settings" else [(k, v)]
    for k, v in named:
        if k in kwargs:
            raise ValueError(
                f"rule {smk.rule}: {k!r} is both an input/output and a param or setting"
            )
        kwargs[k] = v
    return kwargs


def run_rule(smk, runner: str):
    """What a workflow script does: :func:`start_job`, then the stage runner ``"module.function"``
    of :mod:`caelatent.stages` with :func:`rule_kwargs` (imported after the thread cap is set), and
    the rule's ``threads`` where the runner takes them."""
    import importlib

    start_job(smk)
    import inspect

    module, function = runner.rsplit(".", 1)
    func = getattr(importlib.import_module(f"caelatent.stages.{module}"), function)
    kwargs = rule_kwargs(smk)
    if "threads" in inspect.signature(func).parameters:  # runners of Keras models
        kwargs["threads"] = smk.threads
    return func(**kwargs)


def duration(seconds: float) -> str:
    """``seconds`` as ``1h 02m``, ``3m 05s`` or ``42s``."""
    s = int(round(max(seconds, 0)))
    if s >= 3600:
        return f"{s // 3600}h {s % 3600 // 60:02d}m"
    if s >= 60:
        return f"{s // 60}m {s % 60:02d}s"
    return f"{s}s"


class Eta:
    """Progress of ``total`` units of work (images, batches, epochs) for the logs: what is done, the
    time elapsed and the time left at the mean rate so far. ``done_before`` units were done before
    this run started (a resumed training): they count as done but not towards the rate. ``clock``
    is for tests."""

    def __init__(self, total: float, done_before: float = 0, clock=None):
        import time

        self.total, self.before = float(total), float(done_before)
        self.clock = clock or time.perf_counter
        self.t0 = self.clock()

    def elapsed(self) -> float:
        return self.clock() - self.t0

    def left(self, done: float) -> float | None:
        """Seconds left at the rate so far; None before any work of this run is done."""
        ran = done - self.before
        if ran <= 0:
            return None
        return (self.total - done) * self.elapsed() / ran

    def line(self, done: float) -> str:
        """``37 % done, 1m 05s elapsed, ETA 1m 51s``."""
        left = self.left(done)
        share = 100 * done / self.total if self.total else 100.0
        eta = "ETA unknown" if left is None else f"ETA {duration(left)}"
        return f"{share:.0f} % done, {duration(self.elapsed())} elapsed, {eta}"
