"""Figures, drawn with matplotlib's object API: every function takes data and returns a
:class:`matplotlib.figure.Figure`; none reads or writes files, none touches pyplot or the backend.
Stage runners save the figures (:func:`caelatent.files.figures.save_figure`)."""

from __future__ import annotations

import logging
import math

import numpy as np
from matplotlib.figure import Figure

log = logging.getLogger(__name__)

#: every figure's layout engine: titles, colour bars and axes labels never overlap
LAYOUT = "constrained"


def figure(figsize=(6, 4.5)):
    """One figure with one axes."""
    fig = Figure(figsize=figsize, layout=LAYOUT)
    return fig, fig.add_subplot()


def subplots(nrows: int = 1, ncols: int = 1, figsize=(6, 4.5), **kwargs):
    """``pyplot.subplots`` without pyplot: a new figure and its axes."""
    fig = Figure(figsize=figsize, layout=LAYOUT)
    return fig, fig.subplots(nrows, ncols, **kwargs)


def grid(n: int, cols: int = 4, size=(3.2, 2.6)):
    """A figure of ``n`` axes in rows of ``cols``; unused cells are hidden."""
    rows = max(1, math.ceil(n / cols))
    fig = Figure(figsize=(size[0] * cols, size[1] * rows), layout=LAYOUT)
    axes = fig.subplots(rows, cols, squeeze=False)
    for ax in axes.flat[n:]:
        ax.axis("off")
    return fig, axes.flat


def error_bars(value, lo, hi) -> np.ndarray:
    """matplotlib's ``yerr``/``xerr`` [2, n] from values and their interval ends (0 where an end
    is missing)."""
    v, lo, hi = (np.asarray(a, float) for a in (value, lo, hi))
    return np.nan_to_num(np.clip([v - lo, hi - v], 0, None))
