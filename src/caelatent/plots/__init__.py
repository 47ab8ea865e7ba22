"""Figures, drawn with matplotlib's object API: every function takes data and returns a
:class:`matplotlib.figure.Figure`; none reads or writes files, none touches pyplot or the backend.
Stage runners save the figures (:func:`save_figure`)."""

from __future__ import annotations

import logging
import math

import numpy as np
from matplotlib.figure import Figure

from ..files.store import atomic_path

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


def overlaps(fig: Figure) -> list[str]:
    """What overlaps in a drawn figure: the figure's title with an axes (its labels and title
    included), or two axes frames (a colour bar running into its image). Empty when nothing does."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    if not isinstance(fig.canvas, FigureCanvasAgg):
        FigureCanvasAgg(fig)
        fig.draw_without_rendering()  # lays the figure out
    renderer = fig.canvas.get_renderer()
    axes = [a for a in fig.axes if a.get_visible()]
    found = []
    title = fig._suptitle
    if title is not None and title.get_text():
        box = title.get_window_extent(renderer)
        for a in axes:
            if box.overlaps(a.get_tightbbox(renderer)):
                found.append(f"title {title.get_text()[:40]!r} overlaps axes {a.get_label() or a}")
    frames = [(a, a.get_window_extent(renderer)) for a in axes]
    for i, (a, box_a) in enumerate(frames):
        for b, box_b in frames[i + 1 :]:
            inter = box_a.intersection(box_a, box_b)
            if inter is not None and inter.width > 1 and inter.height > 1:
                found.append(f"axes {a.get_label() or a} overlaps axes {b.get_label() or b}")
    return found


def save_figure(fig, path, dpi: int = 100) -> None:
    """A :class:`matplotlib.figure.Figure` as PNG (no pyplot state is involved or left behind)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(fig)  # PNG; and the layout it computes stays for the overlap check
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=dpi)
    for what in overlaps(fig):  # the layout could not make room (tested on the demo's figures)
        log.warning("%s: %s", path, what)
