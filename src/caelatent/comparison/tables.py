"""The comparison of experiments: what it tabulates and how it names things (the metrics per
sampler and per experiment, a sampler's label across experiments), each run's rows, the tables
over replicates and each experiment's best cloud sampler. No file is read here:
``stages/compare.py`` reads the runs' tables and calls these."""

from __future__ import annotations

import math
from dataclasses import dataclass

from . import replicates
from ..latent import describe
from ..scoring.columns import FID, WITH_INTERVALS

#: per sampler, the metrics the comparison tabulates and maps (columns of each summary.tsv; those
#: of WITH_INTERVALS carry their run's own interval, used where an experiment has one replicate)
SAMPLER_METRICS = (*WITH_INTERVALS, "inside_3sigma", FID)
#: the sampler metrics whose differences from the baseline experiment are judged (Welch)
SAMPLER_DIFFERENCES = ("face_rate", "fd_pixels", "kid_pixels", "gap_fd_pixels")
#: experiment-level settings and expectations, the same for every replicate (shown, not averaged)
DESCRIPTIVE = ("z_dim", "n_vectors", "expected_3sigma", "core_expected_fraction")
#: experiment-level numbers whose differences from the baseline experiment are judged (Welch)
EXPERIMENT_DIFFERENCES = (
    "reconstruction_loss",
    "inside_3sigma",
    "nu",
    "core_fraction_inside",
    "ks_core_d",
    "mardia_standardised_kurtosis",
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


#: samplers drawn from inside the cloud (or the prior): the generators the trade-off compares
CLOUD_SAMPLERS = ("mnd", "gmm", "pca_ellipsoid", "independent", "prior")


def best_cloud_sampler(grids: dict, names, labels) -> dict:
    """{metric: {experiment: its best cloud sampler's (value, lo, hi)}} for the lowest pixel-PCA
    distance and the highest face rate; an experiment without a finite value is left out. A grid
    cell is a value or a (value, lo, hi) triple."""
    cloud = [k for k, lab in enumerate(labels) if lab.split()[0] in CLOUD_SAMPLERS]
    out = {}
    for metric, best in (("fd_pixels", min), ("face_rate", max)):
        out[metric] = {}
        for name, row in zip(names, grids[metric]):
            cells = [row[k] if isinstance(row[k], tuple) else (row[k],) * 3 for k in cloud]
            cells = [c for c in cells if math.isfinite(c[0])]
            if cells:
                out[metric][name] = best(cells, key=lambda c: c[0])
    return out


#: the fields that name a run: its experiment, its replicate (the run) and its training seed
RUN_FIELDS = ("experiment", "replicate", "train_seed")


def experiment_row(
    kind, z_dim: int, eigen: dict, fit: dict, shell: dict, history: dict, dominant: dict
) -> dict:
    """One run's experiment-level numbers from its tables, read: ``eigen`` (pca_eigenvalues.tsv),
    ``fit`` (mnd_fit.json), ``shell`` (the sigma shells), ``history`` (the training's),
    ``dominant`` (the dominant components); ``z_dim`` is the encoder's."""
    need = describe.components_for(eigen["explained"])
    three = [float(k) for k in shell["sigma"]].index(3.0)
    tests = {t["test"]: t for t in fit["tests"]}
    ks, mardia = tests["ks_core_d2"], tests["mardia_kurtosis"]
    return {
        "kind": kind,
        "z_dim": int(z_dim),
        "n_vectors": fit["n"],
        "reconstruction_loss": float(history["val_loss"][-1]),
        "inside_3sigma": float(shell["observed_fraction"][three]),
        "expected_3sigma": float(shell["expected_fraction"][three]),
        "nu": fit["nu"],
        "nu_lo": fit["nu_lo"],
        "nu_hi": fit["nu_hi"],
        "inside_3sigma_predicted_by_t": fit["tails"]["inside_3sigma_predicted_by_t"],
        "pcs_for_90pct": need["90%"],
        "pcs_for_99pct": need["99%"],
        "dominant_components": len(dominant["component"]),
        # depends on n, p and the cloud's shape: compare it only beside n_vectors and z_dim
        "core_fraction_inside": fit["core"]["fraction_inside"],
        "core_expected_fraction": fit["core"]["expected_fraction"],
        "ks_core_d": ks["effect"],
        "ks_core_d_null_range": f"[{ks['effect_null_lo']:.4g}, {ks['effect_null_hi']:.4g}]",
        "mardia_standardised_kurtosis": mardia["effect"],
        "mardia_null_range": f"[{mardia['effect_null_lo']:.4g}, {mardia['effect_null_hi']:.4g}]",
        "consistent_with_normal": fit["consistent_with_normal"],
    }


def sampler_rows(run: dict, summary: dict) -> list[dict]:
    """A run's rows per sampler (``run``: its :data:`RUN_FIELDS`; ``summary``: its summary.tsv,
    read): the label across experiments and every metric of :data:`SAMPLER_METRICS` it has, with
    the run's own interval ends."""
    out = []
    for k, label in enumerate(sampler_labels(summary["sampler"], summary["setting"])):
        row = run | {"sampler": label}
        for metric in SAMPLER_METRICS:
            for col in (metric, f"{metric}_lo", f"{metric}_hi"):
                if col in summary:
                    row[col] = summary[col][k]
        out.append(row)
    return out


@dataclass
class Comparison:
    """The comparison's tables, as columns: one row per run (``replicates``), per experiment with
    the mean, SD and 95 % interval over its replicates (``experiments``), the same per experiment
    and sampler (``samplers``), the mean face rates as sampler x experiment (``faces``) and each
    experiment against the first (``differences``, Welch intervals)."""

    replicates: dict
    experiments: dict
    samplers: dict
    faces: dict
    differences: dict


def tabulate(runs: list[dict], long: list[dict]) -> Comparison:
    """The tables of :class:`Comparison` from the runs' :func:`experiment_row` s and their
    :func:`sampler_rows` (each led by its :data:`RUN_FIELDS`); the first experiment is the base."""
    exps = replicates.aggregate(
        runs, _aggregated_keys(runs, RUN_FIELDS), ("experiment",), descriptive=DESCRIPTIVE
    )
    per_sampler = replicates.aggregate(
        long, _aggregated_keys(long, (*RUN_FIELDS, "sampler")), ("experiment", "sampler")
    )
    order = list(dict.fromkeys(r["experiment"] for r in runs))
    rates: dict = {}
    for e, lab, v in zip(
        per_sampler["experiment"], per_sampler["sampler"], per_sampler["face_rate"]
    ):
        rates.setdefault(lab, {})[e] = v
    faces = {
        "sampler": list(rates),
        **{n: [rates[lab].get(n, float("nan")) for lab in rates] for n in order},
    }
    top = replicates.differences(runs, list(EXPERIMENT_DIFFERENCES), "experiment", order[0])
    per = replicates.differences(
        long, list(SAMPLER_DIFFERENCES), "experiment", order[0], ("sampler",)
    )
    top = {"sampler": ["-"] * len(top["metric"]), **top}
    diffs = {k: list(top[k]) + list(per[k]) for k in per}
    return Comparison(_columns(runs), exps, per_sampler, faces, diffs)


def metric_grids(long: dict, names: list[str], labels: list[str]) -> dict:
    """{metric: experiment x sampler grid of (value, lo, hi)} from samplers.tsv (``long``, read),
    for every metric of :data:`SAMPLER_METRICS` but the gaps; a missing cell is NaN."""
    grids = {}
    nan3 = (float("nan"),) * 3
    for metric in SAMPLER_METRICS:
        if metric.startswith("gap_") or metric not in long:
            continue
        cells = {}
        for k, (e, s) in enumerate(zip(long["experiment"], long["sampler"])):
            cells[(str(e), str(s))] = tuple(
                float(long[c][k]) if c in long else float("nan")
                for c in (metric, f"{metric}_lo", f"{metric}_hi")
            )
        grids[metric] = [[cells.get((n, lab), nan3) for lab in labels] for n in names]
    return grids


def _columns(rows: list[dict]) -> dict:
    keys = list(dict.fromkeys(k for r in rows for k in r))
    return {k: [r.get(k, float("nan")) for r in rows] for k in keys}


def _aggregated_keys(rows: list[dict], fixed: tuple[str, ...]) -> list[str]:
    """Every column but the grouping fields and the runs' own interval ends (consumed as such)."""
    keys = list(dict.fromkeys(k for r in rows for k in r))
    own = {f"{k}{end}" for k in keys for end in ("_lo", "_hi") if f"{k}{end}" in keys}
    return [k for k in keys if k not in fixed and k not in own]
