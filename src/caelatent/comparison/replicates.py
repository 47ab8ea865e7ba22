"""Replicate training seeds, summarised: the mean, spread and interval of every number over an
experiment's replicates, and Welch intervals for the differences between experiments.

An experiment that lists ``train_seeds`` runs once per seed (its replicates); every other one runs
once. Over replicates, a number's interval is the t interval of their mean (the spread between
trainings, which holds the evaluation's sampling noise too). With one replicate there is no spread
between trainings: the interval is then the run's own (the ``<key>_lo`` / ``<key>_hi`` columns the
run wrote, for example a face rate's Wilson interval), or none.

A difference between two experiments is claimed only where the Welch interval of the difference of
their replicate means excludes 0 (never from overlapping intervals); it needs two replicates on
each side.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import stats

from ..scoring import intervals


def _numeric(v) -> float | None:
    if isinstance(v, (bool, np.bool_)):
        return None
    try:
        x = float(v)
    except (TypeError, ValueError):
        return None
    return x


def summarise(
    values,
    own: tuple[float, float] | None = None,
    level: float = 0.95,
    bounds=(-math.inf, math.inf),
) -> dict:
    """mean, sd, lo, hi and n of the replicates' ``values`` (NaNs left out). One replicate: sd is
    NaN and (lo, hi) is ``own`` (the run's own interval) or NaN. Replicates that all agree (a
    number the replicates share, such as a score of the fixed real reference rows) have no spread
    between trainings either: their interval is ``own`` too. The t interval is clipped to the
    quantity's ``bounds`` (a rate cannot fall below 0)."""
    x = np.asarray([v for v in values if v is not None and math.isfinite(v)], float)
    n = len(x)
    if n == 0:
        return {"mean": math.nan, "sd": math.nan, "lo": math.nan, "hi": math.nan, "n": 0}
    mean = float(x.mean())
    if n == 1:
        lo, hi = own if own is not None else (math.nan, math.nan)
        return {"mean": mean, "sd": math.nan, "lo": float(lo), "hi": float(hi), "n": 1}
    sd = float(x.std(ddof=1))
    if x.max() == x.min() and own is not None:
        return {"mean": mean, "sd": sd, "lo": float(own[0]), "hi": float(own[1]), "n": n}
    half = float(stats.t.ppf(0.5 + level / 2, n - 1)) * sd / math.sqrt(n)
    lo, hi = max(mean - half, bounds[0]), min(mean + half, bounds[1])
    return {"mean": mean, "sd": sd, "lo": lo, "hi": hi, "n": n}


def aggregate(
    rows: list[dict],
    keys: list[str],
    by: tuple[str, ...],
    level: float = 0.95,
    descriptive: tuple[str, ...] = (),
) -> dict:
    """Columns of one row per group of ``rows`` (grouped by the fields ``by``, in first-seen order):
    the group's fields, ``n_replicates``, and for each numeric key its mean (under the key's own
    name), ``_sd``, ``_lo`` and ``_hi`` (the replicates' own ``<key>_lo`` / ``<key>_hi``, where
    rows have them, serve as in :func:`summarise`). Non-numeric keys and the ``descriptive`` ones
    (settings such as the latent size) keep their value where the replicates agree and read
    ``mixed`` where they do not."""
    groups: dict[tuple, list[dict]] = {}
    for r in rows:
        groups.setdefault(tuple(r[b] for b in by), []).append(r)
    out: dict[str, list] = {b: [] for b in by} | {"n_replicates": []}
    for key_values, members in groups.items():
        for b, v in zip(by, key_values):
            out[b].append(v)
        out["n_replicates"].append(len(members))
        for k in keys:
            vals = [_numeric(m.get(k)) for m in members]
            if k in descriptive or all(v is None for v in vals):
                texts = {str(m.get(k)) for m in members}
                out.setdefault(k, []).append(texts.pop() if len(texts) == 1 else "mixed")
                continue
            own = None
            if f"{k}_lo" in members[0]:
                own = (_numeric(members[0][f"{k}_lo"]), _numeric(members[0][f"{k}_hi"]))
                own = None if None in own else own
            s = summarise(vals, own, level, intervals.bounds_of(k))
            for suffix, field in (("", "mean"), ("_sd", "sd"), ("_lo", "lo"), ("_hi", "hi")):
                out.setdefault(k + suffix, []).append(s[field])
    return out


def welch(a, b, level: float = 0.95) -> dict:
    """Welch's interval for mean(b) - mean(a) (scipy's unequal-variance t test); NaN with fewer
    than two finite values on either side."""
    a = np.asarray([v for v in a if v is not None and math.isfinite(v)], float)
    b = np.asarray([v for v in b if v is not None and math.isfinite(v)], float)
    if len(a) < 2 or len(b) < 2:
        nan = math.nan
        return {"difference": nan, "lo": nan, "hi": nan, "df": nan, "p_value": nan}
    res = stats.ttest_ind(b, a, equal_var=False)
    ci = res.confidence_interval(level)
    return {
        "difference": float(b.mean() - a.mean()),
        "lo": float(ci.low),
        "hi": float(ci.high),
        "df": float(res.df),
        "p_value": float(res.pvalue),
    }


def differences(
    rows: list[dict], keys: list[str], group: str, baseline: str, within: tuple[str, ...] = ()
) -> dict:
    """For each group other than ``baseline`` and each numeric key (and each combination of the
    ``within`` fields, a sampler say), the Welch interval of its difference from the baseline; a
    difference is ``supported`` where that interval excludes 0 (``-`` where it could not be judged:
    fewer than two replicates on a side)."""
    cells: dict[tuple, list[dict]] = {}
    for r in rows:
        cells.setdefault((r[group], *(r[w] for w in within)), []).append(r)
    out: dict[str, list] = {
        k: []
        for k in (
            "metric",
            *within,
            "experiment",
            "baseline",
            "n",
            "n_baseline",
            "difference",
            "lo",
            "hi",
            "df",
            "p_value",
            "supported",
        )
    }
    for (name, *rest), members in cells.items():
        base = cells.get((baseline, *rest))
        if name == baseline or base is None:
            continue
        for k in keys:
            a, b = [_numeric(m.get(k)) for m in base], [_numeric(m.get(k)) for m in members]
            if all(v is None for v in a + b):
                continue
            w = welch(a, b)
            out["metric"].append(k)
            for f, v in zip(within, rest):
                out[f].append(v)
            out["experiment"].append(name)
            out["baseline"].append(baseline)
            out["n"].append(len(members))
            out["n_baseline"].append(len(base))
            for f in ("difference", "lo", "hi", "df", "p_value"):
                out[f].append(w[f])
            judged = math.isfinite(w["lo"])
            out["supported"].append(
                ("yes" if w["lo"] > 0 or w["hi"] < 0 else "no") if judged else "-"
            )
    return out
