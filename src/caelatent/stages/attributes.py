"""Rules of ``workflow/rules/attributes.smk``: attribute directions, latent arithmetic, innermost maps.

``arithmetic`` and ``innermost_maps`` run the trained networks: they select the Keras backend from
the rule's ``device`` params before importing Keras.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from ..files import records
from ..latent.attributes import arithmetic_grids, attribute_directions, attribute_table
from ..latent.attributes import attribute_summary
from ..latent.attributes import PixelClassifier, check_names, classifier_rows
from ..latent.attributes import figure_data, scales, score_grids
from ..files.figures import save_figure
from ..model.backend import predict_batch, use_device
from ..plots import attributes as plots
from ..files.networks import load_model
from ..files.store import atomic_path, open_zarr

from .inputs import read_directions, read_labelled, read_moments

log = logging.getLogger(__name__)


def attributes(*, latents, moments, table, directions, summary, min_count: int, pcs: int) -> dict:
    """Each attribute's direction (``directions``), its row of :data:`caelatent.latent.attributes.TABLE_COLUMNS`
    (``table``), and the counts, skips and principal-axis cosines (``summary``)."""
    lab = read_labelled(latents)
    mom = read_moments(moments)
    dirs, skipped = attribute_directions(
        lab.z[lab.train], lab.values[lab.train], lab.names, min_count
    )
    rows, cos, limit = attribute_table(lab, dirs, mom, pcs)
    records.write_tsv(table, rows)
    records.write_npz(directions, **dirs.arrays())
    out = attribute_summary(lab, dirs, skipped, min_count, cos, limit)
    records.write_json(summary, out)
    log.info(
        "attributes: %d analysed, %d skipped, %d images excluded (no attribute row)",
        len(dirs.names),
        len(skipped),
        lab.excluded,
    )
    return out


def arithmetic(
    *,
    latents,
    pixels,
    moments,
    decoder,
    directions,
    table,
    summary,
    images,
    min_confidence: float,
    seed: int,
    device: dict | None = None,
    threads: int | None = None,
    **grid,
) -> dict:
    """Decode the grids of :func:`caelatent.latent.attributes.arithmetic_grids` (``grid``: its
    settings, attributes to morph_steps); MTCNN says for every image whether a face survives, and
    a classifier of real training images' pixels (``pixels``: images.zarr) how likely it shows the
    attribute (``table``: a row per image). The decoded grids go to ``images`` (NPZ: ``<grid>``
    and ``<grid>_confidence``), their titles, face rates and attribute probabilities per column to
    ``summary``."""
    use_device(device, threads)
    from ..scoring.detect import FaceDetector
    from ..model.codec import decode

    lab, mom = read_labelled(latents), read_moments(moments)
    dirs = read_directions(directions)
    grids = arithmetic_grids(lab, dirs, **grid, seed=seed, source=str(latents))
    real = open_zarr(pixels)["images"]
    fit_rows = classifier_rows(lab.train, seed)
    rows_4d = (lab.rows[fit_rows], slice(None), slice(None), slice(None))
    pixels_of = real.get_orthogonal_selection(rows_4d)
    judge = PixelClassifier(pixels_of, lab.values[fit_rows], lab.names, seed)
    net, batch = load_model(decoder), predict_batch(device)
    rows, summaries, arrays = score_grids(
        grids,
        lambda z: decode(net, z, batch),
        FaceDetector(min_confidence),
        judge,
        mom,
        min_confidence,
    )
    out = {
        "min_confidence": min_confidence,
        "scales": scales(grid["max_scale"], grid["steps"]).tolist(),
        "grids": summaries,
        "pixel_classifier": judge.notes(len(fit_rows)),
    }
    records.write_npz(images, **arrays)
    records.write_tsv(table, rows)
    records.write_json(summary, out)
    return out


def innermost_maps(
    *,
    encoder,
    table,
    images,
    maps,
    steps: int,
    step_size: float,
    decay: float,
    blur_sigma: float,
    blur_every: int,
    jitter: int,
    seed: int,
    device: dict | None = None,
    threads: int | None = None,
) -> dict:
    """The input pattern that maximises each innermost map's mean activation (``images``: with the
    ascent traces, for rule innermost_maps_plots); ``table``: how far each rose and whether its own
    image is the one that excites it most."""
    use_device(device, threads)
    from ..model.maps import map_table, maximise_maps

    a = maximise_maps(
        load_model(encoder),
        maps,
        steps=steps,
        step_size=step_size,
        decay=decay,
        blur_sigma=blur_sigma,
        blur_every=blur_every,
        jitter=jitter,
        seed=seed,
    )
    rows = map_table(a)
    records.write_tsv(table, rows)
    arrays = dict(maps=a.maps, images=a.images, trace=a.trace, final=a.final, layer=a.layer)
    records.write_npz(images, **arrays, steps=steps)
    out = {
        "maps": len(a.maps),
        "rose": int((rows["rise"] > 0).sum()),
        "own_image_is_best": int(rows["own_image_is_best"].sum()),
    }
    log.info("innermost maps: %s", out)
    return out


def attribute_projections(
    *,
    latents,
    moments,
    table,
    directions,
    projections,
    pcs: int,
    histogram_pcs: int,
    histogram_attributes: list[str],
) -> None:
    """What the attribute figures draw (:func:`caelatent.latent.attributes.figure_data`), with the
    attributes shown in the histograms (``shown``) and the labels of the heat map's rows."""
    lab, mom, dirs = (
        read_labelled(latents),
        read_moments(moments),
        read_directions(directions),
    )
    check_names(histogram_attributes, dirs.names, "attributes.projections.histogram_attributes")
    tab = records.read_tsv(table)
    labels = [f"{n}  (AUC {a:.2f})" for n, a in zip(tab["attribute"], tab["holdout_auc"])]
    drawn = figure_data(lab, dirs, mom, pcs, histogram_pcs)
    shown = np.asarray(histogram_attributes, dtype=str)
    records.write_npz(projections, **drawn, shown=shown, labels=np.asarray(labels, dtype=str))


