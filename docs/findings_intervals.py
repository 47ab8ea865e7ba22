"""Intervals for the single-seed sweep in docs/findings/single_seed_2026-11-22/, which predates them:
Wilson's 95 % interval of every face rate (200 images per sampler) and of every 3-sigma fraction
(10,000 vectors), and the 3-sigma fraction that one and the same heavy-tailed law (a multivariate t
with nu = 5) keeps at each latent size, to show what the fall with z_dim alone is worth.

    .venv/bin/python docs/findings_intervals.py   # writes docs/findings/single_seed_2026-11-22/intervals.tsv
"""

from pathlib import Path

from caelatent.files import records
from caelatent.latent import tails
from caelatent.scoring.intervals import proportion_interval

HERE = Path(__file__).parent / "findings" / "single_seed_2026-11-22"
N_IMAGES, N_VECTORS = (
    200,
    10000,
)  # per sampler; latent vectors encoded (9,000 train + 1,000 holdout)

rows = {k: [] for k in ("experiment", "sampler", "quantity", "value", "lo", "hi", "n")}


def add(exp, sampler, quantity, value, n):
    lo, hi = proportion_interval(round(value * n), n)
    for k, v in zip(rows, (exp, sampler, quantity, value, lo, hi, n)):
        rows[k].append(v)


s = records.read_tsv(HERE / "samplers.tsv")
for e, smp, rate in zip(s["experiment"], s["sampler"], s["face_rate"]):
    add(e, smp, "face_rate", float(rate), N_IMAGES)
x = records.read_tsv(HERE / "experiments.tsv")
for e, z_dim, inside in zip(x["experiment"], x["z_dim"], x["inside_3sigma"]):
    add(e, "-", "inside_3sigma", float(inside), N_VECTORS)
    t5 = tails.predicted_fraction(5.0, int(z_dim), N_VECTORS, repeats=3)
    for k, v in zip(rows, (e, "-", "inside_3sigma_of_t5_at_this_z_dim", t5, "", "", N_VECTORS)):
        rows[k].append(v)
records.write_tsv(HERE / "intervals.tsv", rows)
print(f"wrote {HERE / 'intervals.tsv'}")
