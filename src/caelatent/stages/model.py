"""Rules of ``workflow/rules/model.smk`` that need no model (``train`` and ``encode`` run Keras:
:mod:`caelatent.train`)."""

from __future__ import annotations

from .. import io
from ..plots import train as plots


def train_plots(*, history, reconstructions, fig_loss_curve, fig_reconstructions, loss: str):
    """The loss curves of ``history.tsv``, and holdout images above their reconstructions."""
    io.save_figure(plots.loss_curve(io.read_tsv(history), loss), fig_loss_curve, dpi=110)
    r = io.read_npz(reconstructions)
    figure = plots.reconstruction_grid(r["originals"], r["reconstructions"], ids=r["ids"])
    io.save_figure(figure, fig_reconstructions)
