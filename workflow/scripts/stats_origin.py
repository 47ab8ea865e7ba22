"""Rule origin -> caelatent.stages.stats.origin."""

from caelatent.logs import run_rule

run_rule(snakemake, "stats.origin")
