"""Rule mnd -> caelatent.stages.stats.mnd."""

from caelatent.logs import run_rule

run_rule(snakemake, "stats.mnd")
