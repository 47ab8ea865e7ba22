"""Rule compare -> caelatent.stages.compare.compare."""

from caelatent.logs import run_rule

run_rule(snakemake, "compare.compare")
