"""Rules of ``workflow/rules/attributes.smk`` that need no model (``attributes``, ``attribute_plots``
and ``arithmetic`` run from :mod:`caelatent.attributes`, ``innermost_maps`` from
:mod:`caelatent.maps`)."""

from __future__ import annotations

from .. import io
from ..plots import attributes as plots


def innermost_maps_plots(*, images, fig_grid, fig_trace) -> None:
    """The maximising inputs of the innermost maps, and their ascent traces."""
    a = io.read_npz(images)
    figure = plots.innermost_maps(a["images"], a["maps"], str(a["layer"]), int(a["steps"]))
    io.save_figure(figure, fig_grid)
    io.save_figure(plots.ascent_traces(a["trace"]), fig_trace)
