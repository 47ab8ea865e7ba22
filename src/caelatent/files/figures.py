"""Saving figures: a :class:`matplotlib.figure.Figure` as PNG, atomically, with a check that
nothing in its layout overlaps."""

from __future__ import annotations

import logging

from matplotlib.figure import Figure

from .store import atomic_path

log = logging.getLogger(__name__)


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
