"""Rule normality_null -> caelatent.stages.stats.normality_null."""

from caelatent.logs import run_rule

run_rule(snakemake, "stats.normality_null")
