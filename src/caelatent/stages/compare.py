"""Rules of ``workflow/rules/compare.smk``: the experiments listed under ``run``, side by side."""

from __future__ import annotations

from ..files import records
from ..files.figures import save_figure
from ..files.store import open_zarr
from ..plots import compare as plots
from ..comparison.tables import (
    best_cloud_sampler,
    experiment_row,
    metric_grids,
    sampler_rows,
    tabulate,
)


def compare(
    *,
    names,
    groups,
    train_seeds,
    kinds,
    latents,
    eigenvalues,
    mnd,
    shells,
    history,
    dominant,
    summary,
    table,
    faces,
    samplers,
    replicate_table,
    differences,
) -> dict:
    """The experiments under ``run``, side by side. ``names`` are the runs (an experiment's
    replicates are runs of their own), ``groups`` their experiments, ``train_seeds`` their training
    seeds; the inputs list each run's file in the order of ``names`` (``latents``: for the
    encoder's z_dim, which encode recorded).

    Writes :class:`caelatent.comparison.tables.Comparison`'s tables: ``replicate_table``,
    ``table`` (per experiment), ``samplers``, ``faces`` and ``differences``."""
    runs, long, read = [], [], records.read_tsv
    inputs = (names, groups, train_seeds, kinds, latents, eigenvalues, mnd, shells, history)
    for name, group, seed, kind, lat, e, m, sh, h, d, s in zip(
        *inputs, dominant, summary, strict=True
    ):
        run = {"experiment": group, "replicate": name, "train_seed": seed}
        z_dim = open_zarr(lat).attrs["z_dim"]
        tables = read(e), records.read_json(m), read(sh), read(h), read(d)
        runs.append(run | experiment_row(kind, z_dim, *tables))
        long += sampler_rows(run, read(s))
    c = tabulate(runs, long)
    records.write_tsv(replicate_table, c.replicates)
    records.write_tsv(table, c.experiments)
    records.write_tsv(samplers, c.samplers)
    records.write_tsv(faces, c.faces)
    records.write_tsv(differences, c.differences)
    return c.experiments


def compare_plots(*, groups, eigenvalues, table, samplers, fig, heatmaps, tradeoff) -> None:
    """Each experiment's eigenvalue spectrum (its first replicate's) and face rates (``fig``); a
    heat map of experiment x sampler for every metric (``heatmaps``); reconstruction against
    sampling (``tradeoff``); every value with its 95 % interval."""
    long, exps = records.read_tsv(samplers), records.read_tsv(table)
    names = [str(n) for n in exps["experiment"]]
    spectra = {}
    for group, path in zip(groups, eigenvalues, strict=True):  # a run stands for its experiment
        spectra.setdefault(group, records.read_tsv(path)["explained"])
    labels = list(dict.fromkeys(str(s) for s in long["sampler"]))
    grids = metric_grids(long, names, labels)
    save_figure(plots.experiments(spectra, grids["face_rate"], names, labels), fig)
    save_figure(plots.heatmaps(grids, names, labels), heatmaps)
    ends = ("reconstruction_loss", "reconstruction_loss_lo", "reconstruction_loss_hi")
    recon = {
        str(e): tuple(map(float, v)) for e, *v in zip(exps["experiment"], *(exps[k] for k in ends))
    }
    save_figure(plots.tradeoff(recon, best_cloud_sampler(grids, names, labels)), tradeoff)
