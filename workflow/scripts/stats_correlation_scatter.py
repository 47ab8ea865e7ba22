"""Rule correlation_scatter -> caelatent.stages.stats.correlation_scatter."""

from caelatent.logs import run_rule

run_rule(snakemake, "stats.correlation_scatter")
