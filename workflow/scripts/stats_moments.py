"""Rule moments -> caelatent.stages.stats.moments."""

from caelatent.logs import run_rule

run_rule(snakemake, "stats.moments")
