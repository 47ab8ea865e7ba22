"""Rules of ``workflow/rules/attributes.smk`` that need no model (``attributes`` runs from
:mod:`caelatent.attributes`; ``arithmetic`` and ``innermost_maps``, which decode or climb with the
trained networks, from :mod:`caelatent.attributes` and :mod:`caelatent.maps`)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .. import io, stats
from ..attributes import Directions, check_names, load_labelled
from ..plots import attributes as plots
from ..samplers import shell_d2
from ..store import atomic_path


def attribute_plots(
    *,
    latents,
    moments,
    table,
    directions,
    fig_pcs,
    fig_radius,
    fig_hist,
    pcs: int,
    histogram_pcs: int,
    histogram_attributes: list[str],
) -> None:
    """Attribute directions against the principal axes; each attribute's images in the fitted
    normal (Mahalanobis radius); their projections on the leading axes."""
    lab, mom = load_labelled(latents), stats.Moments.load(moments)
    dirs, tab = Directions.load(directions), io.read_tsv(table)
    check_names(histogram_attributes, dirs.names, "attributes.plots.histogram_attributes")
    w, vecs = stats.pca(mom)
    pcs = min(pcs, vecs.shape[1])
    labels = [f"{n}  (AUC {a:.2f})" for n, a in zip(tab["attribute"], tab["holdout_auc"])]
    io.save_figure(plots.direction_cosines(dirs.unit @ vecs[:, :pcs], labels), fig_pcs)
    radius = np.sqrt(stats.mahalanobis_sq(lab.z, mom))
    column = {n: lab.values[:, lab.names.index(n)] for n in dirs.names}
    figure = plots.attribute_radii(
        dirs.names,
        [radius[column[n] == 1] for n in dirs.names],
        [radius[column[n] == -1] for n in dirs.names],
        float(np.sqrt(shell_d2(3.0, len(mom.mean)))),
        len(lab.z),
        lab.excluded,
    )
    io.save_figure(figure, fig_radius)
    proj = (lab.z - mom.mean) @ vecs[:, :histogram_pcs]
    shown = {n: column[n] for n in histogram_attributes}
    io.save_figure(plots.attribute_histograms(proj, shown, w), fig_hist)


def arithmetic_plots(*, summary, images, grids) -> list[str]:
    """One figure per arithmetic grid (``<grid>.png``), faces framed by MTCNN's verdict."""
    s, arrays = io.read_json(summary), io.read_npz(images)
    with atomic_path(grids) as tmp:
        tmp.mkdir(parents=True)
        for name, g in s["grids"].items():
            conf = arrays[f"{name}_confidence"]
            figure = plots.arithmetic_grid(
                arrays[name],
                conf,
                conf >= s["min_confidence"],
                g[g["label"]],
                g["label"],
                g["row_titles"],
                g["title"],
            )
            io.save_figure(figure, Path(tmp) / f"{name}.png")
    return list(s["grids"])


def innermost_maps_plots(*, images, fig_grid, fig_trace) -> None:
    """The maximising inputs of the innermost maps, and their ascent traces."""
    a = io.read_npz(images)
    figure = plots.innermost_maps(a["images"], a["maps"], str(a["layer"]), int(a["steps"]))
    io.save_figure(figure, fig_grid)
    io.save_figure(plots.ascent_traces(a["trace"]), fig_trace)
