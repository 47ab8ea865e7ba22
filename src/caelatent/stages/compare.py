"""Rules of ``workflow/rules/compare.smk``: the experiments listed under ``run``, side by side."""

from __future__ import annotations


from ..files import records
from ..scoring import replicates
from ..latent import describe
from ..scoring.comparison import (
    DESCRIPTIVE,
    EXPERIMENT_DIFFERENCES,
    SAMPLER_DIFFERENCES,
    SAMPLER_METRICS,
    best_cloud_sampler,
    sampler_labels,
)
from ..plots import compare as plots
from ..files.figures import save_figure


def experiment_row(name, kind, eigenvalues, mnd, shells, history, dominant) -> dict:
    """One replicate's experiment-level numbers (``mnd``: its mnd_fit.json, read)."""
    ev, fit, shell = records.read_tsv(eigenvalues), mnd, records.read_tsv(shells)
    need = describe.components_for(ev["explained"])
    three = [float(k) for k in shell["sigma"]].index(3.0)
    tests = {t["test"]: t for t in fit["tests"]}
    ks, mardia = tests["ks_core_d2"], tests["mardia_kurtosis"]
    return {
        "kind": kind,
        "z_dim": len(ev["eigenvalue"]),
        "n_vectors": fit["n"],
        "reconstruction_loss": float(records.read_tsv(history)["val_loss"][-1]),
        "inside_3sigma": float(shell["observed_fraction"][three]),
        "expected_3sigma": float(shell["expected_fraction"][three]),
        "nu": fit["nu"],
        "nu_lo": fit["nu_lo"],
        "nu_hi": fit["nu_hi"],
        "inside_3sigma_predicted_by_t": fit["tails"]["inside_3sigma_predicted_by_t"],
        "pcs_for_90pct": need["90%"],
        "pcs_for_99pct": need["99%"],
        "dominant_components": len(records.read_tsv(dominant)["component"]),
        # depends on n, p and the cloud's shape: compare it only beside n_vectors and z_dim
        "core_fraction_inside": fit["core"]["fraction_inside"],
        "core_expected_fraction": fit["core"]["expected_fraction"],
        "ks_core_d": ks["effect"],
        "ks_core_d_null_range": f"[{ks['effect_null_lo']:.4g}, {ks['effect_null_hi']:.4g}]",
        "mardia_standardised_kurtosis": mardia["effect"],
        "mardia_null_range": f"[{mardia['effect_null_lo']:.4g}, {mardia['effect_null_hi']:.4g}]",
        "consistent_with_normal": fit["consistent_with_normal"],
    }


def _columns(rows: list[dict]) -> dict:
    keys = list(dict.fromkeys(k for r in rows for k in r))
    return {k: [r.get(k, float("nan")) for r in rows] for k in keys}


def _aggregated_keys(rows: list[dict], fixed: tuple[str, ...]) -> list[str]:
    """Every column but the grouping fields and the runs' own interval ends (consumed as such)."""
    keys = list(dict.fromkeys(k for r in rows for k in r))
    own = {f"{k}{end}" for k in keys for end in ("_lo", "_hi") if f"{k}{end}" in keys}
    return [k for k in keys if k not in fixed and k not in own]


