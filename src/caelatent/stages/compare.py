"""Rules of ``workflow/rules/compare.smk``: the experiments listed under ``run``, side by side."""

from __future__ import annotations

import math

from .. import io, stats
from ..plots import compare as plots

#: per sampler, the metrics the comparison tabulates and maps (columns of each summary.tsv)
SAMPLER_METRICS = (
    "face_rate",
    "fd_pixels",
    "fd_onet",
    "precision_pixels",
    "recall_pixels",
    "diversity",
    "fid_keras_inceptionv3",
)


def sampler_labels(samplers, settings) -> list[str]:
    """A sampler's name across experiments: its name and setting, except that a plane path is
    named by its angle alone (its axes are each experiment's own dominant pair) where that leaves
    the experiment's labels distinct."""
    full = [s if v == "-" else f"{s} {v}" for s, v in zip(samplers, settings)]
    short = [
        f"{s} {v.rsplit('-', 1)[-1]}" if s == "plane_path" else f
        for s, v, f in zip(samplers, settings, full)
    ]
    return short if len(set(short)) == len(short) else full


def compare(
    *,
    names,
    kinds,
    eigenvalues,
    mnd,
    shells,
    history,
    dominant,
    summary,
    table,
    faces,
    samplers,
) -> dict:
    """One row per experiment (model kind, reconstruction loss, spectrum, fraction inside the
    3-sigma shell, normality verdict, dominant components), one row per experiment and sampler
    (``samplers``: face rate, Fréchet distances, precision, recall, diversity), and the face
    rates as a sampler x experiment table. The inputs list each experiment's file, in the order of
    ``names``."""
    rows = {
        k: []
        for k in (
            "experiment",
            "kind",
            "z_dim",
            "reconstruction_loss",
            "inside_3sigma",
            "expected_3sigma",
            "pcs_for_90pct",
            "pcs_for_99pct",
            "dominant_components",
            "core_fraction_inside",
            "core_expected_fraction",
            "ks_core_z",
            "consistent_with_normal",
        )
    }
    long = {k: [] for k in ("experiment", "sampler", *SAMPLER_METRICS)}
    rates = {}
    inputs = zip(names, kinds, eigenvalues, mnd, shells, history, dominant, summary, strict=True)
    for name, kind, e, m, sh, h, d, s in inputs:
        ev, fit, shell = io.read_tsv(e), io.read_json(m), io.read_tsv(sh)
        need = stats.components_for(ev["explained"])
        three = [float(k) for k in shell["sigma"]].index(3.0)
        rows["experiment"].append(name)
        rows["kind"].append(kind)
        rows["z_dim"].append(len(ev["eigenvalue"]))
        rows["reconstruction_loss"].append(float(io.read_tsv(h)["val_loss"][-1]))
        rows["inside_3sigma"].append(float(shell["observed_fraction"][three]))
        rows["expected_3sigma"].append(float(shell["expected_fraction"][three]))
        rows["pcs_for_90pct"].append(need["90%"])
        rows["pcs_for_99pct"].append(need["99%"])
        rows["dominant_components"].append(len(io.read_tsv(d)["component"]))
        rows["core_fraction_inside"].append(fit["core"]["fraction_inside"])
        rows["core_expected_fraction"].append(fit["core"]["expected_fraction"])
        rows["ks_core_z"].append(next(t["z"] for t in fit["tests"] if t["test"] == "ks_core_d2"))
        rows["consistent_with_normal"].append(fit["consistent_with_normal"])
        t = io.read_tsv(s)
        for k, label in enumerate(sampler_labels(t["sampler"], t["setting"])):
            rates.setdefault(label, {})[name] = float(t["face_rate"][k])
            long["experiment"].append(name)
            long["sampler"].append(label)
            for metric in SAMPLER_METRICS:
                long[metric].append(float(t[metric][k]) if metric in t else float("nan"))
    io.write_tsv(table, rows)
    io.write_tsv(samplers, long)
    labels = list(rates)
    io.write_tsv(
        faces,
        {
            "sampler": labels,
            **{n: [rates[lab].get(n, float("nan")) for lab in labels] for n in names},
        },
    )
    return rows


def compare_plots(*, names, eigenvalues, faces, table, samplers, fig, heatmaps, tradeoff) -> None:
    """Each experiment's eigenvalue spectrum and face rates (``fig``); a heat map of experiment x
    sampler for every metric (``heatmaps``); reconstruction against sampling (``tradeoff``)."""
    spectra = {n: io.read_tsv(e)["explained"] for n, e in zip(names, eigenvalues, strict=True)}
    t = io.read_tsv(faces)
    rates = {lab: {n: float(t[n][k]) for n in names} for k, lab in enumerate(t["sampler"])}
    io.save_figure(plots.experiments(spectra, rates, names), fig)
    long, exps = io.read_tsv(samplers), io.read_tsv(table)
    labels = list(dict.fromkeys(long["sampler"]))
    grids = {}
    for metric in SAMPLER_METRICS:
        values = {
            (e, s): float(v) for e, s, v in zip(long["experiment"], long["sampler"], long[metric])
        }
        grid = [[values.get((n, lab), float("nan")) for lab in labels] for n in names]
        grids[metric] = grid
    io.save_figure(plots.heatmaps(grids, names, labels), heatmaps)
    recon = dict(zip(exps["experiment"], (float(v) for v in exps["reconstruction_loss"])))
    io.save_figure(plots.tradeoff(recon, best_cloud_sampler(grids, names, labels)), tradeoff)


#: samplers drawn from inside the cloud (or the prior): the generators the trade-off compares
CLOUD_SAMPLERS = ("mnd", "gmm", "pca_ellipsoid", "independent", "prior")


def best_cloud_sampler(grids: dict, names, labels) -> dict:
    """{metric: {experiment: its best cloud sampler's value}} for the lowest pixel-PCA distance
    and the highest face rate; an experiment without a finite value is left out."""
    cloud = [k for k, lab in enumerate(labels) if lab.split()[0] in CLOUD_SAMPLERS]
    out = {}
    for metric, best in (("fd_pixels", min), ("face_rate", max)):
        out[metric] = {}
        for name, row in zip(names, grids[metric]):
            vals = [row[k] for k in cloud if math.isfinite(row[k])]
            if vals:
                out[metric][name] = best(vals)
    return out
