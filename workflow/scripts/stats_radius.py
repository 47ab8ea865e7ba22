"""Rule radius -> caelatent.stages.stats.radius."""

from caelatent.logs import run_rule

run_rule(snakemake, "stats.radius")
