"""Rules of ``workflow/rules/evaluate.smk`` that need no detector (``evaluate`` itself runs MTCNN:
:func:`caelatent.generate.run_evaluate`)."""

from __future__ import annotations

from .. import io
from ..generate import REFERENCES
from ..plots import generate as plots


def evaluate_plots(*, summary, chart) -> None:
    """The sampler summary: every metric of ``summary.tsv``, a bar per sampler and setting."""
    io.save_figure(plots.sampler_summary(io.read_tsv(summary), REFERENCES), chart, dpi=90)
