"""Rule components -> caelatent.stages.stats.components."""

from caelatent.logs import run_rule

run_rule(snakemake, "stats.components")