def compare(
    *,
    names,
    groups,
    train_seeds,
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
    replicate_table,
    differences,
) -> dict:
    """The experiments under ``run``, side by side. ``names`` are the runs (an experiment's
    replicates are runs of their own), ``groups`` their experiments, ``train_seeds`` their training
    seeds; the inputs list each run's file in the order of ``names``.

    Writes: ``replicate_table``, one row per run; ``table``, one row per experiment with the mean,
    SD and 95 % interval of every number over its replicates (:mod:`caelatent.scoring.replicates`);
    ``samplers``, the same per experiment and sampler; ``faces``, the mean face rates as a sampler x
    experiment table; ``differences``, each experiment against the first (Welch intervals)."""
    runs, long = [], []
    inputs = zip(names, groups, train_seeds, kinds, eigenvalues, mnd, shells, history, dominant)
    for (name, group, seed, kind, e, m, sh, h, d), s in zip(inputs, summary, strict=True):
        fixed = {"experiment": group, "replicate": name, "train_seed": seed}
        runs.append(fixed | experiment_row(name, kind, e, records.read_json(m), sh, h, d))
        t = records.read_tsv(s)
        for k, label in enumerate(sampler_labels(t["sampler"], t["setting"])):
            row = fixed | {"sampler": label}
            for metric in SAMPLER_METRICS:
                for col in (metric, f"{metric}_lo", f"{metric}_hi"):
                    if col in t:
                        row[col] = t[col][k]
            long.append(row)
    records.write_tsv(replicate_table, _columns(runs))
    fixed = ("experiment", "replicate", "train_seed")
    exps = replicates.aggregate(
        runs, _aggregated_keys(runs, fixed), ("experiment",), descriptive=DESCRIPTIVE
    )
    records.write_tsv(table, exps)
    per_sampler = replicates.aggregate(
        long, _aggregated_keys(long, (*fixed, "sampler")), ("experiment", "sampler")
    )
    records.write_tsv(samplers, per_sampler)
    order = list(dict.fromkeys(groups))
    rates = {}
    for e, lab, v in zip(
        per_sampler["experiment"], per_sampler["sampler"], per_sampler["face_rate"]
    ):
        rates.setdefault(lab, {})[e] = v
    records.write_tsv(
        faces,
        {
            "sampler": list(rates),
            **{n: [rates[lab].get(n, float("nan")) for lab in rates] for n in order},
        },
    )
    base = order[0]
    top = replicates.differences(runs, list(EXPERIMENT_DIFFERENCES), "experiment", base)
    per = replicates.differences(long, list(SAMPLER_DIFFERENCES), "experiment", base, ("sampler",))
    top = {"sampler": ["-"] * len(top["metric"]), **top}
    records.write_tsv(differences, {k: list(top[k]) + list(per[k]) for k in per})
    return exps


def compare_plots(*, groups, eigenvalues, table, samplers, fig, heatmaps, tradeoff) -> None:
    """Each experiment's eigenvalue spectrum (its first replicate's) and face rates (``fig``); a
    heat map of experiment x sampler for every metric (``heatmaps``); reconstruction against
    sampling (``tradeoff``); every value with its 95 % interval."""
    long, exps = records.read_tsv(samplers), records.read_tsv(table)
    names = [str(n) for n in exps["experiment"]]
    spectra = {}
    for group, path in zip(
        groups, eigenvalues, strict=True
    ):  # the first run stands for its experiment
        spectra.setdefault(group, records.read_tsv(path)["explained"])
    labels = list(dict.fromkeys(str(s) for s in long["sampler"]))
    grids = {}
    for metric in SAMPLER_METRICS:
        if metric.startswith("gap_") or metric not in long:
            continue
        cells = {}
        for k, (e, s) in enumerate(zip(long["experiment"], long["sampler"])):
            cells[(str(e), str(s))] = tuple(
                float(long[c][k]) if c in long else float("nan")
                for c in (metric, f"{metric}_lo", f"{metric}_hi")
            )
        nan3 = (float("nan"),) * 3
        grids[metric] = [[cells.get((n, lab), nan3) for lab in labels] for n in names]
    save_figure(plots.experiments(spectra, grids["face_rate"], names, labels), fig)
    save_figure(plots.heatmaps(grids, names, labels), heatmaps)
    recon = {
        str(e): (float(v), float(lo), float(hi))
        for e, v, lo, hi in zip(
            exps["experiment"],
            exps["reconstruction_loss"],
            exps["reconstruction_loss_lo"],
            exps["reconstruction_loss_hi"],
        )
    }
    save_figure(plots.tradeoff(recon, best_cloud_sampler(grids, names, labels)), tradeoff)
