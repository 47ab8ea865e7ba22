"""Rule correlations -> caelatent.stages.stats.correlations."""

from caelatent.logs import run_rule

run_rule(snakemake, "stats.correlations")
