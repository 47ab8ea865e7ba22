"""Rules of ``workflow/rules/compare.smk``: the experiments listed under ``run``, side by side."""

from __future__ import annotations

from .. import io, stats
from ..plots import compare as plots


def compare(*, names, eigenvalues, mnd, dominant, summary, table, faces) -> dict:
    """One row per experiment (spectrum, normality, dominant components) and face rates per sampler.

    ``eigenvalues``, ``mnd``, ``dominant`` and ``summary`` list each experiment's file, in the order
    of ``names``.
    """
    rows = {
        k: []
        for k in (
            "experiment",
            "z_dim",
            "pcs_for_90pct",
            "pcs_for_99pct",
            "dominant_components",
            "core_fraction_inside",
            "core_expected_fraction",
            "ks_core_z",
            "consistent_with_normal",
        )
    }
    rates = {}
    for name, e, m, d, s in zip(names, eigenvalues, mnd, dominant, summary, strict=True):
        ev, fit = io.read_tsv(e), io.read_json(m)
        need = stats.components_for(ev["explained"])
        rows["experiment"].append(name)
        rows["z_dim"].append(len(ev["eigenvalue"]))
        rows["pcs_for_90pct"].append(need["90%"])
        rows["pcs_for_99pct"].append(need["99%"])
        rows["dominant_components"].append(len(io.read_tsv(d)["component"]))
        rows["core_fraction_inside"].append(fit["core"]["fraction_inside"])
        rows["core_expected_fraction"].append(fit["core"]["expected_fraction"])
        rows["ks_core_z"].append(next(t["z"] for t in fit["tests"] if t["test"] == "ks_core_d2"))
        rows["consistent_with_normal"].append(fit["consistent_with_normal"])
        t = io.read_tsv(s)
        for sampler, setting, rate in zip(t["sampler"], t["setting"], t["face_rate"]):
            label = sampler if setting == "-" else f"{sampler} {setting}"
            rates.setdefault(label, {})[name] = float(rate)
    io.write_tsv(table, rows)
    labels = list(rates)
    io.write_tsv(
        faces,
        {
            "sampler": labels,
            **{n: [rates[lab].get(n, float("nan")) for lab in labels] for n in names},
        },
    )
    return rows


def compare_plots(*, names, eigenvalues, faces, fig) -> None:
    """Each experiment's eigenvalue spectrum, and the face rate of every sampler per experiment."""
    spectra = {n: io.read_tsv(e)["explained"] for n, e in zip(names, eigenvalues, strict=True)}
    t = io.read_tsv(faces)
    rates = {lab: {n: float(t[n][k]) for n in names} for k, lab in enumerate(t["sampler"])}
    io.save_figure(plots.experiments(spectra, rates, names), fig)