def attribute_plots(*, projections, fig_pcs, fig_radius, fig_hist) -> None:
    """Attribute directions against the principal axes; each attribute's images in the fitted
    normal (Mahalanobis radius); their projections on the leading axes."""
    drawn = records.read_npz(projections)
    save_figure(plots.direction_cosines(drawn["cosines"], list(drawn["labels"])), fig_pcs)
    names = [str(n) for n in drawn["names"]]
    column = dict(zip(names, drawn["values"].T))
    radius = drawn["radius"]
    figure = plots.attribute_radii(
        names,
        [radius[column[n] == 1] for n in names],
        [radius[column[n] == -1] for n in names],
        float(drawn["shell_radius"]),
        len(radius),
        int(drawn["excluded"]),
    )
    save_figure(figure, fig_radius)
    shown = {str(n): column[str(n)] for n in drawn["shown"]}
    save_figure(
        plots.attribute_histograms(drawn["projections"], shown, drawn["variances"]), fig_hist
    )


def arithmetic_plots(*, summary, images, grids) -> list[str]:
    """One figure per arithmetic grid (``<grid>.png``), faces framed by MTCNN's verdict."""
    s, arrays = records.read_json(summary), records.read_npz(images)
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
            save_figure(figure, Path(tmp) / f"{name}.png")
    return list(s["grids"])


def innermost_maps_plots(*, images, fig_grid, fig_trace) -> None:
    """The maximising inputs of the innermost maps, and their ascent traces."""
    a = records.read_npz(images)
    figure = plots.innermost_maps(a["images"], a["maps"], str(a["layer"]), int(a["steps"]))
    save_figure(figure, fig_grid)
    save_figure(plots.ascent_traces(a["trace"]), fig_trace)
